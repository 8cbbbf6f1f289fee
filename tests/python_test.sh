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
cp -rL "$src/python" "$tmp/src" # pip builds in the source folder; keep the checkout clean (-L: its LICENSE links to ../LICENSE)
PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --no-build-isolation --no-deps --target "$tmp/site" "$tmp/src"
# and as the README installs it, offline: a venv that sees Debian's numpy, `pip install --no-build-isolation`
# (without it pip fetched setuptools from PyPI: an offline machine could not install), the module loading the
# library VGGCL_LIBRARY names
"$python" -m venv --system-site-packages "$tmp/venv"
PIP_NO_INDEX=1 PIP_ROOT_USER_ACTION=ignore "$tmp/venv/bin/pip" install --quiet --no-build-isolation "$tmp/src"
VGGCL_LIBRARY="$lib" "$tmp/venv/bin/python" -c 'import importlib.metadata as m, sys, vggcl; sys.exit(vggcl.version() != m.version("vggcl"))'
# the package carries the project's license (python/LICENSE is a link to it)
# (found by name among its files: from setuptools 77 on it goes to licenses/ in the dist-info folder)
"$tmp/venv/bin/python" -c 'import importlib.metadata as m, sys; f = [p for p in m.distribution("vggcl").files or [] if p.name == "LICENSE"]; sys.exit((not f or f[0].read_text() != open(sys.argv[1]).read()) and "the installed vggcl has no LICENSE, or not the project'"'"'s")' "$src/LICENSE"
# and its annotations to type checkers (PEP 561's marker)
[ -f "$tmp/site/vggcl/py.typed" ] || { echo "python_test.sh: the installed vggcl has no py.typed" >&2; exit 1; }
cd "$tmp"
PYTHONPATH="$tmp/site" VGGCL_LIBRARY="$lib" VGGCL_BINARY="$bin" \
  "$python" -m pytest -q -p no:cacheprovider --basetemp="$tmp/pytest" "$src/python/tests"
