// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// The marks use-kernels fuses by: a padded depthwise convolution names its
// plane-at-a-time variant and which operand is the padded copy; one with a
// bias names the variants that start from the bias and end in an
// activation (the activation's template argument left for use-kernels);
// the clip is marked with its bounds; and the clip's gradient reads the
// clip's output, not its input, so the convolution's output has no other
// use.
// CHECK-LABEL: func.func @depthwise_clip
// CHECK: %[[XP:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<1x4x6x6xf32>) outs(%{{.*}} : tensor<1x4x8x8xf32>)
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%arg2 : tensor<4xf32>)
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[XP]], %arg1 {{.*}} outs(%[[B]]
// CHECK-SAME: mcutrain.kernel = #train.kernel<conv2d<1, 4, 8, 8, 4, 1, 3, 3, 6, 6, 1, 1, 1, 1, 4>>
// CHECK-SAME: mcutrain.kernel_bias_act = #train.kernel<conv2d_bias_act<1, 4, 8, 8, 4, 1, 3, 3, 6, 6, 1, 1, 1, 1, 4, 0>>
// CHECK-SAME: mcutrain.kernel_planes = #train.kernel<depthwise_conv2d<1, 4, 6, 6, 8, 8, 1, 1, 3, 3, 6, 6, 1, 1, 1, 1>>
// CHECK-SAME: mcutrain.kernel_planes_bias_act = #train.kernel<depthwise_conv2d_bias_act<1, 4, 6, 6, 8, 8, 1, 1, 3, 3, 6, 6, 1, 1, 1, 1, 0>>
// CHECK-SAME: mcutrain.kernel_spread_operand = 0 : i64
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[C]] : {{.*}} attrs = {mcutrain.activation = #train<fused_activation clip>, mcutrain.activation_bounds = array<f32: 0.000000e+00, 6.000000e+00>}
// CHECK: %[[G:.*]] = linalg.generic {{.*}} ins(%arg3, %[[H]] : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>)
// CHECK-SAME: mcutrain.activation_bounds = array<f32: 0.000000e+00, 6.000000e+00>, mcutrain.activation_grad = #train<fused_activation clip>
// CHECK-NOT: ins(%[[C]]
// CHECK: return %[[H]], %[[G]]
func.func @depthwise_clip(%x: tensor<1x4x6x6xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>, %dy: tensor<1x4x6x6xf32>) -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) {
  %c = nn.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 4} : (tensor<1x4x6x6xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  %h = nn.activation clip %c {alpha = 0.0 : f32, beta = 6.0 : f32} : tensor<1x4x6x6xf32>
  %g = nn.activation_grad clip %dy, %c, %h {alpha = 0.0 : f32, beta = 6.0 : f32} : tensor<1x4x6x6xf32>
  return %h, %g : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
}

// A dense convolution without padding or bias: no plane or bias variant;
// ReLU is marked.
// CHECK-LABEL: func.func @dense_relu
// CHECK: mcutrain.kernel = #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>
// CHECK-NOT: kernel_planes
// CHECK-NOT: kernel_bias_act
// CHECK: mcutrain.activation = #train<fused_activation relu>
func.func @dense_relu(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32> {
  %c = nn.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %r = nn.relu %c : tensor<1x3x4x4xf32>
  return %r : tensor<1x3x4x4xf32>
}

// An input gradient names the variants that end in the mask of the
// activation the layer's input came from; ReLU's gradient is marked.
// CHECK-LABEL: func.func @grad_input_relu
// CHECK: linalg.generic {{.*}}mcutrain.kernel = #train.kernel<conv2d_grad_input<1, 4, 6, 6, 4, 1, 3, 3, 8, 8, 1, 1, 4>>
// CHECK-SAME: mcutrain.kernel_grad_act = #train.kernel<conv2d_grad_input_act<1, 4, 6, 6, 4, 1, 3, 3, 8, 8, 1, 1, 4, 0>>
// CHECK-SAME: mcutrain.kernel_planes = #train.kernel<depthwise_conv2d_grad_input<1, 4, 6, 6, 3, 3, 6, 6, 8, 8, 1, 1, 1, 1, 1, 1>>
// CHECK-SAME: mcutrain.kernel_planes_grad_act = #train.kernel<depthwise_conv2d_grad_input_act<1, 4, 6, 6, 3, 3, 6, 6, 8, 8, 1, 1, 1, 1, 1, 1, 0>>
// CHECK: mcutrain.activation_grad = #train<fused_activation relu>
func.func @grad_input_relu(%dy: tensor<1x4x6x6xf32>, %w: tensor<4x1x3x3xf32>, %r: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %dx = nn.conv2d_grad_input %dy, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 4} : (tensor<1x4x6x6xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x6x6xf32>
  %g = nn.relu_grad %dx, %r : tensor<1x4x6x6xf32>
  return %g : tensor<1x4x6x6xf32>
}
