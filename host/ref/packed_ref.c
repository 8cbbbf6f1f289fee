/* Reference conversions between NCHW and the channel-packed layout (ref.h). */
#include <string.h>

#include "ref.h"

/* the offset of (n, c, y, x) in the packed map */
static size_t at(int C, int H, int W, int n, int c, int y, int x)
{
    return ((((size_t)n * ((C + 15) / 16) + c / 16) * VGGCL_PACKED_SIDE(H) + y + 1) * VGGCL_PACKED_SIDE(W) + x + 1) * 16 + c % 16;
}

void vggcl__ref_pack(const float *in, float *out, int N, int C, int H, int W)
{
    const size_t total = (size_t)N * ((C + 15) / 16 * 16) * VGGCL_PACKED_SIDE(H) * VGGCL_PACKED_SIDE(W);
    memset(out, 0, total * sizeof(float));
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) out[at(C, H, W, n, c, y, x)] = in[(((size_t)n * C + c) * H + y) * W + x];
}

void vggcl__ref_unpack(const float *in, float *out, int N, int C, int H, int W)
{
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) out[(((size_t)n * C + c) * H + y) * W + x] = in[at(C, H, W, n, c, y, x)];
}
