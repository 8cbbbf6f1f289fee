#!/bin/bash
# `cmake --install` into a temporary prefix, then what a user of the library does with it: the
# files in place (library with its soname, header, command, man page, CMake package, vggcl.pc),
# only vggcl.h's functions exported, examples/classify.c built against the installed tree both
# with find_package(vggcl CONFIG) (and the build tree as its package), with pkg-config (the build
# tree's vggcl.pc too) and with vggcl as a CMake subproject, and run on a model with a preset in its
# metadata: its top 5 equals `vggcl classify`'s.
#
#   tests/install_test.sh SOURCE_DIR BUILD_DIR [PYTHON]
set -euo pipefail
export VGGCL_DEVICE="${VGGCL_TEST_DEVICE:-}" # the tests' device (tests/testenv.py)
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
python=${3:-/usr/bin/python3}
tmp=$(mktemp -d)
manifest="$build/install_manifest.txt" # (cmake --install rewrites it: a user's real install's is kept)
if [ -e "$manifest" ]; then cp -p "$manifest" "$tmp/manifest"; fi
restore() { if [ -e "$tmp/manifest" ]; then cp -p "$tmp/manifest" "$manifest"; else rm -f "$manifest"; fi; rm -rf "$tmp"; }
trap restore EXIT
fail() { echo "install_test.sh: $*" >&2; exit 1; }
# the libvggcl that EXE loads (ldd, in this environment) is the file LIB, compared by real path: a build's
# RUNPATH may name a folder through another path than ours (a symlinked TMPDIR). (Not `ldd | grep -q`: grep
# leaves at the first match, and under pipefail ldd killed by SIGPIPE failed the check now and then)
uses_lib() {
  local got
  got=$(ldd "$1" | sed -n 's/^[[:space:]]*libvggcl\.so[^ ]* => \(.*\) (0x[0-9a-f]*)$/\1/p') # (a path may hold spaces)
  [ -n "$got" ] && [ -e "$got" ] && [ "$(realpath "$got")" = "$(realpath "$2")" ] ||
    fail "$1 does not use $2 ($3); ldd says: $(ldd "$1" | grep vggcl)"
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(sed -n 's/^libdir=\${prefix}\///p' "$build/to-install/vggcl.pc")
version=$(sed -n 's/^#define VGGCL_VERSION_STRING "\(.*\)"/\1/p' "$src/include/vggcl.h")
major=${version%%.*}
minor=${version#*.} minor=${minor%%.*}
soversion=$major
[ "$major" = 0 ] && soversion=0.$minor # (0.x: a new minor version may change the ABI)
for f in "$libdir/libvggcl.so.$version" "$libdir/libvggcl.so.$soversion" "$libdir/libvggcl.so" include/vggcl.h bin/vggcl \
         "$libdir/cmake/vggcl/vggclConfig.cmake" "$libdir/cmake/vggcl/vggclConfigVersion.cmake" \
         "$libdir/pkgconfig/vggcl.pc" share/vggcl/valgrind.supp share/vggcl/lsan.supp; do
  [ -e "$prefix/$f" ] || fail "$f was not installed"
done
# (where the build found help2man, as its cache says: one installed after configuring made this fail)
if grep -q '^HELP2MAN:FILEPATH=/' "$build/CMakeCache.txt"; then
  [ -s "$prefix/share/man/man1/vggcl.1" ] || fail "share/man/man1/vggcl.1 was not installed"
  grep -q "train-head" "$prefix/share/man/man1/vggcl.1" || fail "the man page lacks the subcommands' options"
fi
soname=$(objdump -p "$prefix/$libdir/libvggcl.so" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libvggcl.so.$soversion" ] || fail "soname is '$soname', expected libvggcl.so.$soversion"
[ "$("$prefix/bin/vggcl" --version)" = "vggcl $version" ] || fail "vggcl --version does not say $version"

# a system prefix's vggcl.pc names its folders as they are (pkg-config knows the system ones by their text
# and leaves them off the flags; through ${pcfiledir}/../../.. it put -L/usr/lib/... on every link line)
cmake -S "$src" -B "$tmp/system" -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF >/dev/null
grep -qx 'prefix=/usr' "$tmp/system/to-install/vggcl.pc" && grep -qx 'includedir=/usr/include' \
  "$tmp/system/to-install/vggcl.pc" && grep -q '^libdir=/usr/lib' "$tmp/system/to-install/vggcl.pc" ||
  fail "vggcl.pc for the prefix /usr does not name /usr's folders: $(cat "$tmp/system/to-install/vggcl.pc")"

# exported: exactly the VGGCL_API functions of the header
nm -D --defined-only "$prefix/$libdir/libvggcl.so" | awk '$2 == "T" {print $3}' | sort > "$tmp/exported"
sed -n 's/^VGGCL_API [^(]*[ *]\(vggcl_[a-z0-9_]*\)(.*/\1/p' "$src/include/vggcl.h" | sort > "$tmp/declared"
diff "$tmp/declared" "$tmp/exported" >"$tmp/diff" || { cat "$tmp/diff"; fail "exported symbols differ from vggcl.h's (< declared, > exported)"; }
! nm -D --defined-only "$prefix/$libdir/libvggcl.so" | awk '{print $3}' | grep -v '^vggcl_[a-z]' | grep . \
  || fail "symbols other than vggcl_* are exported"

# a consumer, both ways
cmake -S "$src/examples" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/classify-pc" "$src/examples/classify.c" $(pkg-config --cflags --libs vggcl) -lm
"$python" "$src/weights/make_test_weights.py" --cfg 8,M,16,M,16 --classes 7 --out "$tmp/w.safetensors" >/dev/null
# a preset of its own in the metadata, as train-head writes one: the example reads it as the command does
"$python" - "$tmp/w.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
header["__metadata__"] = {"vggcl.resize": "40", "vggcl.crop": "36", "vggcl.mean": "0.4,0.5,0.6", "vggcl.std": "0.3,0.2,0.1"}
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
PY
img=$src/tests/data/tiny.png
"$prefix/bin/vggcl" classify --weights "$tmp/w.safetensors" --top 5 --format csv "$img" |
  awk -F, 'NR > 1 {printf "%d %.4f\n", $3, $5}' > "$tmp/want"
for exe in "$tmp/cmake-build/classify" "$tmp/classify-pc"; do
  LD_LIBRARY_PATH="$prefix/$libdir" "$exe" "$tmp/w.safetensors" "$img" > "$tmp/got.txt"
  grep -q "^vggcl $version on " "$tmp/got.txt" || fail "$exe: unexpected first line: $(head -1 "$tmp/got.txt")"
  tail -n +2 "$tmp/got.txt" | awk '{printf "%d %.4f\n", $1, $3}' > "$tmp/got"
  diff "$tmp/want" "$tmp/got" || fail "$exe: top 5 differs from vggcl classify's"
  LD_LIBRARY_PATH="$prefix/$libdir" uses_lib "$exe" "$prefix/$libdir/libvggcl.so.$soversion" "the installed library"
done
# the build tree itself as the package (find_package found its vggclConfig.cmake, which named an install's
# vggclTargets.cmake that the build tree did not have: an error inside vggcl's file)
cmake -S "$src/examples" -B "$tmp/tree-build" -DCMAKE_PREFIX_PATH="$build" >"$tmp/tree.log" 2>&1 &&
  cmake --build "$tmp/tree-build" >>"$tmp/tree.log" 2>&1 || { tail -20 "$tmp/tree.log"; fail "the build tree is no package"; }
"$tmp/tree-build/classify" "$tmp/w.safetensors" "$img" > "$tmp/got.txt"
tail -n +2 "$tmp/got.txt" | awk '{printf "%d %.4f\n", $1, $3}' > "$tmp/got"
diff "$tmp/want" "$tmp/got" || fail "classify built against the build tree: top 5 differs from vggcl classify's"
uses_lib "$tmp/tree-build/classify" "$build/libvggcl.so.$soversion" "the build tree's library"
# and through pkg-config (PKG_CONFIG_PATH=build: its vggcl.pc was the install's, which named build/../../include)
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/classify-tree-pc" "$src/examples/classify.c" \
  $(PKG_CONFIG_PATH="$build" pkg-config --cflags --libs vggcl) -Wl,-rpath,"$build" -lm ||
  fail "classify built with pkg-config on the build tree: $(PKG_CONFIG_PATH="$build" pkg-config --cflags --libs vggcl)"
"$tmp/classify-tree-pc" "$tmp/w.safetensors" "$img" > "$tmp/got.txt"
tail -n +2 "$tmp/got.txt" | awk '{printf "%d %.4f\n", $1, $3}' > "$tmp/got"
diff "$tmp/want" "$tmp/got" || fail "classify built with pkg-config on the build tree: top 5 differs from vggcl classify's"
uses_lib "$tmp/classify-tree-pc" "$build/libvggcl.so.$soversion" "the build tree's library"
# and vggcl as a subproject of the consumer's own build (FetchContent, as add_subdirectory): built from this
# source, none of its tests or its example in the consumer's project, the same answer from its library
mkdir "$tmp/sub"
cat > "$tmp/sub/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.20)
project(consumer LANGUAGES C)
include(FetchContent)
FetchContent_Declare(vggcl SOURCE_DIR "$src")
FetchContent_MakeAvailable(vggcl)
enable_testing()
add_executable(classify "$src/examples/classify.c")
target_link_libraries(classify PRIVATE vggcl::vggcl m)
EOF
cmake -S "$tmp/sub" -B "$tmp/sub-build" -DCMAKE_BUILD_TYPE=Release >"$tmp/sub.log" 2>&1 &&
  cmake --build "$tmp/sub-build" --target classify -j2 >>"$tmp/sub.log" 2>&1 ||
  { tail -20 "$tmp/sub.log"; fail "vggcl as a subproject did not build"; }
tests=$(ctest --test-dir "$tmp/sub-build" -N | sed -n 's/^Total Tests: //p')
[ "$tests" = 0 ] || fail "the subproject added $tests tests to the consumer's project"
[ ! -e "$tmp/sub-build/_deps/vggcl-build/example_classify" ] || fail "the subproject built its example"
"$tmp/sub-build/classify" "$tmp/w.safetensors" "$img" > "$tmp/got.txt"
tail -n +2 "$tmp/got.txt" | awk '{printf "%d %.4f\n", $1, $3}' > "$tmp/got"
diff "$tmp/want" "$tmp/got" || fail "the subproject's classify: top 5 differs from vggcl classify's"
uses_lib "$tmp/sub-build/classify" "$tmp/sub-build/_deps/vggcl-build/libvggcl.so.$soversion" "the library built with it"
# logits that are not finite (weights that overflow): the example says so, exit 1, as `vggcl classify` skips
# such an image (it wrote logits[-1] on NaN; on one infinite logit it printed "-nan" for every class, exit 0)
"$python" - "$src/weights" "$tmp/w.safetensors" "$tmp/nan.safetensors" "$tmp/inf.safetensors" <<'PY'
import sys
sys.path.insert(0, sys.argv.pop(1))
from safetensors_io import load_file, save_file
t, meta = load_file(sys.argv[1])
t = {k: v.copy() for k, v in t.items()}
inf = {k: v.copy() for k, v in t.items()}
inf["classifier.0.weight"][0] = 3e38  # class 0's logit alone overflows (the features are not negative)
inf["classifier.0.bias"][0] = 3e38
save_file(inf, sys.argv[3], metadata=meta)
t["features.6.weight"][:] = 3e38
t["features.6.bias"][:] = 3e38
t["classifier.0.weight"][:] = 3e38
t["classifier.0.weight"][:, ::2] = -3e38  # inf - inf in every class's sum: NaN on every device
save_file(t, sys.argv[2], metadata=meta)
PY
for bad in nan inf; do
  if LD_LIBRARY_PATH="$prefix/$libdir" "$tmp/classify-pc" "$tmp/$bad.safetensors" "$img" > "$tmp/$bad.txt" \
     2> "$tmp/$bad.err"; then
    fail "the example exited 0 on a model whose logits are $bad: $(cat "$tmp/$bad.txt")"
  fi
  grep -q "overflow float32" "$tmp/$bad.err" && [ ! -s "$tmp/$bad.txt" ] ||
    fail "the example on logits that are $bad: $(cat "$tmp/$bad.err" "$tmp/$bad.txt")"
done
# an absolute CMAKE_INSTALL_LIBDIR and INCLUDEDIR (as some distributions give them): vggcl.pc names them as
# given, not under the prefix (configured only: the install above covers the relative ones)
cmake -S "$src" -B "$tmp/absolute" -DCMAKE_INSTALL_PREFIX=/opt/vggcl-test -DCMAKE_INSTALL_LIBDIR=/opt/vggcl-libs/lib64 \
  -DCMAKE_INSTALL_INCLUDEDIR=/opt/vggcl-headers >/dev/null
grep -qx 'libdir=/opt/vggcl-libs/lib64' "$tmp/absolute/to-install/vggcl.pc" && grep -qx 'includedir=/opt/vggcl-headers' \
  "$tmp/absolute/to-install/vggcl.pc" ||
  fail "an absolute libdir or includedir is not vggcl.pc's: $(cat "$tmp/absolute/to-install/vggcl.pc")"
# a library missing at configure: named by its Debian package (CMake's words named a module, a variable such as
# OpenCL_INCLUDE_DIR or libtiff-4; a missing zlib was said as a missing PNG); which of MPI or not, said
# (a pkg-config that knows no module named *$hide*)
printf '#!/bin/sh\ncase "$*" in *"$hide"*) exit 1;; esac\nexec pkg-config "$@"\n' > "$tmp/pc" && chmod +x "$tmp/pc"
for miss in "zlib1g-dev|-DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON" "libclblast-dev|-DCMAKE_DISABLE_FIND_PACKAGE_CLBlast=ON" \
            "libcjson-dev|-DPKG_CONFIG_EXECUTABLE=$tmp/pc|cjson" "libtiff-dev|-DPKG_CONFIG_EXECUTABLE=$tmp/pc|tiff" \
            "check libsubunit-dev|-DPKG_CONFIG_EXECUTABLE=$tmp/pc|check"; do
  want=${miss%%|*} option=${miss#*|}
  hide=${option#*|} option=${option%%|*}
  if hide=$hide cmake -S "$src" -B "$tmp/missing" "$option" > "$tmp/missing.out" 2>&1; then
    fail "configure passed with $option ($hide): $(cat "$tmp/missing.out")"
  fi
  tr -s ' \n' ' ' < "$tmp/missing.out" | grep -q "not found: on Debian 12, apt-get install $want (" ||
    fail "configure with $option ($hide) does not name $want: $(cat "$tmp/missing.out")"
  rm -rf "$tmp/missing"
done
cmake -S "$src" -B "$tmp/no-mpi" -DVGGCL_MPI=OFF -DBUILD_TESTING=OFF > "$tmp/no-mpi.out" # (grep -q: SIGPIPE)
grep -q "vggcl: the command is built without MPI" "$tmp/no-mpi.out" ||
  fail "configure with -DVGGCL_MPI=OFF does not say the command is built without MPI: $(cat "$tmp/no-mpi.out")"
echo "install_test.sh: installed, exports only the API, consumers built with CMake, pkg-config and vggcl as a" \
     "subproject agree with vggcl classify" \
     "(an absolute libdir too); a missing library named by its package at configure"
