//! What the benchmarks time, by name: the gemm shapes and the batch sizes.
//!
//! This file depends on `nn_core::Op` alone. The benches use it as a module
//! of their crate, and `cargo xtask bench-report` compiles the same file into
//! xtask (`#[path]`), so the report reads back exactly the names the benches
//! wrote without xtask depending on the benches crate (and its yardstick's
//! matrixmultiply).

use nn_core::Op;

/// A gemm shape the benches time: op(A) is m × k, op(B) k × n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmShape {
    /// Rows of op(A) and C.
    pub m: usize,
    /// Depth.
    pub k: usize,
    /// Columns of op(B) and C.
    pub n: usize,
    /// A as stored or transposed.
    pub op_a: Op,
    /// B as stored or transposed.
    pub op_b: Op,
    /// Whether the naive triple loop is timed too (small shapes only).
    pub naive: bool,
}

impl GemmShape {
    const fn new(m: usize, k: usize, n: usize, op_a: Op, op_b: Op, naive: bool) -> Self {
        GemmShape { m, k, n, op_a, op_b, naive }
    }

    /// Its name in the criterion group: `(784,16,64) Tᵀ·N`.
    pub fn name(&self) -> String {
        let op = |o: Op| if o == Op::N { "N" } else { "Tᵀ" };
        format!("({},{},{}) {}·{}", self.m, self.k, self.n, op(self.op_a), op(self.op_b))
    }

    /// Its criterion group for element type `ty` (`f32` or `f64`): `gemm_f32/(16,784,64) N·N`.
    pub fn group(&self, ty: &str) -> String {
        format!("gemm_{ty}/{}", self.name())
    }

    /// FLOP of one product: 2·m·k·n.
    pub fn flop(&self) -> usize {
        2 * self.m * self.k * self.n
    }
}

/// The gemm shapes timed: the mnist model's three products at batch 16
/// (forward, ∂E/∂W, δ), the forward product at batch 256, and 1024³.
pub const GEMM_SHAPES: [GemmShape; 5] = [
    GemmShape::new(16, 784, 64, Op::N, Op::N, true),
    GemmShape::new(784, 16, 64, Op::T, Op::N, true),
    GemmShape::new(16, 64, 784, Op::N, Op::T, true),
    GemmShape::new(256, 784, 64, Op::N, Op::N, false),
    GemmShape::new(1024, 1024, 1024, Op::N, Op::N, false),
];

/// Batch sizes of the `train_step` group.
pub const STEP_BATCHES: [usize; 3] = [16, 64, 256];

/// Batch sizes of the `mnist_epoch` group.
pub const EPOCH_BATCHES: [usize; 3] = [16, 64, 256];
