#!/bin/bash
# The channel-packed Winograd study against vggcl, layer by layer (README.md here):
# for each conv shape of VGG16 (and with F(6x6, 3x3) for the one-pass ones), vggcl's own layer (`vggcl bench --per-layer` on a
# model of that one conv after a 3->C_in conv, its max pool folded in: one profiled
# pass after warm-up passes) and the study's kernels (one timed pass after a warm-up) on
# the same shape, alternating ROUNDS times; a Markdown table of
# the medians, the minima, the median of the per-round ratios and the ratio of the minima
# (the machine is shared: a slow phase can take a whole round, and the minima are what
# each side does undisturbed). The study's kernels are checked against the reference
# first (--self-check), then timed without it.
#
#   tools/packed_winograd_study/compare.sh BUILD_DIR [ROUNDS] [BATCH] [vgg16]
# (BUILD_DIR: a build of vggcl, which holds vggcl and tests/packed_winograd_probe). With vgg16:
# the whole network instead, `vggcl bench --random` (ms per batch, its median of 5 passes)
# against the probe's 13 convolutions chained on the packed layout (--vgg16, median of 5).
set -euo pipefail
build=$(realpath "$1")
vggcl=$build/vggcl
probe=$build/tests/packed_winograd_probe
rounds=${2:-5}
batch=${3:-1}
whole=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$probe" "$here/packed.cl" --self-check >/dev/null
if [ "$whole" = vgg16 ]; then
    : >"$tmp/runs"
    for _ in $(seq "$rounds"); do
        a=$("$vggcl" bench --random --batch "$batch" --iters 5 --json 2>/dev/null |
            /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["ms_per_batch_median"])')
        b=$("$probe" "$here/packed.cl" --vgg16 "$batch" 224 5 | sed 's/.*median \([0-9.]*\) ms.*/\1/')
        echo "$a $b" >>"$tmp/runs"
    done
    /usr/bin/python3 - "$batch" "$tmp/runs" <<'PY'
import statistics as st, sys
batch, path = sys.argv[1:]
a, b = zip(*(map(float, line.split()) for line in open(path)))
print(f"| VGG16 at 224x224, batch {batch} | vggcl ms per batch median (min) {st.median(a):.1f} ({min(a):.1f}) "
      f"| packed chain {st.median(b):.1f} ({min(b):.1f}) | median ratio {st.median(y / x for x, y in zip(a, b)):.2f}x, "
      f"ratio of minima {min(b) / min(a):.2f}x |")
PY
    exit 0
fi
# C_in C_out size R OG passes count-in-VGG16 M (F(MxM, 3x3))
shapes="64 64 224 14 2 1 1 4
64 128 112 14 2 1 1 4
128 128 112 14 2 1 1 4
128 256 56 14 2 1 1 4
256 256 56 14 2 1 2 4
256 512 28 7 4 2 1 4
512 512 28 7 4 2 2 4
512 512 14 8 2 2 3 4
64 64 224 14 2 1 1 6
64 128 112 14 2 1 1 6
128 128 112 14 2 1 1 6
128 256 56 7 2 1 1 6
256 256 56 7 2 1 2 6"
echo "| conv (+ max pool), batch $batch | in VGG16 | vggcl ms median (min) | packed ms median (min) | packed / vggcl: median ratio, ratio of minima |"
echo "| --- | ---: | ---: | ---: | ---: |"
while read -r ci co size r og passes count m; do
    model=$tmp/m_${ci}_$co.safetensors
    [ -f "$model" ] || /usr/bin/python3 "$root/weights/make_test_weights.py" --cfg "$ci,$co" --classes 7 --out "$model" >/dev/null
    : >"$tmp/runs"
    for _ in $(seq "$rounds"); do
        a=$("$vggcl" bench --weights "$model" --size "$size" --batch "$batch" --iters 2 --per-layer 2>/dev/null |
            awk '/ features\.2 /{print $(NF-2)}')
        b=$(PACKED_PROBE_NO_REFERENCE=1 "$probe" "$here/packed.cl" "$ci" "$co" "$size" "$size" 1 "$r" "$og" "$passes" "$batch" 1 "$m" |
            sed 's/.*median \([0-9.]*\) ms.*/\1/')
        echo "$a $b" >>"$tmp/runs"
    done
    /usr/bin/python3 - "$ci" "$co" "$size" "$count" "$tmp/runs" "$m" <<'PY'
import statistics as st, sys
ci, co, size, count, path, m = sys.argv[1:]
a, b = zip(*(map(float, line.split()) for line in open(path)))
print(f"| {ci}->{co} at {size}x{size}, F({m}x{m}) | {count} | {st.median(a):.2f} ({min(a):.2f}) | {st.median(b):.2f} ({min(b):.2f}) "
      f"| {st.median(y / x for x, y in zip(a, b)):.2f}x, {min(b) / min(a):.2f}x |")
PY
done <<<"$shapes"
