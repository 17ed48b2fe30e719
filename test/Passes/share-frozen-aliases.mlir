// Frozen parameters untied from one initializer (onnx.alias_of) read one
// constant: the initializer's own global if it is frozen, else the first
// frozen alias. Trainable members, constants and other initializers stay.
// RUN: mcutrain-opt %s --mcutrain-share-frozen-aliases | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-share-frozen-aliases --mcutrain-lower-parameters | FileCheck %s --check-prefix=LOWER

module {
  // Group "zeros": the initializer and two aliases frozen, one alias trains.
  ml_program.global private @z(dense<0.0> : tensor<4xf32>) : tensor<4xf32> {onnx.name = "zeros"}
  ml_program.global private @a1(dense<0.0> : tensor<4xf32>) : tensor<4xf32> {onnx.alias_of = "zeros", onnx.name = "l1.bias"}
  ml_program.global private mutable @a2(dense<0.0> : tensor<4xf32>) : tensor<4xf32> {onnx.alias_of = "zeros", onnx.name = "l2.bias"}
  ml_program.global private @a3(dense<0.0> : tensor<4xf32>) : tensor<4xf32> {onnx.alias_of = "zeros", onnx.name = "l3.bias"}
  // Group "ones": the initializer trains; its two frozen aliases share the
  // first alias's constant, which is also the initializer's flash image.
  ml_program.global private mutable @o(dense<1.0> : tensor<4xf32>) : tensor<4xf32> {onnx.name = "ones"}
  ml_program.global private @b1(dense<1.0> : tensor<4xf32>) : tensor<4xf32> {onnx.alias_of = "ones", onnx.name = "bn1.weight"}
  ml_program.global private @b2(dense<1.0> : tensor<4xf32>) : tensor<4xf32> {onnx.alias_of = "ones", onnx.name = "bn2.weight"}
  // Group "twos": two trainable aliases share one flash image.
  ml_program.global private mutable @t1(dense<2.0> : tensor<4xf32>) : tensor<4xf32> {onnx.alias_of = "twos", onnx.name = "t1"}
  ml_program.global private mutable @t2(dense<2.0> : tensor<4xf32>) : tensor<4xf32> {onnx.alias_of = "twos", onnx.name = "t2"}
  // Equal data, but not from one initializer: left alone.
  ml_program.global private @other(dense<0.0> : tensor<4xf32>) : tensor<4xf32> {onnx.name = "other"}
  ml_program.global private @c(dense<0.0> : tensor<4xf32>) : tensor<4xf32> {onnx.constant, onnx.name = "k"}
  func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
    %z = ml_program.global_load @z : tensor<4xf32>
    %a1 = ml_program.global_load @a1 : tensor<4xf32>
    %a2 = ml_program.global_load @a2 : tensor<4xf32>
    %a3 = ml_program.global_load @a3 : tensor<4xf32>
    %o = ml_program.global_load @o : tensor<4xf32>
    %b1 = ml_program.global_load @b1 : tensor<4xf32>
    %b2 = ml_program.global_load @b2 : tensor<4xf32>
    %t1 = ml_program.global_load @t1 : tensor<4xf32>
    %t2 = ml_program.global_load @t2 : tensor<4xf32>
    %other = ml_program.global_load @other : tensor<4xf32>
    %c = ml_program.global_load @c : tensor<4xf32>
    %0 = nn.add %x, %z : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %1 = nn.add %0, %a1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %2 = nn.add %1, %a2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %3 = nn.add %2, %a3 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %4 = nn.mul %3, %o : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %5 = nn.mul %4, %b1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %6 = nn.mul %5, %b2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %7 = nn.mul %6, %t1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %8 = nn.mul %7, %t2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %9 = nn.add %8, %other : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %10 = nn.add %9, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    return %10 : tensor<4xf32>
  }
}

// CHECK: ml_program.global private @z({{.*}}) : tensor<4xf32> {mcutrain.frozen_aliases = ["l1.bias", "l3.bias"], onnx.name = "zeros"}
// CHECK-NOT: @a1(
// CHECK: ml_program.global private mutable @a2(
// CHECK-NOT: @a3(
// CHECK: ml_program.global private mutable @o(
// CHECK: ml_program.global private @b1({{.*}}) : tensor<4xf32> {mcutrain.frozen_aliases = ["bn2.weight"], onnx.alias_of = "ones", onnx.name = "bn1.weight"}
// CHECK-NOT: @b2(
// CHECK: ml_program.global private mutable @t1(
// CHECK: ml_program.global private mutable @t2(
// CHECK: ml_program.global private @other(
// CHECK: ml_program.global private @c(
// CHECK-LABEL: func.func @forward
// CHECK: %[[Z:.*]] = ml_program.global_load @z
// CHECK: %[[A1:.*]] = ml_program.global_load @z
// CHECK: ml_program.global_load @a2
// CHECK: %[[A3:.*]] = ml_program.global_load @z
// CHECK: ml_program.global_load @o
// CHECK: ml_program.global_load @b1
// CHECK: ml_program.global_load @b1
// CHECK: nn.add %[[A:.*]], %[[Z]]
// CHECK: nn.add %{{.*}}, %[[A1]]

// Flash images: a trainable member's image is the group's frozen constant,
// or the first image made for the group.
// LOWER: memref.global "public" constant @z : memref<4xf32> = dense<0.000000e+00>
// LOWER: memref.global "public" @a2 : memref<4xf32>
// LOWER-NOT: @a2__init
// LOWER: memref.global "public" @o : memref<4xf32>
// LOWER-NOT: @o__init
// LOWER: memref.global "public" constant @b1 : memref<4xf32> = dense<1.000000e+00>
// LOWER: memref.global "public" @t1 : memref<4xf32>
// LOWER: memref.global "public" constant @t1__init : memref<4xf32> = dense<2.000000e+00>
// LOWER: memref.global "public" @t2 : memref<4xf32>
// LOWER-NOT: @t2__init
// @init copies each trainable parameter from that image.
// LOWER-LABEL: func.func @init()
// LOWER-NEXT: %[[Z:.*]] = memref.get_global @z
// LOWER-NEXT: %[[A2:.*]] = memref.get_global @a2
// LOWER-NEXT: linalg.generic {{.*}} ins(%[[Z]] : memref<4xf32>) outs(%[[A2]] : memref<4xf32>)
// LOWER: %[[B1:.*]] = memref.get_global @b1
// LOWER-NEXT: %[[O:.*]] = memref.get_global @o
// LOWER-NEXT: linalg.generic {{.*}} ins(%[[B1]] : memref<4xf32>) outs(%[[O]] : memref<4xf32>)
// LOWER: %[[I1:.*]] = memref.get_global @t1__init
// LOWER-NEXT: %[[T1:.*]] = memref.get_global @t1
// LOWER-NEXT: linalg.generic {{.*}} ins(%[[I1]] : memref<4xf32>) outs(%[[T1]] : memref<4xf32>)
// LOWER: %[[I2:.*]] = memref.get_global @t1__init
// LOWER-NEXT: %[[T2:.*]] = memref.get_global @t2
// LOWER-NEXT: linalg.generic {{.*}} ins(%[[I2]] : memref<4xf32>) outs(%[[T2]] : memref<4xf32>)
