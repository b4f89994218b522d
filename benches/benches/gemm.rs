//! gemm throughput, single thread: ours (auto-selected kernel, and the
//! portable kernel) vs `matrixmultiply` vs the naive loop, f32 and f64.
//!
//! One criterion group per shape, e.g. `gemm_f32/(16,784,64) N·N`, with one
//! line per implementation. Throughput is counted as 2·m·k·n elements, so
//! criterion's "elem/s" reads as FLOP/s (`Gelem/s` = GFLOP/s).
//!
//! Shapes: the mnist model's forward (16,784,64) N·N, weight gradient
//! (784,16,64) Tᵀ·N and delta (16,64,784) N·Tᵀ at batch 16; the forward at
//! batch 256; and the square 1024³. The naive loop runs on the batch-16
//! shapes only.
//!
//! Quick run: `cargo bench -p benches --bench gemm -- --warm-up-time 1 --measurement-time 3`.

// Only the `matrixmultiply` yardstick wrapper (`Yardstick::matrixmultiply`)
// may use unsafe code.
#![deny(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use benches::{GemmShape, GEMM_SHAPES};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use nn_core::gemm::{gemm_naive, gemm_with, Backend};
use nn_core::{Float, Matrix, Op};

/// Strides (row, column) of op(X) for a stored row-major X with `cols` columns.
fn strides(op: Op, stored_cols: usize) -> (isize, isize) {
    match op {
        Op::N => (stored_cols as isize, 1),
        Op::T => (1, stored_cols as isize),
    }
}

/// The element types, with their `matrixmultiply` routine.
trait Yardstick: Float {
    /// C ← A·B (α = 1, β = 0) through `matrixmultiply`, strides as given.
    #[allow(clippy::too_many_arguments)]
    fn matrixmultiply(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (isize, isize),
        b: &[Self],
        sb: (isize, isize),
        c: &mut [Self],
    );
}

macro_rules! yardstick {
    ($t:ty, $f:ident) => {
        impl Yardstick for $t {
            #[allow(unsafe_code)]
            fn matrixmultiply(
                m: usize,
                k: usize,
                n: usize,
                a: &[$t],
                sa: (isize, isize),
                b: &[$t],
                sb: (isize, isize),
                c: &mut [$t],
            ) {
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
                let (mi, ki, ni) = (m as isize, k as isize, n as isize);
                assert!(sa == (ki, 1) || sa == (1, mi), "A strides: dense only");
                assert!(sb == (ni, 1) || sb == (1, ki), "B strides: dense only");
                // SAFETY: A holds m·k, B k·n and C m·n elements, stored densely
                // (asserted, strides included), so the strides address exactly
                // those elements.
                unsafe {
                    matrixmultiply::$f(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        sa.0,
                        sa.1,
                        b.as_ptr(),
                        sb.0,
                        sb.1,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
        }
    };
}

yardstick!(f32, sgemm);
yardstick!(f64, dgemm);

fn bench_type<T: Yardstick>(c: &mut Criterion) {
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
        for (label, backend) in [("ours", auto), ("ours-portable", Backend::Portable)] {
            if label == "ours-portable" && auto == Backend::Portable {
                continue;
            }
            group.bench_function(label, |bench| {
                bench.iter(|| {
                    gemm_with(backend, T::ONE, black_box(a.view()), op_a, b.view(), op_b, T::ZERO, out.view_mut())
                        .expect("shapes agree")
                })
            });
        }
        let (sa, sb) = (strides(op_a, ac), strides(op_b, bc));
        group.bench_function("matrixmultiply", |bench| {
            bench.iter(|| T::matrixmultiply(m, k, n, black_box(a.as_slice()), sa, b.as_slice(), sb, out.as_mut_slice()))
        });
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
