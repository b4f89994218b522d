//! The body shared by the x86-64 SIMD kernels (`avx2.rs`, `avx512.rs`):
//! the macro-kernel that sweeps register tiles over a block, the microkernel
//! that computes one tile, and vectorised packing. Everything here is
//! generic over a vector type ([`Lanes`]) and the tile height `MR`, and is
//! `#[inline(always)]`: each kernel file instantiates it inside its own
//! `#[target_feature]` functions (the [`simd_kernel!`] macro), so the same
//! source compiles to AVX2 or AVX-512 code.
//!
//! A tile is `MR` rows × `NV` vectors (`NR = NV·LANES` columns), held in
//! `MR·NV` accumulators. Each depth step loads one row of the B̃ micro-panel
//! (`NV` vectors), broadcasts `MR` values of Ã and issues `MR·NV` FMAs; the C
//! tile is prefetched `C_AHEAD` steps before the end of the depth loop and
//! updated once after it. Edge tiles with fewer rows use a microkernel
//! instantiated for exactly that many rows (no wasted FMAs when m = 16 =
//! 6 + 6 + 4), and a short last tile is evened out with the one before it
//! where Ã is read in place (m = 8 = 4 + 4, not 6 + 2); edge tiles with
//! fewer columns use as few vectors as cover them, compute on the
//! zero-padded panel, and go through a stack buffer from which the valid
//! part is copied into C.
//!
//! Ã and B̃ are read through strides, so the kernels read packed panels and,
//! where packing would cost more than it saves, the operands in place:
//! op(A) when there are few B̃ panels to reuse a packed Ã over (small n),
//! the full panels of a row-major op(B) when there are few row tiles to
//! reuse a packed B̃ over (small m). Packing itself is vectorised: rows of a
//! row-major op(B) are copied (masked loads for the last, narrower panel),
//! and op(B) = Bᵀ is transposed in `LANES × LANES` register blocks.

use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
use std::marker::PhantomData;

use super::{store_tile, APanels, BPanels};
use crate::float::Float;
use crate::gemm::pack::{pack_panels, Operand};

/// A kernel for element type `T`, which exists only with a token `K` that
/// proves the CPU runs its instructions (`Avx2Token`, `Avx512Token`).
#[derive(Debug)]
pub(crate) struct Simd<K, T> {
    _token: K,
    _type: PhantomData<T>,
}

impl<K: Copy, T> Clone for Simd<K, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: Copy, T> Copy for Simd<K, T> {}

impl<K, T> Simd<K, T> {
    /// The kernel; the token proves the CPU can run it.
    pub(crate) fn new(token: K) -> Self {
        Simd { _token: token, _type: PhantomData }
    }
}

/// One vector register of `T` lanes. The methods are thin wrappers over the
/// intrinsics, inlined into the `#[target_feature]` functions that call them.
///
/// # Safety (every method)
/// The caller runs with the target features of the implementing type
/// enabled and the CPU supports them; pointers are valid for `LANES`
/// reads (`load`) or writes (`store`), or one read (`broadcast`), and need
/// not be aligned.
pub(crate) trait Lanes: Copy {
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
    unsafe fn add(self, b: Self) -> Self;
}

/// A [`Lanes`] type with the two operations packing needs.
///
/// # Safety (both methods)
/// As for [`Lanes`]; `load_first` reads only the first `n ≤ LANES` values at
/// `p`; `transpose` reads `rows` (1..=LANES) rows of `LANES` values `rs`
/// apart at `src` and writes `LANES` runs of `LANES` values `ds` apart at
/// `dst`.
pub(crate) trait PackLanes: Lanes {
    /// Loads the first `n ≤ LANES` values at `p` (only those are read) and
    /// zeros the other lanes.
    unsafe fn load_first(p: *const Self::T, n: usize) -> Self;
    /// Transposes a LANES × LANES block: reads `rows` rows of LANES values at
    /// `src + r·rs` (rows past `rows` repeat row 0, and are not read), writes
    /// them as LANES columns at `dst + c·ds` (value `r` of column `c` at
    /// `dst + c·ds + r`; only the first `rows` of each column are meaningful).
    unsafe fn transpose(src: *const Self::T, rs: usize, rows: usize, dst: *mut Self::T, ds: usize);
}

/// `impl Lanes` for a `repr(transparent)` wrapper `$v` over one vector
/// register, from its intrinsics.
macro_rules! lanes {
    ($v:ident, $t:ty, $lanes:expr, $zero:ident, $set1:ident, $load:ident, $store:ident, $fma:ident, $mul:ident, $add:ident) => {
        impl $crate::gemm::kernel::simd::Lanes for $v {
            type T = $t;
            const LANES: usize = $lanes;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: the caller has the type's target features (trait contract).
                $v(unsafe { $zero() })
            }
            #[inline(always)]
            unsafe fn splat(x: $t) -> Self {
                // SAFETY: as for `zero`.
                $v(unsafe { $set1(x) })
            }
            #[inline(always)]
            unsafe fn broadcast(p: *const $t) -> Self {
                // SAFETY: as for `zero`, and `p` is valid for one read (trait contract).
                $v(unsafe { $set1(*p) })
            }
            #[inline(always)]
            unsafe fn load(p: *const $t) -> Self {
                // SAFETY: as for `zero`, and `p` is valid for LANES reads, unaligned
                // allowed (trait contract).
                $v(unsafe { $load(p) })
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t) {
                // SAFETY: as for `zero`, and `p` is valid for LANES writes, unaligned
                // allowed (trait contract).
                unsafe { $store(p, self.0) }
            }
            #[inline(always)]
            unsafe fn fmadd(self, b: Self, c: Self) -> Self {
                // SAFETY: as for `zero`.
                $v(unsafe { $fma(self.0, b.0, c.0) })
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                // SAFETY: as for `zero`.
                $v(unsafe { $mul(self.0, b.0) })
            }
            #[inline(always)]
            unsafe fn add(self, b: Self) -> Self {
                // SAFETY: as for `zero`.
                $v(unsafe { $add(self.0, b.0) })
            }
        }
    };
}
pub(crate) use lanes;

/// `impl Kernel` for `Simd<$token, $t>`: the microkernel on vector type
/// `$v` in tiles of `$mr` rows × `$nv` vectors, packing with vector type
/// `$p`, all compiled with target features `$feat`, and the block sizes.
macro_rules! simd_kernel {
    (
        $token:ty, $t:ty, compute: $v:ty, pack: $p:ty, features: $feat:literal,
        mr: $mr:expr, nv: $nv:expr, mc: $mc:expr, kc: $kc:expr, nc: $nc:expr
    ) => {
        const _: () = {
            use $crate::gemm::kernel::simd::{self, Lanes, Simd};
            use $crate::gemm::kernel::{check_c_block, APanels, BPanels, Kernel};
            use $crate::gemm::pack::{packed_len, Operand};

            const MR: usize = $mr;
            const NV: usize = $nv;
            const NR: usize = NV * <$v as Lanes>::LANES;
            const _: () = assert!(NR % <$p as Lanes>::LANES == 0, "packing vectors must tile a panel row");
            const _: () = assert!($kc >= $crate::gemm::SINGLE_PASS_K, "KC below gemm::SINGLE_PASS_K");

            /// [`simd::macro_kernel`] compiled for this kernel's CPU features.
            ///
            /// # Safety
            /// The CPU has the features `$feat`; the rest as for [`simd::macro_kernel`].
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn sweep(
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
                // SAFETY: forwarded from this function's contract.
                unsafe { simd::macro_kernel::<$v, MR, NV>(mc, nc, kc, alpha, a, b, beta, c, rsc) }
            }

            /// Packing for this kernel's CPU features: `simd::pack_transposed` when
            /// `x` has contiguous rows, `simd::pack_copied` when it has contiguous
            /// columns and panels a whole number of packing vectors tall, else
            /// `pack_panels`.
            ///
            /// # Safety
            /// The CPU has the features `$feat`.
            #[target_feature(enable = $feat)]
            unsafe fn pack<const R: usize>(
                dst: &mut [$t],
                x: Operand<'_, $t>,
                r0: usize,
                rows: usize,
                c0: usize,
                cols: usize,
            ) {
                let fast = x.cs() == 1 || (x.rs() == 1 && R.is_multiple_of(<$p as Lanes>::LANES));
                if !fast {
                    return $crate::gemm::pack::pack_panels::<$t, R>(dst, x, r0, rows, c0, cols);
                }
                assert!($crate::gemm::pack::block_inside(&x, r0, rows, c0, cols), "packing block outside its operand");
                assert!(dst.len() >= packed_len(rows, cols, R), "packing buffer too short");
                if x.cs() == 1 {
                    // SAFETY: the CPU has the features (contract); the asserts are
                    // the bounds `pack_transposed` needs and `x.cs() == 1`.
                    unsafe { simd::pack_transposed::<$p, R>(dst, x, r0, rows, c0, cols) }
                } else {
                    // SAFETY: as above, with `x.rs() == 1` for `pack_copied`.
                    unsafe { simd::pack_copied::<$p, R>(dst, x, r0, rows, c0, cols) }
                }
            }

            impl Kernel for Simd<$token, $t> {
                type T = $t;
                const MR: usize = MR;
                const NR: usize = NR;
                const MC: usize = $mc;
                const KC: usize = $kc;
                const NC: usize = $nc;

                fn pack_a(self, dst: &mut [$t], a: Operand<'_, $t>, i0: usize, mc: usize, p0: usize, kc: usize) {
                    // SAFETY: `self` holds the token, made only when the CPU has the features.
                    unsafe { pack::<MR>(dst, a, i0, mc, p0, kc) }
                }

                fn pack_b(self, dst: &mut [$t], b: Operand<'_, $t>, p0: usize, kc: usize, j0: usize, nc: usize) {
                    // B̃ is op(B) packed as the NR-row panels of op(B)ᵀ.
                    // SAFETY: `self` holds the token, made only when the CPU has the features.
                    unsafe { pack::<NR>(dst, b.t(), j0, nc, p0, kc) }
                }

                fn reads_a_in_place(self, a: &Operand<'_, $t>, _m: usize, _k: usize, n: usize) -> bool {
                    // Packing A costs about as much as one sweep of Ã over a B̃
                    // panel; it pays only when Ã is reused over many panels.
                    (a.rs() == 1 || a.cs() == 1) && n <= 8 * NR
                }

                fn reads_b_in_place(self, b: &Operand<'_, $t>, m: usize, _k: usize, _n: usize) -> bool {
                    // Packing B̃ costs about one sweep of Ã (MR rows) over it; with
                    // few row tiles to reuse it over, reading op(B) in place is
                    // cheaper, unless its rows are a multiple of 4 KiB apart, which
                    // would map a whole panel onto a few L1 sets. Rows exactly one
                    // panel wide (n = NR, e.g. 64 f32 columns) are read in place
                    // whatever m: they already are the packed layout.
                    let row_bytes = b.rs() * std::mem::size_of::<$t>();
                    b.cs() == 1 && (m <= 16 * MR || b.rs() == NR) && !row_bytes.is_multiple_of(4096)
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
                    assert!(b.covers(NR, kc, nc), "B panels");
                    check_c_block(c, mc, nc, rsc);
                    if mc == 0 || nc == 0 || kc == 0 {
                        return;
                    }
                    // SAFETY: `self` holds the token, made only when the CPU has the
                    // features. The asserts above give the bounds `macro_kernel` needs.
                    unsafe { sweep(mc, nc, kc, alpha, a, b, beta, c, rsc) }
                }
            }
        };
    };
}
pub(crate) use simd_kernel;

/// Largest tile height the row dispatch in [`macro_kernel`] instantiates.
const MAX_MR: usize = 16;

/// The macro-kernel: sweeps the `mc × nc` block in `MR × NV·LANES` tiles,
/// column panels outer, so one B̃ micro-panel stays in L1 while the Ã
/// panels pass by; each tile is one call of [`microkernel`].
///
/// # Safety
/// The CPU supports `V`'s instructions and they are enabled in the caller;
/// `mc, nc, kc > 0`; `a` covers elements (i, p) for i < mc, p < kc and has
/// `rs = 1` or `cs = 1`; `b` covers the full NR-wide rows of its panels for
/// columns < nc, depths < kc; the C block (`(mc − 1)·rsc + nc` elements)
/// fits in `c`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn macro_kernel<V: Lanes, const MR: usize, const NV: usize>(
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
    const { assert!(MR >= 1 && MR <= MAX_MR && NV >= 1 && NV <= 4) };
    let nr = NV * V::LANES;
    let a_rows_contiguous = a.rs != 1;
    let last = last_tiles(mc, MR, a.panel_stride == MR * a.rs);
    for j in (0..nc).step_by(nr) {
        let cols = nr.min(nc - j);
        // SAFETY: column j < nc lies in panel j / nr, which `b` covers (contract).
        let bp = unsafe { b.data.as_ptr().add(j / nr * b.panel_stride) };
        let mut i = 0;
        while i < mc {
            let rows = if i < last.0 {
                MR
            } else if i == last.0 {
                last.1
            } else {
                mc - i
            };
            // SAFETY: row i < mc at depth 0 is covered by `a`, and C element
            // (i, j) lies in the C block (contract).
            let (ap, cp) = unsafe { (a.data.as_ptr().add(a.offset(MR, i, 0)), c.as_mut_ptr().add(i * rsc + j)) };
            let t = Tile { kc, a: ap, rsa: a.rs, csa: a.cs, b: bp, rsb: b.rs, alpha, beta, c: cp, rsc, cols };
            i += rows;
            // Instantiate the microkernel for its rows (1..=MR), the Ã layout,
            // and the vectors of columns it needs (1..=NV).
            macro_rules! by_rows {
                ($contiguous:literal, $nv:literal) => {
                    by_rows!(@ $contiguous, $nv; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
                };
                (@ $contiguous:literal, $nv:literal; $($r:literal)*) => {
                    match rows {
                        // SAFETY: the tile's rows (≤ MR) and columns lie in the
                        // block, its depth is the block's: the bounds of `macro_kernel`'s
                        // contract, which are `microkernel`'s.
                        $($r if $r <= MR => unsafe { microkernel::<V, $r, $contiguous, $nv>(t) },)*
                        _ => unreachable!("a tile has 1 to MR rows"),
                    }
                };
            }
            macro_rules! by_vectors {
                ($contiguous:literal) => {
                    match cols.div_ceil(V::LANES) {
                        1 => by_rows!($contiguous, 1),
                        2 if NV >= 2 => by_rows!($contiguous, 2),
                        3 if NV >= 3 => by_rows!($contiguous, 3),
                        4 if NV >= 4 => by_rows!($contiguous, 4),
                        _ => unreachable!("a tile has 1 to NV vectors"),
                    }
                };
            }
            if a_rows_contiguous {
                by_vectors!(true)
            } else {
                by_vectors!(false)
            }
        }
    }
}

/// Where the last one or two row tiles of an `mc`-row block start, and the
/// height of the first of them: `(start, rows)`, the rows after `start +
/// rows` forming one more tile. All tiles are `mr` rows tall but the last,
/// unless the last would have at most `mr / 2` rows: a short tile keeps few
/// accumulators in flight (r rows × NV vectors, where two FMA units need 8
/// or more to hide their 4-cycle latency) and reloads its B̃ micro-panel as
/// often as a full one. Then the last `mr + r` rows run as two tiles of
/// nearly equal height (with `mr` = 6: 4 + 3, 4 + 4 or 5 + 4, so m = 8 costs
/// 8 row-steps instead of 6 + 2·2; with `mr` = 12, m = 16 runs as 8 + 8).
/// Only when the rows of Ã are evenly spaced (`linear`, Ã read in place), so
/// that a tile may start at any row; packed panels keep tiles of `mr`. Every
/// element of C is the same dot product whatever tile computes it.
fn last_tiles(mc: usize, mr: usize, linear: bool) -> (usize, usize) {
    let r = mc % mr;
    if linear && mc > mr && r > 0 && r <= mr / 2 {
        let start = mc - mr - r;
        (start, (mr + r).div_ceil(2))
    } else {
        let start = mc.saturating_sub(1) / mr * mr;
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

/// Depth steps before the end of a tile's depth loop at which the C tile is
/// prefetched into L1. At the start of the loop, where it was prefetched
/// before, the lines are mostly evicted again by the time the tile is
/// stored: a tile streams kc·(MR + NR) values of Ã and B̃ through L1 (152
/// KiB for the AVX-512 f64 tile at kc = 512, three times a Zen 5 core's 48
/// KiB L1d), and rows of C a multiple of 4 KiB apart share a few sets. 64
/// steps (about 800 cycles of a full AVX-512 tile) is early enough for a
/// line from L3; 48 to 128 measured alike. On a Zen 5 core (AVX-512) this
/// raised f64 1024³ by 1–3 % (the `gemm` crate's time over ours, median
/// of pairs in one process: 1.00–1.03 before, 1.04–1.05 after, on a loaded
/// machine) and left the other benchmark shapes as they were within the
/// noise; a depth loop of at most 64 steps still prefetches at its start.
const C_AHEAD: usize = 64;

/// Prefetches the C tile (`M` rows of `NV` vectors from `t.c`) into L1: the
/// first and the last cache line of each row.
#[inline(always)]
fn prefetch_c_tile<V: Lanes, const M: usize, const NV: usize>(t: &Tile<V::T>) {
    for i in 0..M {
        let row = t.c.wrapping_add(i * t.rsc) as *const i8;
        // SAFETY: SSE is part of x86-64, and a prefetch never faults, whatever the address.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(row);
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(NV * V::LANES * std::mem::size_of::<V::T>() - 1));
        }
    }
}

/// The microkernel: C tile (M × cols) ← α·Ã·B̃ + β·C tile, for cols ≤
/// NV·LANES (narrow edge tiles use fewer vectors than the kernel's NV).
///
/// `ROWS`: Ã's rows are contiguous (`csa = 1`, op(A) = A read in place), so
/// each row gets its own pointer; otherwise its columns are (`rsa = 1`:
/// packed panels, or op(A) = Aᵀ read in place) and one pointer steps by `csa`.
///
/// # Safety
/// Inlined into [`macro_kernel`] (the vector instructions enabled). Reads Ã
/// elements (i, p) for i < M, p < kc and the first NV·LANES values of the kc
/// rows of the B̃ micro-panel, all in bounds by `macro_kernel`'s contract;
/// writes (and, when β ≠ 0, reads) C elements (i, j) for i < M, j < cols,
/// inside the C block.
#[inline(always)]
unsafe fn microkernel<V: Lanes, const M: usize, const ROWS: bool, const NV: usize>(t: Tile<V::T>) {
    let l = V::LANES;
    // The depth at which the C tile is prefetched (a multiple of UNROLL):
    // C_AHEAD steps before the end of the depth loop, or at its start when it
    // is shorter; not at all when the loop is too short for the prefetch to
    // arrive early.
    let c_at = (t.kc >= 32).then(|| t.kc.saturating_sub(C_AHEAD) / UNROLL * UNROLL);
    // SAFETY: every pointer below is dereferenced only at the elements this
    // function's contract lists (Ã (i, p) for i < M, p < kc; B̃ rows p < kc,
    // NV·LANES values each; C (i, j) for i < M, j < cols, directly when the
    // tile is full and through `store_tile` otherwise), and the vector
    // instructions are enabled in the caller.
    unsafe {
        let mut acc = [[V::zero(); NV]; M];
        // One depth step: acc += Ã[·, p] ⊗ B̃[p, ·], with `$a_at` the address
        // of Ã($i, p) and `$pb` that of B̃(p, 0). (A macro rather than a
        // closure: closures would be compiled without the target features.)
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
            let mut from = 0;
            if let Some(at) = c_at {
                for p in 0..at {
                    step!(i => rows[i].add(p), pb.add(p * t.rsb));
                }
                prefetch_c_tile::<V, M, NV>(&t);
                from = at;
            }
            for p in from..t.kc {
                step!(i => rows[i].add(p), pb.add(p * t.rsb));
            }
        } else {
            // wrapping_add: `pa` steps once past the last depth read, which may
            // leave the allocation; it is only dereferenced in bounds.
            let mut pa = t.a;
            let mut p = 0;
            // UNROLL steps at a time while they end by `$end`.
            macro_rules! unrolled {
                ($end:expr) => {
                    while p + UNROLL <= $end {
                        for u in 0..UNROLL {
                            let col = pa.wrapping_add(u * t.csa);
                            step!(i => col.add(i), pb.add((p + u) * t.rsb));
                        }
                        pa = pa.wrapping_add(UNROLL * t.csa);
                        p += UNROLL;
                    }
                };
            }
            if let Some(at) = c_at {
                // `at` is a multiple of UNROLL: this stops exactly there.
                unrolled!(at);
                prefetch_c_tile::<V, M, NV>(&t);
            }
            unrolled!(t.kc);
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
            // Partial tile: spill the accumulators to a stack buffer of M rows
            // of NV vectors (each `repr(transparent)` over LANES values, so the
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
            store_tile::<V::T, true>(buf, nr, t.alpha, t.beta, c, t.rsc, M, t.cols);
        }
    }
}

/// [`pack_panels`] for an `x` with contiguous rows (`cs = 1`): each full
/// panel is packed by LANES × LANES register transposes, in groups of LANES
/// rows (the last group of a panel whose height `R` is not a multiple of
/// LANES has fewer); the last columns and a last partial panel elementwise.
///
/// A transpose writes whole columns of LANES values, so a short group's
/// column `c` spills LANES − (rows of the group) values into the start of
/// the columns after it. Every spilled value is overwritten: the transpose
/// stores its columns in order (the next column's own store comes later),
/// the short group goes before the full groups (which rewrite the start of
/// every column), and the blocks go in order; the transposes stop short of
/// the panel's last columns (enough that no spill leaves the panel), which
/// are written elementwise afterwards.
///
/// # Safety
/// The CPU supports `V`'s instructions and they are enabled in the caller;
/// the block (rows r0..r0+rows, cols c0..c0+cols) lies inside `x`,
/// `x.cs() == 1`, and `dst` holds `packed_len(rows, cols, R)`.
#[inline(always)]
pub(crate) unsafe fn pack_transposed<V: PackLanes, const R: usize>(
    dst: &mut [V::T],
    x: Operand<'_, V::T>,
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
) {
    let l = V::LANES;
    debug_assert!(x.cs() == 1);
    // Row groups of a panel, the short one (if any) first: (first row, rows).
    let short = R % l;
    let groups = (short > 0).then_some((R - short, short)).into_iter().chain((0..R / l).map(|g| (g * l, l)));
    // Columns packed by transposes: whole blocks of l, leaving over the
    // `extra` columns a short group's last spill reaches into (see above).
    let extra = if short > 0 { (l - short).div_ceil(R) } else { 0 };
    let blocks = cols.saturating_sub(extra) / l;
    let full = rows / R;
    for q in 0..full {
        let panel = dst[q * R * cols..(q + 1) * R * cols].as_mut_ptr();
        let src = x.data()[(r0 + q * R) * x.rs() + c0..].as_ptr();
        // SAFETY: rows r0 + q·R .. + R and columns c0 .. c0 + cols of x lie
        // inside x (contract; x.cs() == 1): a transpose reads rows g .. g + n of
        // the panel at columns c .. c + l ≤ cols. It writes l runs of l values at
        // c'·R + g for c' < c + l, the last ending at (c + l − 1)·R + g + l ≤
        // (c + l)·R when g + l ≤ R (full groups), and at (c + l)·R + l − short ≤
        // (c + l + extra)·R ≤ cols·R for the short group (g = R − short): inside
        // `panel` (R·cols values). The elementwise tail writes (c, r) for
        // c < cols, r < R.
        unsafe {
            for (g, n) in groups.clone() {
                for blk in 0..blocks {
                    let c = blk * l;
                    V::transpose(src.add(g * x.rs() + c), x.rs(), n, panel.add(c * R + g), R);
                }
            }
            for c in blocks * l..cols {
                for r in 0..R {
                    *panel.add(c * R + r) = *src.add(r * x.rs() + c);
                }
            }
        }
    }
    if full * R < rows {
        pack_panels::<V::T, R>(&mut dst[full * R * cols..], x, r0 + full * R, rows - full * R, c0, cols);
    }
}

/// [`pack_panels`] for an `x` with contiguous columns (`rs = 1`), `R` a
/// multiple of `LANES`: each packed column is R / LANES vector copies; in a
/// last partial panel, masked loads read only the rows inside the block and
/// zero the rest.
///
/// # Safety
/// The CPU supports `V`'s instructions and they are enabled in the caller;
/// the block (rows r0..r0+rows, cols c0..c0+cols) lies inside `x`,
/// `x.rs() == 1`, and `dst` holds `packed_len(rows, cols, R)`.
#[inline(always)]
pub(crate) unsafe fn pack_copied<V: PackLanes, const R: usize>(
    dst: &mut [V::T],
    x: Operand<'_, V::T>,
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
) {
    let l = V::LANES;
    debug_assert!(x.rs() == 1 && R.is_multiple_of(l));
    for q in 0..rows.div_ceil(R) {
        let pr = R.min(rows - q * R);
        let panel = dst[q * R * cols..(q + 1) * R * cols].as_mut_ptr();
        // SAFETY: column c0 + c of x holds rows r0 + q·R .. + pr contiguously
        // inside x (contract; x.rs() == 1): full vectors read only those rows,
        // masked loads only the first of them; the writes, R values at c·R,
        // stay inside `panel` (R·cols values).
        unsafe {
            let src = x.data().as_ptr().add(r0 + q * R + c0 * x.cs());
            for c in 0..cols {
                let (from, to) = (src.add(c * x.cs()), panel.add(c * R));
                if pr == R {
                    for v in 0..R / l {
                        V::load(from.add(v * l)).store(to.add(v * l));
                    }
                } else {
                    for v in 0..R / l {
                        let n = pr.saturating_sub(v * l).min(l);
                        V::load_first(from.wrapping_add(v * l), n).store(to.add(v * l));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::last_tiles;
    use crate::gemm::kernel::avx2::{Avx2, Avx2Token};
    use crate::gemm::kernel::avx512::{Avx512, Avx512Token};
    use crate::gemm::kernel::Kernel;
    use crate::gemm::pack::{pack_panels, packed_len, Operand};
    use crate::gemm::Op;
    use crate::{Float, MatRef};

    /// `pack_a` (vector transposes, spills included) gives the elementwise
    /// packing for every block of an op(A) with contiguous rows, op(A) = A
    /// (x.cs() = 1), from one row and column to several panels and blocks,
    /// with the buffer exactly as long as the packing.
    fn packing_matches<K: Kernel>(kernel: K) {
        for rows in 1..=2 * K::MR + 3 {
            for cols in 0..=21 {
                let stride = cols + 3;
                let data: Vec<K::T> = (0..rows * stride).map(|i| K::T::from_f64(i as f64 + 1.0)).collect();
                let a = Operand::new(MatRef::new(&data, rows, cols, stride).unwrap(), Op::N);
                let len = packed_len(rows, cols, K::MR);
                let mut want = vec![K::T::ZERO; len];
                match K::MR {
                    6 => pack_panels::<K::T, 6>(&mut want, a, 0, rows, 0, cols),
                    r => panic!("no reference packing for MR = {r}"),
                }
                let mut got = vec![K::T::from_f64(-7.0); len];
                kernel.pack_a(&mut got, a, 0, rows, 0, cols);
                assert_eq!(got, want, "{rows} × {cols}");
            }
        }
    }

    #[test]
    fn vector_packing_of_a_matches_elementwise_packing() {
        if let Some(token) = Avx2Token::detect() {
            packing_matches(Avx2::<f32>::new(token));
            packing_matches(Avx2::<f64>::new(token));
        }
        if let Some(token) = Avx512Token::detect() {
            packing_matches(Avx512::<f32>::new(token));
            packing_matches(Avx512::<f64>::new(token));
        }
    }

    #[test]
    fn short_last_tiles_are_evened_out_only_where_rows_are_linear() {
        // mr = 6: a last tile of 1..=3 rows is merged.
        assert_eq!(last_tiles(8, 6, true), (0, 4));
        assert_eq!(last_tiles(16, 6, true), (12, 4));
        assert_eq!(last_tiles(15, 6, true), (6, 5));
        assert_eq!(last_tiles(15, 6, false), (12, 3));
        // mr = 12: m = 16 runs as 8 + 8, m = 18 as 9 + 9, m = 19 as 12 + 7.
        assert_eq!(last_tiles(16, 12, true), (0, 8));
        assert_eq!(last_tiles(18, 12, true), (0, 9));
        assert_eq!(last_tiles(19, 12, true), (12, 7));
        assert_eq!(last_tiles(20, 12, true), (12, 8));
        assert_eq!(last_tiles(5, 12, true), (0, 5));
    }
}
