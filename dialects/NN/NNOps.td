#ifndef MCUTRAIN_NN_OPS_TD
#define MCUTRAIN_NN_OPS_TD

include "dialects/NN/NNBase.td"
include "dialects/NN/NNInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def NN_F32Tensor : RankedTensorOf<[F32]>;
def NN_F32Tensor4D : 4DTensorOf<[F32]>;
def NN_F32Tensor2D : 2DTensorOf<[F32]>;

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
                   DenseI64ArrayAttr:$dilations);
  let results = (outs NN_F32Tensor4D:$output);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
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
  let hasVerifier = 1;
}

def NN_AddOp : NN_ForwardOp<"add"> {
  let summary = "Elementwise addition with numpy broadcasting";
  let arguments = (ins NN_F32Tensor:$lhs, NN_F32Tensor:$rhs);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_ReluOp : NN_ForwardOp<"relu", [SameOperandsAndResultType]> {
  let summary = "max(x, 0)";
  let arguments = (ins NN_F32Tensor:$input);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

class NN_Pool2dForward<string mnemonic> : NN_ForwardOp<mnemonic> {
  let arguments = (ins NN_F32Tensor4D:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
  let results = (outs NN_F32Tensor4D:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_MaxPool2dOp : NN_Pool2dForward<"max_pool2d"> {
  let summary = "2-D max pooling (ONNX MaxPool); count_include_pad unused";
}

def NN_AvgPool2dOp : NN_Pool2dForward<"avg_pool2d"> {
  let summary = "2-D average pooling (ONNX AveragePool, GlobalAveragePool)";
}

def NN_ReshapeOp : NN_ForwardOp<"reshape"> {
  let summary = "Same elements, new static shape (ONNX Reshape, Flatten)";
  let arguments = (ins NN_F32Tensor:$input);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_Pad2dOp : NN_ForwardOp<"pad2d"> {
  let summary = "Constant padding of the two spatial dims (ONNX Pad, constant mode)";
  let arguments = (ins NN_F32Tensor4D:$input, DenseI64ArrayAttr:$pads,
                   DefaultValuedAttr<F32Attr, "0.0f">:$value);
  let results = (outs NN_F32Tensor4D:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
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
                   DenseI64ArrayAttr:$dilations);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $weight attr-dict `:` functional-type(operands, results)
  }];
}

def NN_Conv2dGradWeightOp : NN_GradOp<"conv2d_grad_weight"> {
  let summary = "Gradient of conv2d w.r.t. its weight";
  let arguments = (ins NN_F32Tensor4D:$output_grad, NN_F32Tensor4D:$input,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations);
  let results = (outs NN_F32Tensor4D:$weight_grad);
  let assemblyFormat = [{
    $output_grad `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def NN_ReduceSumToOp : NN_GradOp<"reduce_sum_to"> {
  let summary = "scale * sum of the input over the dims broadcast to it from the result shape";
  let description = [{
    The adjoint of numpy broadcasting: the result shape broadcasts to the
    input shape; every input element is added into the result element it was
    broadcast from.
  }];
  let arguments = (ins NN_F32Tensor:$input,
                   DefaultValuedAttr<F32Attr, "1.0f">:$scale);
  let results = (outs NN_F32Tensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_Crop2dOp : NN_GradOp<"crop2d"> {
  let summary = "out[n,c,h,w] = in[n,c,h+offsets[0],w+offsets[1]] (adjoint of pad2d)";
  let arguments = (ins NN_F32Tensor4D:$input, DenseI64ArrayAttr:$offsets);
  let results = (outs NN_F32Tensor4D:$output);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def NN_ReluGradOp : NN_GradOp<"relu_grad", [SameOperandsAndResultType]> {
  let summary = "output_grad where output > 0, else 0";
  let arguments = (ins NN_F32Tensor:$output_grad, NN_F32Tensor:$output);
  let results = (outs NN_F32Tensor:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $output attr-dict `:` type($input_grad)
  }];
}

def NN_MaxPool2dGradOp : NN_GradOp<"max_pool2d_grad"> {
  let summary = "Routes each output gradient to the first maximum of its window";
  let arguments = (ins NN_F32Tensor4D:$output_grad, NN_F32Tensor4D:$input,
                   DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads);
  let results = (outs NN_F32Tensor4D:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $input attr-dict `:` functional-type(operands, results)
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
