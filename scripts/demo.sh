#!/usr/bin/env bash
# The main job on the bundled default: pretrain a small CNN briefly in
# PyTorch on part of Fashion-MNIST, export ONNX, compile it with mcutrain,
# build the generated C++ with the host trainer, fine-tune on other training
# images and print test accuracy before/after, memory and compute. Then the
# same for the int8 model (PyTorch post-training quantization to QDQ ONNX,
# int8 forward, float32 backward, int8 weights updated in place with QAS).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MCUTRAIN_BUILD_DIR:-$root/build}"
work="$build/demo"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
mkdir -p "$work"
echo "== 1. PyTorch: pretrain on 3000 images, export ONNX"
/usr/bin/python3 "$root/examples/fashion-mnist/model.py" --out "$work/demo_cnn.onnx" \
  --raw-idx-dir "$work/idx" --state "$work/demo_cnn.pt"
echo "== 2. mcutrain compile"
"$build/bin/mcutrain" compile "$work/demo_cnn.onnx" --name demo_cnn \
  --loss cross-entropy --optimizer sgd --lr 0.01 --trainable all -o "$work/demo_cnn"
echo "== 3. build the generated C++ with the host trainer"
# For this machine's vector unit, as README recommends for host training:
# the kernels are written for its registers (a baseline x86-64 build of this
# step ran 5x slower on an AVX2 core).
g++ -std=c++17 -O3 -march=native -Wall -Wextra -Werror -fno-exceptions -fno-rtti \
  -I"$work/demo_cnn" -DMCUTRAIN_MODEL=demo_cnn '-DMCUTRAIN_MODEL_HEADER="demo_cnn.h"' \
  "$root/examples/fashion-mnist/trainer.cpp" "$work/demo_cnn/demo_cnn.cpp" \
  "$work/demo_cnn/demo_cnn_params.cpp" -o "$work/trainer"
echo "== 4. fine-tune on the device code"
"$work/trainer" "$work/idx" "$@"
echo "== 5. int8: quantize the pretrained CNN (QDQ ONNX), compile, fine-tune"
/usr/bin/python3 "$root/examples/quantize/quantize.py" demo "$work/demo_cnn_int8.onnx" \
  --weights "$work/demo_cnn.pt"
# SGD with momentum, as TTE trains int8 weights: the momentum carries the
# small steps that plain SGD's rounding to the int8 grid would lose.
"$build/bin/mcutrain" compile "$work/demo_cnn_int8.onnx" --name demo_cnn \
  --loss cross-entropy --optimizer momentum --lr 0.001 --trainable all \
  -o "$work/demo_cnn_int8"
g++ -std=c++17 -O3 -march=native -Wall -Wextra -Werror -fno-exceptions -fno-rtti \
  -I"$work/demo_cnn_int8" -DMCUTRAIN_MODEL=demo_cnn '-DMCUTRAIN_MODEL_HEADER="demo_cnn.h"' \
  "$root/examples/fashion-mnist/trainer.cpp" "$work/demo_cnn_int8/demo_cnn.cpp" \
  "$work/demo_cnn_int8/demo_cnn_params.cpp" -o "$work/trainer_int8"
"$work/trainer_int8" "$work/idx" "$@"
