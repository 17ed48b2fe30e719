// RUN: mcutrain-opt %s --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s

// Bufferization only swaps tensors for memrefs: each train op becomes its
// train.buffer.* form on the operands' buffers, a result's buffer an
// operand (fresh, or the error TinyProp zeroes in place), the run-time
// state the globals' buffers; no loop, call or arithmetic yet (that is
// lower-train-buffers').
// CHECK-LABEL: func.func @step
// CHECK-SAME: (%[[DY:.*]]: memref<1x2xf32>, %[[X:.*]]: memref<1x4xf32>, %[[ERR:.*]]: memref<1x4x3x3xf32>, %[[LOSS:.*]]: memref<f32>, %[[XIN:.*]]: memref<1x4x5x5xf32>, %[[W:.*]]: memref<4x4x3x3xf32>)
// CHECK-NEXT: %[[SKIP:.*]] = memref.get_global @mcutrain_skip_step
// CHECK-NEXT: train.buffer.finite_guard %[[LOSS]] into %[[SKIP]]
// CHECK-NEXT: %[[DX:.*]] = memref.alloc() : memref<1x4xf32>
// CHECK-NEXT: train.buffer.update @w, %[[DY]] outer(%[[X]] : memref<1x4xf32>) input_grad(%[[DX]] : memref<1x4xf32>) <sgd, lr = 1.000000e-01>
// CHECK-NEXT: %[[YMAX:.*]] = memref.get_global @mcutrain_tinyprop_ymax
// CHECK-NEXT: %[[RATIOS:.*]] = memref.get_global @mcutrain_tinyprop_ratio
// CHECK-NEXT: %[[SKIP2:.*]] = memref.get_global @mcutrain_skip_step
// CHECK-NEXT: %[[IDX:.*]] = memref.alloc() : memref<8xi32>
// CHECK-NEXT: %[[N:.*]] = memref.alloc() : memref<1xi32>
// CHECK-NEXT: train.buffer.topk_error %[[ERR]], %[[YMAX]], %[[RATIOS]], %[[SKIP2]] into %[[IDX]], %[[N]]
// CHECK-NEXT: %[[DW:.*]] = memref.alloc() : memref<4x4x3x3xf32>
// CHECK-NEXT: train.buffer.sparse_conv2d_grad_weight %[[ERR]], %[[XIN]], %[[IDX]], %[[N]] into %[[DW]]
// CHECK-NEXT: %[[AGE:.*]] = memref.get_global @age
// CHECK-NEXT: %[[IMP:.*]] = memref.get_global @imp
// CHECK-NEXT: %[[SEL:.*]] = memref.get_global @sel
// CHECK-NEXT: %[[SCRATCH:.*]] = memref.get_global @scratch
// CHECK-NEXT: train.buffer.dgsu_select %[[AGE]], %[[IMP]], %[[SCRATCH]] into %[[SEL]] {ratio = 5.000000e-01 : f32}
// CHECK-NEXT: %[[IMP2:.*]] = memref.get_global @imp
// CHECK-NEXT: train.buffer.dgsu_importance %[[XIN]], %[[W]] into %[[IMP2]] {decay = 0.899999976 : f32, weight_axis = 1 : i64}
// CHECK-NEXT: return %[[DX]], %[[ERR]], %[[SEL]], %[[DW]]
module {
  memref.global "public" @w : memref<2x4xf32>
  memref.global "private" @mcutrain_tinyprop_ymax : memref<2xf32>
  memref.global "private" @mcutrain_tinyprop_ratio : memref<2xf32>
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  memref.global "private" @age : memref<4xi16>
  memref.global "private" @imp : memref<4xf32>
  memref.global "private" @sel : memref<2xi32>
  memref.global "private" @scratch : memref<4xi32>
  func.func @step(%dy: tensor<1x2xf32>, %x: tensor<1x4xf32>, %err: tensor<1x4x3x3xf32>, %loss: tensor<f32>, %xin: tensor<1x4x5x5xf32>, %w: tensor<4x4x3x3xf32>) -> (tensor<1x4xf32>, tensor<1x4x3x3xf32>, tensor<2xi32>, tensor<4x4x3x3xf32>) {
    train.finite_guard %loss : tensor<f32>
    %dx = train.update @w, %dy outer(%x : tensor<1x4xf32>) <sgd, lr = 0.1> : tensor<1x2xf32> -> tensor<1x4xf32>
    %kept, %idx, %n = train.topk_error %err {layer = 0, depth = 0, s_min = 0.1 : f32, s_max = 0.9 : f32, zeta = 0.5 : f32} : tensor<1x4x3x3xf32> -> tensor<8xi32>, tensor<1xi32>
    %dw = train.sparse_conv2d_grad_weight %kept, %xin, %idx, %n {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x4x3x3xf32>, tensor<1x4x5x5xf32>, tensor<8xi32>, tensor<1xi32>) -> tensor<4x4x3x3xf32>
    %c = train.dgsu_select {age = @age, importance = @imp, selection = @sel, scratch = @scratch, ratio = 0.5 : f32} : tensor<2xi32>
    train.dgsu_importance %xin, %w {importance = @imp, weight_axis = 1, decay = 0.9 : f32} : tensor<1x4x5x5xf32>, tensor<4x4x3x3xf32>
    return %dx, %kept, %c, %dw : tensor<1x4xf32>, tensor<1x4x3x3xf32>, tensor<2xi32>, tensor<4x4x3x3xf32>
  }
}
