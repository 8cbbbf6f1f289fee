#!/usr/bin/env bash
# Installs every Debian 12 package vggcl needs to build, run and test. Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  gcc make cmake pkg-config valgrind \
  ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers pocl-opencl-icd \
  libclblast-dev libcjson-dev check libsubunit-dev libjpeg62-turbo-dev libpng-dev \
  python3 python3-numpy python3-torch python3-torchvision python3-pil python3-skimage
