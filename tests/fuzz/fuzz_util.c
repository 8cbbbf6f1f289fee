/* The scratch file for the harnesses and, when not built for libFuzzer, a
 * replay driver: every file named on the command line (or inside a folder
 * named there) goes once through LLVMFuzzerTestOneInput. CI runs the corpus
 * this way under ASan + UBSan; a crash or a sanitizer report fails the run. */
#define _GNU_SOURCE /* memfd_create */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* The scratch "files": one memory file per suffix (memfd), named by its /proc/self/fd path, so that nothing
 * is left on disk whatever ends the process (a crash, the very thing replayed for: the files in /dev/shm,
 * of predictable names, were removed at exit alone). */
static struct {
    char suffix[32];
    int fd;
} made[8];
static int n_made;

const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[64];
    int i = 0;
    while (i < n_made && strcmp(made[i].suffix, suffix)) i++;
    if (i == n_made) {
        char name[64];
        snprintf(name, sizeof name, "vggcl-fuzz%s", suffix);
        const int fd = n_made < 8 ? memfd_create(name, MFD_CLOEXEC) : -1;
        if (fd < 0) return NULL;
        snprintf(made[i].suffix, sizeof made[i].suffix, "%s", suffix);
        made[n_made++].fd = fd;
    }
    const int fd = made[i].fd;
    /* (and the offset back to 0: a writer given the path writes through a copy of this descriptor, at its offset) */
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) return NULL;
    for (size_t done = 0; done < size;) {
        const ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) return NULL;
        done += (size_t)w;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
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
