#ifndef MCUTRAIN_TRAIN_OPS_TD
#define MCUTRAIN_TRAIN_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "dialects/NN/NNInterfaces.td"

def Train_Dialect : Dialect {
  let name = "train";
  let summary = "Structure of a training step: losses, optimizer updates, sparsity";
  let description = [{
    derive-backward builds a `train_step` function from `forward` with these
    ops: the loss and its gradient seed, and one optimizer update per
    trainable parameter (an `ml_program.global`). The sparsity ops that decide
    at run time which rows/channels train join this dialect with the sparse
    update work.
  }];
  let cppNamespace = "::mcutrain::train";
  let useDefaultAttributePrinterParser = 1;
}

include "dialects/Train/TrainAttrs.td"

class Train_Op<string mnemonic, list<Trait> traits = []>
    : Op<Train_Dialect, mnemonic, traits>;

def Train_CrossEntropyLossOp : Train_Op<"cross_entropy_loss",
    [Pure, DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "Mean over the batch of softmax cross-entropy with integer labels";
  let arguments = (ins 2DTensorOf<[F32]>:$logits, 1DTensorOf<[I32]>:$labels);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_CrossEntropyLossGradOp : Train_Op<"cross_entropy_loss_grad",
    [Pure, DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "d(mean cross-entropy)/d(logits) = (softmax - onehot) / batch";
  let arguments = (ins 2DTensorOf<[F32]>:$logits, 1DTensorOf<[I32]>:$labels);
  let results = (outs 2DTensorOf<[F32]>:$logits_grad);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` functional-type(operands, results)
  }];
}

def Train_MseLossOp : Train_Op<"mse_loss",
    [Pure, DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "Mean over all elements of (prediction - target)^2";
  let arguments = (ins RankedTensorOf<[F32]>:$prediction,
                   RankedTensorOf<[F32]>:$target);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $prediction `,` $target attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_MseLossGradOp : Train_Op<"mse_loss_grad",
    [Pure, DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "d(mean squared error)/d(prediction) = 2 (prediction - target) / size";
  let arguments = (ins RankedTensorOf<[F32]>:$prediction,
                   RankedTensorOf<[F32]>:$target);
  let results = (outs RankedTensorOf<[F32]>:$prediction_grad);
  let assemblyFormat = [{
    $prediction `,` $target attr-dict `:` functional-type(operands, results)
  }];
}

def Train_UpdateOp : Train_Op<"update", [AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "One optimizer step on an ml_program.global parameter, in place";
  let description = [{
    The optimizer attribute holds the rule and its hyperparameters: sgd
    (p -= lr * g), momentum and nesterov (PyTorch SGD with momentum and
    dampening: v = momentum * v + (1 - dampening) * g, with no dampening on
    the first step; ONNX Momentum with beta = 1 - dampening), adam (with
    bias correction), adagrad (PyTorch Adagrad with lr_decay, which is ONNX
    Adagrad's decay_factor). weight_decay adds weight_decay * p to the
    gradient (L2, as torch.optim and ONNX's norm_coefficient). adam_form:
    pytorch (torch.optim.Adam: p -= lr * m_hat / (sqrt(v_hat) + eps),
    corrections 1 - beta^t) or onnx (ONNX Adam: p -= lr * sqrt(1 -
    beta2^T) / (1 - beta1^T) * m / (sqrt(v) + eps) with T = t - 1 previous
    steps, and no correction when T = 0). State buffers (momentum, Adam's moments,
    Adagrad's sum) are globals named `<param>__state<i>` that
    lower-to-linalg creates; the learning rate and step count are run-time
    globals. Every read of the parameter's old value in the step must come
    before this op (reorder-updates places it right after the last one).
    With `channels` (sparse updates), the gradient covers only those indices
    of the parameter's dimension `channel_axis`; the other slices of the
    parameter and its state are not touched.
    With `outer` (fuse-outer-product-updates: a batch-1 Linear layer's
    weight, or a 1 x 1 convolution's [M, N, 1, 1] on a 1 x 1 image), the
    gradient is the outer product of `grad` (1 x M) and `outer`
    (1 x N), g[i][j] = grad[0][i] * outer[0][j], computed where it is used:
    it is never stored, and its finiteness follows from the factors'.
    With K > 1 rows (a rank-K gradient: a batch-K Linear layer, a 1 x 1
    convolution on a K-pixel plane; plain SGD), g[i][j] = sum over k of
    grad[k][i] * outer[k][j], summed in k order; such an update is dense
    and float (no `channels`, no `weight_type`).
    With both `outer` and `channels`, N counts the selected channels (the
    outer factor is the layer's input at those channels). With `outer`
    and no `channels`, the op may also yield `input_grad` = grad P (1 x N)
    from the parameter's old value (fuse-input-grad-into-updates: the
    layer's input gradient, computed in the same pass over the weight),
    also when a non-finite gradient drops the update.
    With `weight_type` (int8 training, TTE's scheme), the parameter is an
    8-bit global holding the integers q of that !quant.uniform type (per
    tensor, or per output channel along dimension 0), updated in place;
    `grad` is the gradient in real units. The rule runs in integer units:
    on grad / scale (quantization-aware scaling: the integer weight's
    gradient, scale * grad, divided by scale^2), or with `qas_off` on
    scale * grad, with p = q - zero_point (also what weight decay sees);
    the new q is the result rounded to nearest, ties to even, plus the zero
    point, saturated to the storage range. State buffers stay float32.
  }];
  let arguments = (ins FlatSymbolRefAttr:$param, RankedTensorOf<[F32]>:$grad,
                   Train_OptimizerAttr:$optimizer,
                   Optional<1DTensorOf<[I32]>>:$channels,
                   DefaultValuedAttr<I64Attr, "1">:$channel_axis,
                   Optional<RankedTensorOf<[F32]>>:$outer,
                   OptionalAttr<TypeAttr>:$weight_type, UnitAttr:$qas_off);
  let results = (outs Optional<RankedTensorOf<[F32]>>:$input_grad);
  let assemblyFormat = [{
    $param `,` $grad (`channels` `(` $channels^ `:` type($channels) `)`)?
    (`outer` `(` $outer^ `:` type($outer) `)`)? $optimizer
    attr-dict `:` type($grad) (`->` type($input_grad)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// How many state buffers (shaped like the parameter) the optimizer keeps.
    unsigned getNumStateBuffers() {
      return getOptimizer().getNumStateBuffers();
    }
    /// The gradient's shape: `grad`'s, or with `outer` M x N.
    llvm::SmallVector<int64_t> getGradShape();
    /// With `outer`, the gradient's rank K (the factors' rows); else 0.
    int64_t getRank();
    /// Symbol of state buffer `i` of parameter `param`.
    static std::string stateName(llvm::StringRef param, unsigned i) {
      return (param + "__state" + llvm::Twine(i)).str();
    }
  }];
}

def Train_DgsuSelectOp : Train_Op<"dgsu_select", []> {
  let summary = "DGSU's input channels for this iteration, chosen at run time";
  let description = [{
    Calls the runtime's mcutrain::dgsu_select on the layer's state globals
    (age: i16 per channel, importance: f32 per channel, selection: i32 x m,
    scratch: i32 per channel) and yields the selection: ceil(ratio x C)
    channels, every channel at least once per ceil(C / m) iterations, the
    free slots by importance.
  }];
  let arguments = (ins FlatSymbolRefAttr:$age, FlatSymbolRefAttr:$importance,
                   FlatSymbolRefAttr:$selection, FlatSymbolRefAttr:$scratch,
                   F32Attr:$ratio);
  let results = (outs 1DTensorOf<[I32]>:$channels);
  let assemblyFormat = [{
    attr-dict `:` type($channels)
  }];
}

def Train_DgsuImportanceOp : Train_Op<"dgsu_importance", []> {
  let summary = "Updates DGSU's channel importance from a layer's input and weight";
  let description = [{
    importance[c] = decay * importance[c] + (1 - decay) * mean|input[:, c]|
    * ||weight along weight_axis = c||: how much channel c contributes to the
    layer's output, smoothed over iterations. An int8 input or weight (an
    int8 layer's) has its !quant.uniform type in `input_type` /
    `weight_type` and enters in real units, (q - zero) * scale, read
    element by element.
  }];
  let arguments = (ins RankedTensorOf<[F32, I8]>:$input,
                   RankedTensorOf<[F32, I8]>:$weight,
                   FlatSymbolRefAttr:$importance, I64Attr:$weight_axis,
                   F32Attr:$decay, OptionalAttr<TypeAttr>:$input_type,
                   OptionalAttr<TypeAttr>:$weight_type);
  let hasVerifier = 1;
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
}

def Train_FiniteGuardOp : Train_Op<"finite_guard", []> {
  let summary = "Skips the step's backward pass and updates when the loss is not finite";
  let description = [{
    Right after the loss: sets `mcutrain_skip_step` to 1 if the loss is NaN
    or infinite, else 0 (the step's first skip decision; TinyPropv2 may
    only add to it). guard-backward puts the backward pass under it, so a
    sample whose loss overflows touches no weight.
  }];
  let arguments = (ins 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $loss attr-dict `:` type($loss)
  }];
}

def Train_RuntimeCallOp : Train_Op<"runtime_call"> {
  let summary = "A call into mcutrain_runtime.h from the generated code (memref level)";
  let description = [{
    Memrefs are passed as pointers to their first element. After memory
    planning a buffer argument is the arena itself, and `arena_offsets`
    (one entry per argument) says at which element the buffer starts.
    A call may return a scalar (e.g. `mcutrain::all_finite`'s i1). The
    callee is a runtime function (#train.runtime_function) or a kernel
    (#train.kernel). `arena_names` (one entry per argument, empty where
    not a planned buffer) names each buffer's pointer in the generated C++.
  }];
  let extraClassDeclaration = [{
    /// The C++ function called: `mcutrain::<function>` or the kernel's.
    std::string getCalleeName();
  }];
  let arguments = (ins AnyAttrOf<[Train_RuntimeFunctionAttr,
                                  Train_KernelAttr]>:$callee,
                   Variadic<AnyType>:$args,
                   OptionalAttr<DenseI64ArrayAttr>:$arena_offsets,
                   OptionalAttr<StrArrayAttr>:$arena_names);
  let results = (outs Optional<AnySignlessIntegerOrIndex>:$result);
  let assemblyFormat = [{
    $callee `(` $args `)` attr-dict `:` type($args) (`->` type($result)^)?
  }];
}

def Train_GatherChannelsOp : Train_Op<"gather_channels",
    [Pure, DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let summary = "The slices of `input` at `indices` along `axis` (sparse updates' saved features)";
  let description = [{
    What a sparse update saves for the backward pass: only the input
    channels whose weights train (static selection by weight norm, or DGSU's
    per-iteration choice); an int8 layer's input stays int8. Not
    differentiable: it feeds weight gradients.
  }];
  let arguments = (ins RankedTensorOf<[F32, I8]>:$input,
                   1DTensorOf<[I32]>:$indices, I64Attr:$axis);
  let results = (outs RankedTensorOf<[F32, I8]>:$output);
  let assemblyFormat = [{
    $input `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// TinyProp: run-time top-k error selection and the gradients that use it
//===----------------------------------------------------------------------===//

def Train_TopkErrorOp : Train_Op<"topk_error", [
    AllTypesMatch<["error", "kept"]>]> {
  let summary = "TinyProp: keeps a layer's k largest output errors, k chosen at run time";
  let description = [{
    Calls the runtime's mcutrain::tinyprop_select on the error (one sample):
    local error y = sum |error|, running maximum in
    `mcutrain_tinyprop_ymax[layer]`, backprop ratio (s_min + y (s_max -
    s_min) / ymax) zeta^depth, k = clamp(round(n ratio), 1, kmax) with kmax
    the size of `indices` (the worst case the planner sizes buffers for).
    `kept` is the error with all but those k elements zeroed (in place when
    the error has no other use), `indices` their flat indices (ascending),
    `count` holds k. With tau > 0 (TinyPropv2, on the output layer) the op
    first decides whether the step's backward pass is skipped
    (`mcutrain_skip_step`); guard-backward puts the rest of the backward
    pass under that decision.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$error, I64Attr:$layer,
                   I64Attr:$depth, F32Attr:$s_min, F32Attr:$s_max,
                   F32Attr:$zeta, DefaultValuedAttr<F32Attr, "0.0f">:$tau);
  let results = (outs RankedTensorOf<[F32]>:$kept, 1DTensorOf<[I32]>:$indices,
                 1DTensorOf<[I32]>:$count);
  let assemblyFormat = [{
    $error attr-dict `:` type($error) `->` type($indices) `,` type($count)
  }];
  let builders = [
    OpBuilder<(ins "mlir::Value":$error, "int64_t":$kmax, "int64_t":$layer,
                   "int64_t":$depth, "float":$s_min, "float":$s_max,
                   "float":$zeta, "float":$tau)>
  ];
  let hasVerifier = 1;
}

class Train_SparseConvGradOp<string mnemonic> : Train_Op<mnemonic, [
    DeclareOpInterfaceMethods<MacCountOpInterface>]> {
  let extraClassDeclaration = [{
    /// MACs per selected output element (the MAC count is the worst case,
    /// kmax of them; the generated code adds the real count to
    /// mcutrain_dynamic_macs).
    int64_t getMacsPerElement();
    /// MACs of the dense gradient (every output element).
    int64_t getDenseMacs();
  }];
  let hasVerifier = 1;
}

def Train_SparseConv2dGradWeightOp
    : Train_SparseConvGradOp<"sparse_conv2d_grad_weight"> {
  let summary = "conv2d weight gradient from the selected output errors only";
  let description = [{
    Like nn.conv2d_grad_weight for a batch of one, but the loops run over
    the `count[0]` output elements listed in `indices` (flat indices into
    output_grad) instead of all of them: the cost scales with k. An int8
    input (an int8 layer's) has its per-tensor !quant.uniform type in
    `quant_type` and is read in real units, (q - zero) * scale.
  }];
  let arguments = (ins 4DTensorOf<[F32]>:$output_grad,
                   4DTensorOf<[F32, I8]>:$input, 1DTensorOf<[I32]>:$indices,
                   1DTensorOf<[I32]>:$count, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group,
                   OptionalAttr<TypeAttr>:$quant_type);
  let results = (outs 4DTensorOf<[F32]>:$weight_grad);
  let assemblyFormat = [{
    $output_grad `,` $input `,` $indices `,` $count attr-dict `:`
    functional-type(operands, results)
  }];
}

def Train_SparseConv2dGradInputOp
    : Train_SparseConvGradOp<"sparse_conv2d_grad_input"> {
  let summary = "conv2d input gradient from the selected output errors only";
  let description = [{
    Like nn.conv2d_grad_input for a batch of one, but only the `count[0]`
    output elements listed in `indices` scatter their error (times the
    weights) back to the input. An int8 weight has its !quant.uniform type
    (per tensor or per output channel) in `quant_type` and is read in real
    units.
  }];
  let arguments = (ins 4DTensorOf<[F32]>:$output_grad,
                   4DTensorOf<[F32, I8]>:$weight, 1DTensorOf<[I32]>:$indices,
                   1DTensorOf<[I32]>:$count, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group,
                   OptionalAttr<TypeAttr>:$quant_type);
  let results = (outs 4DTensorOf<[F32]>:$input_grad);
  let assemblyFormat = [{
    $output_grad `,` $weight `,` $indices `,` $count attr-dict `:`
    functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Buffer forms: what the tensor ops above bufferize into (destination-passing
// style: memref operands, the results' buffers as operands). Their
// bufferization only swaps tensors for memrefs; lower-train-buffers then
// expands each into loops, linalg ops and runtime calls.
//===----------------------------------------------------------------------===//

class Train_BufferOp<string mnemonic, list<Trait> traits = []>
    : Train_Op<"buffer." # mnemonic, traits>;

def Train_BufferUpdateOp : Train_BufferOp<"update", [AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "train.update on buffers";
  let description = [{
    The optimizer step of train.update on the memref.global `param` (and its
    state buffers), from the gradient buffer; `input_grad` is the buffer
    the step writes grad P into (fuse-input-grad-into-updates).
  }];
  let arguments = (ins FlatSymbolRefAttr:$param, MemRefOf<[F32]>:$grad,
                   Train_OptimizerAttr:$optimizer,
                   Optional<MemRefOf<[I32]>>:$channels,
                   DefaultValuedAttr<I64Attr, "1">:$channel_axis,
                   Optional<MemRefOf<[F32]>>:$outer,
                   Optional<MemRefOf<[F32]>>:$input_grad,
                   OptionalAttr<TypeAttr>:$weight_type, UnitAttr:$qas_off);
  let assemblyFormat = [{
    $param `,` $grad (`channels` `(` $channels^ `:` type($channels) `)`)?
    (`outer` `(` $outer^ `:` type($outer) `)`)?
    (`input_grad` `(` $input_grad^ `:` type($input_grad) `)`)? $optimizer
    attr-dict `:` type($grad)
  }];
  let extraClassDeclaration = [{
    /// The gradient's shape: `grad`'s, or with `outer` M x N.
    llvm::SmallVector<int64_t> getGradShape();
    /// With `outer`, the gradient's rank K (the factors' rows); else 0.
    int64_t getRank();
  }];
}

def Train_BufferSparseConv2dGradWeightOp
    : Train_BufferOp<"sparse_conv2d_grad_weight"> {
  let summary = "train.sparse_conv2d_grad_weight on buffers";
  let arguments = (ins MemRefOf<[F32]>:$output_grad,
                   MemRefOf<[F32, I8]>:$input, MemRefOf<[I32]>:$indices,
                   MemRefOf<[I32]>:$count,
                   MemRefOf<[F32]>:$weight_grad, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group,
                   OptionalAttr<TypeAttr>:$quant_type);
  let assemblyFormat = [{
    $output_grad `,` $input `,` $indices `,` $count `into` $weight_grad
    attr-dict `:` type(operands)
  }];
}

def Train_BufferSparseConv2dGradInputOp
    : Train_BufferOp<"sparse_conv2d_grad_input"> {
  let summary = "train.sparse_conv2d_grad_input on buffers";
  let arguments = (ins MemRefOf<[F32]>:$output_grad,
                   MemRefOf<[F32, I8]>:$weight, MemRefOf<[I32]>:$indices,
                   MemRefOf<[I32]>:$count,
                   MemRefOf<[F32]>:$input_grad, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations,
                   DefaultValuedAttr<I64Attr, "1">:$group,
                   OptionalAttr<TypeAttr>:$quant_type);
  let assemblyFormat = [{
    $output_grad `,` $weight `,` $indices `,` $count `into` $input_grad
    attr-dict `:` type(operands)
  }];
}

def Train_BufferTopkErrorOp : Train_BufferOp<"topk_error"> {
  let summary = "train.topk_error on buffers: zeroes the error in place";
  let description = [{
    The run-time state it reads and writes is given as buffers: the running
    maxima (ymax), the ratios it reports, the step's skip flag.
  }];
  let arguments = (ins MemRefOf<[F32]>:$error, MemRefOf<[F32]>:$ymax,
                   MemRefOf<[F32]>:$ratios, MemRefOf<[I32]>:$skip,
                   MemRefOf<[I32]>:$indices, MemRefOf<[I32]>:$count,
                   I64Attr:$layer, I64Attr:$depth, F32Attr:$s_min,
                   F32Attr:$s_max, F32Attr:$zeta,
                   DefaultValuedAttr<F32Attr, "0.0f">:$tau);
  let assemblyFormat = [{
    $error `,` $ymax `,` $ratios `,` $skip `into` $indices `,` $count attr-dict
    `:` type(operands)
  }];
}

def Train_BufferDgsuSelectOp : Train_BufferOp<"dgsu_select"> {
  let summary = "train.dgsu_select on its state's buffers (the selection's too)";
  let arguments = (ins AnyMemRef:$age, MemRefOf<[F32]>:$importance,
                   MemRefOf<[I32]>:$selection, MemRefOf<[I32]>:$scratch,
                   F32Attr:$ratio);
  let assemblyFormat = [{
    $age `,` $importance `,` $scratch `into` $selection attr-dict `:`
    type(operands)
  }];
}

def Train_BufferDgsuImportanceOp : Train_BufferOp<"dgsu_importance"> {
  let summary = "train.dgsu_importance on buffers";
  let arguments = (ins MemRefOf<[F32, I8]>:$input,
                   MemRefOf<[F32, I8]>:$weight, MemRefOf<[F32]>:$importance,
                   I64Attr:$weight_axis, F32Attr:$decay,
                   OptionalAttr<TypeAttr>:$input_type,
                   OptionalAttr<TypeAttr>:$weight_type);
  let assemblyFormat = [{
    $input `,` $weight `into` $importance attr-dict `:` type(operands)
  }];
}

def Train_BufferFiniteGuardOp : Train_BufferOp<"finite_guard"> {
  let summary = "train.finite_guard on the loss's buffer and the skip flag";
  let arguments = (ins MemRefOf<[F32]>:$loss, MemRefOf<[I32]>:$skip);
  let assemblyFormat = "$loss `into` $skip attr-dict `:` type(operands)";
}

#endif
