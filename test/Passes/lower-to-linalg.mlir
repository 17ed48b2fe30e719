// RUN: mcutrain-opt %s --mcutrain-lower-parameters --mcutrain-lower-to-linalg --mlir-print-debuginfo | FileCheck %s

// CHECK-DAG: #[[XMAP:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d2, d5 * 2 + d3, d6 * 2 + d4)>
// CHECK-DAG: #[[WMAP:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d2, d3, d4)>
// CHECK-DAG: #[[YMAP:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d5, d6)>
// CHECK-DAG: #[[PADMAP:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2 + 1, d3 + 1)>

// Trainable parameters: a RAM global plus a constant flash image; frozen
// parameters: one constant global. The learning rate is a run-time global.
// CHECK-DAG: memref.global "public" @mcutrain_learning_rate : memref<f32> = dense<1.000000e-01>
// CHECK-DAG: memref.global "public" @cw : memref<2x1x3x3xf32> {mcutrain.trainable = true}
// CHECK-DAG: memref.global "public" constant @cw__init : memref<2x1x3x3xf32> = dense<1.000000e-01>
// CHECK-DAG: memref.global "public" constant @fw : memref<3x8xf32> = dense<5.000000e-02> {mcutrain.trainable = false}

// CHECK-LABEL: func.func @f
// Parameters are read in place (restrict: no copy).
// CHECK: %[[CWM:.*]] = memref.get_global @cw : memref<2x1x3x3xf32>
// CHECK: %[[CW:.*]] = bufferization.to_tensor %[[CWM]] restrict
// Padding: a fill, then the input copied to its shifted place (the copy's
// output map adds the pad).
// CHECK: %[[ZP:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x1x6x6xf32>)
// CHECK: %[[XP:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[PADMAP]]]{{.*}} outs(%[[ZP]] : tensor<1x1x6x6xf32>)
// The convolution: output width innermost (unit stride for stride-1 convs).
// It is marked for use-kernels: the kernel's shape arguments (N, C, padded
// H and W, F, C per group, kernel, output, strides, dilations, groups) and
// the operands it takes.
// CHECK: linalg.generic {indexing_maps = [#[[XMAP]], #[[WMAP]], #[[YMAP]]], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction", "parallel", "parallel"]} ins(%[[XP]], %[[CW]] :
// CHECK-SAME: mcutrain.kernel = #train.kernel<conv2d<1, 1, 6, 6, 2, 1, 3, 3, 2, 2, 2, 2, 1, 1, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2>
// CHECK: arith.mulf
// CHECK: arith.addf
// The weight gradient reduces over batch and output positions.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
// CHECK-SAME: mcutrain.kernel = #train.kernel<conv2d_grad_weight<1, 1, 6, 6, 2, 1, 3, 3, 2, 2, 2, 2, 1, 1, 1>>
// Right before the first update the step count advances (as part of the
// backward pass: a step TinyPropv2 skips does not count).
// CHECK: memref.get_global @mcutrain_step_count
// CHECK: arith.addf
// CHECK: memref.store {{.*}} loc(#[[BWD:.*]])
// The update stays for bufferization (it writes the global in place).
// CHECK: train.update @cw
// Reshape is a view: collapse then expand.
// CHECK: tensor.collapse_shape {{.*}} into tensor<8xf32>
// CHECK: tensor.expand_shape {{.*}} into tensor<1x8xf32>
// Gemm loops i, k, j.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]
// CHECK-SAME: mcutrain.kernel = #train.kernel<gemm<1, 3, 8, 0, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2>, mcutrain.kernel_overwrite, mcutrain.kernel_scalars = array<f32: 1.000000e+00>
// @init copies the flash image of each trainable parameter and resets the
// step count.
// CHECK-LABEL: func.func @init()
// CHECK: memref.get_global @cw__init :
// CHECK: memref.get_global @cw :
// CHECK: linalg.generic
// CHECK: memref.get_global @mcutrain_step_count
// CHECK: #[[BWD]] = loc(fused<"mcutrain.backward">
module {
  ml_program.global private mutable @cw(dense<0.1> : tensor<2x1x3x3xf32>) : tensor<2x1x3x3xf32>
  ml_program.global private @fw(dense<0.05> : tensor<3x8xf32>) : tensor<3x8xf32>
  func.func @f(%x: tensor<1x1x4x4xf32>, %dy: tensor<1x2x2x2xf32>) -> tensor<1x3xf32> {
    %cw = ml_program.global_load @cw : tensor<2x1x3x3xf32>
    %fw = ml_program.global_load @fw : tensor<3x8xf32>
    %c = nn.conv2d %x, %cw {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x2x2xf32>
    %dw = nn.conv2d_grad_weight %dy, %x {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<1x1x4x4xf32>) -> tensor<2x1x3x3xf32>
    train.update @cw, %dw <sgd, lr = 0.1> : tensor<2x1x3x3xf32>
    %f = nn.reshape %c : (tensor<1x2x2x2xf32>) -> tensor<1x8xf32>
    %y = nn.gemm %f, %fw {trans_b = true} : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
    return %y : tensor<1x3xf32>
  }
}
