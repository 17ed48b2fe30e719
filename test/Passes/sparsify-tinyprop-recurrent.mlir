// TinyProp finds a layer's gradient ops by the layer's location. An unrolled
// GRU/LSTM's products share their node's: they keep a dense backward pass
// (one warning per node) and are not counted as layers; the head still
// keeps its top-k errors at depth 0. (Found by bench/difftest.py, seed 5037:
// the pass took another step's gradients and refused.)
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop" 2>&1 | FileCheck %s
// CHECK: warning: loc("GRU_0"): tinyprop: the products of this unrolled recurrent node keep a dense backward pass
// CHECK-NOT: warning
// CHECK-DAG: memref.global "private" @mcutrain_tinyprop_ymax : memref<1xf32>
// CHECK-LABEL: func.func @train_step
// CHECK: train.topk_error {{.*}}depth = 0 : i64
// CHECK-NOT: train.topk_error
// CHECK: return
module {
  ml_program.global private @w(dense<0.3> : tensor<4x4xf32>) : tensor<4x4xf32> {onnx.name = "rnn.weight"}
  ml_program.global private @fw(dense<0.05> : tensor<3x4xf32>) : tensor<3x4xf32> {onnx.name = "fc.weight"}
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x3xf32> {
    %w = ml_program.global_load @w : tensor<4x4xf32>
    %fw = ml_program.global_load @fw : tensor<3x4xf32>
    %h1 = nn.gemm %x, %w {trans_b = true} : (tensor<1x4xf32>, tensor<4x4xf32>) -> tensor<1x4xf32> loc("GRU_0")
    %t1 = nn.activation tanh %h1 : tensor<1x4xf32> loc("GRU_0")
    %h2 = nn.gemm %t1, %w {trans_b = true} : (tensor<1x4xf32>, tensor<4x4xf32>) -> tensor<1x4xf32> loc("GRU_0")
    %t2 = nn.activation tanh %h2 : tensor<1x4xf32> loc("GRU_0")
    %y = nn.gemm %t2, %fw {trans_b = true} : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32> loc("fc")
    return %y : tensor<1x3xf32>
  }
}
