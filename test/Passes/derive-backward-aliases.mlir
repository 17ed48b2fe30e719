// Parameters the importer untied from one initializer (onnx.alias_of) train as
// tensors of their own; tied ones (onnx.tied_aliases) are one tensor whose
// gradient sums over every use. A selected parameter that gets no gradient is
// never frozen silently.
// RUN: not mcutrain-opt %s --mcutrain-derive-backward 2>&1 | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-derive-backward=trainable=conv2.bias 2>&1 | FileCheck %s --check-prefix=ALIAS
// RUN: mcutrain-opt %s --mcutrain-derive-backward="trainable=tied.alias" 2>&1 | FileCheck %s --check-prefix=TIED
// RUN: mcutrain-opt %s --mcutrain-derive-backward="trainable=dead*,fc.bias" 2>&1 | FileCheck %s --check-prefix=GLOB
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=dead.w 2>&1 | FileCheck %s --check-prefix=NAMED
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=dead.w,dead.v 2>&1 | FileCheck %s --check-prefix=NAMED

module {
  ml_program.global private @cw(dense<0.1> : tensor<2x1x3x3xf32>) : tensor<2x1x3x3xf32> {onnx.name = "conv.weight"}
  ml_program.global private @cb(dense<0.0> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "conv.bias"}
  // Untied: the exporter's Identity output, starting from conv.bias's data.
  ml_program.global private @cb2(dense<0.0> : tensor<2x1x1xf32>) : tensor<2x1x1xf32> {onnx.alias_of = "zeros", onnx.name = "conv2.bias"}
  // Tied: one tensor that two layers add.
  ml_program.global private @t(dense<0.5> : tensor<2x1x1xf32>) : tensor<2x1x1xf32> {onnx.name = "tied", onnx.tied_aliases = ["tied.alias"]}
  // Read by a node whose result nothing uses.
  ml_program.global private @dead(dense<1.0> : tensor<1x2x4x4xf32>) : tensor<1x2x4x4xf32> {onnx.name = "dead.w"}
  ml_program.global private @dead2(dense<1.0> : tensor<1x2x4x4xf32>) : tensor<1x2x4x4xf32> {onnx.name = "dead.v"}
  // A BatchNorm whose bias is tied with its running mean.
  ml_program.global private @bnb(dense<0.0> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "bn.bias", onnx.tied_aliases = ["bn.running_mean"]}
  ml_program.global private @bns(dense<1.0> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "bn.running_var"}
  ml_program.global private @fw(dense<0.05> : tensor<3x32xf32>) : tensor<3x32xf32> {onnx.name = "fc.weight"}
  ml_program.global private @fb(dense<0.0> : tensor<3xf32>) : tensor<3xf32> {onnx.name = "fc.bias"}
  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
    %cw = ml_program.global_load @cw : tensor<2x1x3x3xf32>
    %cb = ml_program.global_load @cb : tensor<2xf32>
    %cb2 = ml_program.global_load @cb2 : tensor<2x1x1xf32>
    %t = ml_program.global_load @t : tensor<2x1x1xf32>
    %dead = ml_program.global_load @dead : tensor<1x2x4x4xf32>
    %dead2 = ml_program.global_load @dead2 : tensor<1x2x4x4xf32>
    %bnb = ml_program.global_load @bnb : tensor<2xf32>
    %bns = ml_program.global_load @bns : tensor<2xf32>
    %fw = ml_program.global_load @fw : tensor<3x32xf32>
    %fb = ml_program.global_load @fb : tensor<3xf32>
    %c = nn.conv2d %x, %cw, %cb {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
    %c2 = nn.add %c, %cb2 : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %a = nn.add %c2, %t : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %b = nn.mul %a, %t : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %unused = nn.add %b, %dead : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %unused2 = nn.add %b, %dead2 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %n = nn.batch_norm %b, %bns, %bnb, %bnb, %bns {epsilon = 1.0e-5 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32> loc("/bn/BatchNormalization")
    %f = nn.reshape %n : (tensor<1x2x4x4xf32>) -> tensor<1x32xf32>
    %y = nn.gemm %f, %fw, %fb {trans_b = true} : (tensor<1x32xf32>, tensor<3x32xf32>, tensor<3xf32>) -> tensor<1x3xf32>
    return %y : tensor<1x3xf32>
  }
}

// --trainable all: BatchNorm's bias is read as a running mean too (tied):
// an error that names the node, the parameter and how it came to be shared.
// CHECK: error: {{.*}}ONNX node '/bn/BatchNormalization' (nn.batch_norm): operand #3 of this op cannot train, but it reads trainable parameter 'bn.bias', which --tie-shared-initializers shares with 1 alias (without that option each alias is a parameter of its own)

// An untied alias trains alone, named after its alias.
// ALIAS: ml_program.global private @cb(
// ALIAS: ml_program.global private mutable @cb2(
// ALIAS-LABEL: func.func @train_step
// ALIAS: train.update @cb2,
// ALIAS-NOT: train.update

// A tied alias's name selects its initializer: one update, whose gradient
// is the sum over both uses (the Add's and the Mul's).
// TIED: ml_program.global private mutable @t(
// TIED-LABEL: func.func @train_step
// TIED: %[[GM:.*]] = nn.reduce_sum_to {{.*}} -> tensor<2x1x1xf32>
// TIED: %[[GA:.*]] = nn.reduce_sum_to {{.*}} -> tensor<2x1x1xf32>
// TIED: %[[SUM:.*]] = nn.add %[[GM]], %[[GA]] {mcutrain.backward}
// TIED: train.update @t, %[[SUM]]
// TIED-NOT: train.update

// A glob that selects parameters the loss does not depend on: a warning
// each, and they stay frozen (immutable: flash); the rest trains.
// GLOB-DAG: warning: parameter 'dead.w' (selected by --trainable dead*,fc.bias) gets no gradient from the loss; it stays frozen
// GLOB-DAG: warning: parameter 'dead.v' (selected by --trainable dead*,fc.bias) gets no gradient from the loss; it stays frozen
// GLOB: ml_program.global private @dead(
// GLOB: ml_program.global private @dead2(
// GLOB: ml_program.global private mutable @fb(
// GLOB-LABEL: func.func @train_step
// GLOB: train.update @fb,
// GLOB-NOT: train.update

// Named exactly: an error.
// NAMED: error: --trainable names parameter 'dead.w', but no gradient reaches it from the loss (nothing it feeds affects the loss through differentiable ops)
