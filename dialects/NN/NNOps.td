#ifndef MCUTRAIN_NN_OPS_TD
#define MCUTRAIN_NN_OPS_TD

include "dialects/NN/NNBase.td"
include "dialects/NN/NNEnums.td"
include "dialects/NN/NNInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def NN_F32Tensor : RankedTensorOf<[F32]>;
def NN_F32Tensor4D : 4DTensorOf<[F32]>;
def NN_F32Tensor2D : 2DTensorOf<[F32]>;
// Integers are signless, as in arith: ops whose result depends on the sign
// carry `is_unsigned`. Only data movement, elementwise arithmetic, clip and
// max pooling take them (ONNX int8/uint8/int32/int64/bool tensors).
defvar NN_ElementTypes = [F32, I1, I8, I16, I32, I64];
def NN_Tensor : RankedTensorOf<NN_ElementTypes>;
def NN_Tensor4D : 4DTensorOf<NN_ElementTypes>;

class NN_ForwardOp<string mnemonic, list<Trait> traits = []>
    : NN_Op<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<AutodiffOpInterface>,
        DeclareOpInterfaceMethods<MacCountOpInterface>])>;

class NN_GradOp<string mnemonic, list<Trait> traits = []>
    : NN_Op<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<MacCountOpInterface>])>;

//===----------------------------------------------------------------------===//
// Forward ops
//===----------------------------------------------------------------------===//

def NN_Conv2dOp : NN_ForwardOp<"conv2d"> {
  let summary = "2-D convolution, NCHW input, FCHW weight (ONNX Conv)";
  let arguments = (ins NN_F32Tensor4D:$input, NN_F32Tensor4D:$weight,
                   Optional<1DTensorOf<[F32]>>:$bias,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group);
  let results = (outs NN_F32Tensor4D:$output);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
      "::mlir::Value":$bias, "::llvm::ArrayRef<int64_t>":$strides, "::llvm::ArrayRef<int64_t>":$pads,
      "::llvm::ArrayRef<int64_t>":$dilations, "int64_t":$group)>];
  let hasVerifier = 1;
}

def NN_ConvTranspose2dOp : NN_ForwardOp<"conv_transpose2d"> {
  let summary = "2-D transposed convolution (ONNX ConvTranspose, no bias)";
  let description = [{
    The adjoint of nn.conv2d with the same weight, strides, pads, dilations
    and group applied to `input` as if it were a convolution's output: the
    weight is C_in x C_out/group x kH x kW. The result's extent fixes the
    output padding (conv2d of the result gives the input's shape). Its
    gradients are nn.conv2d (input) and nn.conv2d_grad_weight (weight).
  }];
  let arguments = (ins NN_F32Tensor4D:$input, NN_F32Tensor4D:$weight,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group);
  let results = (outs NN_F32Tensor4D:$output);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_GemmOp : NN_ForwardOp<"gemm"> {
  let summary = "alpha * op(A) * op(B) + beta * C (ONNX Gemm / 2-D MatMul)";
  let arguments = (ins NN_F32Tensor2D:$a, NN_F32Tensor2D:$b,
                   Optional<NN_F32Tensor>:$c,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_a,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_b,
                   DefaultValuedAttr<F32Attr, "1.0f">:$alpha,
                   DefaultValuedAttr<F32Attr, "1.0f">:$beta);
  let results = (outs NN_F32Tensor2D:$output);
  let assemblyFormat = [{
    $a `,` $b (`,` $c^)? attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$a, "::mlir::Value":$b, "::mlir::Value":$c,
      "bool":$trans_a, "bool":$trans_b, "float":$alpha, "float":$beta)>];
  let hasVerifier = 1;
}

class NN_BinaryOp<string mnemonic, string what> : NN_ForwardOp<mnemonic> {
  let summary = what # " with numpy broadcasting";
  let arguments = (ins NN_Tensor:$lhs, NN_Tensor:$rhs, UnitAttr:$is_unsigned);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$lhs, "::mlir::Value":$rhs,
      "::mlir::UnitAttr":$is_unsigned), [{
    build($_builder, $_state,
          ::mcutrain::nn::binaryResultType(lhs, rhs), lhs, rhs, is_unsigned);
  }]>];
  let hasVerifier = 1;
}

def NN_AddOp : NN_BinaryOp<"add", "Elementwise addition">;
def NN_SubOp : NN_BinaryOp<"sub", "Elementwise subtraction">;
def NN_MulOp : NN_BinaryOp<"mul", "Elementwise multiplication">;
def NN_DivOp : NN_BinaryOp<"div", "Elementwise division">;
def NN_PowOp : NN_BinaryOp<"pow", "Elementwise power lhs^rhs">;
def NN_MaxOp : NN_BinaryOp<"max", "Elementwise maximum (NaN propagates)">;
def NN_MinOp : NN_BinaryOp<"min", "Elementwise minimum (NaN propagates)">;

def NN_WhereOp : NN_ForwardOp<"where"> {
  let summary = "condition ? lhs : rhs, elementwise with broadcasting (ONNX Where)";
  let description = [{
    The condition is boolean and does not train; each branch's gradient is
    dy where it was chosen (nn.where_grad), summed to its shape.
  }];
  let arguments = (ins TensorOf<[I1]>:$condition, NN_Tensor:$lhs,
                   NN_Tensor:$rhs);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $condition `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_CastOp : NN_Op<"cast", [Pure,
    DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "Integer to float32 or float32 to integer (ONNX Cast)";
  let description = [{
    Float to integer truncates toward zero (C's conversion). `is_unsigned`
    says the integer side is unsigned. No gradient flows through it: integer
    tensors do not train.
  }];
  let arguments = (ins NN_Tensor:$input, UnitAttr:$is_unsigned);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_ReluOp : NN_ForwardOp<"relu", [SameOperandsAndResultType]> {
  let summary = "max(x, 0)";
  let arguments = (ins NN_F32Tensor:$input);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def NN_ActivationOp : NN_ForwardOp<"activation", [SameOperandsAndResultType]> {
  let summary = "Elementwise activation selected by `kind`";
  let description = [{
    kind: leaky_relu (alpha), clip (min = alpha, max = beta), sigmoid, tanh,
    hard_sigmoid (max(0, min(1, alpha*x + beta))), hard_swish, sqrt, exp,
    log, abs, reciprocal, softplus, softsign, elu (alpha), selu (alpha,
    gamma = beta), erf, pow (x^alpha).
  }];
  let arguments = (ins NN_Tensor:$input, NN_ActivationKindAttr:$kind,
                   DefaultValuedAttr<F32Attr, "0.0f">:$alpha,
                   DefaultValuedAttr<F32Attr, "0.0f">:$beta,
                   UnitAttr:$is_unsigned);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = "`` $kind $input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def NN_PReluOp : NN_ForwardOp<"prelu"> {
  let summary = "x where x > 0, else slope * x (ONNX PRelu, torch.nn.PReLU)";
  let description = [{
    `slope` broadcasts to the input (ONNX's unidirectional broadcasting: a
    PReLU's per-channel slope is [C, 1, 1]); it is usually a trainable
    parameter. The result has the input's type.
  }];
  let arguments = (ins NN_F32Tensor:$input, NN_F32Tensor:$slope);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $input `,` $slope attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$slope), [{
    build($_builder, $_state, input.getType(), input, slope);
  }]>];
  let hasVerifier = 1;
}

def NN_NegOp : NN_ForwardOp<"neg", [SameOperandsAndResultType]> {
  let summary = "-x (ONNX Neg)";
  let arguments = (ins NN_Tensor:$input);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

// Quantization (ONNX QuantizeLinear / DequantizeLinear). The scale, zero
// point, storage type and range are an upstream quant dialect type,
// !quant.uniform<...> per tensor or per axis, held as an attribute: the
// tensors themselves stay in their signless storage type (i8, i32), as
// every other integer tensor here.
class NN_QuantOp<string mnemonic>
    : NN_Op<mnemonic, [Pure,
        DeclareOpInterfaceMethods<AutodiffOpInterface>,
        DeclareOpInterfaceMethods<MacCountOpInterface>]>;

def NN_QuantizeOp : NN_QuantOp<"quantize"> {
  let summary = "saturate(round_half_even(x * (1 / scale)) + zero_point)";
  let description = [{
    ONNX QuantizeLinear: `quant_type` (a !quant.uniform type, per tensor or
    per axis) gives the scale(s), zero point(s), storage type and range; the
    result is the storage type's signless integer tensor (uint8 storage is
    i8, its signedness in `quant_type`). x is multiplied by the f32
    reciprocal of the scale, as PyTorch's fake quantization does (ONNX's text
    divides; they differ next to ties), rounded to nearest, ties to even,
    and saturated to the storage range. The gradient of an integer tensor
    is a float32 tensor of its shape in real units (d loss / d value it
    stands for): it passes where x quantizes inside the storage range
    (unsaturated), as PyTorch's fake quantization's does.
  }];
  let arguments = (ins NN_F32Tensor:$input, TypeAttr:$quant_type);
  let results = (outs RankedTensorOf<[I8, I16, I32]>:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_DequantizeOp : NN_QuantOp<"dequantize"> {
  let summary = "(q - zero_point) * scale";
  let description = [{
    ONNX DequantizeLinear: `quant_type` as in nn.quantize; the input is its
    storage type (int32 for a quantized bias), the result float32. The
    gradient passes unchanged (gradients of integer tensors are in real
    units).
  }];
  let arguments = (ins RankedTensorOf<[I8, I16, I32]>:$input,
                   TypeAttr:$quant_type);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

// int8 layers: integer inputs and weights, int32 accumulation, then
// either requantization to `output_type` (QLinearConv, a fused QDQ layer)
// or the int32 accumulator itself (ConvInteger, MatMulInteger). The
// weight may be quantized per output channel; input and output per tensor.
// A bias is int32 with scale input_scale * weight_scale and zero point 0
// (ONNX QLinearConv), or float (a QDQ layer's, kept exact).
// The gradient (training, TTE's scheme): float32, in real units, computed
// from the integer operands and their scales (nn.qconv2d_grad_*,
// nn.qgemm_grad_*), after nn.qoutput_grad masks it by the output clamp.
class NN_QuantizedLayerOp<string mnemonic>
    : NN_Op<mnemonic, [Pure,
        DeclareOpInterfaceMethods<AutodiffOpInterface>,
        DeclareOpInterfaceMethods<MacCountOpInterface>]>;

def NN_QConv2dOp : NN_QuantizedLayerOp<"qconv2d"> {
  let summary = "int8 2-D convolution, int32 accumulation, requantization";
  let description = [{
    acc[n,f,i,j] = sum (x - x_zero) * (w - w_zero[f]) over f's window
    (padding reads x_zero, so it adds nothing), exact in int32, plus an
    int32 bias. With `output_type`, the result is
    clamp(y_zero + (acc * M[f] + B[f] + 2^(S[f]-1)) >> S[f]) in int64, with
    the output range narrowed by `output_min`/`output_max` (a fused ReLU or
    Clip, in output units): M[f] * 2^-S[f] is the fixed-point (Q31
    multiplier, right shift) form of x_scale * w_scale[f] / y_scale, and a
    float bias enters as B[f] = round(bias[f] / y_scale * 2^S[f]), so it
    keeps its precision instead of being rounded to an int32 multiple of
    x_scale * w_scale[f]. One rounding, to nearest with ties toward
    +infinity (CMSIS-NN's single-rounding arm_nn_requantize, whose
    SMULL/SMLAL form this is). Without `output_type` the result is acc.
  }];
  let arguments = (ins 4DTensorOf<[I8]>:$input, 4DTensorOf<[I8]>:$weight,
                   Optional<1DTensorOf<[I32, F32]>>:$bias,
                   TypeAttr:$input_type, TypeAttr:$weight_type,
                   OptionalAttr<TypeAttr>:$output_type,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group,
                   OptionalAttr<I64Attr>:$output_min,
                   OptionalAttr<I64Attr>:$output_max);
  let results = (outs 4DTensorOf<[I8, I32]>:$output);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_QGemmOp : NN_QuantizedLayerOp<"qgemm"> {
  let summary = "int8 matrix product a * op(b), int32 accumulation, requantization";
  let description = [{
    a is [M, K]; b is [K, N], or [N, K] with `trans_b`; a per-axis weight
    type is per output column (b's N dimension). Accumulation, bias,
    requantization and the optional clamp as in nn.qconv2d.
  }];
  let arguments = (ins 2DTensorOf<[I8]>:$a, 2DTensorOf<[I8]>:$b,
                   Optional<1DTensorOf<[I32, F32]>>:$bias,
                   TypeAttr:$input_type, TypeAttr:$weight_type,
                   OptionalAttr<TypeAttr>:$output_type,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_b,
                   OptionalAttr<I64Attr>:$output_min,
                   OptionalAttr<I64Attr>:$output_max);
  let results = (outs 2DTensorOf<[I8, I32]>:$output);
  let assemblyFormat = [{
    $a `,` $b (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_BatchNormOp : NN_Op<"batch_norm", [Pure,
    DeclareOpInterfaceMethods<AutodiffOpInterface,
                              ["isDifferentiableOperand"]>,
    DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "Inference batch normalization over dim 1 (frozen statistics)";
  let arguments = (ins NN_F32Tensor:$input, 1DTensorOf<[F32]>:$scale,
                   1DTensorOf<[F32]>:$bias, 1DTensorOf<[F32]>:$mean,
                   1DTensorOf<[F32]>:$variance, F32Attr:$epsilon);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $input `,` $scale `,` $bias `,` $mean `,` $variance attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_TransposeOp : NN_ForwardOp<"transpose"> {
  let summary = "output[i...] = input[perm applied] (ONNX Transpose)";
  let arguments = (ins NN_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$input, "::llvm::ArrayRef<int64_t>":$perm)>];
  let hasVerifier = 1;
}

def NN_ConcatOp : NN_ForwardOp<"concat"> {
  let summary = "Concatenation along `axis` (ONNX Concat)";
  let arguments = (ins Variadic<NN_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $inputs attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::ValueRange":$inputs, "int64_t":$axis)>];
  let hasVerifier = 1;
}

def NN_SoftmaxOp : NN_ForwardOp<"softmax", [SameOperandsAndResultType]> {
  let summary = "Softmax (or log-softmax) along `axis`";
  let arguments = (ins NN_F32Tensor:$input, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "false">:$log);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def NN_MatMulOp : NN_ForwardOp<"matmul"> {
  let summary = "Batched matrix product with broadcast batch dims (ONNX MatMul, rank >= 3)";
  let arguments = (ins NN_F32Tensor:$a, NN_F32Tensor:$b);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $a `,` $b attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$a, "::mlir::Value":$b)>];
  let hasVerifier = 1;
}

class NN_Pool2dForward<string mnemonic> : NN_ForwardOp<mnemonic> {
  let arguments = (ins NN_F32Tensor4D:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations);
  let results = (outs NN_F32Tensor4D:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$input, "::llvm::ArrayRef<int64_t>":$kernel,
      "::llvm::ArrayRef<int64_t>":$strides, "::llvm::ArrayRef<int64_t>":$pads,
      "bool":$count_include_pad, "bool":$ceil_mode,
      "::llvm::ArrayRef<int64_t>":$dilations)>];
  let hasVerifier = 1;
}

def NN_MaxPool2dOp : NN_ForwardOp<"max_pool2d"> {
  let summary = "2-D max pooling (ONNX MaxPool); count_include_pad unused";
  let arguments = (ins NN_Tensor4D:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
                   UnitAttr:$is_unsigned);
  let results = (outs NN_Tensor4D:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$input, "::llvm::ArrayRef<int64_t>":$kernel,
      "::llvm::ArrayRef<int64_t>":$strides, "::llvm::ArrayRef<int64_t>":$pads,
      "bool":$ceil_mode, "::llvm::ArrayRef<int64_t>":$dilations,
      "::mlir::UnitAttr":$is_unsigned)>];
  let hasVerifier = 1;
}

def NN_MaxPool2dIndicesOp : NN_Op<"max_pool2d_indices", [Pure]> {
  let summary = "Flat NCHW index of each window's first maximum (ONNX MaxPool's Indices)";
  let description = [{
    Index into the unpadded input, as ONNX MaxPool's second output:
    (n*C + c)*H*W + h*W + w, or with column_major (storage_order 1)
    (n*C + c)*H*W + w*H + h. Integer-valued, so not differentiable: it has no
    adjoint and stops gradients.
  }];
  let arguments = (ins NN_Tensor4D:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
                   UnitAttr:$is_unsigned,
                   DefaultValuedAttr<BoolAttr, "false">:$column_major);
  let results = (outs 4DTensorOf<[I64]>:$indices);
  let builders = [OpBuilder<(ins "::mlir::Value":$input, "::llvm::ArrayRef<int64_t>":$kernel,
      "::llvm::ArrayRef<int64_t>":$strides, "::llvm::ArrayRef<int64_t>":$pads,
      "bool":$ceil_mode, "::llvm::ArrayRef<int64_t>":$dilations,
      "::mlir::UnitAttr":$is_unsigned, "bool":$column_major)>];
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

def NN_AvgPool2dOp : NN_Pool2dForward<"avg_pool2d"> {
  let summary = "2-D average pooling (ONNX AveragePool, GlobalAveragePool)";
}

def NN_ReshapeOp : NN_ForwardOp<"reshape"> {
  let summary = "Same elements, new static shape (ONNX Reshape, Flatten)";
  let arguments = (ins NN_Tensor:$input);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_Pad2dOp : NN_ForwardOp<"pad2d"> {
  let summary = "Padding of the two spatial dims (ONNX Pad)";
  let description = [{
    mode: constant (`value`), edge (repeat the border element) or reflect
    (mirror without repeating the border).
  }];
  let arguments = (ins NN_Tensor4D:$input, DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<F32Attr, "0.0f">:$value,
                   DefaultValuedAttr<NN_PadModeAttr,
                                     "::mcutrain::nn::PadMode::constant">:$mode);
  let results = (outs NN_Tensor4D:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Value":$input, "::llvm::ArrayRef<int64_t>":$pads,
      "float":$value, "::mcutrain::nn::PadMode":$mode)>];
  let hasVerifier = 1;
}

def NN_ReduceSumToOp : NN_ForwardOp<"reduce_sum_to"> {
  let summary = "scale * sum of the input over the dims broadcast to it from the result shape";
  let description = [{
    The adjoint of numpy broadcasting: the result shape broadcasts to the
    input shape; every input element is added into the result element it was
    broadcast from. Also the forward ReduceSum / ReduceMean (scale 1/count)
    with kept dims; its adjoint is nn.broadcast_to.
  }];
  let arguments = (ins NN_F32Tensor:$input,
                   DefaultValuedAttr<F32Attr, "1.0f">:$scale);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_BroadcastToOp : NN_ForwardOp<"broadcast_to"> {
  let summary = "scale * the input broadcast (numpy rules) to the result shape";
  let description = [{
    ONNX Expand, and the adjoint of nn.reduce_sum_to (whose adjoint it has in
    turn).
  }];
  let arguments = (ins NN_F32Tensor:$input,
                   DefaultValuedAttr<F32Attr, "1.0f">:$scale);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_SliceOp : NN_ForwardOp<"slice"> {
  let summary = "out[i] = in[offsets + i * strides] (ONNX Slice and Split)";
  let description = [{
    Also the adjoint of constant nn.pad2d and of nn.concat. `strides` are
    non-zero (negative: backwards from the offset; empty: all 1); its
    adjoint is nn.slice_grad.
  }];
  let arguments = (ins NN_Tensor:$input, DenseI64ArrayAttr:$offsets,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{}">:$strides);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let builders = [OpBuilder<(ins "::mlir::Type":$output, "::mlir::Value":$input,
      "::mlir::DenseI64ArrayAttr":$offsets), [{
    build($_builder, $_state, output, input, offsets,
          $_builder.getDenseI64ArrayAttr({}));
  }]>];
  let hasVerifier = 1;
}

def NN_GatherOp : NN_ForwardOp<"gather"> {
  let summary = "Slices of `data` along `axis` at run-time indices (ONNX Gather: an embedding lookup)";
  let description = [{
    result[a..., i..., b...] = data[a..., indices[i...], b...] (the result
    shape is data's before `axis`, then the indices' shape, then data's
    after it). A negative index counts from the end, as in ONNX; an index
    outside [-n, n) (undefined in ONNX) is clamped into range, so no read
    leaves the tensor. The indices do not train; data's gradient is
    nn.gather_grad (each selected slice's dy added back where it came
    from: an embedding table's rows that were looked up).
  }];
  let arguments = (ins NN_Tensor:$data, RankedTensorOf<[I32, I64]>:$indices,
                   I64Attr:$axis);
  let results = (outs NN_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gradient ops (built by derive-backward)
//===----------------------------------------------------------------------===//

def NN_Conv2dGradInputOp : NN_GradOp<"conv2d_grad_input"> {
  let summary = "Gradient of conv2d w.r.t. its input (a transposed convolution)";
  let arguments = (ins NN_F32Tensor4D:$output_grad, NN_F32Tensor4D:$weight,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $weight attr-dict `:` functional-type(operands, results)
  }];
}

def NN_Conv2dGradWeightOp : NN_GradOp<"conv2d_grad_weight"> {
  let summary = "Gradient of conv2d w.r.t. its weight";
  let arguments = (ins NN_F32Tensor4D:$output_grad, NN_F32Tensor4D:$input,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group);
  let results = (outs NN_F32Tensor4D:$weight_grad);
  let assemblyFormat = [{
    $output_grad `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def NN_SliceGradOp : NN_GradOp<"slice_grad"> {
  let summary = "Adjoint of nn.slice: zeros with in[i] at offsets + i * strides";
  let arguments = (ins NN_F32Tensor:$output_grad, DenseI64ArrayAttr:$offsets,
                   DenseI64ArrayAttr:$strides);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad attr-dict `:` functional-type(operands, results)
  }];
}

def NN_GatherGradOp : NN_GradOp<"gather_grad"> {
  let summary = "Adjoint of nn.gather: zeros with each slice of dy added at its index";
  let description = [{
    Repeated indices add up (an embedding row looked up twice gets both
    gradients); indices are read as nn.gather reads them (negative from
    the end, clamped).
  }];
  let arguments = (ins NN_F32Tensor:$output_grad, RankedTensorOf<[I32, I64]>:$indices,
                   I64Attr:$axis);
  let results = (outs NN_F32Tensor:$data_grad);
  let assemblyFormat = [{
    $output_grad `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_RowIndicesOp : NN_GradOp<"row_indices"> {
  let summary = "The rows nn.gather reads for `indices` along a dimension of `extent`, as an int32 list";
  let description = [{
    Flattened, negative ones counted from the end and all clamped into
    [0, extent), as nn.gather reads them: the channel list of an
    embedding table's sparse row update (sparse-embedding-updates).
  }];
  let arguments = (ins RankedTensorOf<[I32, I64]>:$indices, I64Attr:$extent);
  let results = (outs 1DTensorOf<[I32]>:$rows);
  let assemblyFormat = [{
    $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_PowGradOp : NN_GradOp<"pow_grad"> {
  let summary = "A term of nn.pow's adjoint, at the (broadcast) result shape";
  let description = [{
    Without `exponent`: dy * e * b^(e - 1) (the base's gradient); with it:
    dy * b^e * log(b), 0 where b is 0 (as torch, which masks the NaN of
    0 * log 0). The caller sums it to the operand's shape.
  }];
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$base,
                   NN_F32Tensor:$exponent, UnitAttr:$wrt_exponent);
  let results = (outs NN_F32Tensor:$term);
  let assemblyFormat = [{
    $output_grad `,` $base `,` $exponent attr-dict `:` functional-type(operands, results)
  }];
}

def NN_SelectGradOp : NN_GradOp<"select_grad"> {
  let summary = "The share of dy an operand of nn.max / nn.min receives";
  let description = [{
    At the (broadcast) result shape: dy where the operand (`lhs`, or `rhs`
    with `wrt_rhs`) was the one picked, dy / 2 where both were equal (as
    torch's maximum and minimum split it), 0 elsewhere. `is_min` for
    nn.min. The caller sums it to the operand's shape.
  }];
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$lhs,
                   NN_F32Tensor:$rhs, UnitAttr:$is_min, UnitAttr:$wrt_rhs);
  let results = (outs NN_F32Tensor:$term);
  let assemblyFormat = [{
    $output_grad `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

def NN_WhereGradOp : NN_GradOp<"where_grad"> {
  let summary = "dy where the branch was chosen (`rhs`: where the condition is false), else 0";
  let arguments = (ins NN_F32Tensor:$output_grad, TensorOf<[I1]>:$condition,
                   UnitAttr:$rhs);
  let results = (outs NN_F32Tensor:$term);
  let assemblyFormat = [{
    $output_grad `,` $condition attr-dict `:` functional-type(operands, results)
  }];
}

def NN_ActivationGradOp : NN_GradOp<"activation_grad", [SameOperandsAndResultType]> {
  let summary = "Gradient of nn.activation from its input and output";
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$input,
                   NN_F32Tensor:$output, NN_ActivationKindAttr:$kind,
                   DefaultValuedAttr<F32Attr, "0.0f">:$alpha,
                   DefaultValuedAttr<F32Attr, "0.0f">:$beta);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    `` $kind $output_grad `,` $input `,` $output attr-dict `:` type($input_grad)
  }];
  let extraClassDeclaration = [{
    /// The one forward tensor the gradient is computed from: the output
    /// (clip, sigmoid, tanh, sqrt) or the input (the other kinds), so that
    /// the other need not be kept for the backward pass.
    ::mlir::Value getReadTensor();
  }];
}

def NN_SoftmaxGradOp : NN_GradOp<"softmax_grad", [SameOperandsAndResultType]> {
  let summary = "Gradient of nn.softmax from its output";
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$output,
                   I64Attr:$axis, DefaultValuedAttr<BoolAttr, "false">:$log);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $output attr-dict `:` type($input_grad)
  }];
}

def NN_ReluGradOp : NN_GradOp<"relu_grad", [SameOperandsAndResultType]> {
  let summary = "output_grad where output > 0, else 0";
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$output);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $output attr-dict `:` type($input_grad)
  }];
}

def NN_PReluGradInputOp : NN_GradOp<"prelu_grad_input"> {
  let summary = "output_grad where input > 0, else slope * output_grad";
  let description = [{
    The gradient of nn.prelu with respect to its input (PyTorch's: the
    slope's side at input = 0); `slope` broadcasts as in the forward op.
  }];
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$input,
                   NN_F32Tensor:$slope);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $input `,` $slope attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_MaxPool2dGradOp : NN_GradOp<"max_pool2d_grad"> {
  let summary = "Routes each output gradient to the first maximum of its window";
  let arguments = (ins NN_F32Tensor4D:$output_grad, NN_Tensor4D:$input,
                   DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
                   UnitAttr:$is_unsigned);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Compact saved state (built by pack-masks): a gradient that needs only a
// predicate of a forward tensor reads the predicate's bits, packed 32 to an
// i32 word (bit i % 32 of word i / 32 for the i-th element in row-major
// order), not the tensor.
//===----------------------------------------------------------------------===//

def NN_PackMaskOp : NN_GradOp<"pack_mask"> {
  let summary = "Bit i: lo < x[i] (when lo is set) and x[i] < hi (when hi is set)";
  let description = [{
    The comparisons of the gradient it replaces, made once in the forward
    pass: float inputs compare ordered (NaN sets no bit), integer inputs
    (an int8 layer's output) as `is_unsigned` says, against the bounds
    converted to integers. With `quant_type` (per tensor; no bounds) the
    bit is nn.quantize_grad's test instead: round(x / scale) + zero lies
    in the storage range.
  }];
  let arguments = (ins RankedTensorOf<[F32, I8]>:$input,
                   OptionalAttr<F64Attr>:$lo, OptionalAttr<F64Attr>:$hi,
                   UnitAttr:$is_unsigned, OptionalAttr<TypeAttr>:$quant_type);
  let results = (outs 1DTensorOf<[I32]>:$mask);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_MaxPool2dMaskOp : NN_GradOp<"max_pool2d_mask"> {
  let summary = "Per output window: the position of its first maximum, in a few bits";
  let description = [{
    For disjoint windows (stride >= kernel, dilation 1) each input element
    lies in at most one window, and nn.max_pool2d_grad routes a window's
    gradient to its first maximum: the window's position kh * KW + kw is
    all the routing needs. One field of `fieldBits(kernel)` bits (1, 2, 4
    or 8: enough for KH * KW positions) per output element, row-major,
    32 / fieldBits fields to an i32 word (field i at bits (i % n) * bits of
    word i / n): 2x2 pooling keeps half a bit per input element.
  }];
  let arguments = (ins NN_Tensor4D:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$output_shape, UnitAttr:$is_unsigned);
  let results = (outs 1DTensorOf<[I32]>:$mask);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Bits per window position: the least of 1, 2, 4, 8 holding
    /// KH * KW values (0 if more than 256).
    static int64_t fieldBits(::llvm::ArrayRef<int64_t> kernel);
  }];
  let hasVerifier = 1;
}

def NN_MaskedGradOp : NN_GradOp<"masked_grad"> {
  let summary = "output_grad where the mask bit is set, else 0 (or off_slope * output_grad)";
  let arguments = (ins NN_F32Tensor:$output_grad, 1DTensorOf<[I32]>:$mask,
                   OptionalAttr<F32Attr>:$off_slope);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $mask attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_MaxPool2dMaskedGradOp : NN_GradOp<"max_pool2d_masked_grad"> {
  let summary = "nn.max_pool2d_grad of disjoint windows from nn.max_pool2d_mask's positions";
  let arguments = (ins NN_F32Tensor4D:$output_grad, 1DTensorOf<[I32]>:$mask,
                   DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $mask attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gradients of the int8 ops: float32 in real units, read from the integer
// tensors and their scales (no float copy of an integer tensor).
//===----------------------------------------------------------------------===//

def NN_QuantizeGradOp : NN_GradOp<"quantize_grad"> {
  let summary = "output_grad where round(x / scale) + zero lies in the storage range";
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$input,
                   TypeAttr:$quant_type);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def NN_QOutputGradOp : NN_GradOp<"qoutput_grad"> {
  let summary = "output_grad where output_min < y < output_max (an int8 layer's clamp)";
  let description = [{
    The gradient through an int8 layer's requantization and clamp, from its
    int8 result y alone: it passes where y lies strictly inside
    [`output_min`, `output_max`] (the layer's fused ReLU/Clip narrowed to
    the storage range of `output_type`), as PyTorch's ReLU, Hardtanh and
    saturating fake quantization pass none at their bounds.
  }];
  let arguments = (ins NN_F32Tensor:$output_grad, RankedTensorOf<[I8]>:$output,
                   TypeAttr:$output_type, I64Attr:$output_min,
                   I64Attr:$output_max);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $output attr-dict `:` functional-type(operands, results)
  }];
}

def NN_QConv2dGradInputOp : NN_GradOp<"qconv2d_grad_input"> {
  let summary = "Input gradient of nn.qconv2d from its int8 weight";
  let description = [{
    dx[n,c,h,w] = sum over the outputs that read x[n,c,h,w] of
    dy[n,f,i,j] * w_scale[f] * (w[f,c',kh,kw] - w_zero[f]).
  }];
  let arguments = (ins NN_F32Tensor4D:$output_grad, 4DTensorOf<[I8]>:$weight,
                   TypeAttr:$weight_type, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $weight attr-dict `:` functional-type(operands, results)
  }];
}

def NN_QConv2dGradWeightOp : NN_GradOp<"qconv2d_grad_weight"> {
  let summary = "Weight gradient of nn.qconv2d from its int8 input";
  let description = [{
    dw[f,c,kh,kw] = x_scale * sum over n, i, j of dy[n,f,i,j] *
    (x[n,c'',i*s+kh*d-p,j*s+kw*d-p] - x_zero), taps in the padding left out.
  }];
  let arguments = (ins NN_F32Tensor4D:$output_grad, 4DTensorOf<[I8]>:$input,
                   TypeAttr:$input_type, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group);
  let results = (outs NN_F32Tensor4D:$weight_grad);
  let assemblyFormat = [{
    $output_grad `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def NN_QGemmGradAOp : NN_GradOp<"qgemm_grad_a"> {
  let summary = "Input gradient of nn.qgemm from its int8 weight";
  let description = [{
    da[m,k] = sum over n of dy[m,n] * w_scale[n] * (b[k,n] - w_zero[n])
    (b[n,k] with `trans_b`).
  }];
  let arguments = (ins NN_F32Tensor2D:$output_grad, 2DTensorOf<[I8]>:$b,
                   TypeAttr:$weight_type,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_b);
  let results = (outs NN_F32Tensor2D:$a_grad);
  let assemblyFormat = [{
    $output_grad `,` $b attr-dict `:` functional-type(operands, results)
  }];
}

def NN_QGemmGradBOp : NN_GradOp<"qgemm_grad_b"> {
  let summary = "Weight gradient of nn.qgemm from its int8 input";
  let description = [{
    db[k,n] (db[n,k] with `trans_b`) = x_scale * sum over m of dy[m,n] *
    (a[m,k] - x_zero).
  }];
  let arguments = (ins NN_F32Tensor2D:$output_grad, 2DTensorOf<[I8]>:$a,
                   TypeAttr:$input_type,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_b);
  let results = (outs NN_F32Tensor2D:$b_grad);
  let assemblyFormat = [{
    $output_grad `,` $a attr-dict `:` functional-type(operands, results)
  }];
}

def NN_Pad2dGradOp : NN_GradOp<"pad2d_grad"> {
  let summary = "Gradient of edge/reflect nn.pad2d: folds the padding back";
  let description = [{
    Every output gradient is added to the input element its value was copied
    from (the border for edge, the mirrored element for reflect).
  }];
  let arguments = (ins NN_F32Tensor4D:$output_grad, DenseI64ArrayAttr:$pads,
                   NN_PadModeAttr:$mode);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad attr-dict `:` functional-type(operands, results)
  }];
}

def NN_AvgPool2dGradOp : NN_GradOp<"avg_pool2d_grad"> {
  let summary = "Spreads each output gradient evenly over its window";
  let arguments = (ins NN_F32Tensor4D:$output_grad, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad attr-dict `:` functional-type(operands, results)
  }];
}

#endif
