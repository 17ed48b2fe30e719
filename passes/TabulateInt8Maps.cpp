//===- TabulateInt8Maps.cpp - unary int8 maps as 256-entry tables ---------===//
//
// Where it sits: right after fuse-quantized-elementwise, on tensors. See
// Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

namespace mcutrain {
#define GEN_PASS_DEF_TABULATEINT8MAPSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// An elementwise generic from one 8-bit tensor to another, both read and
/// written whole in the same order, whose body is a function of the input
/// element alone (no linalg.index, nothing captured but constants) and
/// that carries no kernel or activation mark.
bool isUnaryInt8Map(linalg::GenericOp op) {
  auto is8 = [](Value v) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t && t.getElementType().isInteger(8);
  };
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op->getNumResults() != 1 || !is8(op.getDpsInputOperand(0)->get()) ||
      !is8(op.getDpsInitOperand(0)->get()) ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }) ||
      !op->getDiscardableAttrDictionary().empty())
    return false;
  Block &body = op.getRegion().front();
  // A copy stays a copy; a body reading its output is no map of the input.
  if (body.without_terminator().empty() || !body.getArgument(1).use_empty())
    return false;
  for (Operation &inner : body.without_terminator()) {
    if (isa<linalg::IndexOp>(inner) || inner.getNumRegions() != 0 ||
        inner.getNumResults() != 1)
      return false;
    for (Value v : inner.getOperands())
      if (v.getParentBlock() != &body && !matchPattern(v, m_Constant()))
        return false;
  }
  return true;
}

/// The body's result for the input byte `value`, by constant folding each
/// op in order; null when an op does not fold to a constant.
Attribute evaluate(Block &body, Attribute value) {
  llvm::DenseMap<Value, Attribute> known;
  known[body.getArgument(0)] = value;
  auto lookup = [&](Value v) -> Attribute {
    if (Attribute a = known.lookup(v))
      return a;
    Attribute constant;
    if (v.getParentBlock() != &body && matchPattern(v, m_Constant(&constant)))
      return constant;
    return {};
  };
  for (Operation &inner : body.without_terminator()) {
    SmallVector<Attribute> operands;
    for (Value v : inner.getOperands()) {
      operands.push_back(lookup(v));
      if (!operands.back())
        return {};
    }
    SmallVector<OpFoldResult> results;
    if (failed(inner.fold(operands, results)) || results.size() != 1)
      return {};
    Attribute result = dyn_cast<Attribute>(results[0]);
    if (!result)
      result = lookup(cast<Value>(results[0]));
    if (!result)
      return {};
    known[inner.getResult(0)] = result;
  }
  return lookup(body.getTerminator()->getOperand(0));
}

/// The 256 results, indexed by the input's bits read as unsigned, or
/// nothing.
std::optional<SmallVector<int8_t>> tabulate(linalg::GenericOp op) {
  // Folding may rewrite an op in place (commutative operands): fold a copy.
  OpBuilder b(op);
  Operation *copy = b.clone(*op);
  Block &body = cast<linalg::GenericOp>(copy).getRegion().front();
  Type i8 = b.getI8Type();
  SmallVector<int8_t> table;
  for (int bits = 0; bits < 256; ++bits) {
    auto y = dyn_cast_or_null<IntegerAttr>(
        evaluate(body, b.getIntegerAttr(i8, APInt(8, bits))));
    if (!y || y.getType() != i8)
      break;
    table.push_back(static_cast<int8_t>(y.getValue().getZExtValue()));
  }
  copy->erase();
  if (table.size() != 256)
    return std::nullopt;
  return table;
}

/// table[v as unsigned], inside a generic's body.
Value lookUp(OpBuilder &ob, Location l, Value table, Value v) {
  Value wide = arith::ExtUIOp::create(ob, l, ob.getI32Type(), v);
  Value index = arith::IndexCastUIOp::create(ob, l, ob.getIndexType(), wide);
  return tensor::ExtractOp::create(ob, l, table, index);
}

/// `op` as a lookup: y = table[x as unsigned]. Returns the lookup and the
/// table.
std::pair<linalg::GenericOp, Value> replaceByTable(linalg::GenericOp op,
                                                   ArrayRef<int8_t> table) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto tableType = RankedTensorType::get({256}, b.getI8Type());
  Value constant = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(tableType, table));
  auto lookup = linalg::GenericOp::create(
      b, loc, op->getResultTypes(), op.getDpsInputOperand(0)->get(),
      op.getDpsInitOperand(0)->get(), op.getIndexingMapsArray(),
      op.getIteratorTypesArray(),
      [&](OpBuilder &ob, Location l, ValueRange args) {
        linalg::YieldOp::create(ob, l, lookUp(ob, l, constant, args[0]));
      });
  op->replaceAllUsesWith(lookup->getResults());
  op.erase();
  return {lookup, constant};
}

/// The variant of an int8 kernel that looks its output bytes up in a
/// table, if it has one.
std::optional<train::KernelName> withTable(train::KernelName kernel) {
  switch (kernel) {
  case train::KernelName::qconv2d:
    return train::KernelName::qconv2d_lut;
  case train::KernelName::qgemm:
    return train::KernelName::qgemm_lut;
  case train::KernelName::qdepthwise2d:
    return train::KernelName::qdepthwise2d_lut;
  default:
    return std::nullopt;
  }
}

/// Folds `lookup` into the int8 kernel generic that produces its input for
/// it alone: that generic yields table[its byte] and becomes the kernel's
/// _lut variant, the table its input right before the output. The layer's
/// own output (a whole 8-bit tensor) and the pass over it go.
void fuseIntoProducer(linalg::GenericOp lookup, Value table) {
  auto producer =
      lookup.getDpsInputOperand(0)->get().getDefiningOp<linalg::GenericOp>();
  if (!producer || !producer->getResult(0).hasOneUse())
    return;
  auto kernel = producer->getAttrOfType<train::KernelAttr>(kKernelAttr);
  auto operands =
      producer->getAttrOfType<DenseI64ArrayAttr>(kKernelOperandsAttr);
  std::optional<train::KernelName> lut =
      kernel ? withTable(kernel.getKernel()) : std::nullopt;
  if (!lut || !operands)
    return;
  // The table (a constant made at the lookup) comes before the producer.
  table.getDefiningOp()->moveBefore(producer);
  int64_t inputs = producer.getNumDpsInputs();
  SmallVector<Value> ins(producer.getDpsInputs());
  ins.push_back(table);
  SmallVector<AffineMap> maps = producer.getIndexingMapsArray();
  OpBuilder b(producer);
  maps.insert(maps.begin() + inputs,
              AffineMap::get(producer.getNumLoops(), 0,
                             b.getAffineConstantExpr(0), b.getContext()));
  Block &body = producer.getRegion().front();
  auto fused = linalg::GenericOp::create(
      b, producer.getLoc(), producer->getResultTypes(), ins,
      producer.getDpsInits(), maps, producer.getIteratorTypesArray(),
      [&](OpBuilder &ob, Location l, ValueRange args) {
        IRMapping map;
        for (int64_t i = 0; i < inputs; ++i)
          map.map(body.getArgument(i), args[i]);
        map.map(body.getArgument(inputs), args[inputs + 1]);
        for (Operation &op : body.without_terminator())
          ob.clone(op, map);
        Value y = map.lookup(body.getTerminator()->getOperand(0));
        linalg::YieldOp::create(ob, l, lookUp(ob, l, table, y));
      });
  fused->setDiscardableAttrs(producer->getDiscardableAttrDictionary());
  fused->setAttr(kKernelAttr, train::KernelAttr::get(b.getContext(), *lut,
                                                     kernel.getArgs()));
  SmallVector<int64_t> withTableOperand;
  for (int64_t i : operands.asArrayRef()) {
    if (i == inputs)
      withTableOperand.push_back(inputs); // the table, before the output
    withTableOperand.push_back(i < inputs ? i : i + 1);
  }
  fused->setAttr(kKernelOperandsAttr, b.getDenseI64ArrayAttr(withTableOperand));
  lookup->replaceAllUsesWith(fused->getResults());
  lookup.erase();
  producer.erase();
}

struct TabulateInt8MapsPass
    : public mcutrain::impl::TabulateInt8MapsPassBase<TabulateInt8MapsPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> maps;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isUnaryInt8Map(op))
        maps.push_back(op);
    });
    for (linalg::GenericOp op : maps)
      if (std::optional<SmallVector<int8_t>> table = tabulate(op)) {
        auto [lookup, constant] = replaceByTable(op, *table);
        fuseIntoProducer(lookup, constant);
      }
  }
};

} // namespace
