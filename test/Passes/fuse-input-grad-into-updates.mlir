// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-input-grad-into-updates))' | FileCheck %s
// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-input-grad-into-updates),mcutrain-lower-parameters,mcutrain-lower-to-linalg,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},mcutrain-lower-train-buffers)' | FileCheck %s --check-prefix=LOWERED
// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-input-grad-into-updates),mcutrain-lower-parameters,mcutrain-lower-to-linalg,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},mcutrain-lower-train-buffers,func.func(mcutrain-use-kernels))' | FileCheck %s --check-prefix=KERNEL

// A batch-1 Linear layer's input gradient dy W (1 x 3 times 3 x 4) comes
// out of its weight's SGD update, which moves up to the Gemm's place (the
// input gradient's user follows it).
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<1x4xf32>, %[[DY:.*]]: tensor<1x3xf32>)
// CHECK-NOT: nn.gemm
// CHECK: %[[DX:.*]] = train.update @w, %[[DY]] outer(%[[X]] : tensor<1x4xf32>) <sgd, lr = 1.000000e-01> : tensor<1x3xf32> -> tensor<1x4xf32>
// CHECK-NEXT: %[[USE:.*]] = nn.mul %[[DX]], %[[X]]
// CHECK-NOT: train.update
// CHECK: return %[[USE]]
// One pass over the weight: i (dy's index) is the input gradient's
// reduction; the weight reads its old value for both. A dropped update
// still yields the input gradient.
// LOWERED-LABEL: func.func @linear
// LOWERED: %[[DXBUF:.*]] = memref.alloc() : memref<1x4xf32>
// LOWERED: %[[OK:.*]] = train.runtime_call #train<runtime_function outer_product_finite>(%{{.*}}, %c3, %{{.*}}, %c4)
// LOWERED: scf.if %[[OK]] {
// LOWERED: %[[LR:.*]] = memref.get_global @mcutrain_learning_rate : memref<f32>
// LOWERED: linalg.fill ins(%{{.*}} : f32) outs(%[[DXBUF]] : memref<1x4xf32>)
// LOWERED-NEXT: linalg.generic {indexing_maps = [#[[DYMAP:.*]], #[[XMAP:.*]], #[[LRMAP:.*]], #[[XMAP]], #[[ID:.*]]], iterator_types = ["reduction", "parallel"]}
// LOWERED-SAME: ins(%{{.*}}, %{{.*}}, %[[LR]] : memref<1x3xf32>, memref<1x4xf32>, memref<f32>)
// LOWERED-SAME: outs(%[[DXBUF]], %{{.*}} : memref<1x4xf32>, memref<3x4xf32>)
// LOWERED-SAME: mcutrain.kernel = #train.kernel<sgd_outer_update_input_grad<3, 4, 0>>
// LOWERED-SAME: mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4>
// LOWERED-SAME: mcutrain.kernel_overwrite
// LOWERED-NEXT: ^bb0(%[[DYI:.*]]: f32, %[[XJ:.*]]: f32, %{{.*}}: f32, %[[DXJ:.*]]: f32, %[[P:.*]]: f32):
// LOWERED-NEXT: %[[PROD:.*]] = arith.mulf %[[DYI]], %[[P]] : f32
// LOWERED-NEXT: %[[SUM:.*]] = arith.addf %[[DXJ]], %[[PROD]] : f32
// LOWERED-NEXT: %[[G:.*]] = arith.mulf %[[DYI]], %[[XJ]] : f32
// LOWERED-NEXT: %[[STEP:.*]] = arith.mulf %{{.*}}, %[[G]] : f32
// LOWERED-NEXT: %[[NEW:.*]] = arith.subf %[[P]], %[[STEP]] : f32
// LOWERED-NEXT: linalg.yield %[[SUM]], %[[NEW]] : f32, f32
// LOWERED: } else {
// LOWERED: memref.store %c2_i32
// LOWERED: linalg.fill ins(%{{.*}} : f32) outs(%[[DXBUF]] : memref<1x4xf32>)
// LOWERED-NEXT: linalg.generic {indexing_maps = [#[[DYMAP]], #[[ID]], #[[XMAP]]], iterator_types = ["reduction", "parallel"]}
// LOWERED-NOT: mcutrain.kernel
// LOWERED: linalg.yield
// LOWERED: }
// LOWERED: linalg.generic {{.*}} ins(%[[DXBUF]], %{{.*}} : memref<1x4xf32>, memref<1x4xf32>)
// The kernel overwrites the input gradient: no fill before it.
// KERNEL-LABEL: func.func @linear
// KERNEL: scf.if
// KERNEL-NOT: linalg.fill
// KERNEL: train.runtime_call #train.kernel<sgd_outer_update_input_grad<3, 4, 1>>(%{{.*}}, %{{.*}}, %{{.*}}, %[[DXK:.*]], %{{.*}}) : memref<1x3xf32>, memref<1x4xf32>, memref<f32>, memref<1x4xf32>, memref<3x4xf32>
// KERNEL: } else {
// KERNEL: linalg.fill
// KERNEL: linalg.generic
module {
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  func.func @linear(%x: tensor<1x4xf32>, %dy: tensor<1x3xf32>) -> tensor<1x4xf32> {
    %w = ml_program.global_load @w : tensor<3x4xf32>
    %dx = nn.gemm %dy, %w : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    %use = nn.mul %dx, %x : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    train.update @w, %dy outer(%x : tensor<1x4xf32>) <sgd, lr = 0.1> : tensor<1x3xf32>
    return %use : tensor<1x4xf32>
  }
}

// -----

// Another update of the same weight between the Gemm and this update
// (moving this one above it would reorder the two): left alone.
// CHECK-LABEL: func.func @updated_between
// CHECK: nn.gemm
// CHECK: train.update @w, %{{.*}} <sgd, lr = 1.000000e-01> : tensor<3x4xf32>{{$}}
// CHECK: train.update @w, %{{.*}} outer(%{{.*}} : tensor<1x4xf32>) <sgd, lr = 1.000000e-01> : tensor<1x3xf32>{{$}}
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  func.func @updated_between(%x: tensor<1x4xf32>, %dy: tensor<1x3xf32>, %g: tensor<3x4xf32>) -> tensor<1x4xf32> {
    %w = ml_program.global_load @w : tensor<3x4xf32>
    %dx = nn.gemm %dy, %w : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    train.update @w, %g <sgd, lr = 0.1> : tensor<3x4xf32>
    train.update @w, %dy outer(%x : tensor<1x4xf32>) <sgd, lr = 0.1> : tensor<1x3xf32>
    return %dx : tensor<1x4xf32>
  }
}

// -----

// Left alone: optimizers with state or weight decay (not the kernel's),
// a read of the weight between the Gemm and the update (moving the update
// up would change it), alpha != 1, a C term, W transposed, and another
// parameter's Gemm.
// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-8: nn.gemm
// CHECK: train.update @w, %{{.*}} outer(%{{.*}} : tensor<1x4xf32>) <momentum, lr = 1.000000e-01> : tensor<1x3xf32>{{$}}
// CHECK: train.update @w, %{{.*}} outer(%{{.*}} : tensor<1x4xf32>) <sgd, lr = 1.000000e-01, weight_decay = 0.00999999977> : tensor<1x3xf32>{{$}}
// CHECK: train.update @w, %{{.*}} outer(%{{.*}} : tensor<1x4xf32>) <sgd, lr = 1.000000e-01> : tensor<1x3xf32>{{$}}
// CHECK: train.update @s, %{{.*}} outer(%{{.*}} : tensor<1x3xf32>) <sgd, lr = 1.000000e-01> : tensor<1x3xf32>{{$}}
// CHECK: train.update @v, %{{.*}} <sgd, lr = 1.000000e-01> : tensor<3x4xf32>{{$}}
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  ml_program.global private mutable @v(dense<0.5> : tensor<3x4xf32>) : tensor<3x4xf32>
  ml_program.global private mutable @s(dense<0.5> : tensor<3x3xf32>) : tensor<3x3xf32>
  func.func @left_alone(%x: tensor<1x4xf32>, %x3: tensor<1x3xf32>, %dy: tensor<1x3xf32>, %c: tensor<1x4xf32>, %g: tensor<3x4xf32>) -> (tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x3xf32>, tensor<1x4xf32>) {
    %w = ml_program.global_load @w : tensor<3x4xf32>
    %momentum = nn.gemm %dy, %w : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    %decay = nn.gemm %dy, %w : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    %dx = nn.gemm %dy, %w : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    %later = nn.gemm %dy, %w : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    %scaled = nn.gemm %dy, %w {alpha = 0.5 : f32} : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    %biased = nn.gemm %dy, %w, %c : (tensor<1x3xf32>, tensor<3x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    %s = ml_program.global_load @s : tensor<3x3xf32>
    %transposed = nn.gemm %dy, %s {trans_b = true} : (tensor<1x3xf32>, tensor<3x3xf32>) -> tensor<1x3xf32>
    %v = ml_program.global_load @v : tensor<3x4xf32>
    %other = nn.gemm %dy, %v : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
    train.update @w, %dy outer(%x : tensor<1x4xf32>) <momentum, lr = 0.1> : tensor<1x3xf32>
    train.update @w, %dy outer(%x : tensor<1x4xf32>) <sgd, lr = 0.1, weight_decay = 0.01> : tensor<1x3xf32>
    train.update @w, %dy outer(%x : tensor<1x4xf32>) <sgd, lr = 0.1> : tensor<1x3xf32>
    train.update @s, %dy outer(%x3 : tensor<1x3xf32>) <sgd, lr = 0.1> : tensor<1x3xf32>
    train.update @v, %g <sgd, lr = 0.1> : tensor<3x4xf32>
    return %momentum, %decay, %dx, %later, %scaled, %biased, %transposed, %other : tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x3xf32>, tensor<1x4xf32>
  }
}
