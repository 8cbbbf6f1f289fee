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
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
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
t() { # t EXPECTED_EXIT ARGS...: vggcl ARGS under TSan, which exits 66 on a report
  local want=$1 rc=0
  shift
  echo "== tsan vggcl $*"
  "$vggcl" "$@" >"$tmp/out.txt" 2>&1 || rc=$?
  if [ "$rc" != "$want" ]; then
    cat "$tmp/out.txt"
    echo "tsan.sh: vggcl $* exited $rc, expected $want (66: ThreadSanitizer's report above)"
    exit 1
  fi
}
common=(--resize 24 --crop 20 --batch 2 --threads 3 --device 0,0)
w=(--weights "$tmp/w.safetensors")
t 1 classify "${w[@]}" "${common[@]}" --progress 0.001 --logits-out "$tmp/l.npy" --tensor-out "$tmp/t.npy" --format json \
  "$tmp/data/a" "$tmp/data/b"
t 1 train-head "${w[@]}" "${common[@]}" --data "$tmp/data" --out "$tmp/head.safetensors" --epochs 2 --flip
t 1 eval --weights "$tmp/head.safetensors" "${common[@]}" --data "$tmp/data"
t 1 bench "${w[@]}" --images "$tmp/data/b" --resize 24 --crop 20 --batch 2 --threads 3
VGGCL_FAULT=enqueue:12 t 1 classify "${w[@]}" "${common[@]}" --logits-out "$tmp/f.npy" "$tmp/data/a" "$tmp/data/b"
grep -q ", batch " "$tmp/out.txt" || { cat "$tmp/out.txt"; echo "tsan.sh: the fault did not land in a batch"; exit 1; }
[ ! -e "$tmp/f.npy" ] || { echo "tsan.sh: a failed run left its output"; exit 1; }
echo "== tsan test_threads"
"$bin/tests/test_threads" >"$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt"; echo "tsan.sh: test_threads failed (66: a report)"; exit 1; }
echo "tsan.sh: no data race, lock-order inversion or thread leak reported"
