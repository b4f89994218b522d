//! `cargo xtask bench-report`: the benchmark tables of the README, printed
//! as Markdown from criterion's saved results, so they are never typed by
//! hand.
//!
//! criterion keeps, for every benchmark `group/function[/value]`, a folder
//! `<criterion>/<group>/<function>[/<value>]/new/` (each part made
//! file-name safe: `/ \ : * ? " < > | ^` become `_`, at most 64 bytes)
//! holding `benchmark.json` (the ids and the [`Throughput`], serialised as
//! `{"Elements": n}`) and `estimates.json` (point estimates in ns per
//! iteration of `mean`, `median`, … and, under linear sampling, `slope`).
//! The report takes the estimate criterion itself prints, the slope where
//! there is one and the mean otherwise, so its figures match criterion's
//! output. Throughput = elements / time per iteration, so
//! GFLOP/s for the `gemm_*` groups (counted as 2·m·k·n elements) and
//! samples/s for `train_step`, `mnist_epoch` and `inference`
//! (`benches/benches/{gemm,train}.rs`), then the ratios of the benchmark
//! targets: ours / the best of the peers `matrixmultiply` and `gemm` per
//! shape, the share of one core's peak on 1024³, (256,784,64) and
//! (16,784,64), the 2-thread mnist epoch against the yardstick and the compute
//! bound, and the 2-thread speed-ups.
//!
//! [`Throughput`]: https://docs.rs/criterion/0.5/criterion/enum.Throughput.html

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::error::{Result, XtaskError};
use crate::report::Machine;

/// The benches' list of what they time, the same file compiled here.
#[path = "../../benches/src/shapes.rs"]
#[allow(dead_code)] // the benches use all of it, the report not `GemmShape::flop`
mod shapes;
use shapes::{EPOCH_BATCHES, GEMM_SHAPES, STEP_BATCHES};

/// One core's f32 peak on the benchmark machine, GFLOP/s: AVX2 with two FMA
/// units per core, 2 units × 8 f32 lanes × 2 FLOP (multiply and add) = 32
/// FLOP per cycle, × ≈ 3.18 GHz (the boost clock measured under a
/// register-only FMA loop) = 101.8 GFLOP/s. f64 has half the lanes. On
/// other machines pass `--peak-gflops`: a CPU with two 512-bit FMA units
/// (AMD Zen 5, Intel server cores) does 64 f32 FLOP per cycle.
pub const DEFAULT_PEAK_GFLOPS: f64 = 101.8;

/// FLOP of one mnist epoch (784-64-10, 60 000 samples): per sample the
/// forward pass 2·(784·64 + 64·10), the weight gradients as much again and
/// δ¹ = δ² W²ᵀ 2·10·64, i.e. 204 544 FLOP; ≈ 12.3 GFLOP in all.
pub const EPOCH_FLOP: f64 = (4.0 * (784.0 * 64.0 + 64.0 * 10.0) + 2.0 * 10.0 * 64.0) * 60_000.0;

const TEST_IMAGES: usize = 10_000;

/// Flags of `bench-report`.
#[derive(Debug, Clone, Args)]
pub struct BenchReportArgs {
    /// criterion's output folder [default: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else
    /// target/criterion in the workspace root].
    #[arg(long, value_name = "DIR")]
    pub criterion_dir: Option<PathBuf>,
    /// One core's f32 peak in GFLOP/s (f64: half), for the share of peak and the epoch's compute bound.
    #[arg(long, default_value_t = DEFAULT_PEAK_GFLOPS)]
    pub peak_gflops: f64,
}

/// Where criterion writes, as criterion 0.5 itself decides it.
pub fn default_criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => crate::paths::workspace_root().join(target).join("criterion"),
        None => crate::paths::workspace_root().join("target").join("criterion"),
    }
}

/// Prints the report for the parsed flags.
pub fn run(args: &BenchReportArgs) -> Result<()> {
    if !(args.peak_gflops.is_finite() && args.peak_gflops > 0.0) {
        return Err(XtaskError::Failed(format!("--peak-gflops must be positive, not {}", args.peak_gflops)));
    }
    let dir = args.criterion_dir.clone().unwrap_or_else(default_criterion_dir);
    let results = Results::load(&dir)?;
    print!("{}", render(&results, &crate::report::machine(), args.peak_gflops)?);
    Ok(())
}

/// criterion's `benchmark.json`: the parts of the id, and the throughput.
#[derive(Debug, Deserialize)]
struct BenchmarkFile {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<ThroughputFile>,
}

#[derive(Debug, Deserialize)]
enum ThroughputFile {
    Bytes(u64),
    BytesDecimal(u64),
    Elements(u64),
}

/// criterion's `estimates.json`, the part we read.
#[derive(Debug, Deserialize)]
struct EstimatesFile {
    mean: EstimateFile,
    slope: Option<EstimateFile>,
}

#[derive(Debug, Deserialize)]
struct EstimateFile {
    point_estimate: f64,
}

/// One benchmark's result: mean time per iteration and elements per iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Nanoseconds per iteration (criterion's typical estimate: the slope, else the mean).
    pub ns_per_iter: f64,
    /// Elements per iteration (FLOP for gemm, samples for training), if declared.
    pub elements: Option<u64>,
}

impl Measurement {
    /// Elements per second.
    pub fn per_second(&self) -> Option<f64> {
        self.elements.map(|e| e as f64 / self.ns_per_iter * 1e9)
    }

    /// Seconds per iteration.
    pub fn seconds(&self) -> f64 {
        self.ns_per_iter * 1e-9
    }
}

/// Every result under a criterion folder, by full id `group/function[/value]`.
#[derive(Debug)]
pub struct Results {
    dir: PathBuf,
    by_id: HashMap<String, Measurement>,
}

/// criterion's file-name-safe form of one part of an id (criterion 0.5's `make_filename_safe`).
fn filename_safe(part: &str) -> String {
    let mut s: String = part.chars().map(|c| if "?\"/\\*<>:|^".contains(c) { '_' } else { c }).collect();
    if s.len() > 64 {
        let mut end = 64;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn full_id(parts: &[&str]) -> String {
    parts.join("/")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|source| XtaskError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|source| XtaskError::Json { path: path.to_path_buf(), source })
}

impl Results {
    /// Reads every `new/benchmark.json` with its `new/estimates.json` under `dir`
    /// (a missing or empty folder gives no results; a malformed file is an error).
    pub fn load(dir: &Path) -> Result<Self> {
        let mut results = Results { dir: dir.to_path_buf(), by_id: HashMap::new() };
        results.scan(dir, 0)?;
        Ok(results)
    }

    fn scan(&mut self, dir: &Path, depth: usize) -> Result<()> {
        let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let bench = path.join("benchmark.json");
            let estimates = path.join("estimates.json");
            if entry.file_name() == "new" && bench.is_file() && estimates.is_file() {
                let b: BenchmarkFile = read_json(&bench)?;
                let e: EstimatesFile = read_json(&estimates)?;
                let mut parts = vec![b.group_id.as_str()];
                parts.extend(b.function_id.as_deref());
                parts.extend(b.value_str.as_deref());
                let elements = b.throughput.map(|t| match t {
                    ThroughputFile::Bytes(n) | ThroughputFile::BytesDecimal(n) | ThroughputFile::Elements(n) => n,
                });
                self.by_id.insert(
                    full_id(&parts),
                    Measurement { ns_per_iter: e.slope.unwrap_or(e.mean).point_estimate, elements },
                );
            } else if depth < 4 && entry.file_name() != "report" {
                self.scan(&path, depth + 1)?;
            }
        }
        Ok(())
    }

    /// The result of `group/function[/value]`, or an error naming the file
    /// criterion would have written and the command that writes it.
    pub fn get(&self, parts: &[&str], bench: &str) -> Result<Measurement> {
        if let Some(m) = self.by_id.get(&full_id(parts)) {
            return Ok(*m);
        }
        let mut path = self.dir.clone();
        parts.iter().for_each(|p| path.push(filename_safe(p)));
        path.push("new");
        path.push("estimates.json");
        Err(XtaskError::Failed(format!(
            "no benchmark result {} (expected {}): run `cargo bench -p benches --bench {bench}` (or `cargo bench` for all)",
            full_id(parts),
            path.display()
        )))
    }

    /// Like [`Results::get`], but `None` when absent (for optional lines).
    pub fn find(&self, parts: &[&str]) -> Option<Measurement> {
        self.by_id.get(&full_id(parts)).copied()
    }
}

fn throughput(m: Measurement, what: &str) -> Result<f64> {
    m.per_second().ok_or_else(|| XtaskError::Failed(format!("benchmark {what} declares no throughput")))
}

/// One line of the targets table: what, measured, target, met.
struct Target {
    what: String,
    value: String,
    target: &'static str,
    met: Option<bool>,
}

fn mark(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "",
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.digits$}"))
}

/// The whole report as Markdown.
pub fn render(results: &Results, machine: &Machine, peak_gflops: f64) -> Result<String> {
    let mut out = String::new();
    let mut targets = Vec::new();
    let w = &mut out;
    let _ = writeln!(w, "## Benchmarks\n");
    let _ = writeln!(
        w,
        "Machine: {}. One core's f32 peak taken as {peak_gflops:.1} GFLOP/s (f64: {:.1}) for the epoch's \
         compute bound, and for a gemm share of peak where the group has no `fma-peak` line (the FMA \
         peak measured beside the products).\n",
        machine.describe(),
        peak_gflops / 2.0
    );

    // gemm
    let _ = writeln!(w, "### gemm, single thread (GFLOP/s)\n");
    let _ = writeln!(
        w,
        "`ours` is the kernel the dispatcher picks here; `ours-avx2` the AVX2 kernel where that is not it. \
         Peers: `matrixmultiply` and `gemm` (the crate candle uses, with its AVX-512 path).\n"
    );
    let _ = writeln!(
        w,
        "| shape (m,k,n) | type | ours | ours-avx2 | ours-portable | matrixmultiply | gemm | naive | ours / best peer | share of peak |"
    );
    let _ = writeln!(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ty in ["f32", "f64"] {
        let given = if ty == "f32" { peak_gflops } else { peak_gflops / 2.0 };
        for g in GEMM_SHAPES {
            let (group, shape) = (g.group(ty), g.name());
            let gflops = |f: &str| -> Result<f64> { Ok(throughput(results.get(&[&group, f], "gemm")?, &group)? / 1e9) };
            let optional = |f: &str| results.find(&[&group, f]).and_then(|r| r.per_second()).map(|v| v / 1e9);
            // the FMA peak measured in the same group, where the bench timed it
            let (peak, whose) = match optional("fma-peak") {
                Some(p) => (p, "measured beside it"),
                None => (given, "given"),
            };
            let (ours, mm, gemm) = (gflops("ours")?, gflops("matrixmultiply")?, gflops("gemm")?);
            let (best, best_name) = if gemm > mm { (gemm, "gemm") } else { (mm, "matrixmultiply") };
            let (ratio, share) = (ours / best, ours / peak);
            let _ = writeln!(
                w,
                "| {shape} | {ty} | {ours:.1} | {} | {} | {mm:.1} | {gemm:.1} | {} | {ratio:.2}× | {:.0} % |",
                opt(optional("ours-avx2"), 1),
                opt(optional("ours-portable"), 1),
                opt(optional("naive"), 2),
                100.0 * share
            );
            targets.push(Target {
                what: format!("gemm {ty} {shape}: ours / best peer ({best_name})"),
                value: format!("{ratio:.2}×"),
                target: "≥ 1",
                met: Some(ratio >= 1.0),
            });
            let goal = match (g.m, g.k, g.n) {
                (1024, 1024, 1024) | (256, 784, 64) => Some((0.90, "≥ 90 %")),
                (16, 784, 64) => Some((0.85, "≥ 85 %")),
                _ => None,
            };
            if let Some((goal, target)) = goal {
                targets.push(Target {
                    what: format!("gemm {ty} {shape}: share of one core's peak ({peak:.1} GFLOP/s, {whose})"),
                    value: format!("{:.1} %", 100.0 * share),
                    target,
                    met: Some(share >= goal),
                });
            }
        }
    }

    // training step
    let _ = writeln!(w, "\n### Training step, mnist model 784-64-10 (samples/s)\n");
    let _ = writeln!(
        w,
        "| batch | yardstick | ours, 1 thread | ours, 2 threads | 2 threads / 1 thread | ours 2 threads / yardstick |"
    );
    let _ = writeln!(w, "|---:|---:|---:|---:|---:|---:|");
    for batch in STEP_BATCHES {
        let b = batch.to_string();
        let rate = |f: &str| -> Result<f64> { throughput(results.get(&["train_step", f, &b], "train")?, "train_step") };
        let (yard, one, two) = (rate("yardstick")?, rate("ours-1t")?, rate("ours-2t")?);
        let _ = writeln!(w, "| {batch} | {yard:.0} | {one:.0} | {two:.0} | {:.2}× | {:.2}× |", two / one, two / yard);
    }

    // epoch
    let bound = EPOCH_FLOP / (2.0 * peak_gflops * 1e9);
    let _ = writeln!(w, "\n### One mnist epoch, 60 000 training images\n");
    let _ = writeln!(
        w,
        "`ours` gathers the rows from the `f32` matrix of the images, the yardstick's input; `ours from bytes` \
         from the images kept as bytes, as the MNIST experiments train. The targets are on the `f32` lines.\n"
    );
    let _ = writeln!(w, "| batch | implementation | s/epoch | samples/s | time / yardstick |");
    let _ = writeln!(w, "|---:|---|---:|---:|---:|");
    let mut epoch = HashMap::new();
    for batch in EPOCH_BATCHES {
        let b = batch.to_string();
        let yard = results.get(&["mnist_epoch", "yardstick", &b], "train")?;
        // the f32 lines are required; the from-bytes ones are shown where the run has them
        let lines = [
            ("yardstick", "yardstick, 1 thread", true),
            ("ours-1t", "ours, 1 thread", true),
            ("ours-2t", "ours, 2 threads", true),
            ("ours-bytes-1t", "ours from bytes, 1 thread", false),
            ("ours-bytes-2t", "ours from bytes, 2 threads", false),
        ];
        for (f, label, required) in lines {
            let id = ["mnist_epoch", f, &b];
            let Some(r) = (if required { Some(results.get(&id, "train")?) } else { results.find(&id) }) else {
                continue;
            };
            let _ = writeln!(
                w,
                "| {batch} | {label} | {:.3} | {:.0} | {:.2} |",
                r.seconds(),
                throughput(r, "mnist_epoch")?,
                r.seconds() / yard.seconds()
            );
            epoch.insert((f, batch), r.seconds());
        }
    }
    let _ = writeln!(
        w,
        "\nCompute bound: {:.1} GFLOP per epoch at two cores' peak ({:.1} GFLOP/s) = {bound:.3} s/epoch.",
        EPOCH_FLOP / 1e9,
        2.0 * peak_gflops
    );
    // the training targets: a batch-16 epoch against the yardstick's time on
    // one and two threads, and two threads' speed against the yardstick at
    // batch 64 and 256 (an epoch each)
    for (threads, f, goal, target) in [(1, "ours-1t", 0.8, "≤ 0.8"), (2, "ours-2t", 0.6, "≤ 0.6")] {
        let ratio = epoch[&(f, 16)] / epoch[&("yardstick", 16)];
        targets.push(Target {
            what: format!("mnist epoch, batch 16: ours {threads} thread(s) / yardstick (time)"),
            value: format!("{ratio:.2}"),
            target,
            met: Some(ratio <= goal),
        });
    }
    for batch in [64, 256] {
        let speed = epoch[&("yardstick", batch)] / epoch[&("ours-2t", batch)];
        targets.push(Target {
            what: format!("mnist epoch, batch {batch}: ours 2 threads' speed / yardstick's"),
            value: format!("{speed:.2}×"),
            target: "≥ 2×",
            met: Some(speed >= 2.0),
        });
    }

    // inference
    let n = TEST_IMAGES.to_string();
    let _ = writeln!(w, "\n### Inference, the 10 000 test images, single thread\n");
    let _ = writeln!(w, "| implementation | ms | samples/s |");
    let _ = writeln!(w, "|---|---:|---:|");
    for (f, label) in [
        ("ours-forward", "ours, forward into a reused workspace"),
        ("ours-predict", "ours, predict (allocates)"),
        ("yardstick", "yardstick"),
    ] {
        let r = results.get(&["inference", f, &n], "train")?;
        let _ = writeln!(w, "| {label} | {:.2} | {:.0} |", r.seconds() * 1e3, throughput(r, "inference")?);
    }

    // targets
    let _ = writeln!(w, "\n### Targets\n");
    let _ = writeln!(w, "| ratio | measured | target | met |");
    let _ = writeln!(w, "|---|---:|---:|---|");
    for t in &targets {
        let _ = writeln!(w, "| {} | {} | {} | {} |", t.what, t.value, t.target, mark(t.met));
    }
    let _ = writeln!(
        w,
        "\nRerun: `cargo bench -p benches` (about 17 minutes), then `cargo xtask bench-report`. \
         The machine's load changes the figures: take the ratios from one run."
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A criterion folder written the way criterion 0.5 writes it.
    struct Fixture {
        dir: PathBuf,
        slopes: bool,
    }

    impl Fixture {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("xtask-bench-report-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Fixture { dir, slopes: false }
        }

        fn write(&self, group: &str, function: &str, value: Option<&str>, ns_per_iter: f64, elements: u64) {
            let mut path = self.dir.join(filename_safe(group)).join(filename_safe(function));
            if let Some(v) = value {
                path.push(filename_safe(v));
            }
            path.push("new");
            fs::create_dir_all(&path).unwrap();
            let value_json = value.map_or("null".to_string(), |v| format!("\"{v}\""));
            let full = value.map_or(format!("{group}/{function}"), |v| format!("{group}/{function}/{v}"));
            let bench = format!(
                r#"{{"group_id":"{group}","function_id":"{function}","value_str":{value_json},"throughput":{{"Elements":{elements}}},"full_id":"{full}","directory_name":"x","title":"{full}"}}"#
            );
            fs::write(path.join("benchmark.json"), bench).unwrap();
            let est = |v: f64| {
                format!(
                    r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{},"upper_bound":{}}},"point_estimate":{v},"standard_error":1.0}}"#,
                    v * 0.99,
                    v * 1.01
                )
            };
            // the mean is what is asked for; a slope, where the test adds one, is 10 % lower
            let slope = if self.slopes { est(ns_per_iter * 0.9) } else { "null".into() };
            let estimates = format!(
                r#"{{"mean":{},"median":{},"median_abs_dev":{},"slope":{slope},"std_dev":{}}}"#,
                est(ns_per_iter),
                est(ns_per_iter * 1.1),
                est(1.0),
                est(2.0)
            );
            fs::write(path.join("estimates.json"), estimates).unwrap();
        }

        /// Every result the report needs: gemm ours at 80 GFLOP/s, matrixmultiply at 50 and
        /// gemm at 64, epochs as given.
        fn full(name: &str) -> Self {
            let f = Fixture::new(name);
            for ty in ["f32", "f64"] {
                for g in GEMM_SHAPES {
                    let (flop, group) = (g.flop() as u64, g.group(ty));
                    f.write(&group, "ours", None, flop as f64 / 80.0, flop);
                    f.write(&group, "matrixmultiply", None, flop as f64 / 50.0, flop);
                    f.write(&group, "gemm", None, flop as f64 / 64.0, flop);
                }
            }
            for b in STEP_BATCHES {
                let bs = b.to_string();
                f.write("train_step", "yardstick", Some(&bs), 1000.0 * b as f64, b as u64);
                f.write("train_step", "ours-1t", Some(&bs), 500.0 * b as f64, b as u64);
                f.write("train_step", "ours-2t", Some(&bs), 250.0 * b as f64, b as u64);
            }
            for (b, yard, one, two) in [("16", 0.24, 0.16, 0.10), ("64", 0.20, 0.12, 0.06), ("256", 0.20, 0.12, 0.05)] {
                f.write("mnist_epoch", "yardstick", Some(b), yard * 1e9, 60_000);
                f.write("mnist_epoch", "ours-1t", Some(b), one * 1e9, 60_000);
                f.write("mnist_epoch", "ours-2t", Some(b), two * 1e9, 60_000);
            }
            // from bytes: batch 16 only, so the report shows what it has
            f.write("mnist_epoch", "ours-bytes-1t", Some("16"), 0.144e9, 60_000);
            for (name, ms) in [("ours-forward", 5.0), ("ours-predict", 6.0), ("yardstick", 8.0)] {
                f.write("inference", name, Some("10000"), ms * 1e6, 10_000);
            }
            f
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn machine() -> Machine {
        Machine {
            cpu_model: "Test CPU".into(),
            family: String::new(),
            logical_cores: 2,
            os: "linux x86_64".into(),
            gemm_kernel: "Avx2".into(),
        }
    }

    #[test]
    fn the_safe_names_follow_criterion() {
        assert_eq!(filename_safe("gemm_f32/(16,784,64) N·N"), "gemm_f32_(16,784,64) N·N");
        assert_eq!(filename_safe(&"é".repeat(40)).len(), 64);
    }

    #[test]
    fn results_are_read_by_full_id_with_their_throughput() {
        let f = Fixture::full("read");
        let r = Results::load(&f.dir).unwrap();
        let m = r.get(&["gemm_f32/(1024,1024,1024) N·N", "ours"], "gemm").unwrap();
        assert!((m.per_second().unwrap() / 1e9 - 80.0).abs() < 1e-9);
        let e = r.get(&["mnist_epoch", "ours-2t", "16"], "train").unwrap();
        assert!((e.seconds() - 0.10).abs() < 1e-12);
        assert_eq!(e.elements, Some(60_000));
    }

    #[test]
    fn the_slope_is_taken_where_criterion_estimated_one() {
        let mut f = Fixture::new("slope");
        f.write("inference", "yardstick", Some("10000"), 1000.0, 10);
        f.slopes = true;
        f.write("inference", "ours-forward", Some("10000"), 1000.0, 10);
        let r = Results::load(&f.dir).unwrap();
        assert_eq!(r.find(&["inference", "yardstick", "10000"]).unwrap().ns_per_iter, 1000.0);
        assert_eq!(r.find(&["inference", "ours-forward", "10000"]).unwrap().ns_per_iter, 900.0);
    }

    #[test]
    fn the_report_has_the_tables_and_the_ratios() {
        let f = Fixture::full("render");
        let text = render(&Results::load(&f.dir).unwrap(), &machine(), 100.0).unwrap();
        assert!(text.contains("Machine: Test CPU, 2 cores, linux x86_64, gemm kernel Avx2."), "{text}");
        assert!(text.contains("| (16,784,64) N·N | f32 | 80.0 | — | — | 50.0 | 64.0 | — | 1.25× | 80 % |"), "{text}");
        assert!(text.contains("| gemm f32 (16,784,64) N·N: ours / best peer (gemm) | 1.25× | ≥ 1 | yes |"), "{text}");
        let share =
            "| gemm f32 (1024,1024,1024) N·N: share of one core's peak (100.0 GFLOP/s, given) | 80.0 % | ≥ 90 % | **no** |";
        assert!(text.contains(share), "{text}");
        assert!(text.contains(
            "| gemm f32 (16,784,64) N·N: share of one core's peak (100.0 GFLOP/s, given) | 80.0 % | ≥ 85 % | **no** |"
        ));
        assert!(text.contains(
            "| gemm f64 (256,784,64) N·N: share of one core's peak (50.0 GFLOP/s, given) | 160.0 % | ≥ 90 % | yes |"
        ));
        // samples/s = 1e9 / (ns per sample): yardstick 1 000 000, ours 2 000 000 and 4 000 000
        assert!(text.contains("| 16 | 1000000 | 2000000 | 4000000 | 2.00× | 4.00× |"), "{text}");
        assert!(text.contains("| 16 | ours, 2 threads | 0.100 | 600000 | 0.42 |"), "{text}");
        assert!(text.contains("| 16 | ours from bytes, 1 thread | 0.144 | 416667 | 0.60 |"), "{text}");
        assert!(!text.contains("ours from bytes, 2 threads"), "{text}");
        assert!(!text.contains("| 64 | ours from bytes"), "{text}");
        // bound: 12.27 GFLOP / 200 GFLOP/s = 0.061 s; 0.10 / 0.0614 = 1.6×
        assert!(text.contains("= 0.061 s/epoch."), "{text}");
        assert!(text.contains("batch 16: ours 1 thread(s) / yardstick (time) | 0.67 | ≤ 0.8 | yes |"), "{text}");
        assert!(text.contains("batch 16: ours 2 thread(s) / yardstick (time) | 0.42 | ≤ 0.6 | yes |"), "{text}");
        assert!(text.contains("batch 64: ours 2 threads' speed / yardstick's | 3.33× | ≥ 2× | yes |"), "{text}");
        assert!(
            text.contains("mnist epoch, batch 256: ours 2 threads' speed / yardstick's | 4.00× | ≥ 2× | yes |"),
            "{text}"
        );
        assert!(text.contains("| ours, forward into a reused workspace | 5.00 | 2000000 |"), "{text}");
    }

    #[test]
    fn a_share_of_peak_is_taken_against_the_peak_measured_in_its_group() {
        let f = Fixture::full("measured-peak");
        // the FMA probe ran at 88.8 GFLOP/s beside the f32 1024³ product (ours at 80)
        let g = GEMM_SHAPES.iter().find(|g| g.m == 1024).unwrap();
        f.write(&g.group("f32"), "fma-peak", None, g.flop() as f64 / 88.8, g.flop() as u64);
        let text = render(&Results::load(&f.dir).unwrap(), &machine(), 100.0).unwrap();
        let measured = "| gemm f32 (1024,1024,1024) N·N: share of one core's peak (88.8 GFLOP/s, measured beside it) \
                        | 90.1 % | ≥ 90 % | yes |";
        assert!(text.contains(measured), "{text}");
        assert!(
            text.contains("| (1024,1024,1024) N·N | f32 | 80.0 | — | — | 50.0 | 64.0 | — | 1.25× | 90 % |"),
            "{text}"
        );
        // the other groups, without a probe line, keep the given peak
        let given = "| gemm f64 (1024,1024,1024) N·N: share of one core's peak (50.0 GFLOP/s, given) | 160.0 % |";
        assert!(text.contains(given), "{text}");
    }

    #[test]
    fn a_missed_target_is_marked() {
        let f = Fixture::full("missed");
        f.write("mnist_epoch", "ours-2t", Some("64"), 0.12 * 1e9, 60_000);
        let text = render(&Results::load(&f.dir).unwrap(), &machine(), 100.0).unwrap();
        assert!(text.contains("batch 64: ours 2 threads' speed / yardstick's | 1.67× | ≥ 2× | **no** |"), "{text}");
    }

    #[test]
    fn a_missing_result_names_the_file_and_the_command() {
        let f = Fixture::full("missing");
        fs::remove_dir_all(f.dir.join("inference")).unwrap();
        let err = render(&Results::load(&f.dir).unwrap(), &machine(), 100.0).unwrap_err().to_string();
        let expected = f.dir.join("inference/ours-forward/10000/new/estimates.json");
        assert!(err.contains(&expected.display().to_string()), "{err}");
        assert!(err.contains("cargo bench -p benches --bench train"), "{err}");
        assert!(!err.contains('\n'), "{err}");

        let empty = Fixture::new("empty");
        let err = render(&Results::load(&empty.dir.join("absent")).unwrap(), &machine(), 100.0).unwrap_err();
        assert!(err.to_string().contains("--bench gemm"), "{err}");
    }

    #[test]
    fn a_malformed_file_is_an_error_naming_it() {
        let f = Fixture::full("malformed");
        let path = f.dir.join("inference/yardstick/10000/new/estimates.json");
        fs::write(&path, "{").unwrap();
        let err = Results::load(&f.dir).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
