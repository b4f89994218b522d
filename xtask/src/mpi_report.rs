//! `cargo xtask mpi-report` (a binary built with `--features mpi`, and
//! `mpirun` on the PATH): the multi-process figures of the README, measured
//! on this machine over loopback, and what a cost model fitted to them
//! predicts for real clusters.
//!
//! For each batch size B it trains mnist (784-64-10, full data) as
//! 1 process × 1 thread, 1 process × 2 threads, and P processes × 1 thread
//! in exact and fast mode, `--rounds` times interleaved, and takes per
//! configuration the median over rounds of each run's median epoch. Rank 0's
//! exchange time and bytes per step come from the trainer's history.
//!
//! The cost model, per step of a global batch of B rows (K = ⌈B/32⌉ shards
//! of L parameters, 4 bytes each; P machines, each one rank with both
//! cores):
//!
//! ```text
//! t(step) = s·B/P + t_comm,   s = compute per sample on one machine (1 process × 2 threads, measured)
//! exact:  t_comm = (P−1)·α + (P−1)/P · K·L·4 · β     (ring all-gather of every shard's gradient)
//! fast:   t_comm = 2(P−1)·α + 2(P−1)/P · L·4 · β     (ring all-reduce of one gradient)
//! ```
//!
//! α (latency per message) and β (seconds per byte) are fitted here by least
//! squares to the measured exchange times against the bytes each rank
//! receives; for the networks the report uses stated constants (10 GbE:
//! α = 30 µs, β = 1/1.25 GB/s; 100 Gb InfiniBand: α = 1.5 µs, β = 1/12.5
//! GB/s) and prints which figures are measured and which predicted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;

use crate::error::{Result, XtaskError};
use crate::paths::default_data_dir;
use crate::report::machine;

/// Flags of `mpi-report`.
#[derive(Debug, Clone, Args)]
pub struct MpiReportArgs {
    /// Batch sizes to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [64usize, 256])]
    pub batches: Vec<usize>,
    /// Ranks of the multi-process runs.
    #[arg(long, default_value_t = 2)]
    pub ranks: usize,
    /// Epochs per run (the median epoch counts).
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Interleaved repetitions of every configuration (the median counts).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Folder holding the datasets [default: datasets/ in the workspace root].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// mnist's parameters: 784·64 + 64 + 64·10 + 10.
const PARAMS: f64 = 50_890.0;
/// Rows per shard of the automatic cut at these batch sizes.
const SHARD_ROWS: f64 = 32.0;

/// One configuration's measurement.
#[derive(Clone, Copy, Debug, Default)]
struct Measured {
    /// Seconds per epoch.
    epoch: f64,
    /// Rank 0's exchange seconds per step.
    comm: f64,
    /// Rank 0's bytes sent per step.
    bytes: f64,
}

/// A network's latency α (s) and seconds per byte β.
struct Net {
    name: &'static str,
    alpha: f64,
    beta: f64,
}

const NETS: [Net; 2] = [
    Net { name: "10 GbE", alpha: 30e-6, beta: 1.0 / 1.25e9 },
    Net { name: "100 Gb InfiniBand", alpha: 1.5e-6, beta: 1.0 / 12.5e9 },
];

/// Runs the measurements and prints the Markdown report.
pub fn run(args: &MpiReportArgs) -> Result<()> {
    if !cfg!(feature = "mpi") {
        return Err(XtaskError::Failed(
            "mpi-report needs a binary built with MPI: cargo build --release -p xtask --features mpi, then \
             target/release/xtask mpi-report"
                .into(),
        ));
    }
    if args.ranks < 2 || args.batches.is_empty() || args.rounds == 0 || args.epochs == 0 {
        return Err(XtaskError::Failed(
            "mpi-report needs --ranks ≥ 2, a batch size, --rounds ≥ 1, --epochs ≥ 1".into(),
        ));
    }
    let data = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let exe = std::env::current_exe().map_err(|e| XtaskError::Io { path: "current executable".into(), source: e })?;
    let scratch = std::env::temp_dir().join(format!("xtask-mpi-report-{}", std::process::id()));
    let configs: Vec<(&str, Option<&str>, usize)> =
        vec![("1 × 1", None, 1), ("1 × 2", None, 2), ("exact", Some("exact"), 1), ("fast", Some("fast"), 1)];
    let mut rows: Vec<Vec<Vec<Measured>>> = vec![vec![Vec::new(); configs.len()]; args.batches.len()];
    for round in 0..args.rounds {
        for (bi, &b) in args.batches.iter().enumerate() {
            for (ci, &(name, mode, threads)) in configs.iter().enumerate() {
                eprintln!("round {}/{}: batch {b}, {name}", round + 1, args.rounds);
                let out = scratch.join(format!("b{b}-{ci}"));
                let m = measure(&exe, &data, &out, b, mode, threads, args)?;
                rows[bi][ci].push(m);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let med = |v: &[Measured], f: fn(&Measured) -> f64| median(v.iter().map(f).collect());
    let p = args.ranks as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Machine: {}. {} ranks on this machine (loopback, Open MPI's shared-memory transport).\n",
        machine().describe(),
        args.ranks
    );
    let _ = writeln!(
        s,
        "| batch | 1 process × 1 thread, s/epoch | 1 process × 2 threads | {P} processes × 1 thread, exact | {P} × 1, fast | exact: exchange per step (ms), bytes sent | fast: exchange per step (ms), bytes sent |\n|---:|---:|---:|---:|---:|---:|---:|",
        P = args.ranks
    );
    // points for the fit: (bytes received per step by the model, measured seconds)
    let mut points = Vec::new();
    let mut per_sample = Vec::new();
    for (bi, &b) in args.batches.iter().enumerate() {
        let r = &rows[bi];
        let epoch = |c: usize| med(&r[c], |m| m.epoch);
        let (comm_e, bytes_e) = (med(&r[2], |m| m.comm), med(&r[2], |m| m.bytes));
        let (comm_f, bytes_f) = (med(&r[3], |m| m.comm), med(&r[3], |m| m.bytes));
        let _ = writeln!(
            s,
            "| {b} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3}, {:.0} | {:.3}, {:.0} |",
            epoch(0),
            epoch(1),
            epoch(2),
            epoch(3),
            comm_e * 1e3,
            bytes_e,
            comm_f * 1e3,
            bytes_f
        );
        let k = (b as f64 / SHARD_ROWS).ceil();
        points.push(((p - 1.0) / p * k * PARAMS * 4.0, comm_e, p - 1.0));
        points.push((2.0 * (p - 1.0) / p * PARAMS * 4.0, comm_f, 2.0 * (p - 1.0)));
        per_sample.push((b, epoch(1) / 60_000.0));
    }
    let (alpha, beta) = fit(&points);
    let _ = writeln!(
        s,
        "\nMeasured (medians of {} rounds × {} epochs). Fitted to the {} exchange times above: α = {:.1} µs per \
         message, β = {:.3} ns per byte ({:.2} GB/s) — on one 2-core machine the exchange time also holds \
         the wait for the other rank's compute.\n",
        args.rounds,
        args.epochs,
        points.len(),
        alpha * 1e6,
        beta * 1e9,
        if beta > 0.0 { 1.0 / beta / 1e9 } else { f64::INFINITY },
    );
    // predictions: s from the largest batch's 1 × 2 figure
    let &(b_ref, s_ref) = per_sample.last().expect("a batch size");
    let _ = writeln!(
        s,
        "Predicted (the model with s = {:.2} µs per sample, the 1 process × 2 threads figure at batch {b_ref}, \
         and stated network constants): speed-up over one machine per step, and the global batch below which \
         P machines are slower than one.\n",
        s_ref * 1e6
    );
    let _ = writeln!(s, "| network | mode | P | speed-up at B = 1024 | at B = 16384 | break-even batch |\n|---|---|---:|---:|---:|---:|");
    for net in &NETS {
        for mode in ["exact", "fast"] {
            for machines in [8.0, 64.0] {
                let speedup = |b: f64| s_ref * b / step_time(s_ref, b, machines, mode, net.alpha, net.beta);
                let even = break_even(s_ref, machines, mode, net.alpha, net.beta)
                    .map_or("never".to_string(), |b| format!("{b:.0}"));
                let _ = writeln!(
                    s,
                    "| {} | {mode} | {machines:.0} | {:.2}× | {:.2}× | {even} |",
                    net.name,
                    speedup(1024.0),
                    speedup(16384.0)
                );
            }
        }
    }
    print!("{s}");
    Ok(())
}

/// Trains mnist once and reads its history.
fn measure(
    exe: &Path,
    data: &Path,
    out: &Path,
    batch: usize,
    mode: Option<&str>,
    threads: usize,
    args: &MpiReportArgs,
) -> Result<Measured> {
    let mut cmd = match mode {
        None => Command::new(exe),
        Some(_) => {
            let mut c = Command::new("mpirun");
            c.args(["--allow-run-as-root", "--oversubscribe", "-np", &args.ranks.to_string()]).arg(exe);
            c
        }
    };
    cmd.args(["reproduce", "mnist", "-q", "--batch", &batch.to_string(), "--epochs", &args.epochs.to_string()]);
    cmd.args(["--threads", &threads.to_string(), "--data-dir"]).arg(data).arg("--out").arg(out);
    if let Some(m) = mode {
        cmd.args(["--mpi", m]);
    }
    let o = cmd.output().map_err(|e| XtaskError::Io { path: "mpirun".into(), source: e })?;
    if !o.status.success() {
        return Err(XtaskError::Failed(format!(
            "a measurement run failed: {}",
            String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("no message")
        )));
    }
    let path = out.join("results.json");
    let bytes = std::fs::read(&path).map_err(|e| XtaskError::Io { path: path.clone(), source: e })?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| XtaskError::Json { path: path.clone(), source: e })?;
    let epochs = v["details"]["epochs"].as_array().cloned().unwrap_or_default();
    let steps = 60_000usize.div_ceil(batch) as f64;
    let field = |k: &str| median(epochs.iter().filter_map(|e| e[k].as_f64()).collect());
    Ok(Measured { epoch: field("seconds"), comm: field("comm_seconds") / steps, bytes: field("comm_bytes") / steps })
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Least squares of t = α·messages + β·bytes over (bytes, t, messages),
/// with α, β ≥ 0 (a negative one, which noise can give, is set to 0 and the
/// other refitted alone).
fn fit(points: &[(f64, f64, f64)]) -> (f64, f64) {
    let (alpha, beta) = fit_free(points);
    let through = |a: &dyn Fn(&(f64, f64, f64)) -> f64| {
        let (num, den) = points.iter().fold((0.0, 0.0), |(n, d), p| (n + a(p) * p.1, d + a(p) * a(p)));
        (num / den.max(1e-300)).max(0.0)
    };
    if alpha < 0.0 {
        (0.0, through(&|p| p.0))
    } else if beta < 0.0 {
        (through(&|p| p.2), 0.0)
    } else {
        (alpha, beta)
    }
}

/// Unconstrained least squares of [`fit`].
fn fit_free(points: &[(f64, f64, f64)]) -> (f64, f64) {
    let (mut aa, mut ab, mut bb, mut at, mut bt) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, t, m) in points {
        aa += m * m;
        ab += m * x;
        bb += x * x;
        at += m * t;
        bt += x * t;
    }
    let det = aa * bb - ab * ab;
    if det.abs() < 1e-30 {
        return (at / aa.max(1e-30), 0.0);
    }
    let alpha = (at * bb - ab * bt) / det;
    let beta = (aa * bt - ab * at) / det;
    (alpha, beta)
}

/// The model's time per step (see the module docs).
fn step_time(s: f64, b: f64, p: f64, mode: &str, alpha: f64, beta: f64) -> f64 {
    let k = (b / SHARD_ROWS).ceil();
    // no more busy machines than shards
    let busy = p.min(k);
    let comm = match mode {
        "exact" => (p - 1.0) * alpha + (p - 1.0) / p * k * PARAMS * 4.0 * beta,
        _ => 2.0 * (p - 1.0) * alpha + 2.0 * (p - 1.0) / p * PARAMS * 4.0 * beta,
    };
    s * b / busy + comm
}

/// The smallest power-of-two batch (≤ 2²⁴) at which `p` machines beat one, if any.
fn break_even(s: f64, p: f64, mode: &str, alpha: f64, beta: f64) -> Option<f64> {
    (0..=24).map(|e| f64::from(1u32 << e)).find(|&b| step_time(s, b, p, mode, alpha, beta) < s * b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_known_line() {
        // t = 20 µs per message + 1 ns per byte
        let pts: Vec<_> = [(1e5, 1.0), (4e5, 1.0), (2e5, 2.0), (8e5, 2.0)]
            .iter()
            .map(|&(x, m)| (x, 20e-6 * m + 1e-9 * x, m))
            .collect();
        let (a, b) = fit(&pts);
        assert!((a - 20e-6).abs() < 1e-12 && (b - 1e-9).abs() < 1e-15, "{a} {b}");
        // a line through the origin: α would come out negative with noise; it is 0, β refitted
        let pts = [(1e5, 0.9e-4, 1.0), (4e5, 4.1e-4, 1.0)];
        let (a, b) = fit(&pts);
        assert_eq!(a, 0.0);
        assert!((b - 1.02e-9).abs() < 0.02e-9, "{b}");
    }

    #[test]
    fn the_model_pays_only_past_the_break_even_batch() {
        let (s, p) = (2e-6, 8.0);
        let b = break_even(s, p, "fast", 30e-6, 0.8e-9).unwrap();
        assert!(step_time(s, b, p, "fast", 30e-6, 0.8e-9) < s * b);
        assert!(step_time(s, b / 2.0, p, "fast", 30e-6, 0.8e-9) >= s * b / 2.0);
        // gathering every shard costs more per sample than 2 µs of compute on 10 GbE: never pays
        assert_eq!(break_even(s, p, "exact", 30e-6, 0.8e-9), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
