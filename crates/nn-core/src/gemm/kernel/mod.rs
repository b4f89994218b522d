//! The kernel contract: block sizes, packing, and the macro-kernel
//! ([`Kernel::macro_kernel`]) that sweeps register tiles over one packed
//! block, each tile computed by the kernel's microkernel (`microkernel` in
//! `portable.rs` and `simd.rs`), as in BLIS's vocabulary.
//!
//! A kernel computes, for an `mc × nc` block of C and a `kc`-deep slice of
//! the product,
//!
//! ```text
//! C[0..mc, 0..nc] ← α · Ã · B̃ + β · C[0..mc, 0..nc]
//! ```
//!
//! where Ã (`mc × kc`) is read through [`APanels`] and B̃ (`kc × nc`) through
//! [`BPanels`]: packed, or straight from op(A) / op(B) where packing would
//! cost more than it saves. It walks the block in `MR × NR` register tiles;
//! β = 0 overwrites C without reading it.

// Every `unsafe` operation in the kernels sits in an `unsafe` block that
// says why it is sound.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub(crate) mod portable;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "x86_64")]
pub(crate) mod simd;

use super::pack::{pack_panels, Operand};
use crate::float::Float;

/// Where a kernel reads the rows of Ã: element (i, p) of the block is
/// `data[(i / MR)·panel_stride + (i % MR)·rs + p·cs]`.
///
/// Packed panels have `panel_stride = MR·kc`, `rs = 1`, `cs = MR`; an unpacked
/// block of op(A) starting at (i0, p0) has `panel_stride = MR·rs` with op(A)'s
/// own strides, which makes the formula `data[i·rs + p·cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct APanels<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) panel_stride: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<'a, T: Float> APanels<'a, T> {
    /// Packed panels of `mr` rows and depth `kc`.
    pub(crate) fn packed(data: &'a [T], mr: usize, kc: usize) -> Self {
        APanels { data, panel_stride: mr * kc, rs: 1, cs: mr }
    }

    /// The block of op(A) starting at (i0, p0), read in place.
    pub(crate) fn direct(a: &Operand<'a, T>, mr: usize, i0: usize, p0: usize) -> Self {
        let start = (i0 * a.rs() + p0 * a.cs()).min(a.data().len());
        APanels { data: &a.data()[start..], panel_stride: mr * a.rs(), rs: a.rs(), cs: a.cs() }
    }

    /// Offset of element (i, p), for a kernel whose tiles are `mr` rows tall.
    #[inline]
    pub(crate) fn offset(&self, mr: usize, i: usize, p: usize) -> usize {
        (i / mr) * self.panel_stride + (i % mr) * self.rs + p * self.cs
    }

    /// True when elements (i, p) for `i < rows`, `p < kc` all lie inside `data`
    /// (the largest offset is that of the last row at the last depth, since
    /// offsets grow with i and with p).
    pub(crate) fn covers(&self, mr: usize, rows: usize, kc: usize) -> bool {
        rows == 0 || kc == 0 || self.offset(mr, rows - 1, kc - 1) < self.data.len()
    }
}

/// Where a kernel reads B̃: element (p, j) of the block is
/// `data[(j / NR)·panel_stride + p·rs + j % NR]`; a kernel reads whole
/// `NR`-wide panel rows.
///
/// Packed panels have `panel_stride = NR·kc`, `rs = NR`; an unpacked block of
/// a row-major op(B) starting at (p0, j0) has `panel_stride = NR` and op(B)'s
/// row stride, which makes the formula `data[p·rs + j]` (full panels only).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BPanels<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) panel_stride: usize,
    pub(crate) rs: usize,
}

impl<'a, T: Float> BPanels<'a, T> {
    /// Packed panels of `nr` columns and depth `kc`.
    pub(crate) fn packed(data: &'a [T], nr: usize, kc: usize) -> Self {
        BPanels { data, panel_stride: nr * kc, rs: nr }
    }

    /// The block of a row-major op(B) (`cs = 1`) starting at (p0, j0), read in place.
    pub(crate) fn direct(b: &Operand<'a, T>, nr: usize, p0: usize, j0: usize) -> Self {
        debug_assert_eq!(b.cs(), 1);
        let start = (p0 * b.rs() + j0).min(b.data().len());
        BPanels { data: &b.data()[start..], panel_stride: nr, rs: b.rs() }
    }

    /// True when the whole rows of the panels holding columns `0..cols` at
    /// depths `0..kc` lie inside `data` (the largest offset is the end of the
    /// last panel's last row).
    pub(crate) fn covers(&self, nr: usize, kc: usize, cols: usize) -> bool {
        kc == 0 || cols == 0 || (cols - 1) / nr * self.panel_stride + (kc - 1) * self.rs + nr <= self.data.len()
    }
}

/// A register-tiled microkernel with its cache-blocking parameters.
pub(crate) trait Kernel: Copy {
    /// Element type.
    type T: Float;
    /// Rows of a register tile.
    const MR: usize;
    /// Columns of a register tile.
    const NR: usize;
    /// Rows of op(A) per packed block (a multiple of `MR`; Ã stays in L2).
    const MC: usize;
    /// Depth of a block (a B̃ micro-panel, `KC × NR`, stays in L1).
    const KC: usize;
    /// Columns of op(B) per packed block (a multiple of `NR`; B̃ stays in L3).
    const NC: usize;

    /// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of op(A) into `MR`-row panels.
    fn pack_a(self, dst: &mut [Self::T], a: Operand<'_, Self::T>, i0: usize, mc: usize, p0: usize, kc: usize);

    /// Packs rows `p0..p0+kc`, columns `j0..j0+nc` of op(B) into `NR`-column panels.
    fn pack_b(self, dst: &mut [Self::T], b: Operand<'_, Self::T>, p0: usize, kc: usize, j0: usize, nc: usize);

    /// Whether Ã may be read in place from op(A) (`APanels::direct`) for this
    /// problem instead of being packed.
    fn reads_a_in_place(self, _a: &Operand<'_, Self::T>, _m: usize, _k: usize, _n: usize) -> bool {
        false
    }

    /// Whether the full `NR`-column panels of B̃ may be read in place from
    /// op(B) (`BPanels::direct`, needs `cs = 1`) for this problem.
    fn reads_b_in_place(self, _b: &Operand<'_, Self::T>, _m: usize, _k: usize, _n: usize) -> bool {
        false
    }

    /// The macro-kernel: C block (`mc × nc`, row stride `rsc`, element (i, j)
    /// at `c[i·rsc + j]`) ← α·Ã·B̃ + β·C block, for a block of depth `kc`,
    /// one `MR × NR` register tile at a time (each by the microkernel).
    #[allow(clippy::too_many_arguments)]
    fn macro_kernel(
        self,
        mc: usize,
        nc: usize,
        kc: usize,
        alpha: Self::T,
        a: APanels<'_, Self::T>,
        b: BPanels<'_, Self::T>,
        beta: Self::T,
        c: &mut [Self::T],
        rsc: usize,
    );
}

/// Packs op(B) as the `NR`-row panels of op(B)ᵀ (shared by all kernels).
pub(crate) fn pack_b_panels<T: Float, const NR: usize>(
    dst: &mut [T],
    b: Operand<'_, T>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) {
    pack_panels::<T, NR>(dst, b.t(), j0, nc, p0, kc);
}

/// Panics unless the C block of `mc × nc` with row stride `rsc` fits in `c`.
pub(crate) fn check_c_block<T>(c: &[T], mc: usize, nc: usize, rsc: usize) {
    assert!(mc == 0 || nc == 0 || (mc - 1) * rsc + nc <= c.len(), "C block outside C");
}

/// C tile ← α·acc + β·C tile for the `rows × cols` top-left part of a
/// register tile held in `acc` (row i at `acc[i·ld..]`). β = 0 ignores C.
/// `FUSED`: β·C + (α·acc) in one fused multiply-add, α·acc rounded first,
/// which is how the vector kernels store a full tile; their edge tiles come
/// here, so an element of C gets the same bits whichever tile holds it,
/// for any α and β. Otherwise two products and a sum, each rounded (the
/// portable kernel, whose every tile comes here, and which may run where
/// a fused multiply-add is a slow library call).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_tile<T: Float, const FUSED: bool>(
    acc: &[T],
    ld: usize,
    alpha: T,
    beta: T,
    c: &mut [T],
    rsc: usize,
    rows: usize,
    cols: usize,
) {
    for i in 0..rows {
        let src = &acc[i * ld..i * ld + cols];
        let dst = &mut c[i * rsc..i * rsc + cols];
        if beta == T::ZERO {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = alpha * s;
            }
        } else {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = if FUSED { beta.mul_add(*d, alpha * s) } else { alpha * s + beta * *d };
            }
        }
    }
}
