//! The cache-blocking loop nest around a kernel (after Goto and van de
//! Geijn, as in BLIS and matrixmultiply):
//!
//! ```text
//! for jc in steps of nc over n:              B̃ block  kc × nc  (L3)
//!   for pc in steps of kc over k:
//!     pack op(B)[pc.., jc..] into NR-column panels (or read the full
//!     panels in place and pack only the last, narrower one)
//!     for ic in steps of mc over m:          Ã block  mc × kc  (L2)
//!       pack op(A)[ic.., pc..] into MR-row panels (or read it in place)
//!       macro-kernel: C[ic.., jc..] ← α·Ã·B̃ + β'·C[ic.., jc..]
//! ```
//!
//! with β' = β for the first depth block and 1 after it. Block sizes are
//! the kernel's, shrunk so that the blocks of one dimension are of nearly
//! equal size (k = 784 runs as 4 × 196, not 3 × 256 + 16).
//!
//! This file is safe code: indices are checked here, pointers live in the
//! packing and the kernels.

use super::kernel::{APanels, BPanels, Kernel};
use super::pack::{packed_len, Operand};
use crate::float::Float;
use crate::matrix::MatMut;

/// Splits `len` into blocks of at most `max` (rounded up to a multiple of
/// `unit`, keeping `max` itself a multiple of `unit`), of nearly equal size.
#[inline]
fn block_size(len: usize, max: usize, unit: usize) -> usize {
    if len <= max {
        return len.next_multiple_of(unit);
    }
    let blocks = len.div_ceil(max);
    len.div_ceil(blocks).div_ceil(unit) * unit
}

/// Bytes to which packed buffers are aligned (a cache line).
const ALIGN: usize = 64;

/// C ← β·C, with β = 0 writing zeros whatever C held.
pub(crate) fn scale_c<T: Float>(beta: T, c: &mut MatMut<'_, T>) {
    for i in 0..c.rows() {
        let row = c.row_mut(i);
        if beta == T::ZERO {
            row.fill(T::ZERO);
        } else if beta != T::ONE {
            row.iter_mut().for_each(|x| *x *= beta);
        }
    }
}

/// C ← α·op(A)·op(B) + β·C with kernel `K`, op(A) `m × k`, op(B) `k × n`,
/// C `m × n` (shapes already checked). `ws` is scratch space for the packed
/// blocks; it only grows, so repeated calls of similar sizes allocate nothing.
pub(crate) fn gemm_blocked<K: Kernel>(
    kernel: K,
    alpha: K::T,
    a: Operand<'_, K::T>,
    b: Operand<'_, K::T>,
    beta: K::T,
    mut c: MatMut<'_, K::T>,
    ws: &mut Vec<K::T>,
) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    debug_assert!(b.rows() == k && c.rows() == m && c.cols() == n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == K::T::ZERO {
        scale_c(beta, &mut c);
        return;
    }

    let kc = block_size(k, K::KC, 1);
    let mc = block_size(m, K::MC, K::MR);
    let nc = block_size(n, K::NC, K::NR);
    let a_in_place = kernel.reads_a_in_place(&a, m, k, n);
    let b_in_place = kernel.reads_b_in_place(&b, m, k, n);

    // Packed B̃ first, then Ã, each starting on a cache line.
    let pad = ALIGN / std::mem::size_of::<K::T>();
    let b_cols = if b_in_place { K::NR } else { nc };
    let b_len = packed_len(b_cols, kc, K::NR).next_multiple_of(pad);
    let a_len = if a_in_place { 0 } else { packed_len(mc, kc, K::MR) };
    let need = b_len + a_len + pad;
    if ws.len() < need {
        ws.resize(need, K::T::ZERO);
    }
    let start = ws.as_ptr().align_offset(ALIGN).min(pad);
    let (b_pack, a_pack) = ws[start..need].split_at_mut(b_len);

    let rsc = c.row_stride();
    let c_all = c.as_mut_slice();
    for jc in (0..n).step_by(nc) {
        let ncb = nc.min(n - jc);
        // Columns jc..jc+n_direct are read in place, the rest packed.
        let n_direct = if b_in_place { ncb / K::NR * K::NR } else { 0 };
        for pc in (0..k).step_by(kc) {
            let kcb = kc.min(k - pc);
            if n_direct < ncb {
                kernel.pack_b(b_pack, b, pc, kcb, jc + n_direct, ncb - n_direct);
            }
            let beta_block = if pc == 0 { beta } else { K::T::ONE };
            for ic in (0..m).step_by(mc) {
                let mcb = mc.min(m - ic);
                let a_panels = if a_in_place {
                    APanels::direct(&a, K::MR, ic, pc)
                } else {
                    kernel.pack_a(a_pack, a, ic, mcb, pc, kcb);
                    APanels::packed(a_pack, K::MR, kcb)
                };
                let c_row = ic * rsc + jc;
                if n_direct > 0 {
                    let b_panels = BPanels::direct(&b, K::NR, pc, jc);
                    let c_block = &mut c_all[c_row..];
                    kernel.macro_kernel(mcb, n_direct, kcb, alpha, a_panels, b_panels, beta_block, c_block, rsc);
                }
                if n_direct < ncb {
                    let b_panels = BPanels::packed(b_pack, K::NR, kcb);
                    let c_block = &mut c_all[c_row + n_direct..];
                    let cols = ncb - n_direct;
                    kernel.macro_kernel(mcb, cols, kcb, alpha, a_panels, b_panels, beta_block, c_block, rsc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::block_size;

    #[test]
    fn blocks_are_even_and_tile_aligned() {
        assert_eq!(block_size(784, 256, 1), 196);
        assert_eq!(block_size(16, 144, 6), 18);
        assert_eq!(block_size(1024, 144, 6), 132);
        assert_eq!(block_size(1, 256, 1), 1);
        assert_eq!(block_size(256, 256, 1), 256);
    }
}
