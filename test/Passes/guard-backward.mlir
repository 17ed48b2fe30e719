// RUN: mcutrain-opt %s --split-input-file --verify-diagnostics --mcutrain-guard-backward | FileCheck %s

// After the skip decision, the backward ops (tagged locations) and what uses
// their results move under `skip == 0`; the loss read stays before it.
#bwd = loc(fused<"mcutrain.backward">["fc"])
module {
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  // CHECK-LABEL: func.func @train_step
  func.func @train_step(%err: memref<4xf32>, %p: memref<4xf32>, %loss: memref<1xf32>) -> f32 {
    %c0 = arith.constant 0 : index
    // CHECK: train.runtime_call #train<runtime_function tinyprop_select>
    train.runtime_call #train<runtime_function tinyprop_select>(%err) {mcutrain.skip_decision} : memref<4xf32>
    // CHECK-NEXT: %[[L:.*]] = memref.load %arg2
    // CHECK-NEXT: %[[FLAG:.*]] = memref.get_global @mcutrain_skip_step
    // CHECK: %[[SKIP:.*]] = memref.load %[[FLAG]]
    // CHECK: %[[GO:.*]] = arith.cmpi eq, %[[SKIP]], %{{.*}} : i32
    // CHECK-NEXT: scf.if %[[GO]] {
    // CHECK-NEXT: memref.load %arg0
    // CHECK-NEXT: arith.mulf
    // CHECK-NEXT: memref.store {{.*}}, %arg1
    // CHECK-NEXT: }
    // CHECK-NEXT: return %[[L]]
    %g = memref.load %err[%c0] : memref<4xf32> loc(#bwd)
    %l = memref.load %loss[%c0] : memref<1xf32>
    %sq = arith.mulf %g, %g : f32
    memref.store %sq, %p[%c0] : memref<4xf32> loc(#bwd)
    return %l : f32
  }
}

// -----

// Without a decision nothing changes.
module {
  // CHECK-LABEL: func.func @plain
  // CHECK-NOT: scf.if
  func.func @plain(%p: memref<4xf32>) {
    %c0 = arith.constant 0 : index
    %f = arith.constant 1.0 : f32
    memref.store %f, %p[%c0] : memref<4xf32> loc(fused<"mcutrain.backward">["fc"])
    return
  }
}

// -----

module {
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  func.func @train_step(%err: memref<4xf32>, %p: memref<4xf32>) {
    %c0 = arith.constant 0 : index
    %f = arith.constant 1.0 : f32
    train.runtime_call #train<runtime_function tinyprop_select>(%err) {mcutrain.skip_decision} : memref<4xf32>
    // expected-error @below {{writes memory after the step's skip decision but is not part of the backward pass}}
    memref.store %f, %p[%c0] : memref<4xf32>
    return
  }
}
