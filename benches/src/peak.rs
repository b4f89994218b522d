//! One core's FMA peak, measured: a loop of fused multiply-adds on twelve
//! independent vector accumulators (enough to keep both FMA units busy
//! through their latency), with the vectors of the kernel that
//! [`Backend::Auto`] picks here (AVX-512 or AVX2). The clock of a core
//! moves with load, temperature and the host of a virtual machine, so a
//! share of "the peak" is only as good as the peak it is taken against:
//! `gemm_pairs` times this probe beside each product.
//!
//! ```
//! if let Some(p) = benches::peak::fma_gflops::<f32>(1e7) {
//!     assert!(p.is_finite() && p > 0.0);
//! }
//! ```

use std::hint::black_box;
use std::time::Instant;

use nn_core::gemm::Backend;
use nn_core::Float;

/// Accumulators in the probe's loop.
const CHAINS: usize = 12;

/// A probe: its lanes per vector, and its loop (rounds → a sum of the accumulators).
type Probe = (usize, fn(usize) -> f64);

/// GFLOP/s of about `flop` FLOP of vector FMAs on one thread (at least one
/// round of the accumulators), with the vector width of the kernel
/// [`Backend::Auto`] resolves to (`None` for the portable kernel, or off
/// x86-64). Each FMA counts as 2 FLOP per lane.
pub fn fma_gflops<T: Float>(flop: f64) -> Option<f64> {
    let start = Instant::now();
    let done = fma_run::<T>(flop)?;
    Some(done / start.elapsed().as_secs_f64() / 1e9)
}

/// Whether this machine has a probe for `T` (a vector kernel is the one picked).
pub fn available<T: Float>() -> bool {
    probe::<T>().is_some()
}

/// Runs about `flop` FLOP of the probe's FMAs and returns the FLOP it ran
/// (`None` where [`fma_gflops`] has no probe): for a benchmark that times
/// the probe itself, like the gemm bench's `fma-peak` lines.
pub fn fma_run<T: Float>(flop: f64) -> Option<f64> {
    let (lanes, run): Probe = probe::<T>()?;
    let per_round = (CHAINS * lanes * 2) as f64;
    let iters = ((flop / per_round) as usize).max(1);
    black_box(run(black_box(iters)));
    Some(iters as f64 * per_round)
}

#[cfg(target_arch = "x86_64")]
fn probe<T: Float>() -> Option<Probe> {
    let f32 = T::NAME == "f32";
    match Backend::Auto.resolve() {
        Backend::Avx512 => Some(if f32 { (16, x86::avx512_f32) } else { (8, x86::avx512_f64) }),
        Backend::Avx2 => Some(if f32 { (8, x86::avx2_f32) } else { (4, x86::avx2_f64) }),
        _ => None,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn probe<T: Float>() -> Option<Probe> {
    None
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    use super::CHAINS;

    macro_rules! probe {
        ($name:ident, $inner:ident, $feat:literal, $t:ty, $set1:ident, $fma:ident, $store:ident, $lanes:literal) => {
            /// The probe's loop; returns a sum of the accumulators so none is optimised away.
            pub(super) fn $name(iters: usize) -> f64 {
                // SAFETY: `probe` hands this function out only when
                // `Backend::Auto` resolved to the kernel that needs these
                // features, which the dispatcher checked the CPU has.
                unsafe { $inner(iters) }
            }

            #[target_feature(enable = $feat)]
            unsafe fn $inner(iters: usize) -> f64 {
                let (a, b) = ($set1(0.999_999 as $t), $set1(1e-7 as $t));
                let mut acc = [$set1(1.0); CHAINS];
                for _ in 0..iters {
                    for x in acc.iter_mut() {
                        *x = $fma(*x, a, b);
                    }
                }
                let mut out = [0.0 as $t; $lanes];
                let mut sum = 0.0;
                for x in acc {
                    // SAFETY: `out` holds one vector's lanes; unaligned store.
                    unsafe { $store(out.as_mut_ptr(), x) };
                    sum += out.iter().map(|&v| f64::from(v)).sum::<f64>();
                }
                sum
            }
        };
    }

    probe!(avx512_f32, avx512_f32_loop, "avx512f", f32, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps, 16);
    probe!(avx512_f64, avx512_f64_loop, "avx512f", f64, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_storeu_pd, 8);
    probe!(avx2_f32, avx2_f32_loop, "avx2,fma", f32, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps, 8);
    probe!(avx2_f64, avx2_f64_loop, "avx2,fma", f64, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_storeu_pd, 4);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_counts_flop_per_second_where_a_vector_kernel_runs() {
        let Some(p) = fma_gflops::<f64>(1e8) else {
            println!("could not run: the portable kernel is the one picked here (no AVX2 + FMA)");
            return;
        };
        // any real core does more than 0.1 and less than 10 000 GFLOP/s
        assert!(p > 0.1 && p < 1e4, "{p}");
        let q = fma_gflops::<f32>(1e8).expect("the same kernel for f32");
        assert!(q > 0.1 && q < 1e4, "{q}");
    }
}
