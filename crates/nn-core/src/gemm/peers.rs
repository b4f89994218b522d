//! Other crates' gemms as back ends, for comparison only (never the
//! default): `matrixmultiply` (feature `matrixmultiply`) and `gemm`, the
//! crate candle uses (feature `gemm-crate`, built with its AVX-512 path).
//! The benchmarks time them through [`gemm_with`](super::gemm_with), and the
//! property tests hold them to the naive loop like our kernels, so a
//! benchmark ratio is always between correct products. op = T is a stride
//! swap for both.

use super::loops::scale_c;
use super::pack::Operand;
use crate::matrix::MatMut;

/// Whether the product is trivial: m = 0 or n = 0 (nothing to do), or
/// k = 0 or α = 0 (C ← β·C, done here). Then the peer is not called.
fn trivial<T: crate::Float>(alpha: T, a: &Operand<'_, T>, b: &Operand<'_, T>, beta: T, c: &mut MatMut<'_, T>) -> bool {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 || alpha == T::ZERO {
        scale_c(beta, c);
        return true;
    }
    false
}

#[cfg(feature = "matrixmultiply")]
macro_rules! matrixmultiply_backend {
    ($name:ident, $t:ty) => {
        /// C ← α·op(A)·op(B) + β·C through `matrixmultiply`.
        pub(crate) fn $name(alpha: $t, a: Operand<'_, $t>, b: Operand<'_, $t>, beta: $t, mut c: MatMut<'_, $t>) {
            if trivial(alpha, &a, &b, beta, &mut c) {
                return;
            }
            let (m, k, n) = (a.rows(), a.cols(), b.cols());
            let rsc = c.row_stride();
            // SAFETY: every element (i, p) of op(A) is at a.data[i·rs + p·cs]
            // inside the slice (Operand invariant), likewise op(B); C is an
            // m × n view whose elements (i, j) at i·rsc + j lie inside its
            // slice (MatMut invariant). Strides fit isize since they index
            // slices. matrixmultiply reads A, B and writes C only there, and
            // does not read C when β = 0.
            unsafe {
                matrixmultiply::$name(
                    m,
                    k,
                    n,
                    alpha,
                    a.data().as_ptr(),
                    a.rs() as isize,
                    a.cs() as isize,
                    b.data().as_ptr(),
                    b.rs() as isize,
                    b.cs() as isize,
                    beta,
                    c.as_mut_slice().as_mut_ptr(),
                    rsc as isize,
                    1,
                )
            }
        }
    };
}

#[cfg(feature = "matrixmultiply")]
matrixmultiply_backend!(sgemm, f32);
#[cfg(feature = "matrixmultiply")]
matrixmultiply_backend!(dgemm, f64);

/// C ← α·op(A)·op(B) + β·C through the `gemm` crate, single-threaded
/// (`f32` or `f64`).
#[cfg(feature = "gemm-crate")]
pub(crate) fn gemm_crate<T: crate::Float>(
    alpha: T,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
) {
    if trivial(alpha, &a, &b, beta, &mut c) {
        return;
    }
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let rsc = c.row_stride();
    // SAFETY: as for `matrixmultiply` above: op(A) (m × k), op(B) (k × n) and
    // C (m × n, row stride rsc, column stride 1) address only elements inside
    // their slices (Operand and MatMut invariants), and strides fit isize.
    // `gemm::gemm` computes dst ← (its α)·dst + (its β)·lhs·rhs, reading dst
    // only when `read_dst`; T is f32 or f64 (`Float` is sealed), which it
    // supports.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            c.as_mut_slice().as_mut_ptr(),
            1,
            rsc as isize,
            beta != T::ZERO,
            a.data().as_ptr(),
            a.cs() as isize,
            a.rs() as isize,
            b.data().as_ptr(),
            b.cs() as isize,
            b.rs() as isize,
            beta,
            alpha,
            false,
            false,
            false,
            ::gemm::Parallelism::None,
        )
    }
}
