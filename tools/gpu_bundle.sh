#!/bin/bash
# Builds what tools/gpu_check.sh runs into one folder that can travel to a GPU
# machine which reaches no package registry: vggcl and the device suites
# (built without MPI) beside a lib/ of the shared libraries they load that a
# bare machine may lack (the OpenCL ICD loader, CLBlast, cJSON, libjpeg-turbo,
# libpng, subunit; not the C and C++ runtimes, which the machine has).
#
#   tools/gpu_bundle.sh [DIR]     (default build-gpu/bundle)
#
# Then, there: tools/gpu_check.sh DIR OUT_DIR (it puts DIR/lib on the library
# path).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-gpu/bundle}
cmake -S "$root" -B "$root/build-gpu" -DVGGCL_MPI=OFF >/dev/null
cmake --build "$root/build-gpu" -j2 >/dev/null
bins=("$root/build-gpu/vggcl" "$root"/build-gpu/tests/test_*)
if ldd "${bins[@]}" | grep 'not found'; then
  echo "gpu_bundle: the libraries above are missing here; install them first" >&2
  exit 1
fi
# only what a bundle holds is replaced: DIR may be a folder of the user's
mkdir -p "$out"
rm -rf "$out/lib"
for b in "${bins[@]}"; do rm -f "$out/$(basename "$b")"; done
mkdir -p "$out/lib"
cp "${bins[@]}" "$out"/
ldd "${bins[@]}" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
  grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|libz|libpthread|libdl|librt)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
ls "$out" "$out/lib"
