/* Fault injection for tests: VGGCL_FAULT="KIND:N[:CODE]", read when a context
 * is created, makes the Nth OpenCL call of KIND that context makes fail with
 * CODE instead of being made (once: the calls after it go through, as after a
 * transient driver failure). KIND: buffer (clCreateBuffer), build
 * (clBuildProgram, also for a program the binary cache would supply), kernel
 * (clCreateKernel), arg (clSetKernelArg), enqueue (clEnqueue*, clFinish, clFlush, clWaitForEvents,
 * clCreateUserEvent and CLBlast's SGEMM), any of these, steps: any, but of a run of clSetKernelArg calls only the
 * first (the others leave by the same error path: a walk of every call's failure is a third as
 * long), or setup: opening the device (the platform and
 * device queries, clCreateContext, clCreateCommandQueue; these fail vggcl_select_device)
 * and clCreateProgramWithSource; or cleanup: the calls that give things back (CL_CLEANUP: the
 * releases, the wait before them on a failed pass), which are made all the same and whose failure is
 * said, not returned; or spurious-build: a build from source failing as PoCL's did when processes starting at
 * once shared its empty kernel cache (no diagnostic in the log: built again once). CODE: a CL_* name or a
 * number; by default the error a driver gives for that kind of call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct { const char *name; int kind; cl_int code; } kinds[] = {
    { "buffer", VGGCL_FAULT_BUFFER, CL_MEM_OBJECT_ALLOCATION_FAILURE },
    { "build", VGGCL_FAULT_BUILD, CL_BUILD_PROGRAM_FAILURE },
    { "kernel", VGGCL_FAULT_KERNEL, CL_INVALID_KERNEL_NAME },
    { "arg", VGGCL_FAULT_ARG, CL_INVALID_ARG_VALUE },
    { "enqueue", VGGCL_FAULT_ENQUEUE, CL_OUT_OF_RESOURCES },
    { "any", VGGCL_FAULT_ANY, CL_OUT_OF_RESOURCES },
    { "steps", VGGCL_FAULT_ANY | VGGCL_FAULT_STEPS, CL_OUT_OF_RESOURCES },
    { "setup", VGGCL_FAULT_SETUP, CL_OUT_OF_HOST_MEMORY },
    { "cleanup", VGGCL_FAULT_CLEANUP, CL_OUT_OF_RESOURCES },
    { "spurious-build", VGGCL_FAULT_SPURIOUS, CL_BUILD_PROGRAM_FAILURE },
};

void vggcl__fault_kinds(char *names, size_t len)
{
    names[0] = '\0';
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && strlen(names) + 1 < len; i++)
        snprintf(names + strlen(names), len - strlen(names), "%s%s", i ? ", " : "", kinds[i].name);
}

static int parse_code(const char *s, cl_int *code)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *code = (cl_int)v;
        return v < 0;
    }
    for (cl_int c = -1; c >= -72; c--)
        if (!strcmp(vggcl__cl_error_name(c), s)) {
            *code = c;
            return 1;
        }
    return 0;
}

void vggcl__fault_init(vggcl_ctx *ctx)
{
    const char *spec = getenv("VGGCL_FAULT");
    if (!spec || !*spec) return;
    snprintf(ctx->fault_spec, sizeof ctx->fault_spec, "%s", spec);
    ctx->fault_bad = 1;
    const char *colon = strchr(spec, ':');
    if (!colon) return;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strlen(kinds[i].name) != (size_t)(colon - spec) || strncmp(spec, kinds[i].name, colon - spec)) continue;
        char *end;
        long n = strtol(colon + 1, &end, 10);
        cl_int code = kinds[i].code;
        if (n < 1 || (*end && (*end != ':' || !parse_code(end + 1, &code)))) return;
        ctx->fault_kinds = kinds[i].kind;
        ctx->fault_at = n;
        ctx->fault_code = code;
        ctx->fault_bad = 0;
        return;
    }
}

static int kind_of(const char *call)
{
    if (!strcmp(call, "clCreateBuffer")) return VGGCL_FAULT_BUFFER;
    if (!strcmp(call, "clBuildProgram")) return VGGCL_FAULT_BUILD;
    if (!strcmp(call, "clBuildProgram from source")) return VGGCL_FAULT_SPURIOUS;
    if (!strcmp(call, "clCreateKernel")) return VGGCL_FAULT_KERNEL;
    if (!strcmp(call, "clSetKernelArg")) return VGGCL_FAULT_ARG;
    if (!strcmp(call, "clGetPlatformIDs") || !strcmp(call, "clGetPlatformInfo") || !strcmp(call, "clGetDeviceIDs") ||
        !strcmp(call, "clGetDeviceInfo") ||
        !strcmp(call, "clCreateContext") || !strcmp(call, "clCreateCommandQueue") ||
        !strcmp(call, "clCreateProgramWithSource"))
        return VGGCL_FAULT_SETUP;
    if (!strncmp(call, "clEnqueue", 9) || !strcmp(call, "clFinish") || !strcmp(call, "clFlush") ||
        !strcmp(call, "clWaitForEvents") || !strcmp(call, "clCreateUserEvent") || !strncmp(call, "CLBlast", 7))
        return VGGCL_FAULT_ENQUEUE;
    return 0;
}

cl_int vggcl__fault(vggcl_ctx *ctx, const char *call)
{
    if (!ctx->fault_kinds) return CL_SUCCESS;
    const int kind = kind_of(call), more_args = kind == VGGCL_FAULT_ARG && ctx->fault_last == VGGCL_FAULT_ARG;
    ctx->fault_last = kind;
    if (!(kind & ctx->fault_kinds) || (more_args && (ctx->fault_kinds & VGGCL_FAULT_STEPS))) return CL_SUCCESS;
    if (++ctx->fault_seen != ctx->fault_at) return CL_SUCCESS;
    ctx->fault_fired = 1;
    return ctx->fault_code;
}

cl_int vggcl__fault_cleanup(vggcl_ctx *ctx, cl_int got)
{
    if (!ctx || !(ctx->fault_kinds & VGGCL_FAULT_CLEANUP) || ++ctx->fault_seen != ctx->fault_at) return got;
    ctx->fault_fired = 1;
    return ctx->fault_code;
}
