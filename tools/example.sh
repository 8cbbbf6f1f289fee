#!/usr/bin/env bash
# The built-in example: VGG16 with a 7-class GAP head (deterministic random
# weights, torchvision key names) on two synthetic 224x224 pictures, run on the
# default OpenCL device. Files go to build/example/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/example"
py=/usr/bin/python3
mkdir -p "$out"
[ -f "$out/vgg16_gap7.safetensors" ] ||
  "$py" "$root/weights/make_test_weights.py" --arch vgg16 --classes 7 --seed 0 --out "$out/vgg16_gap7.safetensors"
"$py" "$root/tools/make_example_input.py" "$out/input.npy"
"$root/build/vggcl" run --weights "$out/vgg16_gap7.safetensors" --input "$out/input.npy" \
  --output "$out/logits.npy" --features "$out/features.npy" "$@"
