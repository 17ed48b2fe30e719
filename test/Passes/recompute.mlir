// recompute: a forward tensor the backward pass reads is made again right
// before that read, from tensors that are free there (step arguments,
// parameters not yet updated) or cheaper to keep, and the backward reads
// take the copy. Left alone: a producer whose parameter an update has
// already written, the logits (read as soon as the backward pass starts),
// a chain whose intermediate is larger than what it frees, a tensor whose
// operand would cost more to keep than it saves; none (or auto, which is
// the driver's) recomputes nothing; a count stops after that many, the
// most bytes per unit of work first.
// RUN: mcutrain-opt %s -split-input-file --mcutrain-recompute=recompute=all | FileCheck %s
// RUN: mcutrain-opt %s -split-input-file --mcutrain-recompute=recompute=none | FileCheck %s --check-prefix=NONE
// RUN: mcutrain-opt %s -split-input-file --mcutrain-recompute | FileCheck %s --check-prefix=NONE
// RUN: mcutrain-opt %s -split-input-file --mcutrain-recompute=recompute=1 | FileCheck %s --check-prefix=ONE
// RUN: not mcutrain-opt %s -split-input-file --mcutrain-recompute=recompute=some 2>&1 | FileCheck %s --check-prefix=BAD

// An inverted-residual block's expansion (8 -> 48 channels, 12 KiB), read
// by the depthwise weight gradient: recomputed from the block input (a
// step argument) right before that read; the ReLU6 after the expansion is
// recomputed with it (its input is as large as its output), the conv output
// is not kept. The function lists it: 12,288 B freed, nothing kept,
// 24,576 + 3,072 MACs (a clip counts one per element).
// CHECK-LABEL: func.func @expansion
// CHECK-SAME: mcutrain.recomputed = [{bytes = 12288 : i64, kept_bytes = 0 : i64, macs = 27648 : i64, ops = 2 : i64, tensor = "relu6"}]
// CHECK: %[[E:.*]] = nn.conv2d %arg0, %arg1, %arg2
// CHECK-NEXT: %[[H:.*]] = nn.activation clip %[[E]]
// CHECK-NEXT: nn.conv2d %[[H]], %arg3
// CHECK: nn.reduce_sum_to
// CHECK-NEXT: %[[E2:.*]] = nn.conv2d %arg0, %arg1, %arg2 {dilations = array<i64: 1, 1>, mcutrain.backward, mcutrain.recomputed, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>}
// CHECK-NEXT: %[[H2:.*]] = nn.activation clip %[[E2]] {{.*}}mcutrain.backward, mcutrain.recomputed
// CHECK-NEXT: nn.activation_grad clip %arg4, %[[E]], %[[H2]]
// CHECK-NEXT: nn.conv2d_grad_weight %{{.*}}, %[[H2]]
// NONE-LABEL: func.func @expansion
// NONE-NOT: mcutrain.recomputed
// NONE: return
// ONE-LABEL: func.func @expansion
// ONE: mcutrain.recomputed
func.func @expansion(%x: tensor<1x8x8x8xf32>, %w1: tensor<48x8x1x1xf32>, %b1: tensor<48xf32>, %w2: tensor<48x1x3x3xf32>, %dy: tensor<1x48x8x8xf32>) -> (tensor<1x48x8x8xf32>, tensor<48x1x3x3xf32>) {
  %e = nn.conv2d %x, %w1, %b1 {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x8x8x8xf32>, tensor<48x8x1x1xf32>, tensor<48xf32>) -> tensor<1x48x8x8xf32> loc("expand")
  %h = nn.activation clip %e {alpha = 0.0 : f32, beta = 6.0 : f32} : tensor<1x48x8x8xf32> loc("relu6")
  %d = nn.conv2d %h, %w2 {dilations = array<i64: 1, 1>, group = 48 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x48x8x8xf32>, tensor<48x1x3x3xf32>) -> tensor<1x48x8x8xf32>
  %s = nn.reduce_sum_to %d {mcutrain.backward} : (tensor<1x48x8x8xf32>) -> tensor<1x48x1x1xf32>
  %g = nn.activation_grad clip %dy, %e, %h {alpha = 0.0 : f32, beta = 6.0 : f32, mcutrain.backward} : tensor<1x48x8x8xf32>
  %gw = nn.conv2d_grad_weight %g, %h {dilations = array<i64: 1, 1>, group = 48 : i64, mcutrain.backward, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x48x8x8xf32>, tensor<1x48x8x8xf32>) -> tensor<48x1x3x3xf32>
  return %g, %gw : tensor<1x48x8x8xf32>, tensor<48x1x3x3xf32>
}

// -----

// The expansion's weight is trained and its update comes before the read:
// a clone would read the new weight, so the tensor stays saved. The logits
// are read by the loss gradient as soon as the backward pass starts:
// nothing to free.
module {
  ml_program.global private mutable @w1(dense<0.5> : tensor<48x8x1x1xf32>) : tensor<48x8x1x1xf32>
  // CHECK-LABEL: func.func @updated_first
  // CHECK-NOT: mcutrain.recomputed
  // CHECK: return
  func.func @updated_first(%x: tensor<1x8x8x8xf32>, %w2: tensor<48x1x3x3xf32>, %dy: tensor<1x48x8x8xf32>) -> tensor<48x1x3x3xf32> {
    %w1 = ml_program.global_load @w1 : tensor<48x8x1x1xf32>
    %e = nn.conv2d %x, %w1 {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x8x8x8xf32>, tensor<48x8x1x1xf32>) -> tensor<1x48x8x8xf32>
    %d = nn.conv2d %e, %w2 {dilations = array<i64: 1, 1>, group = 48 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x48x8x8xf32>, tensor<48x1x3x3xf32>) -> tensor<1x48x8x8xf32>
    %gw1 = nn.conv2d_grad_weight %dy, %x {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x48x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<48x8x1x1xf32>
    train.update @w1, %gw1 <sgd, lr = 0.1> {mcutrain.backward} : tensor<48x8x1x1xf32>
    %gw = nn.conv2d_grad_weight %dy, %e {dilations = array<i64: 1, 1>, group = 48 : i64, mcutrain.backward, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x48x8x8xf32>, tensor<1x48x8x8xf32>) -> tensor<48x1x3x3xf32>
    return %gw : tensor<48x1x3x3xf32>
  }
  // CHECK-LABEL: func.func @logits
  // CHECK-NOT: mcutrain.recomputed
  // CHECK: return
  func.func @logits(%x: tensor<1x64xf32>, %w: tensor<10x64xf32>, %y: tensor<1xi32>) -> tensor<1x10xf32> {
    %z = nn.gemm %x, %w {trans_b = true} : (tensor<1x64xf32>, tensor<10x64xf32>) -> tensor<1x10xf32>
    %l = train.cross_entropy_loss %z, %y : (tensor<1x10xf32>, tensor<1xi32>) -> tensor<f32>
    %g = train.cross_entropy_loss_grad %z, %y {mcutrain.backward} : (tensor<1x10xf32>, tensor<1xi32>) -> tensor<1x10xf32>
    return %g : tensor<1x10xf32>
  }
}

// -----

// A max pool's output (6,272 B) would need its ReLU's and conv's outputs
// again (25 KiB each, live beside the gradients for a moment): left alone.
// A conv whose input is a forward tensor nothing else keeps and that
// cannot be recomputed itself (x2, 8 KiB)
// and whose output is smaller (4 KiB): keeping the input frees less than
// nothing. Where the output is larger (16 KiB from 8 KiB), the input is
// kept and the difference freed.
// CHECK-LABEL: func.func @costs
// CHECK-SAME: mcutrain.recomputed = [{bytes = 16384 : i64, kept_bytes = 8192 : i64, macs = 131072 : i64, ops = 1 : i64, tensor = "wide"}]
// CHECK-NOT: mcutrain.recomputed,
// CHECK: nn.conv2d %{{.*}}, %arg3 {{.*}}mcutrain.recomputed{{.*}} -> tensor<1x64x8x8xf32>
// CHECK-NOT: mcutrain.recomputed,
// CHECK: return
func.func @costs(%x: tensor<1x1x28x28xf32>, %w: tensor<8x1x3x3xf32>, %v: tensor<16x8x3x3xf32>, %wide: tensor<64x32x1x1xf32>, %narrow: tensor<16x32x1x1xf32>, %x2in: tensor<1x32x8x8xf32>, %dy: tensor<1x16x14x14xf32>, %dz: tensor<1x64x8x8xf32>, %dn: tensor<1x16x8x8xf32>) -> (tensor<16x8x3x3xf32>, tensor<64x64x1x1xf32>, tensor<16x16x1x1xf32>) {
  %c = nn.conv2d %x, %w {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x1x28x28xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x28x28xf32>
  %r = nn.relu %c : tensor<1x8x28x28xf32>
  %p = nn.max_pool2d %r {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x8x28x28xf32>) -> tensor<1x8x14x14xf32>
  %x2 = arith.addf %x2in, %x2in : tensor<1x32x8x8xf32>
  %z = nn.conv2d %x2, %wide {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x32x8x8xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x8x8xf32> loc("wide")
  %n = nn.conv2d %x2, %narrow {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x32x8x8xf32>, tensor<16x32x1x1xf32>) -> tensor<1x16x8x8xf32>
  %s = nn.reduce_sum_to %dy {mcutrain.backward} : (tensor<1x16x14x14xf32>) -> tensor<1x16x1x1xf32>
  %gv = nn.conv2d_grad_weight %dy, %p {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x16x14x14xf32>, tensor<1x8x14x14xf32>) -> tensor<16x8x3x3xf32>
  %gz = nn.conv2d_grad_weight %dz, %z {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x64x8x8xf32>, tensor<1x64x8x8xf32>) -> tensor<64x64x1x1xf32>
  %gn = nn.conv2d_grad_weight %dn, %n {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x16x8x8xf32>, tensor<1x16x8x8xf32>) -> tensor<16x16x1x1xf32>
  return %gv, %gz, %gn : tensor<16x8x3x3xf32>, tensor<64x64x1x1xf32>, tensor<16x16x1x1xf32>
}

// BAD: recompute 'some' is none, auto, all or a count

// -----

// A backward op before the first read may name the tensor without reading
// it (exp's gradient reads its output, not its input): it keeps the
// original, only the reads from the clone on take the clone (the clone
// comes after it; found by bench/difftest.py, seed 5011).
// CHECK-LABEL: func.func @named_not_read
// CHECK: %[[E:.*]] = nn.conv2d %arg0, %arg1
// CHECK: nn.activation_grad exp %arg3, %[[E]], %{{.*}}
// CHECK: %[[E2:.*]] = nn.conv2d %arg0, %arg1 {{.*}}mcutrain.recomputed
// CHECK-NEXT: nn.conv2d_grad_weight %arg4, %[[E2]]
func.func @named_not_read(%x: tensor<1x8x8x8xf32>, %w1: tensor<32x8x1x1xf32>, %w2: tensor<4x32x1x1xf32>, %dy: tensor<1x32x8x8xf32>, %dz: tensor<1x4x8x8xf32>) -> (tensor<1x32x8x8xf32>, tensor<4x32x1x1xf32>, tensor<1x4x8x8xf32>) {
  %e = nn.conv2d %x, %w1 {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x8x8x8xf32>, tensor<32x8x1x1xf32>) -> tensor<1x32x8x8xf32> loc("expand")
  %y = nn.activation exp %e : tensor<1x32x8x8xf32>
  %z = nn.conv2d %e, %w2 {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x32x8x8xf32>, tensor<4x32x1x1xf32>) -> tensor<1x4x8x8xf32>
  %g = nn.activation_grad exp %dy, %e, %y {mcutrain.backward} : tensor<1x32x8x8xf32>
  %gw = nn.conv2d_grad_weight %dz, %e {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x4x8x8xf32>, tensor<1x32x8x8xf32>) -> tensor<4x32x1x1xf32>
  return %g, %gw, %z : tensor<1x32x8x8xf32>, tensor<4x32x1x1xf32>, tensor<1x4x8x8xf32>
}
