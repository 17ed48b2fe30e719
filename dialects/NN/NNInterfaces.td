#ifndef MCUTRAIN_NN_INTERFACES_TD
#define MCUTRAIN_NN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def AutodiffOpInterface : OpInterface<"AutodiffOpInterface"> {
  let description = [{
    An op that knows its own adjoint. derive-backward calls buildAdjoint with
    the gradient of the op's (single) result and a mask saying which operands
    need a gradient; the op appends one value per operand to operandGrads
    (a null Value where no gradient was asked for).
  }];
  let cppNamespace = "::mcutrain::nn";
  let methods = [
    InterfaceMethod<"Builds the gradients of the operands.",
      "::llvm::LogicalResult", "buildAdjoint",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Value":$resultGrad,
           "::llvm::ArrayRef<bool>":$needGrad,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
    InterfaceMethod<[{
        False for operands that never train (e.g. batch-norm statistics):
        --trainable all/last:K skip parameters bound to them.
      }], "bool", "isDifferentiableOperand", (ins "unsigned":$index), [{}],
      [{ return true; }]>
  ];
}

def MacCountOpInterface : OpInterface<"MacCountOpInterface"> {
  let description = [{
    Multiply-accumulates (or, for ops without multiplies, element operations)
    the op performs; report.json sums these per phase.
  }];
  let cppNamespace = "::mcutrain::nn";
  let methods = [
    InterfaceMethod<"Number of multiply-accumulate operations.",
      "int64_t", "getMacs", (ins)>
  ];
}

#endif
