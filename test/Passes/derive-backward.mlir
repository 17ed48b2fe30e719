// RUN: mcutrain-opt %s --mcutrain-derive-backward | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-derive-backward=trainable=last:1 | FileCheck %s --check-prefix=LAST1
// RUN: mcutrain-opt %s --mcutrain-derive-backward="trainable=conv.bias lr=0.5" | FileCheck %s --check-prefix=NAMED
// RUN: mcutrain-opt %s --mcutrain-derive-backward="loss=mse optimizer=adam" | FileCheck %s --check-prefix=MSE
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=optimizer=lbfgs 2>&1 | FileCheck %s --check-prefix=BADOPT
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=last:5 2>&1 | FileCheck %s --check-prefix=TOOMANY
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=nope 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=loss=hinge 2>&1 | FileCheck %s --check-prefix=BADLOSS

module {
  ml_program.global private @cw(dense<0.1> : tensor<2x1x3x3xf32>) : tensor<2x1x3x3xf32> {onnx.name = "conv.weight"}
  ml_program.global private @cb(dense<0.0> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "conv.bias"}
  ml_program.global private @fw(dense<0.05> : tensor<3x32xf32>) : tensor<3x32xf32> {onnx.name = "fc.weight"}
  ml_program.global private @fb(dense<0.0> : tensor<3xf32>) : tensor<3xf32> {onnx.name = "fc.bias"}
  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
    %cw = ml_program.global_load @cw : tensor<2x1x3x3xf32>
    %cb = ml_program.global_load @cb : tensor<2xf32>
    %fw = ml_program.global_load @fw : tensor<3x32xf32>
    %fb = ml_program.global_load @fb : tensor<3xf32>
    %c = nn.conv2d %x, %cw, %cb {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
    %r = nn.relu %c : tensor<1x2x4x4xf32>
    %f = nn.reshape %r : (tensor<1x2x4x4xf32>) -> tensor<1x32xf32>
    %y = nn.gemm %f, %fw, %fb {trans_b = true} : (tensor<1x32xf32>, tensor<3x32xf32>, tensor<3xf32>) -> tensor<1x3xf32>
    return %y : tensor<1x3xf32>
  }
}

// Trainable parameters become mutable globals.
// CHECK: ml_program.global private mutable @cw
// CHECK: ml_program.global private mutable @fb
// The forward function is kept for prediction.
// CHECK: func.func @forward
// CHECK-LABEL: func.func @train_step(%arg0: tensor<1x1x4x4xf32>, %arg1: tensor<1xi32>) -> f32
// CHECK: %[[Y:.*]] = nn.gemm
// CHECK: %[[LOSS:.*]] = train.cross_entropy_loss %[[Y]], %arg1
// A non-finite loss skips the rest of the step (the flag guard-backward reads).
// CHECK-NEXT: train.finite_guard %[[LOSS]] : tensor<f32>
// CHECK: %[[DY:.*]] = train.cross_entropy_loss_grad %[[Y]], %arg1 {mcutrain.backward}
// dX of the Gemm (fc.weight is transposed: dA = dY * B), then dW = dY^T * A.
// CHECK: %[[DF:.*]] = nn.gemm %[[DY]], %{{.*}} {mcutrain.backward} : (tensor<1x3xf32>, tensor<3x32xf32>) -> tensor<1x32xf32>
// CHECK: %[[DW:.*]] = nn.gemm %[[DY]], %{{.*}} {mcutrain.backward, trans_a = true} : (tensor<1x3xf32>, tensor<1x32xf32>) -> tensor<3x32xf32>
// CHECK: nn.reduce_sum_to %[[DY]] {mcutrain.backward} : (tensor<1x3xf32>) -> tensor<3xf32>
// CHECK: nn.reshape %[[DF]] {mcutrain.backward} : (tensor<1x32xf32>) -> tensor<1x2x4x4xf32>
// CHECK: nn.relu_grad
// The input of the first layer needs no gradient: pruned.
// CHECK-NOT: nn.conv2d_grad_input
// CHECK: nn.conv2d_grad_weight
// CHECK: nn.reduce_sum_to {{.*}} -> tensor<1x2x1x1xf32>
// CHECK-DAG: train.update @cw, {{.*}} <sgd, lr = 0.00999999977> {mcutrain.backward} : tensor<2x1x3x3xf32>
// CHECK-DAG: train.update @cb,
// CHECK-DAG: train.update @fw,
// CHECK-DAG: train.update @fb,
// CHECK: %[[L:.*]] = tensor.extract %[[LOSS]][] : tensor<f32>
// CHECK: return %[[L]] : f32

// last:1 trains only the Gemm: no gradient reaches the convolution.
// LAST1: ml_program.global private @cw(
// LAST1: ml_program.global private @cb(
// LAST1: ml_program.global private mutable @fw
// LAST1-LABEL: func.func @train_step
// LAST1-NOT: nn.relu_grad
// LAST1-NOT: nn.conv2d_grad
// LAST1-NOT: train.update @c
// LAST1: nn.gemm {{.*}}trans_a = true
// LAST1-NOT: nn.conv2d_grad
// LAST1: return

// A named initializer: bias only, with the given learning rate.
// NAMED: ml_program.global private mutable @cb
// NAMED-LABEL: func.func @train_step
// NAMED-NOT: nn.conv2d_grad_weight
// NAMED: train.update @cb, {{.*}} <sgd, lr = 5.000000e-01> {mcutrain.backward}
// NAMED-NOT: train.update

// TOOMANY: error: --trainable last:5 but the model has only 2 parameterised layers
// UNKNOWN: error: --trainable names 'nope', which matches no trainable initializer of the model
// BADLOSS: error: unsupported loss 'hinge' (supported: cross-entropy, mse)

// MSE takes a float target shaped like the output; Adam updates.
// MSE-LABEL: func.func @train_step(%arg0: tensor<1x1x4x4xf32>, %arg1: tensor<1x3xf32>) -> f32
// MSE: train.mse_loss %{{.*}}, %arg1 : (tensor<1x3xf32>, tensor<1x3xf32>) -> tensor<f32>
// MSE: train.mse_loss_grad
// MSE: train.update @fw, {{.*}}<adam, lr = 0.00999999977>
// BADOPT: error: unsupported optimizer 'lbfgs' (supported: sgd, momentum, nesterov, adam, adagrad)
