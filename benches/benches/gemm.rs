//! gemm throughput, single thread, f32 and f64: ours (the auto-selected
//! kernel, and the AVX2 and portable kernels where they are not it) vs the
//! peers `matrixmultiply` and `gemm` (candle's, with its AVX-512 path),
//! all through `gemm_with` (the peers are nn-core back ends behind the
//! features `matrixmultiply` and `gemm-crate`), and the naive loop.
//!
//! One criterion group per shape, e.g. `gemm_f32/(16,784,64) N·N`, with one
//! line per implementation. Throughput is counted as 2·m·k·n elements, so
//! criterion's "elem/s" reads as FLOP/s (`Gelem/s` = GFLOP/s).
//!
//! Each group also times `fma-peak`, one core's FMA peak measured with the
//! vectors of the kernel in use (`benches::peak`), as many FLOP per
//! iteration as the product: `bench-report` takes ours' share of peak
//! against it, so the share does not rest on an assumed clock.
//!
//! Shapes: the mnist model's forward (16,784,64) N·N, weight gradient
//! (784,16,64) Tᵀ·N and delta (16,64,784) N·Tᵀ at batch 16; the forward at
//! batch 256; and the square 1024³. The naive loop runs on the batch-16
//! shapes only.
//!
//! Quick run: `cargo bench -p benches --bench gemm -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::time::Duration;

use benches::{GemmShape, GEMM_SHAPES};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use nn_core::gemm::{gemm_naive, gemm_with, Backend};
use nn_core::{Float, Matrix, Op};

fn bench_type<T: Float>(c: &mut Criterion) {
    for shape in GEMM_SHAPES {
        let GemmShape { m, k, n, op_a, op_b, naive } = shape;
        let (ar, ac) = if op_a == Op::N { (m, k) } else { (k, m) };
        let (br, bc) = if op_b == Op::N { (k, n) } else { (n, k) };
        let a = Matrix::from_fn(ar, ac, |i, j| T::from_f64(((i * 13 + j * 7) % 17) as f64 / 17.0 - 0.5));
        let b = Matrix::from_fn(br, bc, |i, j| T::from_f64(((i * 5 + j * 11) % 19) as f64 / 19.0 - 0.5));
        let mut out = Matrix::<T>::zeros(m, n);

        let mut group: BenchmarkGroup<'_, _> = c.benchmark_group(shape.group(T::NAME));
        group.throughput(Throughput::Elements(shape.flop() as u64));
        if m * k * n > 50_000_000 {
            group.sample_size(10).measurement_time(Duration::from_secs(5));
        }

        let auto = Backend::Auto.resolve();
        for (label, backend) in [
            ("ours", auto),
            ("ours-avx2", Backend::Avx2),
            ("ours-portable", Backend::Portable),
            ("matrixmultiply", Backend::MatrixMultiply),
            ("gemm", Backend::GemmCrate),
        ] {
            // The kernels `ours` is not, where this CPU runs them.
            if (label != "ours" && backend == auto) || !backend.is_available() {
                continue;
            }
            group.bench_function(label, |bench| {
                bench.iter(|| {
                    gemm_with(backend, T::ONE, black_box(a.view()), op_a, b.view(), op_b, T::ZERO, out.view_mut())
                        .expect("shapes agree")
                })
            });
        }
        // One core's FMA peak, timed in the same group as the products: the
        // report takes each share of peak against it (as many FLOP per
        // iteration as the product, so the throughput reads as GFLOP/s).
        if benches::peak::available::<T>() {
            let flop = shape.flop() as f64;
            group.bench_function("fma-peak", |bench| bench.iter(|| benches::peak::fma_run::<T>(black_box(flop))));
        }
        if naive {
            group.bench_function("naive", |bench| {
                bench.iter(|| {
                    gemm_naive(T::ONE, black_box(a.view()), op_a, b.view(), op_b, T::ZERO, out.view_mut())
                        .expect("shapes agree")
                })
            });
        }
        group.finish();
    }
}

fn gemm_f32(c: &mut Criterion) {
    bench_type::<f32>(c);
}

fn gemm_f64(c: &mut Criterion) {
    bench_type::<f64>(c);
}

criterion_group!(benches, gemm_f32, gemm_f64);
criterion_main!(benches);
