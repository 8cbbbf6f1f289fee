/* How far a run is: a bar redrawn at each step (stderr a terminal), or a line every so often (--progress, or
 * under mpirun rank 0's, for its share, on the real stderr). The image commands' batches are steps, cam's
 * images. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli.h"

/* A bar is drawn on stderr and its line not ended: a message wipes it first (cli_progress_end_line), the next step
 * drawing it again below the message. One flag for the process, and the bar's width: a bar is drawn by one thread, a
 * message may come from another. */
static atomic_int bar_open, bar_drawn;

/* One line on fd: who (its start: "rank 0 of 2, its share: "), done of total images after s seconds, the skipped
 * among them where any, then the rate and "done in" where ended, else "about N s left" where forecast, else "the last
 * batches running". The rate is of the images that ran, as the reports count them (bench --images' end to end: its
 * progress counted the unreadable files, its report not); the forecast at the list's pace, the skipped in it. */
static void say(int fd, const char *who, int done, int skipped, int total, double s, int ended, int forecast)
{
    const double rate = s > 0 ? (done - skipped) / s : 0, pace = s > 0 ? done / s : 0;
    char shown[32]; /* (three decimals below 1 image/s: the reference's 0.027 was "0.0 images/s") */
    snprintf(shown, sizeof shown, rate >= 1 || rate <= 0 ? "%.1f" : "%.3f", rate);
    char left[48] = "the last batches running"; /* (every batch handed out: "about 0 s left" while they ran) */
    if (ended) /* (the last line: "about 0 s left" said the end as a forecast) */
        snprintf(left, sizeof left, "done in %.1f s", s);
    else if (forecast)
        snprintf(left, sizeof left, "about %.0f s left", pace > 0 ? (total - done) / pace : 0);
    char apart[32] = ""; /* (as the run's end says them: "1 of 6 images were skipped") */
    if (skipped > 0) snprintf(apart, sizeof apart, ", %d skipped", skipped);
    dprintf(fd, "%s%s%d of %d images (%lld%%)%s, %s images/s, %s\n", cli_messages_prefix(), who, done, total,
            100LL * done / total, apart, shown, left); /* (rounded down: 208 of 209 was 100%) */
}

cli_progress cli_progress_begin(double progress_s, const cli_ranks *r, int batch, int n_steps, const char *unit)
{
    const int ranks = r && r->size > 1 ? r->size : 1;
    cli_progress p = { -1, 0, cli_now_ms(), cli_now_ms(), ranks > 1 ? r->rank : 0, ranks, NULL, batch, unit, 0,
                       isatty(1) };
    if (ranks > 1 && r->dynamic) p.handed = r;
    if (progress_s == 0 || (ranks > 1 && r->rank != 0)) return p;
    p.fd = ranks > 1 ? r->saved_err : 2;
    p.every_ms = progress_s > 0 ? progress_s * 1e3 : ranks > 1 ? 60e3 : 0;
    if (!p.every_ms && (!isatty(2) || n_steps < 2)) p.fd = -1;
    return p;
}

void cli_progress_show(cli_progress *p, int done_steps, int n_steps, int done, int skipped, int total)
{
    static const char full[] = "##############################";
    const int width = sizeof full - 1, filled = n_steps ? width * done_steps / n_steps : width;
    const double now = cli_now_ms(), s = (now - p->start) / 1e3;
    if (p->fd < 0) return;
    if (!p->every_ms) { /* (the bar: on fd 2, ranks == 1; open before it is drawn: a message from another
                         * thread meanwhile ends the line first, not after the bar) */
        atomic_store(&bar_open, 1);
        p->drawn = dprintf(p->fd, "\r[%.*s%*s] %d/%d %s%s", filled, full, width - filled, "", done_steps, n_steps,
                           p->unit, done_steps == n_steps ? "\n" : "");
        atomic_store(&bar_drawn, p->drawn);
        if (done_steps == n_steps) atomic_store(&bar_open, 0);
        return;
    }
    /* the run's end, where a line was said before it: said whatever the time since that line (its "done in"
     * was left out past the last tick); a run shorter than S still says nothing (handed out: said once every
     * rank's batches are done, cli_progress_all_done) */
    const int last = done_steps >= n_steps && !p->handed && p->last - p->start >= p->every_ms;
    if (now - p->last < p->every_ms && !last) return;
    p->last = now;
    char who[48] = "";
    if (p->handed) { /* (images in the batches handed out so far: begun, not all done) */
        const long long out = (long long)cli_ranks_batches_out(p->handed) * p->batch;
        done = out < total ? (int)out : total;
        skipped = 0; /* (the other ranks' unknown here) */
        snprintf(who, sizeof who, "%d ranks, handed out: ", p->ranks);
    } else if (p->ranks > 1) {
        snprintf(who, sizeof who, "rank %d of %d, its share: ", p->rank, p->ranks);
    }
    say(p->fd, who, done, skipped, total, s, done >= total && !p->handed, !p->handed || done < total);
    if (p->handed) cli_ranks_keep_progress(p->handed, p, total); /* (a line said: the run's end is said too) */
}

void cli_progress_all_done(const cli_progress *p, int fd, int total)
{
    char who[48];
    snprintf(who, sizeof who, "%d ranks: ", p->ranks);
    say(fd, who, total, 0, total, (cli_now_ms() - p->start) / 1e3, 1, 0);
}

void cli_progress_wipe(cli_progress *p)
{
    if (p->answers_shown && atomic_exchange(&bar_open, 0))
        dprintf(p->fd, "\r%*s\r", p->drawn > 1 ? p->drawn - 1 : 0, "");
}

void cli_progress_put(const char *msg, size_t n)
{
    char wipe[256] = ""; /* (wiped: ending its line left a stale bar above each message) */
    const int drawn = atomic_exchange(&bar_open, 0) ? atomic_load(&bar_drawn) : 0;
    const int w = drawn ? snprintf(wipe, sizeof wipe, "\r%*s\r", drawn > 1 ? drawn - 1 : 0, "") : 0;
    const struct iovec part[2] = { { wipe, w > 0 && w < (int)sizeof wipe ? (size_t)w : 0 },
                                   { (void *)msg, msg ? n : 0 } };
    /* (one write: a bar drawn between the wipe and the message put the message after it, on its line) */
    for (size_t off = 0; off < part[0].iov_len + part[1].iov_len;) {
        struct iovec rest[2];
        int k = 0;
        for (size_t j = 0, skip = off; j < 2; j++) { /* (what a short write left) */
            if (skip >= part[j].iov_len) {
                skip -= part[j].iov_len;
                continue;
            }
            rest[k].iov_base = (char *)part[j].iov_base + skip, rest[k++].iov_len = part[j].iov_len - skip;
            skip = 0;
        }
        const ssize_t put = writev(2, rest, k);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return; /* (stderr gone: nothing to say it on) */
        off += (size_t)put;
    }
}

void cli_progress_end_line(void) { cli_progress_put(NULL, 0); }
