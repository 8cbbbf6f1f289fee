/* gap.cl: global average pooling as a work-group tree reduction.
 *
 * Layout: in (N, C, H, W) viewed as rows of HW = H*W floats, one row per (n, c).
 * Stage 1, gap_partial: work-group (part, row) sums elements
 *   [part*chunk, min((part+1)*chunk, HW)) of its row: each work-item strides by
 *   the local size, then the group halves its local sums log2(local) times.
 *   It writes sum * scale to out[row * parts + part].
 *   get_group_id(0) = part (parts groups), get_group_id(1) = row (N*C groups).
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
    const size_t row = get_group_id(1);

    __global const float *src = in + row * HW;
    const int begin = part * chunk;
    const int end = min(begin + chunk, HW);
    float sum = 0.0f;
    for (int i = begin + lid; i < end; i += lsize) sum += src[i];
    scratch[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = lsize / 2; step > 0; step /= 2) {
        if (lid < step) scratch[lid] += scratch[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[row * parts + part] = scratch[0] * scale;
}
