//! `gemm`: C ← α·op(A)·op(B) + β·C with op ∈ {N, T}.
//!
//! The three products of backpropagation are its three uses (DESIGN.md §1):
//! forward Uˡ = Hˡ⁻¹ Wˡ (N, N), weight gradient ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ (T, N),
//! and the delta δˡ⁻¹ = δˡ Wˡᵀ (N, T).
//!
//! This entry point checks shapes and returns a [`ShapeError`] on mismatch.
//! β = 0 means C is overwritten: NaN or garbage already in C is ignored.

mod naive;

pub use naive::gemm_naive;

use crate::error::ShapeError;
use crate::float::Float;
use crate::matrix::{MatMut, MatRef};

/// Whether an operand is used as stored (`N`) or transposed (`T`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// Shape of op(X) for a view X.
#[inline]
pub(crate) fn op_shape<T: Float>(x: &MatRef<'_, T>, op: Op) -> (usize, usize) {
    match op {
        Op::N => (x.rows(), x.cols()),
        Op::T => (x.cols(), x.rows()),
    }
}

/// Checks that op(A) (m × k), op(B) (k × n) and C (m × n) agree; returns (m, k, n).
pub(crate) fn check_shapes<T: Float>(
    a: &MatRef<'_, T>,
    op_a: Op,
    b: &MatRef<'_, T>,
    op_b: Op,
    c: &MatMut<'_, T>,
) -> Result<(usize, usize, usize), ShapeError> {
    let (m, k) = op_shape(a, op_a);
    let (kb, n) = op_shape(b, op_b);
    if k != kb {
        return Err(ShapeError::new(
            "gemm",
            format!("op(B) with {k} rows to match op(A) = {m}×{k}"),
            format!("op(B) = {kb}×{n}"),
        ));
    }
    if c.rows() != m || c.cols() != n {
        return Err(ShapeError::new(
            "gemm",
            format!("C of shape {m}×{n} (op(A) {m}×{k} · op(B) {k}×{n})"),
            format!("C of shape {}×{}", c.rows(), c.cols()),
        ));
    }
    Ok((m, k, n))
}

/// C ← α·op(A)·op(B) + β·C.
///
/// ```
/// use nn_core::{gemm, Matrix, Op};
/// let a = Matrix::from_vec(2, 2, vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
/// let b = Matrix::from_vec(2, 2, vec![5.0f32, 6.0, 7.0, 8.0]).unwrap();
/// let mut c = Matrix::zeros(2, 2);
/// gemm(1.0, a.view(), Op::N, b.view(), Op::T, 0.0, c.view_mut()).unwrap();
/// // A·Bᵀ = [[1·5+2·6, 1·7+2·8], [3·5+4·6, 3·7+4·8]]
/// assert_eq!(c.as_slice(), &[17.0, 23.0, 39.0, 53.0]);
/// ```
pub fn gemm<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    op_a: Op,
    b: MatRef<'_, T>,
    op_b: Op,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), ShapeError> {
    gemm_naive(alpha, a, op_a, b, op_b, beta, c)
}
