#ifndef MCUTRAIN_NN_BASE_TD
#define MCUTRAIN_NN_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"

def NN_Dialect : Dialect {
  let name = "nn";
  let summary = "Tensor-level neural-network ops on ranked static tensors";
  let description = [{
    The forward ops that mcutrain imports from ONNX and the gradient ops that
    derive-backward builds from them. All shapes are static; every op keeps
    the ONNX node name as its location.
  }];
  let cppNamespace = "::mcutrain::nn";
  // nn.quantize / nn.dequantize describe their quantization with its types.
  let dependentDialects = ["::mlir::quant::QuantDialect"];
  let useDefaultAttributePrinterParser = 1;
}

class NN_Op<string mnemonic, list<Trait> traits = []>
    : Op<NN_Dialect, mnemonic, traits>;

#endif
