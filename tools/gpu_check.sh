#!/bin/bash
# The checks and the benchmark for an OpenCL GPU, in one go, under a time
# budget: the device-vs-reference suites, PyTorch parity on torchvision's
# models, `vggcl bench --per-layer`, and vggcl against PyTorch on the same GPU
# (tools/bench_vs_torch.py --torch-device cuda), before and after `vggcl tune`.
#
#   tools/gpu_check.sh BIN_DIR OUT_DIR [SECONDS]
#
# BIN_DIR holds vggcl and the test_* binaries (a build's tests/ copied beside
# it); VGGCL_DEVICE picks the device (default: the first GPU). Everything is
# logged to OUT_DIR/gpu_check.log.
set -u
bin=$(cd "$1" && pwd)
out=$2
budget=${3:-420}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
log=$out/gpu_check.log
end=$((SECONDS + budget))
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
step "devices" 30 "$bin/vggcl" devices
for s in conv winograd pool gap dense cam network; do
  step "suite $s" 60 "$bin/test_$s"
done
step "bench vs PyTorch (default algorithms)" 150 python3 tools/bench_vs_torch.py "$bin/vggcl" --torch-device cuda \
  --batches 1 8 32 --iters 10 --rounds 2
step "bench per layer, batch 8" 60 "$bin/vggcl" bench --random --batch 8 --iters 5 --per-layer
step "parity with PyTorch" 180 python3 tests/parity_torch.py "$bin/vggcl"
step "tune" 90 "$bin/vggcl" tune --random --batch 8
step "bench vs PyTorch (tuned)" 120 python3 tools/bench_vs_torch.py "$bin/vggcl" --torch-device cuda \
  --batches 1 8 32 --iters 10 --rounds 2
step "bench per layer, batch 8, tuned" 60 "$bin/vggcl" bench --random --batch 8 --iters 5 --per-layer
echo "== done in ${SECONDS}s" | tee -a "$log"
