// A kernel's template arguments are checked against its parameters
// (TrainKernels.td): their number, and 0/1 for bool parameters.
// RUN: mcutrain-opt %s -split-input-file -verify-diagnostics > /dev/null

func.func @too_few(%a: memref<4xf32>) {
  // expected-error @below {{kernel gemm takes 5 to 6 template arguments (int M, int N, int K, int TA, int TB, bool Overwrite = false), not 3}}
  train.runtime_call #train.kernel<gemm<1, 3, 4>>(%a) : memref<4xf32>
  return
}

// -----

func.func @too_many(%a: memref<4xf32>) {
  // expected-error @below {{kernel sum_rows takes 3 to 4 template arguments}}
  train.runtime_call #train.kernel<sum_rows<1, 2, 3, 1, 1>>(%a) : memref<4xf32>
  return
}

// -----

func.func @bool(%a: memref<4xf32>) {
  // expected-error @below {{template argument 5 of kernel gemm is a bool}}
  train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1, 2>>(%a) : memref<4xf32>
  return
}

// -----

func.func @act_required(%a: memref<4xf32>) {
  // expected-error @below {{kernel conv2d_bias_act takes 16 template arguments}}
  train.runtime_call #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>(%a) : memref<4xf32>
  return
}
