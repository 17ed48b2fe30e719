#ifndef MCUTRAIN_TRAIN_ATTRS_TD
#define MCUTRAIN_TRAIN_ATTRS_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "dialects/Train/TrainKernels.td"

class Train_Attr<string name, string attrMnemonic>
    : AttrDef<Train_Dialect, name> {
  let mnemonic = attrMnemonic;
}

def Train_OptimizerKind : I32EnumAttr<"OptimizerKind",
    "the update rule of train.update (torch.optim's)", [
      I32EnumAttrCase<"sgd", 0>,
      I32EnumAttrCase<"momentum", 1>,
      I32EnumAttrCase<"nesterov", 2>,
      I32EnumAttrCase<"adam", 3>,
      I32EnumAttrCase<"adagrad", 4>]> {
  let cppNamespace = "::mcutrain::train";
  let genSpecializedAttr = 0;
}

def Train_AdamForm : I32EnumAttr<"AdamForm",
    "whose Adam: torch.optim's (bias-corrected moments) or ONNX's", [
      I32EnumAttrCase<"pytorch", 0>,
      I32EnumAttrCase<"onnx", 1>]> {
  let cppNamespace = "::mcutrain::train";
  let genSpecializedAttr = 0;
}

class Train_DefaultEnumParameter<EnumAttrInfo info, string default>
    : EnumParameter<info> {
  let defaultValue = default;
}

/// An f32 parameter, printed so that it reads back bit for bit.
class Train_F32Parameter<string desc, string default = "">
    : DefaultValuedParameter<"::llvm::APFloat",
          !if(!empty(default), "", "::llvm::APFloat(" # default # ")"),
          desc> {
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
  let parser = "::mcutrain::train::parseF32($_parser)";
  let printer = "$_printer.printFloat($_self)";
}

def Train_OptimizerAttr : Train_Attr<"Optimizer", "optimizer"> {
  let summary = "An update rule and its hyperparameters";
  let description = [{
    One attribute for what train.update does to its parameter: the rule
    (sgd, momentum, nesterov, adam, adagrad) and torch.optim's
    hyperparameters; those but lr equal to their default are not printed.
    lr is the compiled-in learning rate (the run-time one is a global).
  }];
  let parameters = (ins
    EnumParameter<Train_OptimizerKind>:$kind,
    Train_F32Parameter<"learning rate (always printed)">:$lr,
    Train_F32Parameter<"momentum (momentum, nesterov)", "0.9f">:$momentum,
    Train_F32Parameter<"Adam's beta1", "0.9f">:$beta1,
    Train_F32Parameter<"Adam's beta2", "0.999f">:$beta2,
    Train_F32Parameter<"Adam/Adagrad epsilon", "1e-8f">:$epsilon,
    Train_F32Parameter<"L2 weight decay", "0.0f">:$weight_decay,
    Train_F32Parameter<"Adagrad learning-rate decay", "0.0f">:$lr_decay,
    Train_F32Parameter<"momentum dampening", "0.0f">:$dampening,
    Train_DefaultEnumParameter<Train_AdamForm,
        "::mcutrain::train::AdamForm::pytorch">:$adam_form);
  let assemblyFormat = [{
    `<` $kind `,` struct($lr, $momentum, $beta1, $beta2, $epsilon,
                          $weight_decay, $lr_decay, $dampening,
                          $adam_form) `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// How many state buffers (shaped like the parameter) the rule keeps.
    unsigned getNumStateBuffers() const;
  }];
}

def Train_KernelAttr : Train_Attr<"Kernel", "kernel"> {
  let summary = "A call of a kernel of runtime/mcutrain_kernels.h";
  let description = [{
    The kernel and its C++ template arguments, e.g. `<gemm<1, 3, 4, 0, 1>>`
    for `mcutrain::kernels::gemm<1,3,4,0,1>`. The arguments are checked
    against the kernel's template parameters (TrainKernels.td): every
    parameter without a default has one, bool parameters are 0 or 1.
  }];
  let parameters = (ins EnumParameter<Train_KernelName>:$kernel,
                        ArrayRefParameter<"int64_t">:$args);
  let assemblyFormat = "`<` $kernel `<` $args `>` `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// `mcutrain::kernels::<kernel><args>` (bool arguments as true/false).
    std::string getCallee() const;
    /// The same kernel with its last template parameter set to `value`
    /// (given or, when defaulted and left out, appended): a fused kernel's
    /// Act, or Overwrite = true for the variant that overwrites its output.
    KernelAttr withLastArg(int64_t value) const;
  }];
}

def Train_FusedActivation : I32EnumAttr<"FusedActivation",
    "an activation a convolution kernel applies (its template argument Act)", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"relu", 1>,
      I32EnumAttrCase<"clip", 2>]> {
  let cppNamespace = "::mcutrain::train";
  let genSpecializedAttr = 0;
}
def Train_FusedActivationAttr
    : EnumAttr<Train_Dialect, Train_FusedActivation, "fused_activation">;

def Train_RuntimeFunction : I32EnumAttr<"RuntimeFunction",
    "a function of mcutrain_runtime.h the generated code calls", [
      I32EnumAttrCase<"all_finite", 0>,
      I32EnumAttrCase<"outer_product_finite", 1>,
      I32EnumAttrCase<"skip_unless_finite", 2>,
      I32EnumAttrCase<"dgsu_select", 3>,
      I32EnumAttrCase<"tinyprop_select", 4>,
      I32EnumAttrCase<"low_rank_finite", 5>]> {
  let cppNamespace = "::mcutrain::train";
  let genSpecializedAttr = 0;
}
def Train_RuntimeFunctionAttr
    : EnumAttr<Train_Dialect, Train_RuntimeFunction, "runtime_function">;

#endif
