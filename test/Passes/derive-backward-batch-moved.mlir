// Cross-entropy takes one label per logits row and the package's API passes
// kBatch labels (the input's first dim): logits whose first dim is not the
// batch (a Transpose moved it) are refused, not read past the labels.
// (Found by bench/difftest.py, seed 2: a heap overflow under ASan.)
// RUN: not mcutrain-opt %s --mcutrain-derive-backward 2>&1 | FileCheck %s
// CHECK: error: cross-entropy needs logits [batch, classes] with the input's batch (1) first; the model returns 'tensor<2x4xf32>' (a Transpose or Reshape moved the batch dimension)
module {
  func.func @forward(%x: tensor<1x2x4xf32>) -> tensor<2x4xf32> {
    %y = nn.reshape %x : (tensor<1x2x4xf32>) -> tensor<2x4xf32>
    return %y : tensor<2x4xf32>
  }
}
