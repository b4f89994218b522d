//! gemm throughput, ours vs the peers, timed in pairs: for a machine whose
//! other cores are busy (criterion's one-implementation-after-the-other
//! runs then compare different loads). Each repetition times ours, the
//! `gemm` crate and matrixmultiply back to back; the report gives each one's
//! best GFLOP/s and the median over repetitions of (best peer's time / our
//! time) in that repetition, which a load that comes and goes affects little.
//!
//! ```text
//! cargo build --profile bench -p benches --example gemm_pairs
//! taskset -c 1 target/release/examples/gemm_pairs [reps] [all|big|small|1024|m,k,n[,T|N,T|N]]
//! ```
//!
//! The share of peak is against one core's FMA peak measured in the same
//! repetition ([`benches::peak::fma_gflops`], as many FLOP as one timing of
//! ours), so a clock that moves between repetitions moves both: the median
//! over repetitions of (ours / the peak beside it), with the median peak.

use std::hint::black_box;
use std::time::Instant;

use benches::GEMM_SHAPES;
use nn_core::gemm::{gemm_with, Backend};
use nn_core::{Float, Matrix, Op};

fn run<T: Float>(m: usize, k: usize, n: usize, op_a: Op, op_b: Op, reps: usize) {
    let (ar, ac) = if op_a == Op::N { (m, k) } else { (k, m) };
    let (br, bc) = if op_b == Op::N { (k, n) } else { (n, k) };
    let a = Matrix::from_fn(ar, ac, |i, j| T::from_f64(((i * 13 + j * 7) % 17) as f64 / 17.0 - 0.5));
    let b = Matrix::from_fn(br, bc, |i, j| T::from_f64(((i * 5 + j * 11) % 19) as f64 / 19.0 - 0.5));
    let mut out = Matrix::<T>::zeros(m, n);
    let backends = [Backend::Auto, Backend::GemmCrate, Backend::MatrixMultiply];
    let flop = 2.0 * (m * k * n) as f64;
    // Calls per timing: about 0.2 GFLOP, at least one.
    let calls = ((2e8 / flop) as usize).max(1);
    let mut best = [f64::INFINITY; 3];
    let mut ratios = Vec::with_capacity(reps);
    // per repetition: the FMA peak measured beside ours, and ours' share of it
    let (mut peaks, mut shares) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for _ in 0..reps.max(1) {
        let mut now = [0.0; 3];
        for (t, &backend) in now.iter_mut().zip(&backends) {
            let start = Instant::now();
            for _ in 0..calls {
                gemm_with(backend, T::ONE, black_box(a.view()), op_a, b.view(), op_b, T::ZERO, out.view_mut())
                    .expect("shapes agree");
            }
            *t = start.elapsed().as_secs_f64() / calls as f64;
        }
        for (b, t) in best.iter_mut().zip(now) {
            *b = b.min(t);
        }
        ratios.push(now[1].min(now[2]) / now[0]);
        if let Some(peak) = benches::peak::fma_gflops::<T>(flop * calls as f64) {
            peaks.push(peak);
            shares.push(flop / now[0] / 1e9 / peak);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let ratio = median(&mut ratios);
    let g = best.map(|t| flop / t / 1e9);
    let share = if peaks.is_empty() {
        "no FMA peak to compare with (portable kernel)".to_string()
    } else {
        format!(
            "ours {:.1} % of the FMA peak beside it ({:.1} GFLOP/s)",
            100.0 * median(&mut shares),
            median(&mut peaks)
        )
    };
    println!(
        "{} ({m},{k},{n}) {op_a:?}·{op_b:?}: ours {:6.1}  gemm {:6.1}  matrixmultiply {:6.1} GFLOP/s  \
         ours/best peer: best {:.3}, median of pairs {ratio:.3}  {share}",
        T::NAME,
        g[0],
        g[1],
        g[2],
        g[0] / g[1].max(g[2]),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(40);
    let which = args.get(2).map_or("all", String::as_str);
    if which.contains(',') {
        let parts: Vec<&str> = which.split(',').collect();
        let dim = |i: usize| parts.get(i).and_then(|s| s.parse().ok()).expect("m,k,n[,op_a,op_b]");
        let op = |i: usize| if parts.get(i) == Some(&"T") { Op::T } else { Op::N };
        run::<f32>(dim(0), dim(1), dim(2), op(3), op(4), reps);
        run::<f64>(dim(0), dim(1), dim(2), op(3), op(4), reps);
        return;
    }
    for s in GEMM_SHAPES {
        let big = s.m * s.k * s.n >= 256 * 784 * 64;
        let wanted = match which {
            "big" => big,
            "small" => !big,
            "1024" => s.m == 1024,
            _ => true,
        };
        if wanted {
            run::<f32>(s.m, s.k, s.n, s.op_a, s.op_b, reps);
            run::<f64>(s.m, s.k, s.n, s.op_a, s.op_b, reps);
        }
    }
}
