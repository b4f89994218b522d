//! AVX2 + FMA kernels for x86-64: 6 × 16 tiles for `f32`, 6 × 8 for `f64`.
//!
//! A tile is 6 rows × 2 vectors: twelve 256-bit accumulators, two vectors of
//! B̃ and one broadcast of Ã, 15 of the 16 `ymm` registers. The macro-kernel,
//! the microkernel and the packing are `simd.rs`'s, compiled here with
//! `avx2,fma`; this file holds the 256-bit vector types (also used by the
//! AVX-512 kernels' packing), their transposes, and the block sizes.
//!
//! The kernels exist only behind a `Simd<Avx2Token, T>` value, and only
//! [`Avx2Token::detect`] makes a token, after checking that the CPU has AVX2
//! and FMA.

use std::arch::x86_64::*;

use super::simd::{lanes, simd_kernel, PackLanes, Simd};

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
pub(crate) type Avx2<T> = Simd<Avx2Token, T>;

/// Eight `f32` lanes; `repr(transparent)`, so in memory it is the 8 values in order.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct F32x8(__m256);

/// Four `f64` lanes; `repr(transparent)`, so in memory it is the 4 values in order.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct F64x4(__m256d);

lanes!(
    F32x8,
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps
);
lanes!(
    F64x4,
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    _mm256_add_pd
);

impl PackLanes for F32x8 {
    /// Masked load of the first n lanes (masked-out lanes are not accessed).
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        // SAFETY: AVX2 is enabled in the caller and the first n values at `p`
        // are readable (trait contract); the masked-out lanes are not accessed.
        unsafe {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lane);
            F32x8(_mm256_maskload_ps(p, mask))
        }
    }

    /// The 8 × 8 transpose: unpack pairs, shuffle quadruples, swap 128-bit halves.
    #[inline(always)]
    unsafe fn transpose(src: *const f32, rs: usize, rows: usize, dst: *mut f32, ds: usize) {
        // SAFETY: AVX2 is enabled in the caller; `src` has `rows` (1..=8) rows of
        // 8 readable values `rs` apart, of which only those are read (the others
        // are row 0 again), and `dst` 8 runs of 8 writable values `ds` apart
        // (trait contract).
        unsafe {
            let mut r = [_mm256_setzero_ps(); 8];
            for (i, row) in r.iter_mut().enumerate() {
                *row = _mm256_loadu_ps(src.add(if i < rows { i * rs } else { 0 }));
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

impl PackLanes for F64x4 {
    /// Masked load of the first n lanes (masked-out lanes are not accessed).
    #[inline(always)]
    unsafe fn load_first(p: *const f64, n: usize) -> Self {
        // SAFETY: as for `F32x8::load_first`.
        unsafe {
            let lane = _mm256_setr_epi64x(0, 1, 2, 3);
            let mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), lane);
            F64x4(_mm256_maskload_pd(p, mask))
        }
    }

    /// The 4 × 4 transpose: unpack pairs, then swap 128-bit halves.
    #[inline(always)]
    unsafe fn transpose(src: *const f64, rs: usize, rows: usize, dst: *mut f64, ds: usize) {
        // SAFETY: as for `F32x8::transpose`, with `rows` (1..=4) rows of 4 values.
        unsafe {
            let mut r = [_mm256_setzero_pd(); 4];
            for (i, row) in r.iter_mut().enumerate() {
                *row = _mm256_loadu_pd(src.add(if i < rows { i * rs } else { 0 }));
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

simd_kernel!(Avx2Token, f32, compute: F32x8, pack: F32x8, features: "avx2,fma", mr: 6, nv: 2, mc: 144, kc: 256, nc: 4096);
simd_kernel!(Avx2Token, f64, compute: F64x4, pack: F64x4, features: "avx2,fma", mr: 6, nv: 2, mc: 72, kc: 256, nc: 2048);
