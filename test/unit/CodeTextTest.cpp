//===- CodeTextTest.cpp - the edits of the translated C++ text ------------===//
//
// restrictReadOnlyParams, alignArenas and viewArenas
// (compiler/Package/CodeText.cpp) on
// the shapes EmitC emits and on near misses they must leave alone. Prints
// one line per case and exits non-zero on the first mismatch.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

#include <cstdio>
#include <functional>
#include <string>

using namespace mcutrain::package;

static int failures = 0;

static void expect(const char *name, std::string input,
                   const std::function<void(std::string &)> &edit,
                   const std::string &expected) {
  edit(input);
  bool ok = input == expected;
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", name);
  if (!ok) {
    std::printf("  got:      %s\n  expected: %s\n", input.c_str(),
                expected.c_str());
    ++failures;
  }
}

int main() {
  auto restrict2 = [](std::string &code) {
    restrictReadOnlyParams(code, "train_step", 2);
  };
  expect("restrict: the definition's first two array parameters",
         "int32_t x;\nfloat train_step(float v1[784], int32_t v2[1], "
         "float v3[4]) {\n  return 0;\n}\n",
         restrict2,
         "int32_t x;\nfloat train_step(float *__restrict v1, int32_t "
         "*__restrict v2, float v3[4]) {\n  return 0;\n}\n");
  expect("restrict: the definition, not an earlier call or prototype",
         "float train_step(float v1[8], float v2[8]);\n"
         "void f() { y = train_step(a, b); }\n"
         "float train_step(float v1[8], float v2[8]) {\n",
         restrict2,
         "float train_step(float v1[8], float v2[8]);\n"
         "void f() { y = train_step(a, b); }\n"
         "float train_step(float *__restrict v1, float *__restrict v2) {\n");
  expect("restrict: a name that only ends in the function's",
         "float my_train_step(float v1[8], float v2[8]) {\n", restrict2,
         "float my_train_step(float v1[8], float v2[8]) {\n");
  expect("restrict: not a two-word head (static)",
         "static float train_step(float v1[8], float v2[8]) {\n", restrict2,
         "static float train_step(float v1[8], float v2[8]) {\n");
  expect("restrict: scalar parameters stay",
         "float train_step(float v1, float v2[8]) {\n", restrict2,
         "float train_step(float v1, float *__restrict v2) {\n");
  expect("restrict: absent function", "void forward(float v1[8]) {\n",
         restrict2, "void forward(float v1[8]) {\n");

  auto align16 = [](std::string &code) { alignArenas(code, 16); };
  expect("align: every arena definition",
         "static float mcutrain_arena[14114];\nstatic int32_t "
         "mcutrain_arena_i32[4];\nstatic int32_t mcutrain_skip_step[1];\n",
         align16,
         "alignas(16) static float mcutrain_arena[14114];\nalignas(16) static "
         "int32_t mcutrain_arena_i32[4];\nstatic int32_t "
         "mcutrain_skip_step[1];\n");
  expect("align: a use on a later line is not a definition",
         "static float x[2];\n  mcutrain_arena[v3] = v4;\n", align16,
         "static float x[2];\n  mcutrain_arena[v3] = v4;\n");

  auto view = [](std::string &code) {
    viewArenas(code, {{"mcutrain_arena_i8", "mcutrain_arena"}});
  };
  expect("view: the int8 arena becomes a pointer after the float one",
         "alignas(8) static int8_t mcutrain_arena_i8[64];\nalignas(8) static "
         "float mcutrain_arena[16];\nstatic int32_t mcutrain_skip_step[1];\n"
         "  mcutrain_arena_i8[v1] = v2;\n",
         view,
         "alignas(8) static float mcutrain_arena[16];\nstatic int8_t *const "
         "mcutrain_arena_i8 = reinterpret_cast<int8_t *>(mcutrain_arena);\n"
         "static int32_t mcutrain_skip_step[1];\n  mcutrain_arena_i8[v1] = "
         "v2;\n");
  expect("view: no view arena, no change",
         "alignas(8) static float mcutrain_arena[16];\n", view,
         "alignas(8) static float mcutrain_arena[16];\n");
  return failures ? 1 : 0;
}
