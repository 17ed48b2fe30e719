// A frozen weight's nn.quantize -> nn.dequantize becomes its fake-quantized
// data (x * 10 for scale 0.1: 3 -> 0.3, -2.6 -> -3, a tie 2.5 -> 2 (even),
// 200 saturates at 127); an int32 bias read only by nn.dequantize becomes
// float. A mutable global, one with another use, or two quantizations of
// one global stay as they are.
// RUN: mcutrain-opt %s --mcutrain-fold-frozen-quantization | FileCheck %s

// CHECK: ml_program.global private @w(dense<[3.000000e-01, -3.000000e-01, 2.000000e-01, 1.270000e+01]> : tensor<4xf32>)
// CHECK: ml_program.global private @b(dense<[2.500000e-01, -5.000000e-01]> : tensor<2xf32>) : tensor<2xf32>
// CHECK: ml_program.global private mutable @m(dense<3.000000e-01> : tensor<4xf32>)
// CHECK: ml_program.global private @other(dense<3.000000e-01> : tensor<4xf32>)
// CHECK: ml_program.global private @two(dense<3.000000e-01> : tensor<4xf32>)
ml_program.global private @w(dense<[0.3, -0.26, 0.25, 20.0]> : tensor<4xf32>) : tensor<4xf32>
ml_program.global private @b(dense<[1, -2]> : tensor<2xi32>) : tensor<2xi32>
ml_program.global private mutable @m(dense<0.3> : tensor<4xf32>) : tensor<4xf32>
ml_program.global private @other(dense<0.3> : tensor<4xf32>) : tensor<4xf32>
ml_program.global private @two(dense<0.3> : tensor<4xf32>) : tensor<4xf32>

// CHECK-LABEL: func.func @folded
// CHECK-NEXT: %[[W:.*]] = ml_program.global_load @w : tensor<4xf32>
// CHECK-NEXT: %[[B:.*]] = ml_program.global_load @b : tensor<2xf32>
// CHECK-NEXT: return %[[W]], %[[B]]
func.func @folded() -> (tensor<4xf32>, tensor<2xf32>) {
  %w = ml_program.global_load @w : tensor<4xf32>
  %q = nn.quantize %w {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xf32>) -> tensor<4xi8>
  %d = nn.dequantize %q {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xi8>) -> tensor<4xf32>
  %b = ml_program.global_load @b : tensor<2xi32>
  %bd = nn.dequantize %b {quant_type = !quant.uniform<i32:f32:0, {0.25,0.25}>} : (tensor<2xi32>) -> tensor<2xf32>
  return %d, %bd : tensor<4xf32>, tensor<2xf32>
}

// CHECK-LABEL: func.func @kept
// CHECK-COUNT-4: nn.quantize
// CHECK-NOT: nn.quantize
func.func @kept() -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %m = ml_program.global_load @m : tensor<4xf32>
  %mq = nn.quantize %m {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xf32>) -> tensor<4xi8>
  %md = nn.dequantize %mq {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xi8>) -> tensor<4xf32>
  %o = ml_program.global_load @other : tensor<4xf32>
  %oq = nn.quantize %o {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xf32>) -> tensor<4xi8>
  %od = nn.dequantize %oq {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xi8>) -> tensor<4xf32>
  %t = ml_program.global_load @two : tensor<4xf32>
  %tq = nn.quantize %t {quant_type = !quant.uniform<i8:f32, 0.2>} : (tensor<4xf32>) -> tensor<4xi8>
  %td = nn.dequantize %tq {quant_type = !quant.uniform<i8:f32, 0.2>} : (tensor<4xi8>) -> tensor<4xf32>
  %t2 = ml_program.global_load @two : tensor<4xf32>
  %t2q = nn.quantize %t2 {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xf32>) -> tensor<4xi8>
  %t2d = nn.dequantize %t2q {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xi8>) -> tensor<4xf32>
  %sum = nn.add %od, %o : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %md, %sum, %td, %t2d : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// A frozen float weight read only by nn.quantize (an int8 layer's weight)
// becomes an int8 global of the quantized values (0.3 -> 3, -0.26 -> -3,
// 0.25 -> 2, 20 -> 127); one read both ways stays.
// CHECK: ml_program.global private @w8(dense<[3, -3, 2, 127]> : tensor<4xi8>) : tensor<4xi8>
// CHECK: ml_program.global private @mixed(dense<3.000000e-01> : tensor<4xf32>)
ml_program.global private @w8(dense<[0.3, -0.26, 0.25, 20.0]> : tensor<4xf32>) : tensor<4xf32>
ml_program.global private @mixed(dense<0.3> : tensor<4xf32>) : tensor<4xf32>

// CHECK-LABEL: func.func @int8_layer
// CHECK-NEXT: %[[W:.*]] = ml_program.global_load @w8 : tensor<4xi8>
// CHECK-NEXT: %[[M:.*]] = ml_program.global_load @mixed : tensor<4xf32>
// CHECK-NEXT: nn.quantize %[[M]]
// CHECK-NEXT: nn.quantize %[[M]]
// CHECK-NEXT: nn.dequantize
// CHECK-NEXT: return %[[W]]
func.func @int8_layer() -> (tensor<4xi8>, tensor<4xi8>, tensor<4xf32>) {
  %w = ml_program.global_load @w8 : tensor<4xf32>
  %q = nn.quantize %w {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xf32>) -> tensor<4xi8>
  %m = ml_program.global_load @mixed : tensor<4xf32>
  %mq = nn.quantize %m {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xf32>) -> tensor<4xi8>
  %mq2 = nn.quantize %m {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xf32>) -> tensor<4xi8>
  %md = nn.dequantize %mq2 {quant_type = !quant.uniform<i8:f32, 0.1>} : (tensor<4xi8>) -> tensor<4xf32>
  return %q, %mq, %md : tensor<4xi8>, tensor<4xi8>, tensor<4xf32>
}
