/* gap.cl: global average pooling as a work-group tree reduction.
 *
 * Layout: in (N, C, H, W) viewed as rows of HW = H*W floats, one row per (n, c).
 * Stage 1, gap_partial: work-group (part, row) sums elements
 *   [part*chunk, min((part+1)*chunk, HW)) of its row: each work-item strides by
 *   the local size, then the group halves its local sums log2(local) times.
 *   It writes sum * scale to out[row * parts + part].
 *   get_group_id(0) = part (parts groups), get_global_id(1) = row (N*C, one per group).
 * Stage 2 (only when parts > 1) runs gap_partial again on the (N*C, parts)
 *   partial sums with parts = 1 and scale = 1/HW.
 * The local size must be a power of two; scratch holds one float per work-item.
 */
__kernel void gap_partial(__global const float *restrict in, __global float *restrict out,
                          int HW, int chunk, float scale, __local float *scratch)
{
    const int lid = get_local_id(0);
    const int lsize = get_local_size(0);
    const int part = get_group_id(0);
    const int parts = get_num_groups(0);
    const size_t row = get_global_id(1); /* (its work-groups are 1 high: the row, with a launch's offset) */

    __global const float *src = in + row * HW;
    const long begin = (long)part * chunk; /* (in long: the last part of a map near 2^31 pixels passed INT_MAX) */
    const long end = min(begin + chunk, (long)HW);
    float sum = 0.0f;
    for (long i = begin + lid; i < end; i += lsize) sum += src[i];
    scratch[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = lsize / 2; step > 0; step /= 2) {
        if (lid < step) scratch[lid] += scratch[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[row * parts + part] = scratch[0] * scale;
}

/* adaptive_avgpool2d: PyTorch's AdaptiveAvgPool2d to OH x OW (torchvision's
 * original VGG head pools to 7x7): output (oy, ox) averages input rows
 * [floor(oy * H / OH), ceil((oy + 1) * H / OH)) and likewise for columns.
 * Layout: in (N, C, H, W) -> out (N, C, OH, OW). One work-item per output:
 *   get_global_id(0) = oy * OW + ox (rounded up; extra items return),
 *   get_global_id(1) = n * C + c. Sum order: rows, then columns in a row.
 */
__kernel void adaptive_avgpool2d(__global const float *restrict in, __global float *restrict out, int H, int W,
                                 int OH, int OW)
{
    const int o = get_global_id(0);
    const size_t nc = get_global_id(1);
    if (o >= OH * OW) return;
    const int oy = o / OW, ox = o % OW;
    const int y0 = oy * H / OH, y1 = ((oy + 1) * H + OH - 1) / OH;
    const int x0 = ox * W / OW, x1 = ((ox + 1) * W + OW - 1) / OW;
    __global const float *src = in + nc * H * W;
    float sum = 0.0f;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) sum += src[y * W + x];
    out[nc * OH * OW + o] = sum / ((y1 - y0) * (x1 - x0));
}
