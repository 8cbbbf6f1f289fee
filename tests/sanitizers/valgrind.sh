#!/bin/bash
# valgrind --leak-check=full over `vggcl run` on a small model, on the
# reference backend and on the default OpenCL device (PoCL in CI), plus
# `vggcl classify` on a PNG, `vggcl train-head` and `vggcl eval` on a small
# folder, and a failing run (corrupt weights) on the
# reference: no errors and no leaks from vggcl's code. Suppressions only for
# the OpenCL stack (valgrind.supp, each with its reason). With THREADS_TEST
# (tests/test_threads), helgrind checks its reference-backend case: two
# threads with a context each, no data race.
#
#   tests/sanitizers/valgrind.sh VGGCL_BINARY [PYTHON [THREADS_TEST]]
set -euo pipefail
export VGGCL_DEVICE="${VGGCL_TEST_DEVICE:-}" # the tests' device (tests/testenv.py)
vggcl=$1
python=${2:-/usr/bin/python3}
threads=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" "$root/weights/make_test_weights.py" --out "$tmp/w.safetensors" --cfg 8,M,16,M,16 --bn --classes 3
"$python" -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(0).standard_normal((2, 3, 20, 18)).astype(np.float32))" "$tmp/x.npy"
head -c 200 "$tmp/w.safetensors" > "$tmp/corrupt.safetensors"
vg() { # vg EXPECTED_EXIT ARGS...: valgrind's own errors exit 99
  local want=$1 rc=0
  shift
  echo "== valgrind vggcl $*"
  valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --error-exitcode=99 --num-callers=40 --suppressions="$root/tests/sanitizers/valgrind.supp" "$vggcl" "$@" \
    >"$tmp/out.txt" 2>&1 || rc=$?
  if [ "$rc" != "$want" ]; then
    cat "$tmp/out.txt"
    echo "valgrind.sh: vggcl $* exited $rc, expected $want (99: valgrind found errors or leaks)"
    exit 1
  fi
}
vg 0 run --device ref --weights "$tmp/w.safetensors" --input "$tmp/x.npy" --output "$tmp/y_ref.npy"
# valgrind's CPU has no AVX-512, so PoCL compiles every kernel (CLBlast's too)
# again for it, which under memcheck takes many minutes; a first run under
# valgrind's no-op tool fills PoCL's cache for that CPU in about a minute.
echo "== valgrind --tool=none vggcl run (fills PoCL's kernel cache for valgrind's CPU)"
valgrind --quiet --tool=none "$vggcl" run --weights "$tmp/w.safetensors" --input "$tmp/x.npy" \
  --output "$tmp/warm.npy" --features "$tmp/warm_f.npy" >/dev/null
vg 0 run --weights "$tmp/w.safetensors" --input "$tmp/x.npy" --output "$tmp/y_cl.npy" --features "$tmp/f_cl.npy"
vg 0 classify --device ref --weights "$tmp/w.safetensors" --resize 24 --crop 20 "$root/tests/data/tiny.png"
# train-head and eval on a two-class folder (the same PNG, and it mirrored), one image unreadable: exit 1
mkdir -p "$tmp/data/a" "$tmp/data/b"
cp "$root/tests/data/tiny.png" "$tmp/data/a/1.png"
cp "$root/tests/data/tiny.png" "$tmp/data/b/1.png"
cp "$root/tests/data/tiny.png" "$tmp/data/b/2.png"
echo "not an image" > "$tmp/data/a/2.png"
vg 1 train-head --device ref --weights "$tmp/w.safetensors" --data "$tmp/data" --val "$tmp/data" --flip --epochs 2 \
  --resize 24 --crop 20 --out "$tmp/head.safetensors"
vg 1 eval --device ref --weights "$tmp/head.safetensors" --data "$tmp/data" --format csv
# two devices (the reference twice: a context and a thread each), streamed outputs
vg 1 classify --device ref,ref --batch 1 --threads 2 --weights "$tmp/w.safetensors" --resize 24 --crop 20 \
  --logits-out "$tmp/l2.npy" --tensor-out "$tmp/t2.npy" "$tmp/data/a" "$tmp/data/b"
vg 1 run --device ref --weights "$tmp/corrupt.safetensors" --input "$tmp/x.npy" --output "$tmp/never.npy"
test ! -e "$tmp/never.npy"
# the decoding pool (its threads hand images over in order): no data race
echo "== helgrind vggcl classify --threads 2 (reference backend)"
valgrind --quiet --tool=helgrind --error-exitcode=99 "$vggcl" classify --device ref --threads 2 --batch 2 \
  --weights "$tmp/w.safetensors" --resize 24 --crop 20 "$tmp/data/a" "$tmp/data/b" > "$tmp/out.txt" 2>&1 || {
  [ $? = 1 ] && ! grep -q "Possible data race\|lock order" "$tmp/out.txt" || {
    cat "$tmp/out.txt"
    echo "valgrind.sh: helgrind found a data race in the decoding pool (exit 99) or the run failed"
    exit 1
  }
}
if [ -n "$threads" ]; then
  echo "== helgrind $threads (case ref)"
  CK_RUN_CASE=ref valgrind --quiet --tool=helgrind --error-exitcode=99 "$threads" || {
    echo "valgrind.sh: helgrind found a data race (exit 99) or the test failed"
    exit 1
  }
fi
echo "valgrind.sh: no errors, no leaks"
