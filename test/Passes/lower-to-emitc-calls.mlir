// RUN: mcutrain-opt %s --mcutrain-lower-to-emitc | FileCheck %s

// A runtime call names its callee with a typed attribute; the C++ call spells
// it: a runtime function, or a kernel with its template arguments (bool
// parameters as true/false, a fused kernel's Act as its number).
// CHECK-LABEL: emitc.func @calls
// CHECK: call_opaque "mcutrain::kernels::gemm<1,3,4,0,1>"(%arg0, %arg1, %arg2, %{{.*}})
// CHECK: call_opaque "mcutrain::kernels::gemm<1,3,4,0,1,true>"(%arg0, %arg1, %arg2, %{{.*}})
// CHECK: call_opaque "mcutrain::kernels::sgd_outer_update_input_grad<3,4,false>"(%arg3, %arg0)
// CHECK: call_opaque "mcutrain::kernels::conv2d_bias_act<1,2,4,4,3,2,1,1,4,4,1,1,1,1,1,2>"(%arg0)
// CHECK: call_opaque "mcutrain::dgsu_select"(%arg0)
func.func @calls(%a: memref<1x4xf32>, %b: memref<3x4xf32>, %y: memref<1x3xf32>, %g: memref<1x3xf32>) {
  %alpha = arith.constant 1.0 : f32
  train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1>>(%a, %b, %y, %alpha) : memref<1x4xf32>, memref<3x4xf32>, memref<1x3xf32>, f32
  train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1, 1>>(%a, %b, %y, %alpha) : memref<1x4xf32>, memref<3x4xf32>, memref<1x3xf32>, f32
  train.runtime_call #train.kernel<sgd_outer_update_input_grad<3, 4, 0>>(%g, %a) : memref<1x3xf32>, memref<1x4xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1, 2>>(%a) : memref<1x4xf32>
  train.runtime_call #train<runtime_function dgsu_select>(%a) : memref<1x4xf32>
  return
}
