// RUN: mcutrain-opt %s --mcutrain-lower-parameters --mcutrain-lower-to-linalg --one-shot-bufferize="bufferize-function-boundaries" --mcutrain-lower-train-buffers | FileCheck %s

// An update whose gradient holds a NaN or an infinity is dropped (the
// parameter never becomes non-finite) and the step's flag records it (2).
// CHECK-LABEL: func.func @step
// CHECK: %[[ALL:.*]] = train.runtime_call #train<runtime_function all_finite>(%{{.*}}, %c4) : memref<4xf32>, index -> i1
// CHECK: scf.if %[[ALL]] {
// CHECK: linalg.generic
// CHECK: } else {
// CHECK: %[[FLAG:.*]] = memref.get_global @mcutrain_skip_step
// CHECK: memref.store %c2_i32, %[[FLAG]]
module {
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  ml_program.global private mutable @w(dense<0.5> : tensor<4xf32>) : tensor<4xf32>
  func.func @step(%g: tensor<4xf32>) {
    train.update @w, %g <sgd, lr = 0.1> : tensor<4xf32>
    return
  }
}
