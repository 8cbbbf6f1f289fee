#!/bin/bash
# ThreadSanitizer over the command's threads: builds vggcl and the threads
# suite (two contexts on two threads at once, the reference and the device)
# with -DVGGCL_TSAN=ON in BUILD_DIR, runs the suite, and runs classify,
# train-head, eval and bench --images on a folder with an unreadable image, on
# several decoding threads and two contexts of the tests' device (--device 0,0:
# a thread each, passes overlapped), and a run whose device fails mid-way
# (VGGCL_FAULT). A report of a data race, a lock-order inversion or a thread
# leak exits 66 and fails the test; PoCL's own threads are not instrumented,
# but a host buffer of ours that its threads copy while ours writes it shows
# (its memcpy is intercepted).
#
#   tests/sanitizers/tsan.sh SOURCE_DIR BUILD_DIR [PYTHON]
set -euo pipefail
src=$(cd "$1" && pwd)
bin=$2
python=${3:-/usr/bin/python3}
cmake -S "$src" -B "$bin" -DVGGCL_TSAN=ON -DVGGCL_MPI=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bin" -j2 --target vggcl_cli test_threads >/dev/null
vggcl=$bin/vggcl
export VGGCL_DEVICE="${VGGCL_TEST_DEVICE:-}" # (the tests' device: tests/testenv.py)
# (suppressions: a lock order inside PoCL's own threads is PoCL's; tsan.supp says so)
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$src/tests/sanitizers/tsan.supp"
# GCC 12's TSan stops at start where the kernel randomizes mappings over more than 28 bits (Ubuntu 24.04's
# 32): the runs go without address randomization where that may be asked for
norand=()
if setarch "$(uname -m)" -R true 2>/dev/null; then norand=(setarch "$(uname -m)" -R); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" "$src/weights/make_test_weights.py" --out "$tmp/w.safetensors" --cfg 8,M,16,M,16 --classes 3
mkdir -p "$tmp/data/a" "$tmp/data/b"
"$python" - "$tmp/data" <<'PY'
import sys
from PIL import Image
import numpy as np
rng = np.random.default_rng(0)
for c in "ab":
    for i in range(9):
        Image.fromarray(rng.integers(0, 256, (30 + i, 26 + 2 * i, 3), dtype=np.uint8)).save(f"{sys.argv[1]}/{c}/{i}.jpg")
PY
echo "not an image" > "$tmp/data/b/9.png"
t() { # t EXPECTED_EXIT SAID ARGS...: vggcl ARGS under TSan (a report exits 66), saying SAID
  local want=$1 said=$2 rc=0
  shift 2
  echo "== tsan vggcl $*"
  "${norand[@]}" "$vggcl" "$@" >"$tmp/out.txt" 2>&1 || rc=$?
  if [ "$rc" != "$want" ] || ! grep -q -- "$said" "$tmp/out.txt"; then
    cat "$tmp/out.txt"
    echo "tsan.sh: vggcl $* exited $rc, expected $want and '$said' (66: ThreadSanitizer's report above)"
    exit 1
  fi
}
dev=${VGGCL_TEST_DEVICE:-0}
common=(--resize 24 --crop 20 --batch 2 --threads 3 --device "$dev,$dev")
unread="1 of 19 images were skipped"
w=(--weights "$tmp/w.safetensors")
t 1 "$unread; 18 classified" classify "${w[@]}" "${common[@]}" --progress 0.001 --logits-out "$tmp/l.npy" \
  --tensor-out "$tmp/t.npy" --format json "$tmp/data/a" "$tmp/data/b"
[ -s "$tmp/l.npy" ] && [ -s "$tmp/t.npy" ] || { echo "tsan.sh: classify wrote no outputs"; exit 1; }
t 1 "$unread" train-head "${w[@]}" "${common[@]}" --data "$tmp/data" --out "$tmp/head.safetensors" --epochs 2 --flip
[ -s "$tmp/head.safetensors" ] || { echo "tsan.sh: train-head wrote no model"; exit 1; }
t 1 "$unread" eval --weights "$tmp/head.safetensors" "${common[@]}" --data "$tmp/data"
t 1 "end to end" bench "${w[@]}" --images "$tmp/data/b" --resize 24 --crop 20 --batch 2 --threads 3 # (one device)
VGGCL_FAULT=enqueue:12 t 1 ", batch " classify "${w[@]}" "${common[@]}" --logits-out "$tmp/f.npy" "$tmp/data/a" \
  "$tmp/data/b"
[ ! -e "$tmp/f.npy" ] || { echo "tsan.sh: a failed run left its output"; exit 1; }
echo "== tsan test_threads"
"${norand[@]}" "$bin/tests/test_threads" >"$tmp/out.txt" 2>&1 ||
  { cat "$tmp/out.txt"; echo "tsan.sh: test_threads failed (66: a report)"; exit 1; }
echo "tsan.sh: no data race, lock-order inversion or thread leak reported"
