// RUN: mcutrain-opt %s -split-input-file --mcutrain-reorder-updates -verify-diagnostics | FileCheck %s

// Each in-place update moves to just after the last read of the old
// parameter value and its gradient, so the gradient buffer dies at once.
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<4x4xf32>) : tensor<4x4xf32>
  ml_program.global private mutable @v(dense<0.5> : tensor<4x4xf32>) : tensor<4x4xf32>
  // CHECK-LABEL: func.func @step
  func.func @step(%x: tensor<4x4xf32>, %dy: tensor<4x4xf32>) -> tensor<4x4xf32> {
    %w = ml_program.global_load @w : tensor<4x4xf32>
    %v = ml_program.global_load @v : tensor<4x4xf32>
    // CHECK: %[[DW:.*]] = nn.gemm %{{.*}}, %{{.*}} {trans_a = true}
    %dw = nn.gemm %x, %dy {trans_a = true} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    // CHECK: %[[DX:.*]] = nn.gemm %{{.*}}, %[[W:.*]] {trans_b = true}
    %dx = nn.gemm %dy, %w {trans_b = true} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    // CHECK-NEXT: train.update @w, %[[DW]]
    // CHECK: %[[DV:.*]] = nn.gemm %[[DX]], %{{.*}} {trans_a = true}
    %dv = nn.gemm %dx, %dx {trans_a = true} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    // CHECK-NEXT: train.update @v, %[[DV]]
    // CHECK: nn.add
    %s = nn.add %dx, %dx : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    train.update @w, %dw <sgd, lr = 0.1> : tensor<4x4xf32>
    train.update @v, %dv <sgd, lr = 0.1> : tensor<4x4xf32>
    // CHECK: return
    return %s : tensor<4x4xf32>
  }
}

// -----

// A read of the parameter after its update would see the new value.
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<4x4xf32>) : tensor<4x4xf32>
  func.func @late_read(%g: tensor<4x4xf32>) -> tensor<4x4xf32> {
    %w = ml_program.global_load @w : tensor<4x4xf32>
    // expected-error @+1 {{parameter @w is read after its in-place update}}
    train.update @w, %g <sgd, lr = 0.1> : tensor<4x4xf32>
    %s = nn.add %w, %g : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    return %s : tensor<4x4xf32>
  }
}
