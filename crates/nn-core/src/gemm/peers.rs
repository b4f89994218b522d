//! The `matrixmultiply` back end (feature `matrixmultiply`): a yardstick for
//! the hand-written kernels, never the default. op = T is a stride swap.

use super::loops::scale_c;
use super::pack::Operand;
use crate::matrix::MatMut;

macro_rules! mm_backend {
    ($name:ident, $t:ty) => {
        /// C ← α·op(A)·op(B) + β·C through `matrixmultiply`.
        pub(crate) fn $name(alpha: $t, a: Operand<'_, $t>, b: Operand<'_, $t>, beta: $t, mut c: MatMut<'_, $t>) {
            let (m, k, n) = (a.rows(), a.cols(), b.cols());
            if m == 0 || n == 0 {
                return;
            }
            if k == 0 || alpha == 0.0 {
                scale_c(beta, &mut c);
                return;
            }
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

mm_backend!(sgemm, f32);
mm_backend!(dgemm, f64);
