//! AVX2 + FMA kernels for x86-64: 6 × 16 tiles for `f32`, 6 × 8 for `f64`.
//!
//! A tile is 6 rows × 2 vectors: twelve 256-bit accumulators, two vectors of
//! B̃ and one broadcast of Ã, 15 of the 16 `ymm` registers. Each depth step
//! loads one row of the B̃ micro-panel (2 vectors), broadcasts 6 values of Ã
//! and issues 12 FMAs. Edge tiles with fewer rows use a kernel instantiated
//! for exactly that many rows (no wasted FMAs when m = 16 = 6 + 6 + 4); edge
//! tiles with fewer columns compute on the zero-padded panel into a stack
//! buffer and copy the valid part into C.
//!
//! Ã is read through strides, so a kernel reads packed panels and, for
//! problems where packing A would not pay off (few B̃ panels to reuse it
//! over), op(A) in place.
//!
//! The kernels exist only behind an [`Avx2`] value, which needs an
//! [`Avx2Token`]: only [`Avx2Token::detect`] creates one, after checking
//! that the CPU has AVX2 and FMA.

use std::arch::x86_64::*;
use std::marker::PhantomData;

use super::{check_c_block, pack_b_panels, store_tile, APanels, Kernel};
use crate::float::Float;
use crate::gemm::pack::{pack_panels, packed_len, Operand};

/// Rows of a register tile.
const MR: usize = 6;

/// Proof that this CPU executes AVX2 and FMA instructions: only
/// [`Avx2Token::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx2Token(());

impl Avx2Token {
    /// A token, if the CPU supports AVX2 and FMA.
    pub(crate) fn detect() -> Option<Self> {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Some(Avx2Token(()))
        } else {
            None
        }
    }
}

/// The AVX2 + FMA kernel for element type `T`.
#[derive(Debug)]
pub(crate) struct Avx2<T> {
    _token: Avx2Token,
    _type: PhantomData<T>,
}

impl<T> Clone for Avx2<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Avx2<T> {}

impl<T> Avx2<T> {
    /// The kernel; the token proves the CPU can run it.
    pub(crate) fn new(token: Avx2Token) -> Self {
        Avx2 { _token: token, _type: PhantomData }
    }
}

/// One 256-bit register of `T` lanes. The methods are thin wrappers over the
/// intrinsics and are only called from functions compiled with
/// `#[target_feature(enable = "avx2,fma")]`, into which they are inlined.
trait Lanes: Copy {
    type T: Float;
    const LANES: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(x: Self::T) -> Self;
    /// Broadcasts `*p` to every lane.
    unsafe fn broadcast(p: *const Self::T) -> Self;
    unsafe fn load(p: *const Self::T) -> Self;
    unsafe fn store(self, p: *mut Self::T);
    /// self · b + c, fused.
    unsafe fn fmadd(self, b: Self, c: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
}

#[derive(Clone, Copy)]
struct F32x8(__m256);

#[derive(Clone, Copy)]
struct F64x4(__m256d);

// SAFETY (for both impls below): each method is one AVX/FMA intrinsic. Callers run
// them only inside `#[target_feature(enable = "avx2,fma")]` functions reached
// through an `Avx2` value (whose token proves the CPU supports them), and pass pointers to
// `LANES` readable (load) or writable (store) elements, or one readable
// element (broadcast); unaligned addresses are allowed.
macro_rules! lanes {
    ($v:ident, $t:ty, $lanes:expr, $zero:ident, $set1:ident, $bcast:ident, $load:ident, $store:ident, $fma:ident, $mul:ident) => {
        impl Lanes for $v {
            type T = $t;
            const LANES: usize = $lanes;
            #[inline(always)]
            unsafe fn zero() -> Self {
                $v($zero())
            }
            #[inline(always)]
            unsafe fn splat(x: $t) -> Self {
                $v($set1(x))
            }
            #[inline(always)]
            unsafe fn broadcast(p: *const $t) -> Self {
                $v($bcast(&*p))
            }
            #[inline(always)]
            unsafe fn load(p: *const $t) -> Self {
                $v($load(p))
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t) {
                $store(p, self.0)
            }
            #[inline(always)]
            unsafe fn fmadd(self, b: Self, c: Self) -> Self {
                $v($fma(self.0, b.0, c.0))
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                $v($mul(self.0, b.0))
            }
        }
    };
}

lanes!(
    F32x8,
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_broadcast_ss,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps
);
lanes!(
    F64x4,
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_broadcast_sd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd
);

macro_rules! avx2_kernel {
    ($t:ty, $lanes:ty, mc: $mc:expr, kc: $kc:expr, nc: $nc:expr) => {
        impl Kernel for Avx2<$t> {
            type T = $t;
            const MR: usize = MR;
            const NR: usize = 2 * <$lanes as Lanes>::LANES;
            const MC: usize = $mc;
            const KC: usize = $kc;
            const NC: usize = $nc;

            fn pack_a(self, dst: &mut [$t], a: Operand<'_, $t>, i0: usize, mc: usize, p0: usize, kc: usize) {
                pack_panels::<$t, MR>(dst, a, i0, mc, p0, kc);
            }

            fn pack_b(self, dst: &mut [$t], b: Operand<'_, $t>, p0: usize, kc: usize, j0: usize, nc: usize) {
                pack_b_panels::<$t, { 2 * <$lanes as Lanes>::LANES }>(dst, b, p0, kc, j0, nc);
            }

            fn reads_a_in_place(self, _a: &Operand<'_, $t>, _m: usize, _k: usize, n: usize) -> bool {
                // Packing A costs about as much as one sweep of Ã over a B̃
                // panel; it pays only when Ã is reused over many panels.
                n <= 8 * Self::NR
            }

            fn macro_kernel(
                self,
                mc: usize,
                nc: usize,
                kc: usize,
                alpha: $t,
                a: APanels<'_, $t>,
                b: &[$t],
                beta: $t,
                c: &mut [$t],
                rsc: usize,
            ) {
                assert!(a.covers(MR, mc, kc), "A panels");
                assert!(b.len() >= packed_len(nc, kc, Self::NR), "B panels");
                check_c_block(c, mc, nc, rsc);
                if mc == 0 || nc == 0 || kc == 0 {
                    return;
                }
                // SAFETY: `self` holds an `Avx2Token`, made only when the CPU has AVX2 and
                // FMA. The asserts above give the bounds `macro_avx2` relies on.
                unsafe { macro_avx2::<$lanes>(mc, nc, kc, alpha, a, b, beta, c, rsc) }
            }
        }
    };
}

avx2_kernel!(f32, F32x8, mc: 144, kc: 256, nc: 4096);
avx2_kernel!(f64, F64x4, mc: 72, kc: 256, nc: 2048);

/// Sweeps the `mc × nc` block in 6 × NR tiles (NR = 2·LANES): column panels
/// outer, so one B̃ micro-panel stays in L1 while the Ã panels pass by.
///
/// # Safety
/// The CPU supports AVX2 and FMA; `mc, nc, kc > 0`; `a` covers elements
/// (i, p) for i < mc, p < kc; `b` holds `packed_len(nc, kc, NR)` elements;
/// the C block (`(mc − 1)·rsc + nc` elements) fits in `c`.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn macro_avx2<V: Lanes>(
    mc: usize,
    nc: usize,
    kc: usize,
    alpha: V::T,
    a: APanels<'_, V::T>,
    b: &[V::T],
    beta: V::T,
    c: &mut [V::T],
    rsc: usize,
) {
    let nr = 2 * V::LANES;
    for j in (0..nc).step_by(nr) {
        let cols = nr.min(nc - j);
        // The panel starting at column j holds kc rows of nr values.
        let bp = b.as_ptr().add(j * kc);
        for i in (0..mc).step_by(MR) {
            let ap = a.data.as_ptr().add(a.offset(MR, i, 0));
            let cp = c.as_mut_ptr().add(i * rsc + j);
            let t = Tile { kc, a: ap, rsa: a.rs, csa: a.cs, b: bp, alpha, beta, c: cp, rsc, cols };
            match mc - i {
                1 => tile::<V, 1>(t),
                2 => tile::<V, 2>(t),
                3 => tile::<V, 3>(t),
                4 => tile::<V, 4>(t),
                5 => tile::<V, 5>(t),
                _ => tile::<V, MR>(t),
            }
        }
    }
}

/// One register tile's arguments.
#[derive(Clone, Copy)]
struct Tile<T> {
    kc: usize,
    /// Ã element (i, p) is at `a + i·rsa + p·csa`.
    a: *const T,
    rsa: usize,
    csa: usize,
    /// B̃ micro-panel: row p is the NR values at `b + p·NR`.
    b: *const T,
    alpha: T,
    beta: T,
    /// C tile element (i, j) is at `c + i·rsc + j`, for j < cols.
    c: *mut T,
    rsc: usize,
    cols: usize,
}

/// C tile (M × cols) ← α·Ã·B̃ + β·C tile.
///
/// # Safety
/// Inlined into `macro_avx2` (AVX2 + FMA enabled). Reads Ã elements (i, p)
/// for i < M, p < kc and the kc·NR values of the B̃ micro-panel, all in
/// bounds by `macro_avx2`'s contract; writes (and, when β ≠ 0, reads) C
/// elements (i, j) for i < M, j < cols, inside the C block.
#[inline(always)]
unsafe fn tile<V: Lanes, const M: usize>(t: Tile<V::T>) {
    let l = V::LANES;
    let mut acc = [[V::zero(); 2]; M];
    // wrapping_add: the pointers step once past the last depth read, which
    // may leave the allocation; they are only dereferenced in bounds.
    let (mut pa, mut pb) = (t.a, t.b);
    for _ in 0..t.kc {
        let b0 = V::load(pb);
        let b1 = V::load(pb.add(l));
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = V::broadcast(pa.add(i * t.rsa));
            row[0] = ai.fmadd(b0, row[0]);
            row[1] = ai.fmadd(b1, row[1]);
        }
        pa = pa.wrapping_add(t.csa);
        pb = pb.wrapping_add(2 * l);
    }

    let valpha = V::splat(t.alpha);
    if t.cols == 2 * l {
        let vbeta = V::splat(t.beta);
        for (i, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                let p = t.c.add(i * t.rsc + v * l);
                let ax = x.mul(valpha);
                let out = if t.beta == V::T::ZERO { ax } else { V::load(p).fmadd(vbeta, ax) };
                out.store(p);
            }
        }
    } else {
        // Partial tile: spill the accumulators (room for 6 × 16 f32 or 6 × 8 f64).
        let mut buf = [V::T::ZERO; MR * 16];
        let nr = 2 * l;
        for (i, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                x.store(buf.as_mut_ptr().add(i * nr + v * l));
            }
        }
        let c = std::slice::from_raw_parts_mut(t.c, (M - 1) * t.rsc + t.cols);
        store_tile(&buf, nr, t.alpha, t.beta, c, t.rsc, M, t.cols);
    }
}
