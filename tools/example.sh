#!/usr/bin/env bash
# The built-in example: VGG16 with a 7-class GAP head (deterministic random
# weights, torchvision key names) on two synthetic 224x224 pictures, run on the
# default OpenCL device. Files go to build/example/ ($VGGCL_EXAMPLE_DIR; the
# command is $VGGCL_BUILD_DIR/vggcl, default build/: the `example` test sets both).
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then # (it made the 59 MB model, then showed `vggcl run --help`)
  echo "usage: tools/example.sh [vggcl run options...]"
  sed -n '2,5s/^# \{0,1\}//p' "$0"
  exit 0
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${VGGCL_EXAMPLE_DIR:-$root/build/example}"
bin="${VGGCL_BUILD_DIR:-$root/build}/vggcl"
py=/usr/bin/python3
mkdir -p "$out"
weights="$out/vgg16_gap7.safetensors" # (made again when the script that makes it changed)
[ "$weights" -nt "$root/weights/make_test_weights.py" ] ||
  "$py" "$root/weights/make_test_weights.py" --arch vgg16 --classes 7 --seed 0 --out "$weights"
"$py" "$root/tools/make_example_input.py" "$out/input.npy"
"$bin" run --weights "$weights" --input "$out/input.npy" --output "$out/logits.npy" --features "$out/features.npy" "$@"
