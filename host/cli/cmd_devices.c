/* vggcl devices: every OpenCL device with the index to pass to --device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option options[] = { { NULL, NULL, NULL, 0 } };

static const cli_command command = {
    "devices", NULL,
    "Lists every OpenCL platform and device: the index and platform:device pair\n"
    "to pass to --device, the type, compute units and memory; below each, the\n"
    "limits kernels are tuned against (local memory, work-group size, clock) and\n"
    "the driver. `--device ref` selects the plain-C reference instead.\n",
    options, { NULL },
};

int cmd_devices(int argc, char **argv)
{
    cli_args a;
    int r = cli_parse(&command, argc, argv, &a);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_OK : r;
    int n = 0;
    vggcl_device_info *info = cli_list_devices(&n); /* (the count and the list: one device more meanwhile was
                                                     * read past the list's end) */
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
