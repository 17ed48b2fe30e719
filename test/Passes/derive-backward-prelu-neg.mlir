// Adjoints of nn.prelu and nn.neg. PReLU's input gradient is
// nn.prelu_grad_input (the slope's side at x = 0, as PyTorch); its slope
// gradient is dy * min(x, 0) summed over what the slope was broadcast to.
// Neg's gradient is the negated output gradient.
// RUN: mcutrain-opt %s --mcutrain-derive-backward="loss=mse" | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-derive-backward="loss=mse trainable=act.weight" | FileCheck %s --check-prefix=SLOPE

module {
  ml_program.global private @cw(dense<0.1> : tensor<3x1x1x1xf32>) : tensor<3x1x1x1xf32> {onnx.name = "conv.weight"}
  ml_program.global private @aw(dense<0.25> : tensor<3xf32>) : tensor<3xf32> {onnx.name = "act.weight"}
  func.func @forward(%x: tensor<1x1x2x2xf32>) -> tensor<1x3x2x2xf32> {
    %cw = ml_program.global_load @cw : tensor<3x1x1x1xf32>
    %aw = ml_program.global_load @aw : tensor<3xf32>
    %c = nn.conv2d %x, %cw {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x1x2x2xf32>, tensor<3x1x1x1xf32>) -> tensor<1x3x2x2xf32>
    %s = nn.reshape %aw : (tensor<3xf32>) -> tensor<3x1x1xf32>
    %p = nn.prelu %c, %s : (tensor<1x3x2x2xf32>, tensor<3x1x1xf32>) -> tensor<1x3x2x2xf32>
    %y = nn.neg %p : tensor<1x3x2x2xf32>
    return %y : tensor<1x3x2x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK: %[[C:.*]] = nn.conv2d
// CHECK: %[[S:.*]] = nn.reshape %{{.*}} : (tensor<3xf32>) -> tensor<3x1x1xf32>
// CHECK: %[[P:.*]] = nn.prelu %[[C]], %[[S]]
// CHECK: %[[Y:.*]] = nn.neg %[[P]]
// CHECK: %[[DY:.*]] = train.mse_loss_grad %[[Y]]
// CHECK: %[[DP:.*]] = nn.neg %[[DY]] {mcutrain.backward} : tensor<1x3x2x2xf32>
// CHECK: %[[DC:.*]] = nn.prelu_grad_input %[[DP]], %[[C]], %[[S]] {mcutrain.backward}
// min(x, 0) is clip(x, -inf, 0): alpha is the lower bound, beta (0) the default.
// CHECK: %[[NEG:.*]] = nn.activation clip %[[C]] {alpha = 0xFF800000 : f32, mcutrain.backward}
// CHECK: %[[PROD:.*]] = nn.mul %[[DP]], %[[NEG]] {mcutrain.backward}
// CHECK: %[[DS:.*]] = nn.reduce_sum_to %[[PROD]] {mcutrain.backward} : (tensor<1x3x2x2xf32>) -> tensor<3x1x1xf32>
// CHECK: nn.reshape %[[DS]] {mcutrain.backward} : (tensor<3x1x1xf32>) -> tensor<3xf32>
// CHECK: nn.conv2d_grad_weight %[[DC]]
// CHECK-DAG: train.update @cw,
// CHECK-DAG: train.update @aw,

// Only the slope trains: no input gradient, no convolution gradient.
// SLOPE-LABEL: func.func @train_step
// SLOPE-NOT: nn.prelu_grad_input
// SLOPE-NOT: nn.conv2d_grad_weight
// SLOPE: nn.reduce_sum_to {{.*}} -> tensor<3x1x1xf32>
// SLOPE: train.update @aw,
// SLOPE-NOT: train.update @cw
