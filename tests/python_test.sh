#!/bin/bash
# The Python module as a user gets it: `pip install ./python` (into a temporary folder, with
# Debian's setuptools), then its pytest suite (python/tests) against the built library and
# command.
#
#   tests/python_test.sh SOURCE_DIR LIBVGGCL_SO VGGCL_BINARY [PYTHON]
set -euo pipefail
export VGGCL_DEVICE="${VGGCL_TEST_DEVICE:-}" # the tests' device (tests/testenv.py)
src=$(cd "$1" && pwd)
lib=$(realpath "$2")
bin=$(realpath "$3")
python=${4:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/python" "$tmp/src" # pip builds in the source folder; keep the checkout clean
PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --no-build-isolation --no-deps --target "$tmp/site" "$tmp/src"
cd "$tmp"
PYTHONPATH="$tmp/site" VGGCL_LIBRARY="$lib" VGGCL_BINARY="$bin" \
  "$python" -m pytest -q -p no:cacheprovider --basetemp="$tmp/pytest" "$src/python/tests"
