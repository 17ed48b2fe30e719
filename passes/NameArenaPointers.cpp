//===- NameArenaPointers.cpp - named pointers to planned buffers ----------===//
//
// After lower-to-emitc: the buffers that kernels and runtime calls receive
// get one named pointer each at the top of their function, so the call
// says which tensors it reads and writes.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "llvm/ADT/StringSet.h"

namespace mcutrain {
#define GEN_PASS_DEF_NAMEARENAPOINTERSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// Where an argument points: `&arena[offset]` or the arena itself.
struct ArenaAddress {
  emitc::GetGlobalOp arena;
  int64_t offset = 0;
};

std::optional<ArenaAddress> arenaAddress(Value arg) {
  if (auto global = arg.getDefiningOp<emitc::GetGlobalOp>())
    return ArenaAddress{global, 0};
  auto apply = arg.getDefiningOp<emitc::ApplyOp>();
  if (!apply || apply.getApplicableOperator() != "&")
    return std::nullopt;
  auto element = apply.getOperand().getDefiningOp<emitc::SubscriptOp>();
  if (!element || element.getIndices().size() != 1)
    return std::nullopt;
  auto global = element.getValue().getDefiningOp<emitc::GetGlobalOp>();
  auto index = element.getIndices()[0].getDefiningOp<emitc::ConstantOp>();
  auto offset = index ? dyn_cast<IntegerAttr>(index.getValue()) : nullptr;
  if (!global || !offset)
    return std::nullopt;
  return ArenaAddress{global, offset.getInt()};
}

/// The C++ spelling of an arena's element type.
std::optional<std::string> cElementType(Type t) {
  if (t.isF32())
    return std::string("float");
  if (t.isInteger(1))
    return std::string("bool");
  if (auto i = dyn_cast<IntegerType>(t))
    return "int" + std::to_string(i.getWidth()) + "_t";
  return std::nullopt;
}

/// Erases `&arena[constant]` once nothing reads it.
void eraseDeadAddress(Operation *op) {
  while (op && op->use_empty()) {
    Operation *next = op->getNumOperands()
                          ? op->getOperands().back().getDefiningOp()
                          : nullptr;
    if (isa<emitc::GetGlobalOp>(op))
      next = nullptr; // shared by the function's accesses
    op->erase();
    if (next && !isa<emitc::ConstantOp, emitc::SubscriptOp>(next))
      break;
    op = next;
  }
}

/// The named pointers of one function.
struct FunctionPointers {
  emitc::FuncOp func;
  const llvm::StringSet<> &symbols;
  llvm::StringMap<std::string> declared; // planned name -> C name
  llvm::StringSet<> used;
  Operation *lastDeclaration = nullptr;

  /// The C name of buffer `name` at `address`, declared on first use.
  std::string declare(StringRef name, const ArenaAddress &address,
                      StringRef cType) {
    auto it = declared.find(name);
    if (it != declared.end())
      return it->second;
    std::string cName = name.str();
    while (symbols.contains(cName) || used.contains(cName))
      cName += "_";
    used.insert(cName);
    std::string text =
        cType.str() + " *const " + cName + " = " +
        const_cast<emitc::GetGlobalOp &>(address.arena).getName().str();
    if (address.offset)
      text += " + " + std::to_string(address.offset);
    OpBuilder b(func.getContext());
    if (lastDeclaration)
      b.setInsertionPointAfter(lastDeclaration);
    else
      b.setInsertionPointToStart(&func.getBody().front());
    lastDeclaration = emitc::VerbatimOp::create(b, func.getLoc(), text + ";");
    return declared[name] = cName;
  }

  void nameArguments(emitc::CallOpaqueOp call, ArrayAttr names) {
    for (auto [i, nameAttr] : llvm::enumerate(names)) {
      StringRef name = cast<StringAttr>(nameAttr).getValue();
      if (name.empty() || i >= call.getNumOperands())
        continue;
      Value arg = call.getOperand(i);
      std::optional<ArenaAddress> address = arenaAddress(arg);
      if (!address)
        continue;
      auto array = cast<emitc::ArrayType>(address->arena.getType());
      std::optional<std::string> cType = cElementType(array.getElementType());
      if (!cType)
        continue;
      std::string cName = declare(name, *address, *cType);
      OpBuilder b(call);
      Value pointer = emitc::LiteralOp::create(
          b, call.getLoc(), emitc::PointerType::get(array.getElementType()),
          cName);
      call->setOperand(i, pointer);
      eraseDeadAddress(arg.getDefiningOp());
    }
  }
};

struct NameArenaPointersPass
    : public mcutrain::impl::NameArenaPointersPassBase<NameArenaPointersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringSet<> symbols;
    for (Operation &op : module.getBody()->getOperations())
      if (auto name =
              op.getAttrOfType<StringAttr>(SymbolTable::getSymbolAttrName()))
        symbols.insert(name.getValue());
    for (auto func : module.getOps<emitc::FuncOp>()) {
      if (func.isExternal())
        continue;
      FunctionPointers pointers{func, symbols, {}, {}, nullptr};
      func.walk([&](emitc::CallOpaqueOp call) {
        if (auto names = call->getAttrOfType<ArrayAttr>(kArenaNamesAttr)) {
          call->removeAttr(kArenaNamesAttr);
          pointers.nameArguments(call, names);
        }
      });
    }
  }
};

} // namespace
