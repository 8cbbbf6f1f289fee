/* vggcl devices: every OpenCL device with the index to pass to --device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const cli_option options[] = {
    { "json", NULL, "one JSON object on one line instead of the table: {\"devices\": [...]}, each device's\n"
      "fields as the table's (the reference is --device ref, not listed); where none\n"
      "can be listed (no OpenCL driver), {\"devices\": [], \"error\": \"...\"} and exit 1", 0 },
    { NULL, NULL, NULL, 0 },
};

static const cli_command command = {
    "devices", NULL,
    "Lists every OpenCL platform and device: the index and platform:device pair\n"
    "to pass to --device, the type, compute units and memory; below each, the\n"
    "limits kernels are tuned against (local memory, work-group size, clock) and\n"
    "the driver. `--device ref` selects the plain-C reference instead.\n",
    options, { NULL }, 0,
};

/* The list as one JSON object: {"devices": [{"index", "platform", "device", "type", "name", ...}]}; where
 * error is not NULL (none could be listed), {"devices": [], "error": error}. */
static int print_json(const vggcl_device_info *info, int n, const char *error)
{
    cJSON *o = cJSON_CreateObject(), *list = o ? cJSON_AddArrayToObject(o, "devices") : NULL;
    int ok = list != NULL;
    if (ok && error) {
        cJSON *t = cli_json_string(error);
        ok = t && cJSON_AddItemToObject(o, "error", t);
        if (!ok) cJSON_Delete(t);
    }
    for (int i = 0; ok && i < n; i++) {
        cJSON *d = cJSON_CreateObject();
        ok = d && cJSON_AddItemToArray(list, d);
        if (!ok) {
            cJSON_Delete(d);
            break;
        }
        const char *texts[][2] = { { "type", info[i].type }, { "name", info[i].name },
                                   { "platform_name", info[i].platform_name }, { "driver", info[i].driver } };
        const double numbers[] = { info[i].index, info[i].platform, info[i].device, info[i].compute_units,
                                   info[i].clock_mhz, (double)info[i].global_mem, (double)info[i].max_alloc,
                                   (double)info[i].local_mem, (double)info[i].max_work_group }; /* (bytes: exact) */
        static const char *const number_names[] = { "index", "platform", "device", "compute_units", "clock_mhz",
                                                     "global_mem", "max_alloc", "local_mem", "max_work_group" };
        for (size_t k = 0; ok && k < sizeof number_names / sizeof *number_names; k++)
            ok = cJSON_AddNumberToObject(d, number_names[k], numbers[k]) != NULL;
        for (size_t k = 0; ok && k < sizeof texts / sizeof *texts; k++) {
            cJSON *t = cli_json_string(texts[k][1]);
            ok = t && cJSON_AddItemToObject(d, texts[k][0], t);
            if (!ok) cJSON_Delete(t);
        }
    }
    if (!ok) {
        cJSON_Delete(o);
        return cli_error(CLI_FAIL, "out of host memory");
    }
    return cli_json_print(o);
}

int cmd_devices(int argc, char **argv)
{
    cli_args a;
    int r = cli_parse(&command, argc, argv, &a);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_OK : r;
    int n = 0;
    char why[8192];
    /* (the count and the list: one device more meanwhile was read past the list's end) */
    vggcl_device_info *info = cli_list_devices_why(&n, why, sizeof why);
    if (!info) cli_error(CLI_FAIL, "%s", why);
    if (cli_arg(&a, "json")) { /* (none listed: a document all the same, a script reading stdout got nothing) */
        r = print_json(info, info ? n : 0, info ? NULL : why);
        if (!info) r = CLI_FAIL;
        free(info);
        return r;
    }
    if (!info) return CLI_FAIL;
    printf("%-5s %-5s %-11s %4s %10s %10s  %s\n", "index", "P:D", "type", "CUs", "memory", "max alloc",
           "device (platform)");
    for (int i = 0; i < n; i++) {
        char pd[16];
        snprintf(pd, sizeof pd, "%d:%d", info[i].platform, info[i].device);
        printf("%-5d %-5s %-11s %4u %7.1f GiB %6.1f GiB  %s (%s)\n", info[i].index, pd, info[i].type,
               info[i].compute_units, info[i].global_mem / 1073741824.0, info[i].max_alloc / 1073741824.0,
               info[i].name, info[i].platform_name);
        printf("%-5s %-5s local memory %llu KiB, work-group up to %llu, clock %u MHz, driver %s\n", "", "",
               info[i].local_mem / 1024, info[i].max_work_group, info[i].clock_mhz, info[i].driver);
    }
    printf("ref   -     reference      -          -          -  plain C on the host (--device ref)\n");
    free(info);
    return CLI_OK;
}
