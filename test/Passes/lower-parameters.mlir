// RUN: mcutrain-opt %s --mcutrain-lower-parameters | FileCheck %s

// Frozen parameters become flash constants, trainable ones RAM plus a flash
// image; the learning rate (the first update's compiled-in value), step
// count and Adam's powers become run-time scalars, each optimizer's state
// buffers RAM; the counters advance before the step's first update; @init
// copies the images and zeroes the state (and anything marked
// zero_at_init); loads read the globals as restrict tensors.
module {
  ml_program.global private @w(dense<0.5> : tensor<2x3xf32>) : tensor<2x3xf32> {onnx.name = "fc.weight"}
  ml_program.global private mutable @b(dense<0.25> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "fc.bias"}
  ml_program.global private mutable @v(dense<1.0> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "v"}
  memref.global "private" @ages : memref<3xi32> {mcutrain.zero_at_init}
  func.func @train_step(%x: tensor<2xf32>, %g: tensor<2xf32>) -> tensor<2xf32> {
    %w = ml_program.global_load @w : tensor<2x3xf32>
    %b = ml_program.global_load @b : tensor<2xf32>
    train.update @b, %g <adam, lr = 0.5, beta1 = 0.75> : tensor<2xf32>
    train.update @v, %g <momentum, lr = 0.5> : tensor<2xf32>
    return %b : tensor<2xf32>
  }
}

// CHECK-DAG: memref.global "public" @mcutrain_beta2_power : memref<f32> = dense<1.000000e+00>
// CHECK-DAG: memref.global "public" @mcutrain_beta1_power : memref<f32> = dense<1.000000e+00>
// CHECK-DAG: memref.global "public" @mcutrain_step_count : memref<f32> = dense<0.000000e+00>
// CHECK-DAG: memref.global "public" @mcutrain_learning_rate : memref<f32> = dense<5.000000e-01>
// CHECK: memref.global "public" constant @w : memref<2x3xf32> = dense<5.000000e-01> {mcutrain.trainable = false, onnx.name = "fc.weight"}
// CHECK: memref.global "public" @b : memref<2xf32> {mcutrain.trainable = true, onnx.name = "fc.bias"}
// CHECK-DAG: memref.global "public" @b__state1 : memref<2xf32> {mcutrain.optimizer_state}
// CHECK-DAG: memref.global "public" @b__state0 : memref<2xf32> {mcutrain.optimizer_state}
// CHECK: memref.global "public" constant @b__init : memref<2xf32> = dense<2.500000e-01> {mcutrain.image_of = "b"}
// CHECK: memref.global "public" @v : memref<2xf32>
// CHECK: memref.global "public" @v__state0 : memref<2xf32> {mcutrain.optimizer_state}
// CHECK-NOT: @v__state1
// CHECK: memref.global "public" constant @v__init

// CHECK-LABEL: func.func @train_step
// CHECK: %[[W:.*]] = memref.get_global @w : memref<2x3xf32>
// CHECK-NEXT: bufferization.to_tensor %[[W]] restrict : memref<2x3xf32> to tensor<2x3xf32>
// CHECK: %[[T:.*]] = memref.get_global @mcutrain_step_count
// CHECK: %[[T1:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK-NEXT: memref.store %[[T1]], %[[T]][]
// CHECK: memref.get_global @mcutrain_beta1_power
// CHECK: arith.constant 7.500000e-01 : f32
// CHECK: arith.mulf
// CHECK: memref.get_global @mcutrain_beta2_power
// CHECK: arith.constant 9.990000e-01 : f32
// CHECK: arith.mulf
// CHECK-NEXT: memref.store
// CHECK-NEXT: train.update @b
// CHECK-NEXT: train.update @v

// CHECK-LABEL: func.func @init()
// CHECK: memref.get_global @b__init
// CHECK-NEXT: memref.get_global @b :
// CHECK-NEXT: linalg.generic
// CHECK: memref.get_global @v__init
// CHECK: memref.get_global @b__state0
// CHECK: arith.constant 0.000000e+00 : f32
// CHECK: memref.get_global @b__state1
// CHECK: memref.get_global @v__state0
// CHECK: memref.get_global @ages : memref<3xi32>
// CHECK: arith.constant 0 : i32
// CHECK: memref.get_global @mcutrain_step_count
// CHECK: memref.get_global @mcutrain_beta1_power
// CHECK: arith.constant 1.000000e+00 : f32
// CHECK: memref.get_global @mcutrain_beta2_power
// CHECK: return
