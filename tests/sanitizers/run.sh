#!/bin/bash
# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer: builds
# vggcl with -DVGGCL_SANITIZE=ON in BUILD_DIR and runs its ctest there, leak
# detection on (suppressions only for the OpenCL stack: lsan.supp), any UB
# fatal. PoCL runs under ASan, so the OpenCL suites are included.
#
#   tests/sanitizers/run.sh SOURCE_DIR BUILD_DIR [PYTHON] [ctest args...]
set -euo pipefail
src=$(cd "$1" && pwd)
bin=$2
python=${3:-/usr/bin/python3}
shift $(($# < 3 ? $# : 3))
# (the tests' kernel cache: the plain tree's, which its ctest gives this one in VGGCL_TEST_CACHE_DIR)
cmake -S "$src" -B "$bin" -DVGGCL_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVGGCL_PYTHON="$python" \
  -DVGGCL_TEST_CACHE_DIR="${VGGCL_TEST_CACHE_DIR:-$bin/test-cache}" >/dev/null
cmake --build "$bin" -j2 >/dev/null
# use_sigaltstack=0: since kernels/winograd.cl holds kernels with
# reqd_work_group_size, test_threads' worker threads exit with ASan's own
# CHECK "unable to unmap" of the thread's alternate signal stack (in
# AsanThread::Destroy, no frame of ours); LLVM, which PoCL runs to build
# programs in those threads, installs a signal stack of its own. ASan then
# reports stack overflows without the alternate stack; nothing else changes.
# intercept_tls_get_addr=0: GCC 12's runtime takes a dynamic TLS block whose address is 16 mod 4096 for
# a pre-2.25 glibc one and reads a bogus range before it, so the exit-time leak check died now and then
# with "Tracer caught signal 11" (google/sanitizers#1322; fixed in GCC 14 / LLVM 17). Dynamic TLS is then
# not scanned for pointers; vggcl keeps none there.
# exitcode=23: a report exits with a status of its own, so a test that expects vggcl's failure
# status (1) fails when an error path leaks or misbehaves instead of passing on the sanitizer's 1.
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:use_sigaltstack=0:intercept_tls_get_addr=0:exitcode=23
export LSAN_OPTIONS=suppressions=$src/tests/sanitizers/lsan.supp:print_suppressions=0:exitcode=23
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=23
ctest --test-dir "$bin" --output-on-failure "$@"
