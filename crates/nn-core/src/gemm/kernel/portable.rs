//! The portable kernel: plain safe Rust that the compiler vectorises for
//! whatever target it builds for. Always compiled, always tested, and the
//! fallback on CPUs without AVX2 + FMA.
//!
//! An `MR × NR` tile of C lives in a local array; each step of the depth
//! loop adds the outer product of one packed column of Ã (MR values) and one
//! packed row of B̃ (NR values). Edge tiles compute the full tile on the
//! zero-padded panels and store only the part inside C.

use std::marker::PhantomData;

use super::{check_c_block, pack_b_panels, store_tile, APanels, BPanels, Kernel};
use crate::float::Float;
use crate::gemm::pack::{pack_panels, packed_len, Operand};

/// Portable `MR × NR` kernel for element type `T`.
#[derive(Debug)]
pub(crate) struct Portable<T, const MR: usize, const NR: usize>(PhantomData<T>);

impl<T, const MR: usize, const NR: usize> Clone for Portable<T, MR, NR> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, const MR: usize, const NR: usize> Copy for Portable<T, MR, NR> {}

impl<T, const MR: usize, const NR: usize> Portable<T, MR, NR> {
    /// The kernel (it needs no CPU feature).
    pub(crate) const fn new() -> Self {
        Portable(PhantomData)
    }
}

/// The `f32` portable kernel: 4 × 8 tiles (eight 128-bit accumulators on SSE2).
pub(crate) type PortableF32 = Portable<f32, 4, 8>;
/// The `f64` portable kernel: 4 × 4 tiles.
pub(crate) type PortableF64 = Portable<f64, 4, 4>;

/// The microkernel: acc ← Σ_p Ã[·, p] ⊗ B̃[p, ·] over `kc` packed steps.
#[inline(always)]
fn microkernel<T: Float, const MR: usize, const NR: usize>(kc: usize, a: &[T], b: &[T]) -> [[T; NR]; MR] {
    let mut acc = [[T::ZERO; NR]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
        for (row, &ai) in acc.iter_mut().zip(ap) {
            for (x, &bj) in row.iter_mut().zip(bp) {
                *x += ai * bj;
            }
        }
    }
    acc
}

impl<T: Float, const MR: usize, const NR: usize> Kernel for Portable<T, MR, NR> {
    type T = T;
    const MR: usize = MR;
    const NR: usize = NR;
    const MC: usize = 64;
    const KC: usize = {
        assert!(256 >= crate::gemm::SINGLE_PASS_K, "KC below gemm::SINGLE_PASS_K");
        256
    };
    const NC: usize = 1024;

    fn pack_a(self, dst: &mut [T], a: Operand<'_, T>, i0: usize, mc: usize, p0: usize, kc: usize) {
        pack_panels::<T, MR>(dst, a, i0, mc, p0, kc);
    }

    fn pack_b(self, dst: &mut [T], b: Operand<'_, T>, p0: usize, kc: usize, j0: usize, nc: usize) {
        pack_b_panels::<T, NR>(dst, b, p0, kc, j0, nc);
    }

    fn macro_kernel(
        self,
        mc: usize,
        nc: usize,
        kc: usize,
        alpha: T,
        a: APanels<'_, T>,
        b: BPanels<'_, T>,
        beta: T,
        c: &mut [T],
        rsc: usize,
    ) {
        // Only packed panels reach this kernel: `reads_{a,b}_in_place` are false.
        assert!(a.rs == 1 && a.cs == MR && a.covers(MR, mc.div_ceil(MR) * MR, kc), "A panels");
        assert!(b.rs == NR && b.panel_stride == NR * kc && b.data.len() >= packed_len(nc, kc, NR), "B panels");
        check_c_block(c, mc, nc, rsc);
        for (jp, bpanel) in b.data.chunks(NR * kc).take(nc.div_ceil(NR)).enumerate() {
            let j = jp * NR;
            let cols = NR.min(nc - j);
            for i in (0..mc).step_by(MR) {
                let rows = MR.min(mc - i);
                let apanel = &a.data[a.offset(MR, i, 0)..];
                let acc = microkernel::<T, MR, NR>(kc, apanel, bpanel);
                store_tile::<T, false>(acc.as_flattened(), NR, alpha, beta, &mut c[i * rsc + j..], rsc, rows, cols);
            }
        }
    }
}
