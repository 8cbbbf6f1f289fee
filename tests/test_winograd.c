/* kernels/winograd.cl (F(4x4, 3x3) + bias + ReLU) against the same plain-C
 * reference as the direct convolution (host/ref/conv3x3_ref.c).
 * CPU-shaped kernels, as two passes (GTB and GOB 1, 2 and 4 in turn) and as the one-pass form: sizes that
 * are not multiples of the 4x4 tile, tile counts around the transforms' 8-tile
 * groups, the GEMM's 16-tile block and the one-pass form's 4x4- and 1x16-tile blocks,
 * channel counts around its 16-channel work-item, batch 1 and > 1, with and
 * without the folded 2x2 max pool (odd and even maps).
 * GPU-shaped kernels: the same table with the defaults for each shape (each of
 * the four default tilings asserted and run), a sample of the parameter space that takes every value of
 * every tunable at least once on shapes with remainders in tiles, input and
 * output channels, and the folded 2x2 max pool on odd and even maps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "ref/ref.h"
#include "conv_case.h"
#include "test_util.h"

/* Winograd adds transform rounding to the float sums: with inputs in [-1, 1]
 * the error stays around 1e-6 relative, within the direct kernel's 1e-5. */
#define REL_L2 1e-5
#define ELEM 1e-3
/* F(6x6, 3x3) (the channel-packed form's M = 6): larger constants in the transforms */
#define REL_L2_F6 3e-5

static const struct { int N, C_in, C_out, H, W; } shapes[] = {
    { 1, 1, 1, 1, 1 },    { 1, 3, 7, 9, 7 },     { 2, 16, 17, 8, 8 },   { 1, 32, 15, 14, 14 },
    { 3, 5, 33, 5, 13 },  { 1, 64, 64, 28, 28 }, { 2, 17, 16, 16, 15 }, { 1, 8, 3, 4, 4 },
    { 1, 128, 32, 7, 7 }, { 2, 3, 16, 33, 31 },
    /* 9 tiles per row: 8-tile groups that straddle a 16-tile GEMM block; and
     * rows wide enough for the transforms' unguarded vector loads and stores */
    { 1, 16, 20, 40, 35 }, { 2, 20, 18, 18, 36 }, { 1, 32, 16, 64, 72 },
    /* the edges of the vector fast paths: the input loads need W >= 32k + 33 for the 8-tile group k,
     * the output stores W >= 32k + 32 (the pooled stores W / 2 >= 16k + 16): W = 0 and 1 mod 32 */
    { 1, 8, 8, 6, 64 }, { 2, 5, 9, 7, 65 }, { 1, 4, 6, 5, 96 }, { 1, 3, 5, 9, 97 },
    /* the one-pass form: its 16x16-pixel blocks whole, cut at either edge, and the largest
     * C_in it takes (256); past that the two passes run whatever FUSE says. Its 4x64-pixel
     * blocks (1x16 tiles) run where they cover fewer tiles: W = 64, 65, 96, 97 above, and a
     * 56x56 map as in VGG16 (14 tiles a side) */
    { 2, 24, 40, 32, 48 }, { 1, 256, 20, 18, 17 }, { 1, 257, 9, 6, 6 }, { 2, 20, 24, 56, 56 },
    /* a last GEMM block of 2 and of 3 tiles (1 and 4: 49 and 4 tiles above) */
    { 1, 11, 19, 8, 36 }, { 3, 6, 10, 2, 3 },
    /* the two-pass GEMM's slices of 128 input channels (KC) ending in a part slice, with a last
     * block of 1 tile and of 8 (257 channels, 4 tiles: above) */
    { 1, 130, 9, 4, 4 }, { 2, 150, 12, 8, 8 },
};

/* _i: the two passes (FUSE=0), or the one-pass form wherever it can run (FUSE=2) */
START_TEST(test_winograd_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    vggcl_conv_params p;
    vggcl__conv_defaults(ctx, VGGCL_CONV_WINOGRAD, 1, 16, 16, 16, 16, &p);
    /* the one pass is the default wherever the device's local memory holds it (PoCL: 1 MiB) */
    ck_assert_msg(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD, "FUSE")] == 1 || ctx->local_mem < ((cl_ulong)1 << 20),
                  "the one-pass form is not the default");
    p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD, "FUSE")] = 2 * _i;
    if (!vggcl__conv_valid(ctx, VGGCL_CONV_WINOGRAD, &p, 16, 16)) { /* a GPU's 48 KiB: the two passes only */
        vggcl_ctx_free(ctx);
        return;
    }
    /* FUSE is the host's: every value builds the same programs, and tables still name it; GTB and GOB
     * are the two passes' only: the one pass is one build for all their values */
    char defines[96], text[96], one_pass[96];
    vggcl__conv_defines(VGGCL_CONV_WINOGRAD, &p, VGGCL_PROG_WINO, defines, sizeof defines);
    vggcl__conv_defines(VGGCL_CONV_WINOGRAD, &p, VGGCL_PROG_WINO_ONE, one_pass, sizeof one_pass);
    ck_assert_str_eq(one_pass, "-DOCB=8 -DTT=16");
    vggcl__conv_params_str(VGGCL_CONV_WINOGRAD, &p, text, sizeof text);
    /* GTB 4 and GOB 4 wherever the device holds their products (16 x 36 KiB), else less */
    const int gtb = vggcl__conv_tunable(VGGCL_CONV_WINOGRAD, "GTB"), gob = vggcl__conv_tunable(VGGCL_CONV_WINOGRAD, "GOB");
    const cl_ulong ms = 36 * 1024;
    if (ctx->local_mem >= 16 * ms) ck_assert(p.v[gtb] == 4 && p.v[gob] == 4);
    else ck_assert((cl_ulong)p.v[gtb] * p.v[gob] * ms <= ctx->local_mem);
    char want[96];
    snprintf(want, sizeof want, "-DOCB=8 -DTT=16 -DGTB=%d -DGOB=%d", p.v[gtb], p.v[gob]);
    ck_assert_str_eq(defines, want);
    ck_assert_ptr_nonnull(strstr(text, "FUSE="));
    const int gtb_max = p.v[gtb], gob_max = p.v[gob];
    /* less local memory: GOB shrinks first, then GTB, and FUSE goes where the layer's one pass does not
     * fit (its input channels' transforms: 16 fit in 300 KiB, 256 in 1 MiB alone) */
    const cl_ulong local_mem = ctx->local_mem;
    static const struct { cl_ulong bytes; int gob, gtb, fuse, c_in; } shrink[] = {
        { 300 * 1024, 2, 4, 0, 256 }, { 300 * 1024, 2, 4, 1, 16 }, { 150 * 1024, 1, 4, 0, 256 },
        { 47 * 1024, 1, 1, 0, 16 },   { 1024 * 1024, 4, 4, 1, 256 },
    };
    for (size_t k = 0; k < sizeof shrink / sizeof shrink[0]; k++) {
        vggcl_conv_params q;
        ctx->local_mem = shrink[k].bytes;
        vggcl__conv_defaults(ctx, VGGCL_CONV_WINOGRAD, 1, shrink[k].c_in, 16, 16, 16, &q);
        ck_assert_msg(q.v[gob] == shrink[k].gob && q.v[gtb] == shrink[k].gtb &&
                          q.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD, "FUSE")] == shrink[k].fuse,
                      "%llu bytes of local memory, %d channels in: GOB %d GTB %d", (unsigned long long)shrink[k].bytes,
                      shrink[k].c_in, q.v[gob], q.v[gtb]);
    }
    ctx->local_mem = local_mem;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int pool = 0; pool < 2; pool++) {
            if (pool && (shapes[s].H < 2 || shapes[s].W < 2)) continue;
            /* the two passes: GTB and GOB 1, 2 and 4 in turn (up to what the device holds), on
             * tile and channel block counts whose last work-item gets fewer blocks than them */
            if (!_i) {
                p.v[gtb] = 1 << (int)((s + pool) % 3);
                p.v[gob] = 1 << (int)((s / 3 + 2 * pool) % 3);
                if (p.v[gtb] > gtb_max) p.v[gtb] = gtb_max;
                if (p.v[gob] > gob_max) p.v[gob] = gob_max;
            }
            /* (the one pass where this layer's fits the device's local memory: 256 channels need 1 MiB) */
            if (!vggcl__conv_valid(ctx, VGGCL_CONV_WINOGRAD, &p, shapes[s].C_in, shapes[s].C_out)) {
                ck_assert(_i && shapes[s].C_in > 16);
                continue;
            }
            ck_assert_msg(conv_case(ctx, VGGCL_CONV_WINOGRAD, &p, shapes[s].N, shapes[s].C_in, shapes[s].C_out,
                                    shapes[s].H, shapes[s].W, pool, (unsigned)s, REL_L2, ELEM),
                          "winograd FUSE=%d GTB=%d GOB=%d N=%d C_in=%d C_out=%d H=%d W=%d pool=%d differs from the "
                          "reference",
                          2 * _i, p.v[gtb], p.v[gob], shapes[s].N, shapes[s].C_in, shapes[s].C_out, shapes[s].H, shapes[s].W,
                          pool);
        }
    vggcl_ctx_free(ctx);
}
END_TEST

START_TEST(test_winograd_gpu_defaults)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int pool = 0; pool < 2; pool++) {
            if (pool && (shapes[s].H < 2 || shapes[s].W < 2)) continue;
            ck_assert_msg(conv_case(ctx, VGGCL_CONV_WINOGRAD_GPU, NULL, shapes[s].N, shapes[s].C_in, shapes[s].C_out,
                                    shapes[s].H, shapes[s].W, pool, (unsigned)s, REL_L2, ELEM),
                          "winograd-gpu N=%d C_in=%d C_out=%d H=%d W=%d pool=%d differs from the reference",
                          shapes[s].N, shapes[s].C_in, shapes[s].C_out, shapes[s].H, shapes[s].W, pool);
        }
    /* 46 x 46 = 2116 tiles and 128 output channels: the 128 x 128 default tiling */
    vggcl_conv_params p;
    vggcl__conv_defaults(ctx, VGGCL_CONV_WINOGRAD_GPU, 1, 3, 128, 181, 183, &p);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "MWG")], 128);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "NWG")], 128);
    ck_assert(conv_case(ctx, VGGCL_CONV_WINOGRAD_GPU, NULL, 1, 3, 128, 181, 183, 1, 77, REL_L2, ELEM));
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "KWG")], 8);
    /* 4 x 3 = 12 tiles: the 32-tile blocks; 64 output channels at 2116 tiles: 128 x 64 */
    vggcl__conv_defaults(ctx, VGGCL_CONV_WINOGRAD_GPU, 1, 20, 70, 13, 11, &p);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "MWG")], 32);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "MDIMC")], 8);
    ck_assert(conv_case(ctx, VGGCL_CONV_WINOGRAD_GPU, NULL, 1, 20, 70, 13, 11, 1, 78, REL_L2, ELEM));
    vggcl__conv_defaults(ctx, VGGCL_CONV_WINOGRAD_GPU, 1, 3, 64, 181, 183, &p);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "MWG")], 128);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "NWG")], 64);
    ck_assert(conv_case(ctx, VGGCL_CONV_WINOGRAD_GPU, NULL, 1, 3, 64, 181, 183, 0, 79, REL_L2, ELEM));
    /* 2 x 5 x 5 = 50 tiles: 64 x 64 blocks, 16 x 8 work-items of 4 x 8 */
    vggcl__conv_defaults(ctx, VGGCL_CONV_WINOGRAD_GPU, 2, 37, 70, 19, 17, &p);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "MWG")], 64);
    ck_assert_int_eq(p.v[vggcl__conv_tunable(VGGCL_CONV_WINOGRAD_GPU, "NDIMC")], 8);
    ck_assert(conv_case(ctx, VGGCL_CONV_WINOGRAD_GPU, NULL, 2, 37, 70, 19, 17, 1, 80, REL_L2, ELEM));
    vggcl_ctx_free(ctx);
}
END_TEST

/* A sample of the GPU GEMM's parameter space: candidates in the tuner's
 * enumeration order, kept when they bring a (tunable, value) pair not yet
 * covered, until every value of every tunable has run; each launch split
 * into rows of one work-group. */
START_TEST(test_winograd_gpu_params)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    ctx->grid_rows = 1; /* every launch split into rows of one work-group (by the global offset): as a GPU
                         * splits those past 65535 rows, which NWG = NDIMC = 32 makes at 65536 channels */
    /* (its candidates are the same for every layer's channels: its local memory is the GEMM's tiles') */
    const int id = VGGCL_CONV_WINOGRAD_GPU, total = vggcl__conv_candidates(ctx, id, 35, 33, NULL, 0);
    const vggcl_conv_algo *a = vggcl__conv_algo(id);
    ck_assert_int_gt(total, 50);
    ck_assert_int_eq(vggcl__conv_candidates(ctx, id, 3, 130, NULL, 0), total);
    vggcl_conv_params *all = malloc(sizeof *all * (size_t)total);
    vggcl__conv_candidates(ctx, id, 35, 33, all, total);
    int covered[VGGCL_MAX_TUNABLES][8] = { { 0 } }, runs = 0;
    static const struct { int N, C_in, C_out, H, W; } sample[] = {
        { 2, 35, 33, 13, 18 }, /* 2 x 4 x 5 = 40 tiles; C_in past KPAD, C_out past NWG */
        { 1, 3, 130, 30, 9 },  /* 24 tiles; 130 channels: two NWG blocks even at 128 */
    };
    for (int c = 0; c < total; c++) {
        /* stride through the enumeration so neighbours (one tunable apart) spread out */
        const vggcl_conv_params *p = &all[(size_t)c * 7919 % (size_t)total];
        int brings = 0;
        for (int t = 0; t < a->tunable_count; t++)
            for (int k = 0; k < vggcl__tunable_values(&a->tunables[t]); k++)
                if (a->tunables[t].values[k] == p->v[t] && !covered[t][k]) brings = covered[t][k] = 1;
        if (!brings) continue;
        for (size_t s = 0; s < sizeof sample / sizeof sample[0]; s++) {
            const int pool = (int)((runs + s) % 2);
            char text[200];
            vggcl__conv_params_str(id, p, text, sizeof text);
            ck_assert_msg(conv_case(ctx, id, p, sample[s].N, sample[s].C_in, sample[s].C_out, sample[s].H, sample[s].W,
                                    pool, (unsigned)(c + s), REL_L2, ELEM),
                          "winograd-gpu %s, N=%d C_in=%d C_out=%d H=%d W=%d pool=%d differs from the reference", text,
                          sample[s].N, sample[s].C_in, sample[s].C_out, sample[s].H, sample[s].W, pool);
        }
        runs++;
    }
    for (int t = 0; t < a->tunable_count; t++)
        for (int k = 0; k < vggcl__tunable_values(&a->tunables[t]); k++)
            ck_assert_msg(covered[t][k], "%s=%d never ran: no valid candidate has it", a->tunables[t].name,
                          a->tunables[t].values[k]);
    fprintf(stderr, "winograd-gpu: %d of %d valid parameter sets run\n", runs, total);
    free(all);
    vggcl_ctx_free(ctx);
}
END_TEST

/* The channel-packed Winograd (kernels/winograd_packed.cl): the same table, F(4x4) and F(6x6)
 * (M = 4, 6; _i / 2), each as two passes (FUSE=0) and with the one pass where it runs (FUSE=1,
 * up to 256 channels; _i % 2), with each shape's other defaults; conv_case also checks the
 * packed input and output maps whole (border, rows and columns past the map, padded channels)
 * and the conversions to and from NCHW. F(6x6)'s larger transform constants round more. */
START_TEST(test_winograd_packed_shapes)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    const int id = VGGCL_CONV_WINOGRAD_PACKED, fuse = vggcl__conv_tunable(id, "FUSE"), m = vggcl__conv_tunable(id, "M");
    const int f = _i % 2, mv = vggcl__conv_algo(id)->tunables[m].values[_i / 2];
    int runs = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int pool = 0; pool < 2; pool++) {
            if (pool && (shapes[s].H < 2 || shapes[s].W < 2)) continue;
            vggcl_conv_params p;
            vggcl__conv_defaults(ctx, id, shapes[s].N, shapes[s].C_in, shapes[s].C_out, shapes[s].H, shapes[s].W, &p);
            /* the one pass is the default wherever the device's local memory holds it (PoCL: 1 MiB) */
            ck_assert(p.v[fuse] == 1 || ctx->local_mem < ((cl_ulong)1 << 20));
            if (f && !p.v[fuse]) continue;
            p.v[fuse] = f, p.v[m] = mv;
            if (!vggcl__conv_valid(ctx, id, &p, shapes[s].C_in, shapes[s].C_out)) continue;
            ck_assert_msg(conv_case(ctx, id, &p, shapes[s].N, shapes[s].C_in, shapes[s].C_out, shapes[s].H, shapes[s].W,
                                    pool, (unsigned)s, mv == 6 ? REL_L2_F6 : REL_L2, ELEM),
                          "winograd-packed M=%d FUSE=%d N=%d C_in=%d C_out=%d H=%d W=%d pool=%d differs from the "
                          "reference", mv, f, shapes[s].N, shapes[s].C_in, shapes[s].C_out, shapes[s].H, shapes[s].W,
                          pool);
            runs++;
        }
    /* (the shapes a form cannot run are skipped: none but the one pass on a device without 1 MiB of local
     * memory may skip them all) */
    ck_assert_msg(runs > 0 || (f && ctx->local_mem < ((cl_ulong)1 << 20)), "winograd-packed M=%d FUSE=%d: no shape ran",
                  mv, f);
    printf("winograd-packed M=%d FUSE=%d: %d cases\n", mv, f, runs);
    vggcl_ctx_free(ctx);
}
END_TEST

/* winograd-packed's defaults follow the layer's channels: on 512 KiB of local memory (PoCL on a CPU of 512 KiB
 * of L2) the one pass where it holds the layer's input transforms (64 -> 64: 224 KiB; 128 -> 256: 315 KiB), the
 * two passes' R 7 (8 below 28x28), OG 4 and TB 2 where it does not (256 -> 256: 567 KiB), not a GPU's small
 * blocks (R 4, OG 1, TB 1: every layer took them, sized for 256 channels, and VGG16 at batch 8 took 1.3x the
 * time); on 1 MiB the one pass up to 256 channels; on a GPU's 47 KiB the small blocks; F(4x4)'s one pass
 * where F(6x6)'s does not fit and it does. On a CPU of 8-float vectors (AVX2: 16 registers) the blocks are
 * R 6 x OG 1 (256 -> 256 fits the one pass then), R 5 or 4 where R 6 pads the tiles more, whose
 * accumulators stay in registers (VGG16 took 0.57x the time at batch 1 and 0.55x at batch 8 against the blocks above,
 * with its 512-channel layers packed too). */
START_TEST(test_winograd_packed_defaults_by_channels)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    const int id = VGGCL_CONV_WINOGRAD_PACKED;
    const int t[6] = { vggcl__conv_tunable(id, "FUSE"), vggcl__conv_tunable(id, "M"), vggcl__conv_tunable(id, "R"),
                       vggcl__conv_tunable(id, "OG"), vggcl__conv_tunable(id, "TB"), vggcl__conv_tunable(id, "TCH") };
    /* (batch 8; TCH, a narrow CPU's two passes' alone: the most blocks, up to 32, of 4 MiB of V or less, 0 where
     * the batch has no more) */
    static const struct { cl_ulong kib; cl_uint floats; int c_in, c_out, h, want[6]; } cases[] = { /* want: FUSE M R OG TB TCH */
        { 512, 16, 3, 64, 224, { 1, 4, 14, 2, 1, 0 } },   { 512, 16, 64, 64, 224, { 1, 6, 7, 4, 1, 0 } },
        { 512, 16, 128, 256, 56, { 1, 4, 14, 2, 1, 0 } }, { 512, 16, 256, 256, 56, { 0, 4, 7, 4, 2, 0 } },
        { 512, 16, 512, 512, 14, { 1, 4, 8, 4, 2, 0 } } /* (FUSE idle: no one pass past 256) */,
        { 1024, 16, 256, 256, 56, { 1, 4, 14, 2, 1, 0 } },
        { 47, 16, 64, 64, 224, { 0, 4, 4, 1, 1, 0 } },
        { 330, 16, 128, 128, 112, { 1, 4, 14, 2, 1, 0 } }, /* (F(6x6)'s one pass takes 336 KiB, F(4x4)'s 315) */
        { 512, 8, 3, 64, 224, { 1, 4, 6, 1, 1, 0 } },     { 512, 8, 64, 64, 224, { 1, 4, 6, 1, 1, 0 } },
        { 512, 8, 128, 128, 112, { 1, 6, 6, 1, 1, 0 } },
        { 512, 8, 256, 256, 56, { 1, 4, 6, 1, 1, 0 } },   { 512, 8, 512, 512, 14, { 1, 4, 6, 1, 1, 8 } },
        { 512, 8, 512, 512, 28, { 1, 4, 6, 1, 1, 8 } } /* (66 blocks of 432 KiB) */,
        { 512, 8, 256, 512, 28, { 1, 4, 6, 1, 1, 16 } },
        { 512, 4, 512, 512, 4, { 1, 4, 4, 1, 1, 0 } } /* (8 tiles: R 6 takes 12, R 5 10; 2 blocks) */,
        { 47, 8, 64, 64, 224, { 0, 4, 6, 1, 1, 32 } }, /* (the two passes: only Ms in local memory) */
    };
    const cl_ulong local_mem = ctx->local_mem;
    const cl_uint floats = ctx->vector_floats;
    const int is_cpu = ctx->is_cpu;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vggcl_conv_params p;
        /* a CPU's (the narrow rows are a CPU's alone), whatever device runs the test */
        ctx->local_mem = cases[k].kib * 1024, ctx->vector_floats = cases[k].floats, ctx->is_cpu = 1;
        vggcl__conv_defaults(ctx, id, 8, cases[k].c_in, cases[k].c_out, cases[k].h, cases[k].h, &p);
        char text[200];
        vggcl__conv_params_str(id, &p, text, sizeof text);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(p.v[t[i]] == cases[k].want[i], "%llu KiB, %u floats, %d -> %d at %dx%d: %s",
                          (unsigned long long)cases[k].kib, cases[k].floats, cases[k].c_in, cases[k].c_out, cases[k].h,
                          cases[k].h, text);
        ck_assert(vggcl__conv_valid(ctx, id, &p, cases[k].c_in, cases[k].c_out));
    }
    /* at batch 1 no chunks: 512 -> 512 at 28x28 has 10 blocks of R 5 (3.5 MiB), which one pass over U serves (chunks of 8
     * took 1.04-1.07x the time); its 49 tiles in blocks of R 5 (R 6 would take 54); 14x14's 16 in R 6 (3 blocks) */
    ctx->local_mem = 512 * 1024, ctx->vector_floats = 8, ctx->is_cpu = 1;
    vggcl_conv_params one;
    vggcl__conv_defaults(ctx, id, 1, 512, 512, 28, 28, &one);
    ck_assert_int_eq(one.v[t[5]], 0);
    ck_assert_int_eq(one.v[t[2]], 5);
    vggcl__conv_defaults(ctx, id, 1, 512, 512, 14, 14, &one);
    ck_assert_int_eq(one.v[t[2]], 6);
    ctx->vector_floats = floats, ctx->is_cpu = is_cpu;
    ctx->local_mem = local_mem;
    vggcl_ctx_free(ctx);
}
END_TEST

/* Every value of R and OG in both forms, with TB (blocks of R tiles per work-item), M (the
 * tile side) and, in the two passes, TCH (chunks of blocks: the GEMM's work-items remapped) cycling through their
 * values, on shapes with remainders: fewer tiles in the batch than R TB, blocks across images, output groups
 * that OG does not divide (cut at launch), a last chunk of fewer blocks than TCH. */
START_TEST(test_winograd_packed_params)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    const int id = VGGCL_CONV_WINOGRAD_PACKED;
    const vggcl_conv_algo *a = vggcl__conv_algo(id);
    const int r = vggcl__conv_tunable(id, "R"), og = vggcl__conv_tunable(id, "OG"), fuse = vggcl__conv_tunable(id, "FUSE");
    const int tb = vggcl__conv_tunable(id, "TB"), n_tb = vggcl__tunable_values(&a->tunables[tb]);
    const int m = vggcl__conv_tunable(id, "M"), n_m = vggcl__tunable_values(&a->tunables[m]);
    const int tch = vggcl__conv_tunable(id, "TCH"), n_tch = vggcl__tunable_values(&a->tunables[tch]);
    static const struct { int N, C_in, C_out, H, W; } sample[] = {
        { 2, 35, 48, 13, 18 }, /* 2 x 4 x 5 = 40 tiles; 3 output groups */
        { 1, 3, 40, 6, 9 },    /* 2 x 3 = 6 tiles, fewer than most R */
        { 3, 20, 128, 9, 5 },  /* 3 x 3 x 2 = 18 tiles over three images; two whole weight runs */
        { 1, 17, 100, 5, 7 },  /* 7 output groups: two weight runs of 4 groups, the second part empty */
    };
    /* the two passes' chunks (TCH) with a last one shorter: 10 blocks of 4 tiles for 3 groups of filters, in
     * chunks of 2, 4 (4 + 4 + 2), 8 (8 + 2), and of more blocks than there are (any device: small blocks) */
    for (int ci = 0; ci < n_tch; ci++) {
        vggcl_conv_params p;
        vggcl__conv_defaults(ctx, id, 2, 35, 48, 13, 18, &p);
        p.v[fuse] = 0, p.v[m] = 4, p.v[r] = 4, p.v[og] = 1, p.v[tb] = 1, p.v[tch] = a->tunables[tch].values[ci];
        ck_assert(vggcl__conv_valid(ctx, id, &p, 35, 48));
        ck_assert_msg(conv_case(ctx, id, &p, 2, 35, 48, 13, 18, ci % 2, 100u + (unsigned)ci, REL_L2, ELEM),
                      "winograd-packed two passes, TCH=%d, 10 blocks of 4 tiles, 3 groups: differs from the reference",
                      p.v[tch]);
    }
    int runs = 0, tb_ran[2][8] = { { 0 } }, m_ran[2][8] = { { 0 } }, tch_ran[8] = { 0 };
    for (int ri = 0; ri < vggcl__tunable_values(&a->tunables[r]); ri++)
        for (int oi = 0; oi < vggcl__tunable_values(&a->tunables[og]); oi++)
            for (int f = 0; f < 2; f++) {
                vggcl_conv_params p;
                vggcl__conv_defaults(ctx, id, 1, 16, 16, 16, 16, &p);
                const int ti = (ri + oi + f) % n_tb, mi = (ri + f) % n_m;
                p.v[r] = a->tunables[r].values[ri], p.v[og] = a->tunables[og].values[oi], p.v[fuse] = f;
                p.v[tb] = a->tunables[tb].values[ti], p.v[m] = a->tunables[m].values[mi];
                const int ci = (ri + 2 * oi) % n_tch;
                p.v[tch] = f ? 0 : a->tunables[tch].values[ci];
                const size_t s = (size_t)runs % (sizeof sample / sizeof sample[0]);
                if (!vggcl__conv_valid(ctx, id, &p, sample[s].C_in, sample[s].C_out)) continue;
                const int pool = runs / 4 % 2;
                ck_assert_msg(conv_case(ctx, id, &p, sample[s].N, sample[s].C_in, sample[s].C_out, sample[s].H,
                                        sample[s].W, pool, (unsigned)runs, p.v[m] == 6 ? REL_L2_F6 : REL_L2, ELEM),
                              "winograd-packed M=%d R=%d OG=%d FUSE=%d TB=%d N=%d C_in=%d C_out=%d H=%d W=%d pool=%d "
                              "differs from the reference", p.v[m], p.v[r], p.v[og], f, p.v[tb], sample[s].N,
                              sample[s].C_in, sample[s].C_out, sample[s].H, sample[s].W, pool);
                tb_ran[f][ti] = 1, m_ran[f][mi] = 1;
                if (!f) tch_ran[ci] = 1;
                runs++;
            }
    if (ctx->local_mem < ((cl_ulong)1 << 20)) { /* a GPU's 48 KiB: the small blocks of the two passes */
        ck_assert_int_ge(runs, 1);
        vggcl_ctx_free(ctx);
        return;
    }
    ck_assert_int_ge(runs, 30); /* PoCL's 1 MiB of local memory takes nearly every combination */
    for (int f = 0; f < 2; f++)
        for (int ti = 0; ti < n_tb; ti++)
            ck_assert_msg(tb_ran[f][ti], "TB=%d never ran with FUSE=%d", a->tunables[tb].values[ti], f);
    for (int f = 0; f < 2; f++)
        for (int mi = 0; mi < n_m; mi++)
            ck_assert_msg(m_ran[f][mi], "M=%d never ran with FUSE=%d", a->tunables[m].values[mi], f);
    for (int ci = 0; ci < n_tch; ci++)
        ck_assert_msg(tch_ran[ci], "TCH=%d never ran", a->tunables[tch].values[ci]);
    vggcl_ctx_free(ctx);
}
END_TEST

/* Distinct keys among the candidates i with want(i) (fuse: FUSE's index; f: the value asked for, -1 any). */
static int distinct_keys(char (*keys)[VGGCL_LAUNCH_KEY], const vggcl_conv_params *all, int n, int fuse, int f)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (f >= 0 && all[i].v[fuse] != f) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = (f < 0 || all[j].v[fuse] == f) && !strcmp(keys[j], keys[i]);
        count += !seen;
    }
    return count;
}

/* The tuner times one of each set of parameters that launch alike (vggcl__conv_launch_key): for the
 * CPU Winograd, GTB and GOB make no difference where the one pass runs (FUSE 2 on up to 256
 * channels), nor FUSE on 512 channels, which never run it; for winograd-packed, FUSE on 512
 * channels, and TCH (the two passes' chunks of tiles) where the one pass runs. Everything else does. */
START_TEST(test_winograd_launch_keys)
{
    vggcl_ctx *ctx = tu_cl_ctx();
    enum { FUSE_IDLE, ONE_PASS_ONCE, TCH_TWO_PASS };
    static const struct { int id, c_in, c_out, h, rule; } shapes[] = {
        { VGGCL_CONV_WINOGRAD, 512, 512, 28, FUSE_IDLE },          { VGGCL_CONV_WINOGRAD, 64, 64, 56, ONE_PASS_ONCE },
        { VGGCL_CONV_WINOGRAD_PACKED, 512, 512, 14, FUSE_IDLE }, { VGGCL_CONV_WINOGRAD_PACKED, 64, 128, 56, TCH_TWO_PASS },
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int id = shapes[k].id, ci = shapes[k].c_in, co = shapes[k].c_out, h = shapes[k].h;
        const int fuse = vggcl__conv_tunable(id, "FUSE"), n = vggcl__conv_candidates(ctx, id, ci, co, NULL, 0);
        vggcl_conv_params *all = calloc((size_t)n + 1, sizeof *all);
        char(*keys)[VGGCL_LAUNCH_KEY] = calloc((size_t)n + 1, sizeof *keys);
        ck_assert(all && keys);
        vggcl__conv_candidates(ctx, id, ci, co, all, n);
        for (int i = 0; i < n; i++) vggcl__conv_launch_key(id, &all[i], ci, co, h, h, keys[i], sizeof keys[i]);
        const int total = distinct_keys(keys, all, n, fuse, -1), two = distinct_keys(keys, all, n, fuse, 0);
        /* FUSE 0 runs the two passes: one launch per combination of the other tunables */
        int combos = 0;
        for (int i = 0; i < n; i++) combos += all[i].v[fuse] == 0;
        ck_assert_int_eq(two, combos);
        if (shapes[k].rule == FUSE_IDLE) ck_assert_int_eq(total, two);
        if (shapes[k].rule == ONE_PASS_ONCE && ctx->local_mem >= ((cl_ulong)1 << 20)) { /* (where it fits) */
            ck_assert_int_eq(distinct_keys(keys, all, n, fuse, 2), 1);
            ck_assert_int_eq(total, two + 1); /* (FUSE 1 runs one or the other) */
        }
        if (shapes[k].rule == TCH_TWO_PASS) { /* (each one-pass launch once for TCH's values) */
            const vggcl_conv_algo *a = vggcl__conv_algo(id);
            ck_assert_int_eq(total, combos + (n - combos) / vggcl__tunable_values(&a->tunables[vggcl__conv_tunable(id, "TCH")]));
        }
        if (shapes[k].rule == ONE_PASS_ONCE && id == VGGCL_CONV_WINOGRAD && ctx->local_mem >= ((cl_ulong)1 << 20)) {
            /* FUSE=1 follows fused(): the one pass at 56x56, the two passes on the tuner's 8x9 slice */
            vggcl_conv_params one = all[0], two;
            for (int i = 0; i < n; i++)
                if (all[i].v[fuse] == 1) one = all[i];
            two = one, two.v[fuse] = 0;
            char a[VGGCL_LAUNCH_KEY], b[VGGCL_LAUNCH_KEY];
            vggcl__conv_launch_key(id, &one, ci, co, 8, 9, a, sizeof a);
            vggcl__conv_launch_key(id, &two, ci, co, 8, 9, b, sizeof b);
            ck_assert_str_eq(a, b);
            vggcl__conv_launch_key(id, &one, ci, co, h, h, a, sizeof a);
            ck_assert_int_eq(atoi(a), VGGCL_PROG_WINO_ONE);
        }
        free(all), free(keys);
    }
    vggcl_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("winograd");
    TCase *tc = tcase_create("kernel vs reference");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_winograd_shapes, 0, 2);
    tcase_add_test(tc, test_winograd_gpu_defaults);
    tcase_add_test(tc, test_winograd_gpu_params);
    tcase_add_loop_test(tc, test_winograd_packed_shapes, 0, 4);
    tcase_add_test(tc, test_winograd_packed_params);
    tcase_add_test(tc, test_winograd_packed_defaults_by_channels);
    tcase_add_test(tc, test_winograd_launch_keys);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
