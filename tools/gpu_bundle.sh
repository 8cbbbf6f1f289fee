#!/bin/bash
# Builds what tools/gpu_check.sh runs into one folder that can travel to a GPU
# machine which reaches no package registry: vggcl and the device suites
# (built without MPI) beside a lib/ of the shared libraries they load that a
# bare machine may lack (the OpenCL ICD loader, CLBlast, cJSON, libjpeg-turbo, libwebp, libtiff,
# libpng, subunit; not the C and C++ runtimes, which the machine has).
#
#   tools/gpu_bundle.sh [--mpi] [DIR]     (default build-gpu/bundle)
#
# Then, there: tools/gpu_check.sh DIR OUT_DIR (it puts DIR/lib on the library
# path). With --mpi (else they are removed) also vggcl-mpi, built with MPI (it loads the machine's own
# Open MPI, libmpi.so.40, which must match mpirun there), and images/, 32
# JPEGs of 400-617 pixels made from python3-skimage's colour photos (as the
# README's tables on PoCL; the tests' synthetic photo() where skimage is not
# there), for tools/mpi_scaling.sh:
#   LD_LIBRARY_PATH=DIR/lib tools/mpi_scaling.sh DIR/vggcl-mpi DIR/images 1,2,4,8 2 512
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mpi=0
out=
usage() { echo "usage: tools/gpu_bundle.sh [--mpi] [DIR]   (default DIR: build-gpu/bundle)"; }
for arg in "$@"; do # (--help was taken for DIR: a build, then mkdir --help; DIR --mpi left --mpi out)
  case $arg in
  --mpi) mpi=1 ;;
  -h | --help) usage; exit 0 ;;
  -*) echo "gpu_bundle: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  *) [ -z "$out" ] || { echo "gpu_bundle: one DIR, not '$out' and '$arg'" >&2; usage >&2; exit 2; }; out=$arg ;;
  esac
done
out=${out:-$root/build-gpu/bundle}
# (a release build whatever this folder was configured as before: a sanitizer build bundled libasan)
plain=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DVGGCL_SANITIZE=OFF -DVGGCL_TSAN=OFF -DVGGCL_FUZZ=OFF)
cmake -S "$root" -B "$root/build-gpu" "${plain[@]}" -DVGGCL_MPI=OFF >/dev/null
cmake --build "$root/build-gpu" -j2 >/dev/null
bins=("$root/build-gpu/vggcl" "$root"/build-gpu/tests/test_*)
if [ $mpi = 1 ]; then
  cmake -S "$root" -B "$root/build-gpu-mpi" "${plain[@]}" -DVGGCL_MPI=ON >/dev/null
  cmake --build "$root/build-gpu-mpi" -j2 --target vggcl_cli >/dev/null
fi
# (the libraries as this machine resolves them: not a LD_LIBRARY_PATH that holds a bundle's lib/)
ldd() { env -u LD_LIBRARY_PATH ldd "$@"; }
if ldd "${bins[@]}" | grep 'not found'; then
  echo "gpu_bundle: the libraries above are missing here; install them first" >&2
  exit 1
fi
# only what a bundle holds is replaced: DIR may be a folder of the user's. VERSION goes first and comes
# back last, once every library is in: a build stopped halfway (a missing PIL) left a VERSION that
# named this commit over an empty lib/
mkdir -p "$out"
was_bundle=0
if [ -f "$out/VERSION" ] || [ -d "$out/lib" ]; then was_bundle=1; fi
rm -f "$out/VERSION"
rm -rf "${out:?}/lib"
for b in "${bins[@]}"; do rm -f "$out/$(basename "$b")"; done
# (without --mpi too, where DIR is a bundle: an older vggcl-mpi would measure old code)
if [ $mpi = 1 ] || [ $was_bundle = 1 ]; then rm -rf "$out/vggcl-mpi" "$out/images"; fi
mkdir -p "$out/lib"
cp "${bins[@]}" "$out"/
if [ $mpi = 1 ]; then # (its libraries besides MPI's are the plain vggcl's, bundled below)
  cp "$root/build-gpu-mpi/vggcl" "$out/vggcl-mpi"
  mkdir "$out/images"
  /usr/bin/python3 - "$root/tests" "$out/images" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from PIL import Image
try:  # real photos decode as the README's PoCL tables' did (the synthetic ones carry about twice the bits)
    import skimage
    photos = []
    for p in sorted(Path(skimage.data_dir).iterdir()):
        try:
            with Image.open(p) as im:
                if p.suffix in (".jpg", ".png") and im.mode == "RGB" and min(im.size) >= 300:
                    photos.append(im.convert("RGB"))
        except OSError:  # (Debian's data folder holds a truncated test file on purpose)
            pass
except (ImportError, OSError):  # (no skimage, or its data folder missing: some installs lack it)
    photos = []
if not photos:
    from test_images import photo
    print("gpu_bundle: no python3-skimage photos: the tests' synthetic photo() instead", file=sys.stderr)
for i in range(32):
    w = 400 + 7 * i
    if photos:
        im = photos[i % len(photos)]
        im = im.resize((w, max(1, round(w * im.height / im.width))), Image.BILINEAR)
    else:
        im = Image.fromarray(photo(w, 300 + 5 * i, i))
    im.save(f"{sys.argv[2]}/{i:03d}.jpg", quality=90)
PY
fi
runtimes='/(libc|libm|libstdc\+\+|libgcc_s|libz|libpthread|libdl|librt)\.so' # (the machine has these)
ldd "${bins[@]}" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u | grep -v -E "$runtimes" |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
# every library but those runtimes found in the bundle's lib/ (vggcl-mpi's MPI is the machine's)
if env -u LD_LIBRARY_PATH LD_LIBRARY_PATH="$out/lib" ldd "$out/vggcl" "$out"/test_* |
   awk '$2 == "=>" { print $3 }' | grep -v -E "$runtimes" |
   grep -v "^$out/lib/"; then
  echo "gpu_bundle: the bundle's lib/ lacks the libraries above" >&2
  exit 1
fi
# and each library vggcl-mpi names itself, but MPI's, in lib/ too (ldd would list MPI's own, from this machine)
if [ $mpi = 1 ]; then
  lacks=$(readelf -d "$out/vggcl-mpi" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | grep -v '^libmpi\.' |
          while read -r lib; do echo "/$lib" | grep -q -E "$runtimes" || [ -e "$out/lib/$lib" ] || echo "$lib"; done)
  if [ -n "$lacks" ]; then
    echo "gpu_bundle: the bundle's lib/ lacks what vggcl-mpi needs: $lacks" >&2
    exit 1
  fi
fi
# what it was built from, which gpu_check.sh logs (a bundle older than the tree measures old code)
echo "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- host kernels include CMakeLists.txt \
  tests cmake || echo ' (with uncommitted changes)'), built $(date -u +%FT%TZ)" >"$out/VERSION"
ls "$out" "$out/lib"
