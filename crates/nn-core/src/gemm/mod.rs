//! `gemm`: C ← α·op(A)·op(B) + β·C with op ∈ {N, T}.
//!
//! The three products of backpropagation are its three uses (ARCHITECTURE.md, Conventions):
//! forward Uˡ = Hˡ⁻¹ Wˡ (N, N), weight gradient ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ (T, N),
//! and the delta δˡ⁻¹ = δˡ Wˡᵀ (N, T).
//!
//! This file is the safe, shape-checked entry point. Below it, as in
//! high-performance GEMMs (Goto; BLIS; bluss's matrixmultiply):
//!
//! - `loops.rs`: the mc/kc/nc cache-blocking loop nest (safe code);
//! - `pack.rs`: packing blocks of op(A) and op(B) into the panels the
//!   kernel streams through; a transpose is a stride swap, so op costs nothing;
//! - `kernel/`: the register-tiled kernels — `portable.rs` (plain Rust,
//!   always compiled and tested), and on x86-64 `avx2.rs` (AVX2 + FMA) and
//!   `avx512.rs` (AVX-512F), which share `simd.rs`'s macro-kernel,
//!   microkernel and packing;
//! - `dispatch.rs`: the kernel for each element type, chosen once per process
//!   by CPU feature detection ([`Backend::Auto`]), and per-thread packing
//!   buffers, so a call allocates nothing once a thread has seen its sizes;
//! - `naive.rs`: the triple loop every path is tested against;
//! - `peers.rs`: other crates' gemms as back ends, for benchmarks (features
//!   `matrixmultiply`, `gemm-crate`).
//!
//! β = 0 means C is overwritten: NaN or garbage already in C is ignored.
//! α = 0 or k = 0 means C ← β·C, without reading A or B.

mod dispatch;
mod kernel;
mod loops;
mod naive;
mod pack;
#[cfg(any(feature = "matrixmultiply", feature = "gemm-crate"))]
mod peers;

pub(crate) use dispatch::GemmScalar;

/// The length of the reduction (k, the inner dimension) that every kernel
/// sums in one pass: the smallest of their `KC` blocks (checked when each
/// kernel is compiled). A product with k ≤ `SINGLE_PASS_K` and α = β = 1
/// writes `c + p` into each element of C, one rounding, where `p` has the
/// bits the same product writes with β = 0; with a longer k the sum over k
/// is added to C block by block. The trainer relies on this to add one
/// shard's weight gradient to another's in place
/// ([`Network::add_loss_and_gradients`](crate::Network::add_loss_and_gradients)).
pub const SINGLE_PASS_K: usize = 256;
pub use naive::gemm_naive;

use std::fmt;

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

/// A gemm implementation, for tests and benchmarks that want a specific one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The fastest available here: `Avx512` on CPUs with AVX-512F, else
    /// `Avx2` on CPUs with AVX2 and FMA, else `Portable`. Detected once per
    /// process. What [`gemm`] uses.
    Auto,
    /// The portable kernel (plain Rust, runs everywhere).
    Portable,
    /// The AVX2 + FMA kernel (x86-64 CPUs that have both).
    Avx2,
    /// The AVX-512 kernel (x86-64 CPUs with AVX-512F).
    Avx512,
    /// `matrixmultiply::{sgemm, dgemm}`, for comparison (feature `matrixmultiply`).
    #[cfg(feature = "matrixmultiply")]
    MatrixMultiply,
    /// The `gemm` crate (candle's), single-threaded, for comparison (feature `gemm-crate`).
    #[cfg(feature = "gemm-crate")]
    GemmCrate,
}

impl Backend {
    /// Every concrete back end (all but `Auto`), available here or not.
    pub const ALL: &'static [Backend] = &[
        Backend::Portable,
        Backend::Avx2,
        Backend::Avx512,
        #[cfg(feature = "matrixmultiply")]
        Backend::MatrixMultiply,
        #[cfg(feature = "gemm-crate")]
        Backend::GemmCrate,
    ];

    /// True if this CPU can run the back end.
    pub fn is_available(self) -> bool {
        dispatch::select(self).is_ok()
    }

    /// The concrete back ends this CPU can run.
    ///
    /// ```
    /// use nn_core::gemm::Backend;
    /// assert!(Backend::available().contains(&Backend::Portable));
    /// assert!(Backend::available().contains(&Backend::Auto.resolve()));
    /// ```
    pub fn available() -> Vec<Backend> {
        Backend::ALL.iter().copied().filter(|b| b.is_available()).collect()
    }

    /// The concrete back end `self` runs as: `Auto` becomes what it detected.
    /// (An unavailable back end stays itself; [`gemm_with`] then refuses it.)
    pub fn resolve(self) -> Backend {
        match self {
            Backend::Auto => dispatch::auto().backend(),
            other => other,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Backend::Auto => "auto",
            Backend::Portable => "portable",
            Backend::Avx2 => "avx2+fma",
            Backend::Avx512 => "avx512",
            #[cfg(feature = "matrixmultiply")]
            Backend::MatrixMultiply => "matrixmultiply",
            #[cfg(feature = "gemm-crate")]
            Backend::GemmCrate => "gemm crate",
        };
        f.write_str(name)
    }
}

/// Why [`gemm_with`] refused to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GemmError {
    /// The shapes of op(A), op(B) and C do not agree.
    Shape(ShapeError),
    /// This CPU cannot run the requested back end.
    Unavailable(Backend),
}

impl fmt::Display for GemmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GemmError::Shape(e) => e.fmt(f),
            GemmError::Unavailable(b) => write!(f, "gemm: the {b} back end is not available on this CPU"),
        }
    }
}

impl std::error::Error for GemmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GemmError::Shape(e) => Some(e),
            GemmError::Unavailable(_) => None,
        }
    }
}

impl From<ShapeError> for GemmError {
    fn from(e: ShapeError) -> Self {
        GemmError::Shape(e)
    }
}

/// C ← α·op(A)·op(B) + β·C, with op(A) m × k, op(B) k × n and C m × n.
///
/// Blocked and packed, on the fastest kernel this CPU has
/// ([`Backend::Auto`]). β = 0 overwrites C (NaN in C is ignored); α = 0 or
/// k = 0 gives C ← β·C. Errors if the shapes disagree.
///
/// ```
/// use nn_core::{gemm, Matrix, Op};
/// let a = Matrix::from_vec(2, 2, vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
/// let b = Matrix::from_vec(2, 2, vec![5.0f32, 6.0, 7.0, 8.0]).unwrap();
/// let mut c = Matrix::zeros(2, 2);
/// gemm(1.0, a.view(), Op::N, b.view(), Op::T, 0.0, c.view_mut()).unwrap();
/// // A·Bᵀ = [[1·5+2·6, 1·7+2·8], [3·5+4·6, 3·7+4·8]]
/// assert_eq!(c.as_slice(), &[17.0, 23.0, 39.0, 53.0]);
/// // op(A) = Aᵀ is 2×2 but C must be 2×2 too: a 3×2 C is refused.
/// let mut wrong = Matrix::zeros(3, 2);
/// assert!(gemm(1.0, a.view(), Op::T, b.view(), Op::N, 0.0, wrong.view_mut()).is_err());
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
    check_shapes(&a, op_a, &b, op_b, &c)?;
    T::gemm_on(dispatch::auto(), alpha, a, op_a, b, op_b, beta, c);
    Ok(())
}

/// [`gemm`] on a chosen back end: C ← α·op(A)·op(B) + β·C.
///
/// Errors with [`GemmError::Unavailable`] if this CPU cannot run `backend`,
/// or [`GemmError::Shape`] if the shapes disagree.
///
/// ```
/// use nn_core::gemm::{gemm_with, Backend, Op};
/// use nn_core::Matrix;
/// let a = Matrix::from_vec(1, 3, vec![1.0f64, 2.0, 3.0]).unwrap();
/// let mut c = Matrix::filled(1, 1, f64::NAN);
/// // a·aᵀ = 1 + 4 + 9, scaled by α = 2; β = 0 ignores the NaN in C.
/// gemm_with(Backend::Portable, 2.0, a.view(), Op::N, a.view(), Op::T, 0.0, c.view_mut()).unwrap();
/// assert_eq!(c.get(0, 0), 28.0);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_with<T: Float>(
    backend: Backend,
    alpha: T,
    a: MatRef<'_, T>,
    op_a: Op,
    b: MatRef<'_, T>,
    op_b: Op,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    let selected = dispatch::select(backend)?;
    check_shapes(&a, op_a, &b, op_b, &c)?;
    T::gemm_on(selected, alpha, a, op_a, b, op_b, beta, c);
    Ok(())
}
