//! Per-type kernel selection. The sealed [`GemmScalar`] trait, a supertrait
//! of [`Float`](crate::Float), runs a selected back end with the kernel for
//! `f32` or `f64` and owns each thread's packing buffer. [`select`] turns a
//! [`Backend`] into a [`Selected`] one, checking the CPU; `Auto` is decided
//! once per process.

use std::cell::Cell;
use std::sync::OnceLock;
use std::thread::LocalKey;

#[cfg(target_arch = "x86_64")]
use super::kernel::avx2::{Avx2, Avx2Token};
#[cfg(target_arch = "x86_64")]
use super::kernel::avx512::{Avx512, Avx512Token};
use super::kernel::portable::{PortableF32, PortableF64};
use super::loops::gemm_blocked;
use super::pack::Operand;
use super::{Backend, GemmError, Op};
use crate::matrix::{MatMut, MatRef};

/// A back end this CPU can run, with the proof where one is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selected {
    /// The portable kernel.
    Portable,
    /// The AVX2 + FMA kernel.
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2Token),
    /// The AVX-512 kernel.
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512Token),
    /// `matrixmultiply::{sgemm, dgemm}`.
    #[cfg(feature = "matrixmultiply")]
    MatrixMultiply,
    /// The `gemm` crate.
    #[cfg(feature = "gemm-crate")]
    GemmCrate,
}

impl Selected {
    /// The public name of this choice.
    pub(crate) fn backend(self) -> Backend {
        match self {
            Selected::Portable => Backend::Portable,
            #[cfg(target_arch = "x86_64")]
            Selected::Avx2(_) => Backend::Avx2,
            #[cfg(target_arch = "x86_64")]
            Selected::Avx512(_) => Backend::Avx512,
            #[cfg(feature = "matrixmultiply")]
            Selected::MatrixMultiply => Backend::MatrixMultiply,
            #[cfg(feature = "gemm-crate")]
            Selected::GemmCrate => Backend::GemmCrate,
        }
    }
}

/// The fastest kernel this CPU runs, detected on first use and then cached;
/// at most AVX2 (or the portable kernel) when nn-core was built with
/// `NN_CORE_MAX_SIMD=avx2` (or `baseline`, see [`crate::vector::MAX_WIDTH`]).
pub(crate) fn auto() -> Selected {
    static AUTO: OnceLock<Selected> = OnceLock::new();
    *AUTO.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use crate::vector::{Width, MAX_WIDTH};
            if MAX_WIDTH == Width::Avx512 {
                if let Some(token) = Avx512Token::detect() {
                    return Selected::Avx512(token);
                }
            }
            if MAX_WIDTH != Width::Baseline {
                if let Some(token) = Avx2Token::detect() {
                    return Selected::Avx2(token);
                }
            }
        }
        Selected::Portable
    })
}

/// `backend` if this CPU can run it.
pub(crate) fn select(backend: Backend) -> Result<Selected, GemmError> {
    match backend {
        Backend::Auto => Ok(auto()),
        Backend::Portable => Ok(Selected::Portable),
        Backend::Avx2 => {
            #[cfg(target_arch = "x86_64")]
            if let Some(token) = Avx2Token::detect() {
                return Ok(Selected::Avx2(token));
            }
            Err(GemmError::Unavailable(Backend::Avx2))
        }
        Backend::Avx512 => {
            #[cfg(target_arch = "x86_64")]
            if let Some(token) = Avx512Token::detect() {
                return Ok(Selected::Avx512(token));
            }
            Err(GemmError::Unavailable(Backend::Avx512))
        }
        #[cfg(feature = "matrixmultiply")]
        Backend::MatrixMultiply => Ok(Selected::MatrixMultiply),
        #[cfg(feature = "gemm-crate")]
        Backend::GemmCrate => Ok(Selected::GemmCrate),
    }
}

/// The element types `gemm` has kernels for. Sealed: it lives in a private
/// module, so only `f32` and `f64` implement it.
pub trait GemmScalar: Sized + 'static {
    /// C ← α·op(A)·op(B) + β·C on the selected back end; shapes are already
    /// checked by the caller.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn gemm_on(
        backend: Selected,
        alpha: Self,
        a: MatRef<'_, Self>,
        op_a: Op,
        b: MatRef<'_, Self>,
        op_b: Op,
        beta: Self,
        c: MatMut<'_, Self>,
    );
}

/// Runs `f` with this thread's packing buffer, taken out of `key` and put
/// back afterwards (so a call that finds it missing, e.g. during thread
/// teardown or in a nested call, just uses a fresh one).
fn with_buffer<T, R>(key: &'static LocalKey<Cell<Vec<T>>>, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
    let mut ws = key.try_with(Cell::take).unwrap_or_default();
    let r = f(&mut ws);
    // If the thread-local is gone, the buffer is simply dropped.
    let _ = key.try_with(|cell| cell.set(ws));
    r
}

macro_rules! gemm_scalar {
    ($t:ty, $portable:ty, $mm:ident) => {
        impl GemmScalar for $t {
            fn gemm_on(
                backend: Selected,
                alpha: $t,
                a: MatRef<'_, $t>,
                op_a: Op,
                b: MatRef<'_, $t>,
                op_b: Op,
                beta: $t,
                c: MatMut<'_, $t>,
            ) {
                thread_local! {
                    static BUFFER: Cell<Vec<$t>> = const { Cell::new(Vec::new()) };
                }
                let (a, b) = (Operand::new(a, op_a), Operand::new(b, op_b));
                match backend {
                    Selected::Portable => {
                        with_buffer(&BUFFER, |ws| gemm_blocked(<$portable>::new(), alpha, a, b, beta, c, ws))
                    }
                    #[cfg(target_arch = "x86_64")]
                    Selected::Avx2(token) => {
                        with_buffer(&BUFFER, |ws| gemm_blocked(Avx2::<$t>::new(token), alpha, a, b, beta, c, ws))
                    }
                    #[cfg(target_arch = "x86_64")]
                    Selected::Avx512(token) => {
                        with_buffer(&BUFFER, |ws| gemm_blocked(Avx512::<$t>::new(token), alpha, a, b, beta, c, ws))
                    }
                    #[cfg(feature = "matrixmultiply")]
                    Selected::MatrixMultiply => super::peers::$mm(alpha, a, b, beta, c),
                    #[cfg(feature = "gemm-crate")]
                    Selected::GemmCrate => super::peers::gemm_crate(alpha, a, b, beta, c),
                }
            }
        }
    };
}

gemm_scalar!(f32, PortableF32, sgemm);
gemm_scalar!(f64, PortableF64, dgemm);
