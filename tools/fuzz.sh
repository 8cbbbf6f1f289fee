#!/bin/bash
# Runs one libFuzzer harness: tools/fuzz.sh NAME SECONDS [libFuzzer flags...]
# NAME: safetensors, npy, model, image or preprocess (tests/fuzz/fuzz_NAME.c).
# Builds build-fuzz/ with clang (ASan + UBSan + coverage) as needed. New
# inputs go to build-fuzz/corpus/NAME (the seeds in tests/fuzz/corpus/NAME
# are read, not written); crashes to build-fuzz/crashes/NAME/. Copy a crash
# into tests/fuzz/corpus/NAME/ as crash-<what> once it is fixed: ctest replays
# that folder under the sanitizers (cmake -DVGGCL_SANITIZE=ON). To keep what a
# run found, minimize it into the corpus's found/ folder:
#   build-fuzz/tests/fuzz/fuzz_NAME -merge=1 tests/fuzz/corpus/NAME/found \
#     tests/fuzz/corpus/NAME build-fuzz/corpus/NAME
# -jobs=N (or -workers) writes libFuzzer's fuzz-K.log files in the current folder (git-ignored).
set -euo pipefail
usage="usage: tools/fuzz.sh NAME SECONDS [libFuzzer flags]"
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  echo "$usage"
  sed -n '2,12s/^# \{0,1\}//p' "$0"
  exit 0
fi
[ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || { echo "$usage (SECONDS: a whole number)" >&2; exit 2; }
command -v clang >/dev/null || { echo "fuzz.sh: needs clang (apt-get install -y clang)" >&2; exit 2; }
name=${1:?usage: tools/fuzz.sh NAME SECONDS [libFuzzer flags]}
seconds=${2:?usage: tools/fuzz.sh NAME SECONDS [libFuzzer flags]}
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VGGCL_FUZZ_BUILD:-$root/build-fuzz}
seeds=$root/tests/fuzz/corpus/$name
[ -d "$seeds" ] || { echo "fuzz.sh: no harness named '$name' (no $seeds)" >&2; exit 2; }
CC=clang cmake -S "$root" -B "$build" -DVGGCL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target "fuzz_$name" >/dev/null
mkdir -p "$build/corpus/$name" "$build/crashes/$name"
export VGGCL_CACHE_DIR=off
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
exec "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=3072 \
  -artifact_prefix="$build/crashes/$name/" -print_final_stats=1 "$@" "$build/corpus/$name" "$seeds"
