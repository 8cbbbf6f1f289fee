/* The scratch file for the harnesses and, when not built for libFuzzer, a
 * replay driver: every file named on the command line (or inside a folder
 * named there) goes once through LLVMFuzzerTestOneInput. CI runs the corpus
 * this way under ASan + UBSan; a crash or a sanitizer report fails the run. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* The scratch files this process made (one per suffix), removed as it exits: each replay had left its
 * own in /dev/shm. */
static char made[8][256];
static int n_made;

static void remove_made(void)
{
    for (int i = 0; i < n_made; i++) unlink(made[i]);
}

const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/vggcl-fuzz-%ld%s", dir, (long)getpid(), suffix);
    int known = 0;
    for (int i = 0; i < n_made; i++) known |= !strcmp(made[i], path);
    if (!known && n_made < 8) {
        if (!n_made) atexit(remove_made);
        memcpy(made[n_made++], path, sizeof path);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    const int ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) return NULL;
    return path;
}

#ifndef VGGCL_LIBFUZZER
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 0;
    }
    size_t cap = 1 << 16, len = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        return 0;
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 1;
}

static int replay(const char *path, int *count)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "%s: no such file or folder\n", path);
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) {
        *count += 1;
        return replay_file(path);
    }
    struct dirent **names;
    const int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) return 0;
    int ok = 1;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
            ok &= replay(child, count);
        }
        free(names[i]);
    }
    free(names);
    return ok;
}

int main(int argc, char **argv)
{
    int ok = 1, count = 0;
    for (int i = 1; i < argc; i++) ok &= replay(argv[i], &count);
    printf("%s: %d inputs replayed\n", argv[0], count);
    return ok && count > 0 ? 0 : 1;
}
#endif
