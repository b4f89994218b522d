//! The reference triple loop that every optimised path is tested against.

use super::{check_shapes, Op};
use crate::error::ShapeError;
use crate::float::Float;
use crate::matrix::{MatMut, MatRef};

/// C ← α·op(A)·op(B) + β·C by the textbook triple loop (accumulating in the
/// element type). Slow; for tests and benchmarks only.
pub fn gemm_naive<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    op_a: Op,
    b: MatRef<'_, T>,
    op_b: Op,
    beta: T,
    mut c: MatMut<'_, T>,
) -> Result<(), ShapeError> {
    let (m, k, n) = check_shapes(&a, op_a, &b, op_b, &c)?;
    let at = |i: usize, p: usize| match op_a {
        Op::N => a.get(i, p),
        Op::T => a.get(p, i),
    };
    let bt = |p: usize, j: usize| match op_b {
        Op::N => b.get(p, j),
        Op::T => b.get(j, p),
    };
    if n == 0 {
        // No element of C: a view may have any number of rows of no columns.
        return Ok(());
    }
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::ZERO;
            for p in 0..k {
                acc += at(i, p) * bt(p, j);
            }
            let old = if beta == T::ZERO { T::ZERO } else { beta * c.get(i, j) };
            c.set(i, j, alpha * acc + old);
        }
    }
    Ok(())
}
