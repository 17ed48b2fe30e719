#ifndef MCUTRAIN_NN_ENUMS_TD
#define MCUTRAIN_NN_ENUMS_TD

include "dialects/NN/NNBase.td"
include "mlir/IR/EnumAttr.td"

def NN_ActivationKind : I32EnumAttr<"ActivationKind",
    "elementwise activation of nn.activation", [
      I32EnumAttrCase<"leaky_relu", 0>,
      I32EnumAttrCase<"clip", 1>,
      I32EnumAttrCase<"sigmoid", 2>,
      I32EnumAttrCase<"tanh", 3>,
      I32EnumAttrCase<"hard_sigmoid", 4>,
      I32EnumAttrCase<"hard_swish", 5>,
      I32EnumAttrCase<"sqrt", 6>,
      I32EnumAttrCase<"exp", 7>,
      I32EnumAttrCase<"log", 8>,
      I32EnumAttrCase<"abs", 9>,
      I32EnumAttrCase<"reciprocal", 10>,
      I32EnumAttrCase<"softplus", 11>,
      I32EnumAttrCase<"softsign", 12>,
      I32EnumAttrCase<"elu", 13>,
      I32EnumAttrCase<"selu", 14>,
      I32EnumAttrCase<"erf", 15>,
      I32EnumAttrCase<"pow", 16>]> {
  let cppNamespace = "::mcutrain::nn";
  let genSpecializedAttr = 0;
}
def NN_ActivationKindAttr
    : EnumAttr<NN_Dialect, NN_ActivationKind, "activation_kind">;

def NN_PadMode : I32EnumAttr<"PadMode", "how nn.pad2d fills the border", [
      I32EnumAttrCase<"constant", 0>,
      I32EnumAttrCase<"edge", 1>,
      I32EnumAttrCase<"reflect", 2>]> {
  let cppNamespace = "::mcutrain::nn";
  let genSpecializedAttr = 0;
}
def NN_PadModeAttr : EnumAttr<NN_Dialect, NN_PadMode, "pad_mode">;

#endif
