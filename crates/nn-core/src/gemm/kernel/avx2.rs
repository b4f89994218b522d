//! AVX2 + FMA kernels for x86-64: 6 × 16 tiles for `f32`, 6 × 8 for `f64`.
//!
//! A tile is 6 rows × 2 vectors: twelve 256-bit accumulators, two vectors of
//! B̃ and one broadcast of Ã, 15 of the 16 `ymm` registers. Each depth step
//! loads one row of the B̃ micro-panel (2 vectors), broadcasts 6 values of Ã
//! and issues 12 FMAs; the C tile is prefetched before the depth loop and
//! updated once after it. Edge tiles with fewer rows use a kernel
//! instantiated for exactly that many rows (no wasted FMAs when
//! m = 16 = 6 + 6 + 4), and a short last tile is evened out with the one
//! before it where Ã is read in place (m = 8 = 4 + 4, not 6 + 2); edge tiles with fewer columns use one vector when
//! that is enough, compute on the zero-padded panel, and go through a stack
//! buffer from which the valid part is copied into C.
//!
//! Ã and B̃ are read through strides, so the kernel reads packed panels and,
//! where packing would cost more than it saves, the operands in place:
//! op(A) when there are few B̃ panels to reuse a packed Ã over (small n),
//! the full panels of a row-major op(B) when there are few row tiles to reuse
//! a packed B̃ over (small m). Packing itself is vectorised: rows of a
//! row-major op(B) are copied (masked loads for the last, narrower panel),
//! and op(B) = Bᵀ is transposed in 8 × 8 (`f32`) or 4 × 4 (`f64`) register
//! blocks.
//!
//! The kernels exist only behind an [`Avx2`] value, which needs an
//! [`Avx2Token`]: only [`Avx2Token::detect`] creates one, after checking
//! that the CPU has AVX2 and FMA.

use std::arch::x86_64::*;
use std::marker::PhantomData;

use super::{check_c_block, store_tile, APanels, BPanels, Kernel};
use crate::float::Float;
use crate::gemm::pack::{block_inside, pack_panels, packed_len, Operand};

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
    /// Loads the first `n ≤ LANES` values at `p` (only those are read) and
    /// zeros the other lanes.
    unsafe fn load_first(p: *const Self::T, n: usize) -> Self;
    unsafe fn store(self, p: *mut Self::T);
    /// self · b + c, fused.
    unsafe fn fmadd(self, b: Self, c: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    /// Transposes a LANES × LANES block: reads LANES rows of LANES values at
    /// `src + r·rs`, writes them as LANES columns at `dst + c·ds`.
    unsafe fn transpose(src: *const Self::T, rs: usize, dst: *mut Self::T, ds: usize);
}

/// Eight `f32` lanes; `repr(transparent)`, so in memory it is the 8 values in order.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct F32x8(__m256);

/// Four `f64` lanes; `repr(transparent)`, so in memory it is the 4 values in order.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct F64x4(__m256d);

// SAFETY (for both impls below): each method is one AVX/FMA intrinsic. Callers run
// them only inside `#[target_feature(enable = "avx2,fma")]` functions reached
// through an `Avx2` value (whose token proves the CPU supports them), and pass pointers to
// `LANES` readable (load) or writable (store) elements, or one readable
// element (broadcast); unaligned addresses are allowed.
macro_rules! lanes {
    ($v:ident, $t:ty, $lanes:expr, $zero:ident, $set1:ident, $bcast:ident, $load:ident, $store:ident, $fma:ident, $mul:ident, $add:ident, $tr:ident, $first:ident) => {
        impl Lanes for $v {
            type T = $t;
            const LANES: usize = $lanes;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: the caller runs this with AVX enabled (see the comment above `lanes!`); no memory is touched.
                unsafe { $v($zero()) }
            }
            #[inline(always)]
            unsafe fn splat(x: $t) -> Self {
                // SAFETY: the caller runs this with AVX enabled; no memory is touched.
                unsafe { $v($set1(x)) }
            }
            #[inline(always)]
            unsafe fn broadcast(p: *const $t) -> Self {
                // SAFETY: the caller runs this with AVX enabled and passes a pointer to one readable element.
                unsafe { $v($bcast(&*p)) }
            }
            #[inline(always)]
            unsafe fn load(p: *const $t) -> Self {
                // SAFETY: the caller runs this with AVX enabled and passes a pointer to LANES readable elements (unaligned is fine).
                unsafe { $v($load(p)) }
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t) {
                // SAFETY: the caller runs this with AVX enabled and passes a pointer to LANES writable elements (unaligned is fine).
                unsafe { $store(p, self.0) }
            }
            #[inline(always)]
            unsafe fn fmadd(self, b: Self, c: Self) -> Self {
                // SAFETY: the caller runs this with AVX2 and FMA enabled; no memory is touched.
                unsafe { $v($fma(self.0, b.0, c.0)) }
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                // SAFETY: the caller runs this with AVX enabled; no memory is touched.
                unsafe { $v($mul(self.0, b.0)) }
            }
            #[inline(always)]
            unsafe fn add(self, b: Self) -> Self {
                // SAFETY: the caller runs this with AVX enabled; no memory is touched.
                unsafe { $v($add(self.0, b.0)) }
            }
            #[inline(always)]
            unsafe fn transpose(src: *const $t, rs: usize, dst: *mut $t, ds: usize) {
                // SAFETY: the caller upholds `Lanes::transpose`'s contract, which is the inherent transpose's.
                unsafe { $v::$tr(src, rs, dst, ds) }
            }
            #[inline(always)]
            unsafe fn load_first(p: *const $t, n: usize) -> Self {
                // SAFETY: the caller upholds `Lanes::load_first`'s contract, which is the inherent masked load's.
                unsafe { $v::$first(p, n) }
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
    _mm256_mul_ps,
    _mm256_add_ps,
    transpose8,
    load_first8
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
    _mm256_mul_pd,
    _mm256_add_pd,
    transpose4,
    load_first4
);

// SAFETY (both): as for the other `Lanes` methods; for the transposes `src`
// has LANES rows of LANES readable values `rs` apart and `dst` LANES runs of
// LANES writable values `ds` apart; for the masked loads the first n values
// at `p` are readable (the others are not touched).
impl F32x8 {
    /// Masked load of the first n lanes (masked-out lanes are not accessed).
    #[inline(always)]
    unsafe fn load_first8(p: *const f32, n: usize) -> Self {
        // SAFETY: the caller upholds this function's contract (AVX2 enabled, the first n values at `p` readable); masked-out lanes are not accessed.
        unsafe {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lane);
            F32x8(_mm256_maskload_ps(p, mask))
        }
    }

    /// The 8 × 8 transpose: unpack pairs, shuffle quadruples, swap 128-bit halves.
    #[inline(always)]
    unsafe fn transpose8(src: *const f32, rs: usize, dst: *mut f32, ds: usize) {
        // SAFETY: the caller upholds this function's contract (AVX2 enabled; 8 rows of 8 readable values `rs` apart at `src`, 8 runs of 8 writable values `ds` apart at `dst`).
        unsafe {
            let mut r = [_mm256_setzero_ps(); 8];
            for (i, row) in r.iter_mut().enumerate() {
                *row = _mm256_loadu_ps(src.add(i * rs));
            }
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let cols = [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
                _mm256_permute2f128_ps::<0x31>(s2, s6),
                _mm256_permute2f128_ps::<0x31>(s3, s7),
            ];
            for (c, v) in cols.into_iter().enumerate() {
                _mm256_storeu_ps(dst.add(c * ds), v);
            }
        }
    }
}

impl F64x4 {
    /// Masked load of the first n lanes (masked-out lanes are not accessed).
    #[inline(always)]
    unsafe fn load_first4(p: *const f64, n: usize) -> Self {
        // SAFETY: the caller upholds this function's contract (AVX2 enabled, the first n values at `p` readable); masked-out lanes are not accessed.
        unsafe {
            let lane = _mm256_setr_epi64x(0, 1, 2, 3);
            let mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), lane);
            F64x4(_mm256_maskload_pd(p, mask))
        }
    }

    /// The 4 × 4 transpose: unpack pairs, then swap 128-bit halves.
    #[inline(always)]
    unsafe fn transpose4(src: *const f64, rs: usize, dst: *mut f64, ds: usize) {
        // SAFETY: the caller upholds this function's contract (AVX2 enabled; 4 rows of 4 readable values `rs` apart at `src`, 4 runs of 4 writable values `ds` apart at `dst`).
        unsafe {
            let mut r = [_mm256_setzero_pd(); 4];
            for (i, row) in r.iter_mut().enumerate() {
                *row = _mm256_loadu_pd(src.add(i * rs));
            }
            let t0 = _mm256_unpacklo_pd(r[0], r[1]);
            let t1 = _mm256_unpackhi_pd(r[0], r[1]);
            let t2 = _mm256_unpacklo_pd(r[2], r[3]);
            let t3 = _mm256_unpackhi_pd(r[2], r[3]);
            let cols = [
                _mm256_permute2f128_pd::<0x20>(t0, t2),
                _mm256_permute2f128_pd::<0x20>(t1, t3),
                _mm256_permute2f128_pd::<0x31>(t0, t2),
                _mm256_permute2f128_pd::<0x31>(t1, t3),
            ];
            for (c, v) in cols.into_iter().enumerate() {
                _mm256_storeu_pd(dst.add(c * ds), v);
            }
        }
    }
}

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
                // SAFETY: the token proves AVX2.
                unsafe { pack_panels_avx2::<$t, MR>(dst, a, i0, mc, p0, kc) }
            }

            fn pack_b(self, dst: &mut [$t], b: Operand<'_, $t>, p0: usize, kc: usize, j0: usize, nc: usize) {
                const NR: usize = 2 * <$lanes as Lanes>::LANES;
                if b.rs() == 1 {
                    // op(B) = Bᵀ: the panels are transposed rows of B.
                    let x = b.t();
                    assert!(block_inside(&x, j0, nc, p0, kc), "packing block outside its operand");
                    assert!(dst.len() >= packed_len(nc, kc, NR), "packing buffer too short");
                    // SAFETY: the token proves AVX2; the asserts are the bounds
                    // `pack_transposed` needs.
                    unsafe { pack_transposed::<$lanes, NR>(dst, x, j0, nc, p0, kc) }
                } else if b.cs() == 1 {
                    // op(B) = B: each packed row is a copy of a row of B.
                    let x = b.t();
                    assert!(block_inside(&x, j0, nc, p0, kc), "packing block outside its operand");
                    assert!(dst.len() >= packed_len(nc, kc, NR), "packing buffer too short");
                    // SAFETY: the token proves AVX2; the asserts are the bounds
                    // `pack_copied` needs.
                    unsafe { pack_copied::<$lanes, NR>(dst, x, j0, nc, p0, kc) }
                } else {
                    // SAFETY: the token proves AVX2.
                    unsafe { pack_panels_avx2::<$t, NR>(dst, b.t(), j0, nc, p0, kc) }
                }
            }

            fn reads_a_in_place(self, a: &Operand<'_, $t>, _m: usize, _k: usize, n: usize) -> bool {
                // Packing A costs about as much as one sweep of Ã over a B̃
                // panel; it pays only when Ã is reused over many panels.
                (a.rs() == 1 || a.cs() == 1) && n <= 8 * Self::NR
            }

            fn reads_b_in_place(self, b: &Operand<'_, $t>, m: usize, _k: usize, _n: usize) -> bool {
                // Packing B̃ costs about one sweep of Ã (MR rows) over it; with
                // few row tiles to reuse it over, reading op(B) in place is
                // cheaper, unless its rows are a multiple of 4 KiB apart, which
                // would map a whole panel onto a few L1 sets.
                let row_bytes = b.rs() * std::mem::size_of::<$t>();
                b.cs() == 1 && m <= 16 * MR && row_bytes % 4096 != 0
            }

            fn macro_kernel(
                self,
                mc: usize,
                nc: usize,
                kc: usize,
                alpha: $t,
                a: APanels<'_, $t>,
                b: BPanels<'_, $t>,
                beta: $t,
                c: &mut [$t],
                rsc: usize,
            ) {
                assert!(a.covers(MR, mc, kc) && (a.rs == 1 || a.cs == 1), "A panels");
                assert!(b.covers(Self::NR, kc, nc), "B panels");
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
/// (i, p) for i < mc, p < kc and has `rs = 1` or `cs = 1`; `b` covers the
/// full NR-wide rows of its panels for columns < nc, depths < kc; the C
/// block (`(mc − 1)·rsc + nc` elements) fits in `c`.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn macro_avx2<V: Lanes>(
    mc: usize,
    nc: usize,
    kc: usize,
    alpha: V::T,
    a: APanels<'_, V::T>,
    b: BPanels<'_, V::T>,
    beta: V::T,
    c: &mut [V::T],
    rsc: usize,
) {
    // SAFETY: the caller upholds the contract above (checked by the asserts in `macro_kernel`): every pointer formed here addresses a tile of Ã, a B̃ panel row or a C tile inside the bounds it states, and AVX2 + FMA are enabled.
    unsafe {
        let nr = 2 * V::LANES;
        let a_rows_contiguous = a.rs != 1;
        let last = last_tiles(mc, a.panel_stride == MR * a.rs);
        for j in (0..nc).step_by(nr) {
            let cols = nr.min(nc - j);
            // The panel holding column j: kc rows of nr values, b.rs apart.
            let bp = b.data.as_ptr().add(j / nr * b.panel_stride);
            let mut i = 0;
            while i < mc {
                let rows = if i < last.0 {
                    MR
                } else if i == last.0 {
                    last.1
                } else {
                    mc - i
                };
                let ap = a.data.as_ptr().add(a.offset(MR, i, 0));
                let cp = c.as_mut_ptr().add(i * rsc + j);
                let t = Tile { kc, a: ap, rsa: a.rs, csa: a.cs, b: bp, rsb: b.rs, alpha, beta, c: cp, rsc, cols };
                i += rows;
                // Instantiate the tile for its rows (1..=6), the Ã layout, and
                // one or two vectors of columns.
                macro_rules! by_rows {
                    ($rows:expr, $nv:expr) => {
                        match rows {
                            1 => tile::<V, 1, $rows, $nv>(t),
                            2 => tile::<V, 2, $rows, $nv>(t),
                            3 => tile::<V, 3, $rows, $nv>(t),
                            4 => tile::<V, 4, $rows, $nv>(t),
                            5 => tile::<V, 5, $rows, $nv>(t),
                            _ => tile::<V, MR, $rows, $nv>(t),
                        }
                    };
                }
                match (a_rows_contiguous, cols > V::LANES) {
                    (true, true) => by_rows!(true, 2),
                    (true, false) => by_rows!(true, 1),
                    (false, true) => by_rows!(false, 2),
                    (false, false) => by_rows!(false, 1),
                }
            }
        }
    }
}

/// Where the last one or two row tiles of an `mc`-row block start, and the
/// height of the first of them: `(start, rows)`, the rows after `start +
/// rows` forming one more tile. All tiles are 6 rows tall but the last,
/// unless a last tile of 1 to 3 rows would leave FMA units idle (a tile of
/// r rows keeps 2r accumulators in flight, and the two FMA units need 8 to
/// hide their 4-cycle latency): then the last 6 + r rows run as two tiles of
/// 4 + 3, 4 + 4 or 5 + 4 rows (m = 8 costs 8 row-steps instead of 6 + 2·2).
/// Only when the rows of Ã are evenly spaced (`linear`, Ã read in place),
/// so that a tile may start at any row; packed panels keep tiles of 6.
/// Every element of C is the same dot product whatever tile computes it.
fn last_tiles(mc: usize, linear: bool) -> (usize, usize) {
    let r = mc % MR;
    if linear && mc > MR && (1..=3).contains(&r) {
        let start = mc - MR - r;
        (start, (MR + r).div_ceil(2))
    } else {
        let start = mc.saturating_sub(1) / MR * MR;
        (start, mc - start)
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
    /// B̃ micro-panel: row p is the NR values at `b + p·rsb`.
    b: *const T,
    rsb: usize,
    alpha: T,
    beta: T,
    /// C tile element (i, j) is at `c + i·rsc + j`, for j < cols.
    c: *mut T,
    rsc: usize,
    cols: usize,
}

/// Depth steps per trip of the unrolled depth loop.
const UNROLL: usize = 4;

/// C tile (M × cols) ← α·Ã·B̃ + β·C tile, for cols ≤ NV·LANES (NV = 1 or 2
/// vectors: narrow edge tiles use one).
///
/// `ROWS`: Ã's rows are contiguous (`csa = 1`, op(A) = A read in place), so
/// each row gets its own pointer; otherwise its columns are (`rsa = 1`:
/// packed panels, or op(A) = Aᵀ read in place) and one pointer steps by `csa`.
///
/// # Safety
/// Inlined into `macro_avx2` (AVX2 + FMA enabled). Reads Ã elements (i, p)
/// for i < M, p < kc and the first NV·LANES values of the kc rows of the B̃
/// micro-panel (NR = 2·LANES wide), all in
/// bounds by `macro_avx2`'s contract; writes (and, when β ≠ 0, reads) C
/// elements (i, j) for i < M, j < cols, inside the C block.
#[inline(always)]
unsafe fn tile<V: Lanes, const M: usize, const ROWS: bool, const NV: usize>(t: Tile<V::T>) {
    // SAFETY: the caller (`macro_avx2`) upholds the contract above: every read of Ã and B̃ and every read or write of C is inside the bounds it states; `spill` is a stack buffer of M·NV vectors, fully written before it is read as M·NV·LANES values (each `Lanes` type is `repr(transparent)` over its lanes).
    unsafe {
        let l = V::LANES;
        // Ask for the C tile now; it is needed after the depth loop (if that is
        // long enough for the prefetch to arrive early).
        for i in 0..if t.kc >= 32 { M } else { 0 } {
            let row = t.c.wrapping_add(i * t.rsc) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(row);
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(NV * l * std::mem::size_of::<V::T>() - 1));
        }
        let mut acc = [[V::zero(); NV]; M];
        // One depth step: acc += Ã[·, p] ⊗ B̃[p, ·], with `$a_at` the address
        // of Ã($i, p) and `$pb` that of B̃(p, 0). (A macro rather than a closure:
        // closures would be compiled without the AVX2 target features.)
        macro_rules! step {
            ($i:ident => $a_at:expr, $pb:expr) => {{
                let pb = $pb;
                let mut bv = [V::zero(); NV];
                for (v, b) in bv.iter_mut().enumerate() {
                    *b = V::load(pb.add(v * l));
                }
                for ($i, row) in acc.iter_mut().enumerate() {
                    let ai = V::broadcast($a_at);
                    for (x, b) in row.iter_mut().zip(bv) {
                        *x = ai.fmadd(b, *x);
                    }
                }
            }};
        }
        let pb = t.b;
        if ROWS {
            // Not unrolled: unrolled, LLVM hoists the broadcasts of later steps
            // and runs out of registers.
            let rows: [*const V::T; M] = std::array::from_fn(|i| t.a.wrapping_add(i * t.rsa));
            for p in 0..t.kc {
                step!(i => rows[i].add(p), pb.add(p * t.rsb));
            }
        } else {
            // wrapping_add: `pa` steps once past the last depth read, which may
            // leave the allocation; it is only dereferenced in bounds.
            let mut pa = t.a;
            let mut p = 0;
            while p + UNROLL <= t.kc {
                for u in 0..UNROLL {
                    let col = pa.wrapping_add(u * t.csa);
                    step!(i => col.add(i), pb.add((p + u) * t.rsb));
                }
                pa = pa.wrapping_add(UNROLL * t.csa);
                p += UNROLL;
            }
            while p < t.kc {
                step!(i => pa.add(i), pb.add(p * t.rsb));
                pa = pa.wrapping_add(t.csa);
                p += 1;
            }
        }

        if t.cols == NV * l {
            let (valpha, vbeta) = (V::splat(t.alpha), V::splat(t.beta));
            // C(i, ·) ← f(acc(i, ·), address of C(i, ·)) for the whole tile, with
            // the choice of f made once, outside the loop.
            macro_rules! store_all {
                ($x:ident, $p:ident => $f:expr) => {
                    for (i, row) in acc.iter().enumerate() {
                        for (v, &$x) in row.iter().enumerate() {
                            let $p = t.c.add(i * t.rsc + v * l);
                            $f.store($p);
                        }
                    }
                };
            }
            match (t.alpha == V::T::ONE, t.beta == V::T::ZERO, t.beta == V::T::ONE) {
                (true, true, _) => store_all!(x, p => x),
                (true, false, true) => store_all!(x, p => x.add(V::load(p))),
                (false, true, _) => store_all!(x, p => x.mul(valpha)),
                _ => store_all!(x, p => V::load(p).fmadd(vbeta, x.mul(valpha))),
            }
        } else {
            // Partial tile: spill the accumulators to a stack buffer of M rows of
            // NV vectors (each `repr(transparent)` over LANES values, so the
            // buffer reads as M × NV·LANES values once every vector is stored),
            // then copy the valid part into C.
            let nr = NV * l;
            let mut spill = std::mem::MaybeUninit::<[[V; NV]; M]>::uninit();
            let base = spill.as_mut_ptr() as *mut V::T;
            for (i, row) in acc.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    x.store(base.add(i * nr + v * l));
                }
            }
            let buf = std::slice::from_raw_parts(base as *const V::T, M * nr);
            let c = std::slice::from_raw_parts_mut(t.c, (M - 1) * t.rsc + t.cols);
            store_tile(buf, nr, t.alpha, t.beta, c, t.rsc, M, t.cols);
        }
    }
}

/// [`pack_panels`], compiled with AVX2 so that its copies use 256-bit moves.
///
/// # Safety
/// The CPU supports AVX2.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_panels_avx2<T: Float, const R: usize>(
    dst: &mut [T],
    x: Operand<'_, T>,
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
) {
    // No unsafe operation: `pack_panels` is safe and checks its own bounds;
    // only the caller, which enables AVX2 here, needs the CPU to support it.
    pack_panels::<T, R>(dst, x, r0, rows, c0, cols)
}

/// [`pack_panels`] for an `x` with contiguous rows (`cs = 1`), `R = 2·LANES`:
/// each full panel is packed by LANES × LANES register transposes, the
/// columns past the last whole block and a last partial panel elementwise.
///
/// # Safety
/// The CPU supports AVX2; the block (rows r0..r0+rows, cols c0..c0+cols) lies
/// inside `x`, `x.cs() == 1`, and `dst` holds `packed_len(rows, cols, R)`.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_transposed<V: Lanes, const R: usize>(
    dst: &mut [V::T],
    x: Operand<'_, V::T>,
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
) {
    // SAFETY: the caller upholds the contract above: the block lies inside `x` with `cs = 1`, so rows r0 + q·R + g·l + r (< r0 + rows) at columns c0 + c (< c0 + cols) are in `x.data()`; `panel` is R·cols elements of `dst`, written at c·R + r with r < R, c < cols.
    unsafe {
        let l = V::LANES;
        debug_assert!(x.cs() == 1 && R == 2 * l);
        let full = rows / R;
        for q in 0..full {
            let panel = dst[q * R * cols..(q + 1) * R * cols].as_mut_ptr();
            for g in 0..2 {
                // Rows r0 + q·R + g·l .. + l of x, from column c0.
                let src = x.data().as_ptr().add((r0 + q * R + g * l) * x.rs() + c0);
                let out = panel.add(g * l);
                let mut c = 0;
                while c + l <= cols {
                    V::transpose(src.add(c), x.rs(), out.add(c * R), R);
                    c += l;
                }
                for c in c..cols {
                    for r in 0..l {
                        *out.add(c * R + r) = *src.add(r * x.rs() + c);
                    }
                }
            }
        }
        if full * R < rows {
            pack_panels::<V::T, R>(&mut dst[full * R * cols..], x, r0 + full * R, rows - full * R, c0, cols);
        }
    }
}

/// [`pack_panels`] for an `x` with contiguous columns (`rs = 1`), `R = 2·LANES`:
/// each packed column is two vector copies; in a last partial panel, masked
/// loads read only the rows inside the block and zero the rest.
///
/// # Safety
/// The CPU supports AVX2; the block (rows r0..r0+rows, cols c0..c0+cols) lies
/// inside `x`, `x.rs() == 1`, and `dst` holds `packed_len(rows, cols, R)`.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_copied<V: Lanes, const R: usize>(
    dst: &mut [V::T],
    x: Operand<'_, V::T>,
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
) {
    // SAFETY: the caller upholds the contract above: the block lies inside `x` with `rs = 1`, so the pr contiguous values of column c0 + c from row r0 + q·R are in `x.data()` (masked loads read only those when pr < R); `panel` is R·cols elements of `dst`, written at c·R .. c·R + R.
    unsafe {
        let l = V::LANES;
        debug_assert!(x.rs() == 1 && R == 2 * l);
        for q in 0..rows.div_ceil(R) {
            let pr = R.min(rows - q * R);
            let panel = dst[q * R * cols..(q + 1) * R * cols].as_mut_ptr();
            // Column c0 + c of x holds rows r0 + q·R .. + pr contiguously.
            let src = x.data().as_ptr().add(r0 + q * R + c0 * x.cs());
            for c in 0..cols {
                let (from, to) = (src.add(c * x.cs()), panel.add(c * R));
                if pr == R {
                    V::load(from).store(to);
                    V::load(from.add(l)).store(to.add(l));
                } else {
                    V::load_first(from, pr.min(l)).store(to);
                    V::load_first(from.wrapping_add(l), pr.saturating_sub(l)).store(to.add(l));
                }
            }
        }
    }
}
