/* The images a command is given: files, and folders for the images in them
 * (cli_images, cli_expand_images), and messages that name an image. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    char ext[8] = "";
    for (int i = 0; i < 7 && dot[1 + i]; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]), ext[i + 1] = 0;
    return !strcmp(ext, "jpg") || !strcmp(ext, "jpeg") || !strcmp(ext, "png");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends path, or a folder's image files sorted, to *list. 0 on OOM. */
int cli_expand_images(const char *path, char ***list, int *n)
{
    struct stat sb;
    DIR *d = (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) ? opendir(path) : NULL;
    if (!d) {
        char **grown = realloc(*list, sizeof **list * (size_t)(*n + 1));
        if (!grown || !(grown[*n] = strdup(path))) return grown ? (*list = grown, 0) : 0;
        *list = grown;
        (*n)++;
        return 1;
    }
    const int start = *n;
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        char **grown = realloc(*list, sizeof **list * (size_t)(*n + 1));
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        if (!grown || !(grown[*n] = malloc(len))) {
            if (grown) *list = grown;
            ok = 0;
            break;
        }
        *list = grown;
        snprintf((*list)[*n], len, "%s/%s", path, e->d_name);
        (*n)++;
    }
    closedir(d);
    if (*n - start > 1) qsort(*list + start, (size_t)(*n - start), sizeof **list, cmp_str);
    return ok;
}

int cli_images(const char *cmd, const cli_args *a, char ***files, int *n)
{
    struct stat sb;
    for (int i = 0; i < a->n_pos; i++) {
        const int before = *n;
        if (!cli_expand_images(a->pos[i], files, n)) return cli_error(CLI_FAIL, "out of host memory");
        if (*n == before && stat(a->pos[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            return cli_error(CLI_USAGE, "%s: %s holds no JPEG or PNG images (.jpg, .jpeg, .png)", cmd, a->pos[i]);
    }
    if (!*n) return cli_error(CLI_USAGE, "%s: give at least one image or folder of images", cmd);
    return CLI_OK;
}

char *cli_image_message(const vggcl_ctx *ctx, const char *path)
{
    const char *msg = vggcl_message(ctx);
    const size_t len = strlen(path) + strlen(msg) + 3;
    char *out = malloc(len);
    if (!out) return NULL;
    if (!strncmp(msg, path, strlen(path))) snprintf(out, len, "%s", msg); /* the decoders' messages start with it */
    else snprintf(out, len, "%s: %s", path, msg);
    return out;
}
