// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-outer-product-updates))' | FileCheck %s
// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-outer-product-updates),mcutrain-lower-parameters,mcutrain-lower-to-linalg,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},mcutrain-lower-train-buffers)' | FileCheck %s --check-prefix=LOWERED
// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-outer-product-updates),mcutrain-lower-parameters,mcutrain-lower-to-linalg,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},mcutrain-lower-train-buffers,func.func(mcutrain-use-kernels))' | FileCheck %s --check-prefix=KERNEL

// A batch-1 Linear layer's weight gradient dy^T x (1 x 3 and 1 x 4 rows)
// moves into its update: no 3 x 4 gradient is formed.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<1x4xf32>, %[[DY:.*]]: tensor<1x3xf32>)
// CHECK-NOT: nn.gemm
// CHECK: train.update @w, %[[DY]] outer(%[[X]] : tensor<1x4xf32>) <momentum, lr = 1.000000e-01> : tensor<1x3xf32>
// The update checks the factors and multiplies them where the optimizer
// reads the gradient (momentum here: the state still sees g).
// LOWERED-LABEL: func.func @linear
// LOWERED-SAME: (%[[X:.*]]: memref<1x4xf32{{.*}}>, %[[DY:.*]]: memref<1x3xf32{{.*}}>)
// LOWERED-NOT: memref.alloc
// LOWERED: %[[OK:.*]] = train.runtime_call #train<runtime_function outer_product_finite>(%{{.*}}, %c3, %{{.*}}, %c4)
// LOWERED: scf.if %[[OK]] {
// LOWERED: linalg.generic {indexing_maps = [#[[A:.*]], #[[B:.*]], #[[ID:.*]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// LOWERED-SAME: ins(%{{.*}}, %{{.*}} : memref<1x3xf32{{.*}}>, memref<1x4xf32{{.*}}>)
// LOWERED-NEXT: ^bb0(%[[DYI:.*]]: f32, %[[XJ:.*]]: f32, %[[P:.*]]: f32, %[[M:.*]]: f32):
// LOWERED-NEXT: %[[G:.*]] = arith.mulf %[[DYI]], %[[XJ]] : f32
// LOWERED: arith.addf %{{.*}}, %[[G]] : f32
// LOWERED-NOT: mcutrain.kernel
// LOWERED: return
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  func.func @linear(%x: tensor<1x4xf32>, %dy: tensor<1x3xf32>) {
    %dw = nn.gemm %dy, %x {trans_a = true} : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
    train.update @w, %dw <momentum, lr = 0.1> : tensor<3x4xf32>
    return
  }
}

// -----

// Not outer products (rank 2 with momentum), or the gradient is needed
// elsewhere: left alone. A channel-sparse update's outer product (2
// selected rows here) fuses with its channels.
// CHECK-LABEL: func.func @left_alone
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<1x4xf32>, %{{.*}}: tensor<1x3xf32>, %[[DYS:[a-z0-9]+]]: tensor<1x2xf32>, %[[C:[a-z0-9]+]]: tensor<2xi32>
// CHECK: %[[BATCH:.*]] = nn.gemm %{{.*}}, %{{.*}} {trans_a = true} : (tensor<2x3xf32>, tensor<2x4xf32>)
// CHECK: %[[SCALED:.*]] = nn.gemm %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f32, trans_a = true}
// CHECK: %[[SHARED:.*]] = nn.gemm %{{.*}}, %{{.*}} {trans_a = true} : (tensor<1x3xf32>, tensor<1x4xf32>)
// CHECK-NOT: nn.gemm
// CHECK: train.update @w, %[[BATCH]] <momentum
// CHECK: train.update @w, %[[SCALED]] <
// CHECK: train.update @w, %[[SHARED]] <
// CHECK: train.update @w, %[[DYS]] channels(%[[C]] : tensor<2xi32>) outer(%[[X]] : tensor<1x4xf32>) <sgd, lr = 1.000000e-01> {channel_axis = 0 : i64} : tensor<1x2xf32>
// CHECK: return %[[SHARED]]
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  func.func @left_alone(%x2: tensor<2x4xf32>, %dy2: tensor<2x3xf32>, %x: tensor<1x4xf32>, %dy: tensor<1x3xf32>, %dys: tensor<1x2xf32>, %c: tensor<2xi32>) -> tensor<3x4xf32> {
    %batch = nn.gemm %dy2, %x2 {trans_a = true} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
    %scaled = nn.gemm %dy, %x {trans_a = true, alpha = 0.5 : f32} : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
    %shared = nn.gemm %dy, %x {trans_a = true} : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
    %sparse = nn.gemm %dys, %x {trans_a = true} : (tensor<1x2xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>
    train.update @w, %batch <momentum, lr = 0.1> : tensor<3x4xf32>
    train.update @w, %scaled <sgd, lr = 0.1> : tensor<3x4xf32>
    train.update @w, %shared <sgd, lr = 0.1> : tensor<3x4xf32>
    train.update @w, %sparse channels(%c : tensor<2xi32>) <sgd, lr = 0.1> {channel_axis = 0 : i64} : tensor<2x4xf32>
    return %shared : tensor<3x4xf32>
  }
}

// -----

// An int8 Linear layer (trans_b weight [3, 4] int8) at batch 1: its weight
// gradient x_scale * dy^T (x - x_zero) becomes the update's factors, dy
// and the dequantized 1 x 4 input. The int8 update forms g = dy[i] * x[j],
// divides it by the channel's scale (QAS), steps, rounds to even and
// saturates to [-128, 127].
// CHECK-LABEL: func.func @int8_linear
// CHECK-SAME: (%[[X:.*]]: tensor<1x4xi8>, %[[DY:.*]]: tensor<1x3xf32>)
// CHECK-NOT: nn.qgemm_grad_b
// CHECK: %[[XD:.*]] = nn.dequantize %[[X]] {quant_type = !quant.uniform<u8:f32, 5.000000e-01:128>}
// CHECK: train.update @w, %[[DY]] outer(%[[XD]] : tensor<1x4xf32>) <sgd, lr = 1.000000e-01> {weight_type = !quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,4.000000e-02}>} : tensor<1x3xf32>
// LOWERED-LABEL: func.func @int8_linear
// LOWERED: train.runtime_call #train<runtime_function outer_product_finite>
// LOWERED: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : memref<1x3xf32{{.*}}>, memref<1x4xf32{{.*}}>, memref<3xf32>, memref<3xf32>) outs(%{{.*}} : memref<3x4xi8>)
// LOWERED-NEXT: ^bb0(%[[DYI:.*]]: f32, %[[XJ:.*]]: f32, %[[S:.*]]: f32, %[[Z:.*]]: f32, %[[Q:.*]]: i8):
// LOWERED-NEXT: %[[G:.*]] = arith.mulf %[[DYI]], %[[XJ]] : f32
// LOWERED-NEXT: %[[GS:.*]] = arith.divf %[[G]], %[[S]] : f32
// LOWERED-NEXT: %[[QF:.*]] = arith.sitofp %[[Q]] : i8 to f32
// LOWERED-NEXT: %[[P:.*]] = arith.subf %[[QF]], %[[Z]] : f32
// LOWERED: %[[STEP:.*]] = arith.mulf %{{.*}}, %[[GS]] : f32
// LOWERED-NEXT: %[[NEW:.*]] = arith.subf %[[P]], %[[STEP]] : f32
// LOWERED-NEXT: %[[R:.*]] = math.roundeven %[[NEW]] : f32
// LOWERED: arith.fptosi %{{.*}} : f32 to i8
module {
  ml_program.global private mutable @w(dense<1> : tensor<3x4xi8>) : tensor<3x4xi8>
  func.func @int8_linear(%x: tensor<1x4xi8>, %dy: tensor<1x3xf32>) {
    %dw = nn.qgemm_grad_b %dy, %x {input_type = !quant.uniform<u8:f32, 0.5:128>, trans_b = true} : (tensor<1x3xf32>, tensor<1x4xi8>) -> tensor<3x4xf32>
    train.update @w, %dw <sgd, lr = 0.1> {weight_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.04}>} : tensor<3x4xf32>
    return
  }
}

// -----

// A 1 x 1 convolution of a 1 x 1 image at batch 1 (MobileNet's last
// pointwise layers at 32 x 32): its [3, 4, 1, 1] weight gradient is the
// outer product of the error and the input as rows; the parameter stays
// 4-D and the lowering updates its [3, 4] view (the state's too). Float and
// int8 (the input dequantized).
// CHECK-LABEL: func.func @pointwise
// CHECK-SAME: (%[[X:.*]]: tensor<1x4x1x1xf32>, %[[DY:.*]]: tensor<1x3x1x1xf32>, %[[XQ:.*]]: tensor<1x4x1x1xi8>)
// CHECK-NOT: conv2d_grad_weight
// CHECK-DAG: %[[XR:.*]] = nn.reshape %[[X]] : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32>
// CHECK-DAG: %[[DYR:.*]] = nn.reshape %[[DY]] : (tensor<1x3x1x1xf32>) -> tensor<1x3xf32>
// CHECK: train.update @w, %[[DYR]] outer(%[[XR]] : tensor<1x4xf32>) <momentum, lr = 1.000000e-01> : tensor<1x3xf32>
// CHECK: %[[XQR:.*]] = nn.reshape %[[XQ]] : (tensor<1x4x1x1xi8>) -> tensor<1x4xi8>
// CHECK: %[[XD:.*]] = nn.dequantize %[[XQR]] {quant_type = !quant.uniform<u8:f32, 5.000000e-01:128>} : (tensor<1x4xi8>) -> tensor<1x4xf32>
// CHECK: train.update @q, %{{.*}} outer(%[[XD]] : tensor<1x4xf32>) <sgd
// LOWERED-LABEL: func.func @pointwise
// LOWERED: %[[W:.*]] = memref.get_global @w : memref<3x4x1x1xf32>
// LOWERED: %[[S:.*]] = memref.get_global @w__state0 : memref<3x4x1x1xf32>
// LOWERED-DAG: %[[WV:.*]] = memref.collapse_shape %[[W]] {{\[\[}}0], [1, 2, 3]] : memref<3x4x1x1xf32> into memref<3x4xf32>
// LOWERED-DAG: %[[SV:.*]] = memref.collapse_shape %[[S]] {{\[\[}}0], [1, 2, 3]] : memref<3x4x1x1xf32> into memref<3x4xf32>
// LOWERED: train.runtime_call #train<runtime_function outer_product_finite>
// LOWERED: linalg.generic {{.*}} outs(%[[WV]], %[[SV]] : memref<3x4xf32>, memref<3x4xf32>)
// LOWERED: memref.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : memref<3x4x1x1xi8> into memref<3x4xi8>
// LOWERED: linalg.generic {{.*}} outs(%{{.*}} : memref<3x4xi8>)
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4x1x1xf32>) : tensor<3x4x1x1xf32>
  ml_program.global private mutable @q(dense<1> : tensor<3x4x1x1xi8>) : tensor<3x4x1x1xi8>
  func.func @pointwise(%x: tensor<1x4x1x1xf32>, %dy: tensor<1x3x1x1xf32>, %xq: tensor<1x4x1x1xi8>) {
    %dw = nn.conv2d_grad_weight %dy, %x {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x3x1x1xf32>, tensor<1x4x1x1xf32>) -> tensor<3x4x1x1xf32>
    train.update @w, %dw <momentum, lr = 0.1> : tensor<3x4x1x1xf32>
    %dq = nn.qconv2d_grad_weight %dy, %xq {input_type = !quant.uniform<u8:f32, 0.5:128>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x3x1x1xf32>, tensor<1x4x1x1xi8>) -> tensor<3x4x1x1xf32>
    train.update @q, %dq <sgd, lr = 0.1> {weight_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.04}>} : tensor<3x4x1x1xf32>
    return
  }
}

// -----

// Not one product per weight: a 2 x 2 image (four products per weight;
// with plain SGD that is a rank-4 update, below), or padding (the one
// output reads a padded tap): left alone.
// CHECK-LABEL: func.func @not_pointwise
// CHECK: %[[IMG:.*]] = nn.conv2d_grad_weight {{.*}} : (tensor<1x3x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<3x4x1x1xf32>
// CHECK: %[[PAD:.*]] = nn.conv2d_grad_weight {{.*}} : (tensor<1x3x1x1xf32>, tensor<1x4x1x1xf32>) -> tensor<3x4x1x1xf32>
// CHECK: train.update @w, %[[IMG]] <momentum
// CHECK: train.update @w, %[[PAD]] <sgd
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4x1x1xf32>) : tensor<3x4x1x1xf32>
  func.func @not_pointwise(%x: tensor<1x4x2x2xf32>, %dy: tensor<1x3x2x2xf32>, %x1: tensor<1x4x1x1xf32>, %dy1: tensor<1x3x1x1xf32>) {
    %img = nn.conv2d_grad_weight %dy, %x {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x3x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<3x4x1x1xf32>
    %pad = nn.conv2d_grad_weight %dy1, %x1 {strides = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x3x1x1xf32>, tensor<1x4x1x1xf32>) -> tensor<3x4x1x1xf32>
    train.update @w, %img <momentum, lr = 0.1> : tensor<3x4x1x1xf32>
    train.update @w, %pad <sgd, lr = 0.1> : tensor<3x4x1x1xf32>
    return
  }
}

// -----

// Plain SGD (no weight decay) on a float weight: the update is the
// sgd_outer_update kernel's (dy, x, the learning rate's global, w), which
// use-kernels calls; the loop body stays the same for --kernels=false.
// LOWERED-LABEL: func.func @linear_sgd
// LOWERED: train.runtime_call #train<runtime_function outer_product_finite>
// LOWERED: %[[LR:.*]] = memref.get_global @mcutrain_learning_rate : memref<f32>
// LOWERED: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel"]}
// LOWERED-SAME: ins(%{{.*}}, %{{.*}}, %[[LR]] : memref<1x3xf32{{.*}}>, memref<1x4xf32{{.*}}>, memref<f32>)
// LOWERED-SAME: outs(%{{.*}} : memref<3x4xf32>)
// LOWERED-SAME: mcutrain.kernel = #train.kernel<sgd_outer_update<3, 4>>
// LOWERED-SAME: mcutrain.kernel_operands = array<i64: 0, 1, 2, 3>
// LOWERED-NEXT: ^bb0(%[[DYI:.*]]: f32, %[[XJ:.*]]: f32, %{{.*}}: f32, %[[P:.*]]: f32):
// LOWERED-NEXT: %[[G:.*]] = arith.mulf %[[DYI]], %[[XJ]] : f32
// LOWERED-NEXT: %[[STEP:.*]] = arith.mulf %{{.*}}, %[[G]] : f32
// LOWERED-NEXT: %[[NEW:.*]] = arith.subf %[[P]], %[[STEP]] : f32
// LOWERED-NEXT: linalg.yield %[[NEW]] : f32
// KERNEL-LABEL: func.func @linear_sgd
// KERNEL: scf.if
// KERNEL: train.runtime_call #train.kernel<sgd_outer_update<3, 4>>(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : memref<1x3xf32{{.*}}>, memref<1x4xf32{{.*}}>, memref<f32>, memref<3x4xf32>
// KERNEL-NOT: linalg.generic
// KERNEL: } else {
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  func.func @linear_sgd(%x: tensor<1x4xf32>, %dy: tensor<1x3xf32>) {
    %dw = nn.gemm %dy, %x {trans_a = true} : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
    train.update @w, %dw <sgd, lr = 0.1> : tensor<3x4xf32>
    return
  }
}

// -----

// Plain SGD at rank K <= 16: a batch-2 Linear layer's gradient dy^T x and
// a 1 x 1 convolution's on a 2 x 2 plane (the error and the input as 4
// pixel rows: reshape, transpose, reshape) move into their updates. Rank
// 17, a strided convolution, and SGD with weight decay are left alone.
// CHECK-LABEL: func.func @low_rank
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<2x4xf32>, %[[DY:[a-z0-9]+]]: tensor<2x3xf32>, %[[XC:[a-z0-9]+]]: tensor<1x4x2x2xf32>, %[[DYC:[a-z0-9]+]]: tensor<1x3x2x2xf32>
// CHECK: %[[K17:.*]] = nn.gemm %{{.*}}, %{{.*}} {trans_a = true} : (tensor<17x3xf32>, tensor<17x4xf32>)
// CHECK: %[[DECAY:.*]] = nn.gemm %[[DY]], %[[X]] {trans_a = true}
// CHECK: %[[DYP:.*]] = nn.reshape %[[DYC]] : (tensor<1x3x2x2xf32>) -> tensor<1x3x4xf32>
// CHECK: %[[DYT:.*]] = nn.transpose %[[DYP]] {perm = array<i64: 0, 2, 1>} : (tensor<1x3x4xf32>) -> tensor<1x4x3xf32>
// CHECK: %[[DYR:.*]] = nn.reshape %[[DYT]] : (tensor<1x4x3xf32>) -> tensor<4x3xf32>
// CHECK: %[[XR:.*]] = nn.reshape %{{.*}} : (tensor<1x4x4xf32>) -> tensor<4x4xf32>
// CHECK: %[[STRIDED:.*]] = nn.conv2d_grad_weight
// CHECK-NOT: nn.gemm
// CHECK-NOT: nn.conv2d_grad_weight
// CHECK: train.update @w, %[[DY]] outer(%[[X]] : tensor<2x4xf32>) <sgd, lr = 1.000000e-01> : tensor<2x3xf32>
// CHECK: train.update @w, %[[K17]] <sgd
// CHECK: train.update @w, %[[DECAY]] <sgd
// CHECK: train.update @c, %[[DYR]] outer(%[[XR]] : tensor<4x4xf32>) <sgd, lr = 1.000000e-01> : tensor<4x3xf32>
// CHECK: train.update @c, %[[STRIDED]] <sgd
// The check is low_rank_finite (the factors, their sizes, the rank); the
// step one generic over the weight reading each factor once per row
// (constant row maps), marked for the kernel.
// LOWERED-LABEL: func.func @low_rank
// LOWERED: train.runtime_call #train<runtime_function low_rank_finite>(%{{.*}}, %c6, %{{.*}}, %c8, %c2)
// LOWERED: linalg.generic {indexing_maps = [#[[R0I:.*]], #[[R0J:.*]], #[[LR:.*]], #[[R1I:.*]], #[[R1J:.*]], #[[ID:.*]]], iterator_types = ["parallel", "parallel"]}
// LOWERED-SAME: mcutrain.kernel = #train.kernel<sgd_low_rank_update<3, 4, 2>>
// LOWERED-SAME: mcutrain.kernel_operands = array<i64: 0, 1, 2, 5>
// LOWERED-NEXT: ^bb0(%[[A0:.*]]: f32, %[[B0:.*]]: f32, %{{.*}}: f32, %[[A1:.*]]: f32, %[[B1:.*]]: f32, %[[P:.*]]: f32):
// LOWERED-NEXT: %[[G0:.*]] = arith.mulf %[[A0]], %[[B0]] : f32
// LOWERED-NEXT: %[[G1:.*]] = arith.mulf %[[A1]], %[[B1]] : f32
// LOWERED-NEXT: %[[G:.*]] = arith.addf %[[G0]], %[[G1]] : f32
// LOWERED: runtime_function low_rank_finite>(%{{.*}}, %c12{{.*}}, %{{.*}}, %c16{{.*}}, %c4)
// KERNEL-LABEL: func.func @low_rank
// KERNEL: train.runtime_call #train.kernel<sgd_low_rank_update<3, 4, 2>>
// KERNEL: train.runtime_call #train.kernel<sgd_low_rank_update<3, 4, 4>>
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  ml_program.global private mutable @c(dense<0.5> : tensor<3x4x1x1xf32>) : tensor<3x4x1x1xf32>
  func.func @low_rank(%x: tensor<2x4xf32>, %dy: tensor<2x3xf32>, %xc: tensor<1x4x2x2xf32>, %dyc: tensor<1x3x2x2xf32>, %x17: tensor<17x4xf32>, %dy17: tensor<17x3xf32>, %xs: tensor<1x4x3x3xf32>) {
    %dw = nn.gemm %dy, %x {trans_a = true} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
    %k17 = nn.gemm %dy17, %x17 {trans_a = true} : (tensor<17x3xf32>, tensor<17x4xf32>) -> tensor<3x4xf32>
    %decay = nn.gemm %dy, %x {trans_a = true} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
    %dc = nn.conv2d_grad_weight %dyc, %xc {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x3x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<3x4x1x1xf32>
    %strided = nn.conv2d_grad_weight %dyc, %xs {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x3x2x2xf32>, tensor<1x4x3x3xf32>) -> tensor<3x4x1x1xf32>
    train.update @w, %dw <sgd, lr = 0.1> : tensor<3x4xf32>
    train.update @w, %k17 <sgd, lr = 0.1> : tensor<3x4xf32>
    train.update @w, %decay <sgd, lr = 0.1, weight_decay = 0.01> : tensor<3x4xf32>
    train.update @c, %dc <sgd, lr = 0.1> : tensor<3x4x1x1xf32>
    train.update @c, %strided <sgd, lr = 0.1> : tensor<3x4x1x1xf32>
    return
  }
}
