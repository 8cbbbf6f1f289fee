/* The conv weights packed into their device buffers on several threads: at a
 * model's load, packing (Winograd's transform, written into memory touched for
 * the first time) was most of a process's start-up (0.12-0.2 s of VGG16's 0.33
 * s on this 2-core Xeon), paid again by every MPI rank. Each job is one
 * buffer, already mapped; the largest are taken first. */
#include <pthread.h>
#include <stdlib.h>

#include "model.h"

#define MAX_PACK_THREADS 8

typedef struct {
    vggcl__pack_job *jobs;
    int n, next;
    pthread_mutex_t lock;
} job_list;

static void *packer(void *arg)
{
    job_list *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->lock);
        const int k = l->next < l->n ? l->next++ : -1;
        pthread_mutex_unlock(&l->lock);
        if (k < 0) return NULL;
        const vggcl__pack_job *j = &l->jobs[k];
        j->algo->pack(&j->params, j->step->weight, j->step->c_out, j->step->c_in, j->dst);
    }
}

static int by_size(const void *pa, const void *pb)
{
    const vggcl__pack_job *a = pa, *b = pb;
    return (a->bytes < b->bytes) - (a->bytes > b->bytes);
}

void vggcl__pack_all(vggcl__pack_job *jobs, int n)
{
    if (n < 1) return;
    qsort(jobs, (size_t)n, sizeof *jobs, by_size);
    job_list l = { jobs, n, 0, PTHREAD_MUTEX_INITIALIZER };
    pthread_t t[MAX_PACK_THREADS];
    int want = vggcl_usable_cores(), started = 0;
    if (want > MAX_PACK_THREADS) want = MAX_PACK_THREADS;
    if (want > n) want = n;
    while (started < want - 1 && pthread_create(&t[started], NULL, packer, &l) == 0) started++;
    packer(&l); /* (this thread too; alone where no thread could be started) */
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    pthread_mutex_destroy(&l.lock);
}
