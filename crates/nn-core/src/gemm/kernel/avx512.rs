//! AVX-512 kernels for x86-64: 6 × 64 tiles for `f32`, 6 × 32 for `f64`.
//!
//! A tile is 6 rows × 4 vectors: twenty-four 512-bit accumulators, four
//! vectors of B̃ and one broadcast of Ã, 29 of the 32 `zmm` registers. Each
//! depth step loads 4 vectors of B̃ and broadcasts 6 values of Ã for 24 FMAs
//! (10 loads, where the 12 × 2-vector tile this replaces needed 14: 2 loads
//! and 12 broadcasts). On a Zen 5 core the wider tile took 1024³ from
//! about 86 % to about 93 % of the two FMA units' peak, f32 and f64, and
//! from slightly behind the `gemm` crate (whose AVX-512 microkernel steps
//! the same way: 4 vector loads, 6 broadcasts) to level with it; the fewer
//! broadcasts per FMA evidently matter more than the B̃ bytes, twice as
//! many per depth step. The macro-kernel, the microkernel and the packing are
//! `simd.rs`'s, compiled here with AVX-512; packing moves 256-bit vectors
//! (the AVX2 kernels' types and transposes), which keeps it simple and is
//! not the bottleneck.
//!
//! The tile shape does not change a result's bits: every element of C is the
//! same sequential FMA chain over each depth block whatever tile computes
//! it, and the depth blocks are unchanged.
//!
//! Block sizes, measured on a Zen 5 core (48 KiB L1d, 1 MiB L2): a depth
//! block of up to 512 (k = 784 runs as 2 × 392) beats AVX2's 256 by 5–25 %
//! on the mnist shapes and 1024³, although a B̃ micro-panel of that depth
//! (128 KiB) does not fit in L1: the L2 feeds it fast enough, and fewer
//! depth blocks mean fewer passes over C and fewer tile start-ups. Ã blocks
//! (mc × kc) stay within half the L2. (Keeping the 6 × kc Ã micro-panel in
//! L1 and sweeping the B̃ micro-panels past it from a B̃ block sized for the
//! L2, the `gemm` crate's order, measured no faster.)
//!
//! The kernels exist only behind a `Simd<Avx512Token, T>` value, and only
//! [`Avx512Token::detect`] makes a token, after checking that the CPU has
//! AVX-512F (and AVX2 and FMA, which packing uses).

use std::arch::x86_64::*;

use super::avx2::{F32x8, F64x4};
use super::simd::{lanes, simd_kernel, Simd};

/// Proof that this CPU executes AVX-512F, AVX2 and FMA instructions: only
/// [`Avx512Token::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avx512Token(());

impl Avx512Token {
    /// A token, if the CPU supports AVX-512F, AVX2 and FMA (and the OS saves
    /// the `zmm` registers, which the detection checks).
    pub(crate) fn detect() -> Option<Self> {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Some(Avx512Token(()))
        } else {
            None
        }
    }
}

/// The AVX-512 kernel for element type `T`.
pub(crate) type Avx512<T> = Simd<Avx512Token, T>;

/// Sixteen `f32` lanes; `repr(transparent)`, so in memory it is the 16 values in order.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct F32x16(__m512);

/// Eight `f64` lanes; `repr(transparent)`, so in memory it is the 8 values in order.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct F64x8(__m512d);

lanes!(
    F32x16,
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps,
    _mm512_add_ps
);
lanes!(
    F64x8,
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd,
    _mm512_add_pd
);

simd_kernel!(Avx512Token, f32, compute: F32x16, pack: F32x8, features: "avx512f,avx2,fma", mr: 6, nv: 4, mc: 240, kc: 512, nc: 4096);
simd_kernel!(Avx512Token, f64, compute: F64x8, pack: F64x4, features: "avx512f,avx2,fma", mr: 6, nv: 4, mc: 120, kc: 512, nc: 2048);
