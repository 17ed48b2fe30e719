// nn.conv_transpose2d: its adjoint is nn.conv2d of dy (the input's
// gradient) and nn.conv2d_grad_weight with dy and the input exchanged (the
// weight's); it lowers as nn.conv2d_grad_input, the strided scatter here.
// RUN: mcutrain-opt %s --mcutrain-derive-backward | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s --check-prefix=LOWER

module {
  ml_program.global private @w(dense<0.1> : tensor<2x3x3x3xf32>) : tensor<2x3x3x3xf32> {onnx.name = "up.weight"}
  ml_program.global private @v(dense<0.1> : tensor<2x2x1x1xf32>) : tensor<2x2x1x1xf32> {onnx.name = "pre.weight"}
  func.func @forward(%x: tensor<1x2x3x4xf32>) -> tensor<1x144xf32> {
    %v = ml_program.global_load @v : tensor<2x2x1x1xf32>
    %w = ml_program.global_load @w : tensor<2x3x3x3xf32>
    %p = nn.conv2d %x, %v {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x2x3x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x3x4xf32>
    %y = nn.conv_transpose2d %p, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x2x3x4xf32>, tensor<2x3x3x3xf32>) -> tensor<1x3x6x8xf32>
    %f = nn.reshape %y : (tensor<1x3x6x8xf32>) -> tensor<1x144xf32>
    return %f : tensor<1x144xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK: %[[P:.*]] = nn.conv2d %arg0
// CHECK: %[[DY:.*]] = nn.reshape %{{.*}} {mcutrain.backward} : (tensor<1x144xf32>) -> tensor<1x3x6x8xf32>
// CHECK-DAG: nn.conv2d %[[DY]], %{{.*}} {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x3x6x8xf32>, tensor<2x3x3x3xf32>) -> tensor<1x2x3x4xf32>
// CHECK-DAG: nn.conv2d_grad_weight %[[P]], %[[DY]] {{.*}} : (tensor<1x2x3x4xf32>, tensor<1x3x6x8xf32>) -> tensor<2x3x3x3xf32>

// LOWER-LABEL: func.func @forward
// LOWER: linalg.generic {{.*}} ins(%{{.*}}, %w, %{{.*}} : tensor<1x2x3x4xf32>, tensor<2x3x3x3xf32>, tensor<2x3x3xf32>)
// LOWER-SAME: outs(%{{.*}} : tensor<1x3x8x10xf32>)
// LOWER-SAME: mcutrain.kernel = #train.kernel<conv2d_grad_input_strided
// LOWER: tensor.generate
// LOWER: } : tensor<1x3x6x8xf32>
// LOWER-NOT: nn.conv_transpose2d
