#!/bin/bash
# The checks and the benchmark for an OpenCL GPU, in one go, under a time
# budget (issue #9): the device and its limits, the device-vs-reference suites,
# PyTorch parity on torchvision's models, vggcl against PyTorch + cuDNN on the
# same GPU (tools/bench_vs_torch.py --torch-device cuda, TF32 off,
# cudnn.benchmark on) at batch 1, 8 and 32 before and after `vggcl tune`, and
# the per-layer profile with each layer's share of the fp32 peak.
#
#   tools/gpu_check.sh BIN_DIR OUT_DIR [SECONDS] [PEAK_GFLOPS]
#
# BIN_DIR holds vggcl and the test_* binaries (a build's tests/ copied beside
# it); VGGCL_DEVICE picks the device (default: the first GPU). PEAK_GFLOPS is
# the device's fp32 peak (default 67000, the H200's). Everything is logged to
# OUT_DIR/gpu_check.log; the tuning table is copied to OUT_DIR.
set -u
bin=$(cd "$1" && pwd)
out=$2
budget=${3:-540}
peak=${4:-67000}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/gpu_check.log
end=$((SECONDS + budget))
export VGGCL_CACHE_DIR=${VGGCL_CACHE_DIR:-$out/cache}
step() { # step NAME MAX_SECONDS CMD...: runs CMD if time is left, logs it
  local name=$1 max=$2 left=$((end - SECONDS))
  shift 2
  if [ "$left" -lt 15 ]; then echo "== $name: skipped (out of time)" | tee -a "$log"; return; fi
  [ "$max" -gt "$left" ] && max=$left
  echo "== $name (limit ${max}s)" | tee -a "$log"
  local t0=$SECONDS
  timeout "$max" "$@" >>"$log" 2>&1
  echo "== $name: exit $? in $((SECONDS - t0))s" | tee -a "$log"
}
cd "$root"
step "devices and limits" 30 "$bin/vggcl" devices
for s in winograd network conv pool gap dense cam; do
  step "suite $s" 60 "$bin/test_$s"
done
step "bench vs PyTorch (defaults, no table)" 120 python3 tools/bench_vs_torch.py "$bin/vggcl" --torch-device cuda \
  --batches 1 8 32 --iters 10 --rounds 2
step "bench per layer, batch 32, defaults" 45 "$bin/vggcl" bench --random --batch 32 --iters 5 --per-layer \
  --peak-gflops "$peak"
step "tune (batch 1, 8, 32; 200 s budget)" 230 "$bin/vggcl" tune --random --batch 1,8,32 --budget 200
cp "$VGGCL_CACHE_DIR"/*.tune "$out"/ 2>/dev/null
step "bench vs PyTorch (tuned)" 120 python3 tools/bench_vs_torch.py "$bin/vggcl" --torch-device cuda \
  --batches 1 8 32 --iters 10 --rounds 2
step "parity with PyTorch (tuned)" 150 python3 tests/parity_torch.py "$bin/vggcl"
for b in 1 8 32; do
  step "bench per layer, batch $b, tuned" 40 "$bin/vggcl" bench --random --batch $b --iters 5 --per-layer \
    --peak-gflops "$peak"
done
echo "== done in ${SECONDS}s" | tee -a "$log"
