//! Times MNIST epochs of the mnist experiment's model (784-64-10, ReLU,
//! softmax + cross-entropy summed, SGD η = 0.005) with 1 and 2 threads, for
//! several batch and shard sizes, and prints seconds per epoch, samples/s and
//! the speed-up of each thread count over one thread. A report, not a test:
//!
//! ```text
//! cargo run --release -p nn-train --example epoch_timing -- [--batch 16,64] [--threads 1,2] [--shard auto,8] [--epochs 2] [--rounds 3] [--shuffle no] [--source f32|bytes]
//! ```
//!
//! Every run trains a fresh network from the same seed; a configuration's
//! times are the best and the median of its epochs over `--rounds` runs of
//! `--epochs` epochs, the runs of all configurations interleaved. The speed-up is over the first thread
//! count listed for the same batch and shard size. Epochs are shuffled, as
//! in the experiments; `--shuffle no` visits the rows in order, as the
//! benches' yardstick does. The rows are gathered from the training images
//! as an `f32` matrix (188 MB, as the benches' `ours` lines do), or with
//! `--source bytes` from the images kept as bytes (47 MB) and converted as
//! they are gathered, as `reproduce mnist` does.
//!
//! A second table says where a batch's time went, averaged over every epoch:
//! the wall time computing its gradient and stepping, the time its shards
//! spent gathering rows and in forward and backward passes (per thread),
//! and what is left of the threads' time while the gradient was computed
//! (waiting for each other or for the pool).

use std::collections::HashMap;

use nn_core::{Activation, Init, Loss, NetworkBuilder, Reduction, Sgd};
use nn_data::Normalisation;
use nn_train::{Progress, TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn list(args: &HashMap<String, String>, key: &str, default: &str) -> Vec<String> {
    args.get(key).map_or(default, String::as_str).split(',').map(str::to_string).collect()
}

/// `s` as a count, or an error naming the option it was given to.
fn count(key: &str, s: &str) -> Result<usize, String> {
    s.parse().map_err(|_| format!("--{key} takes whole numbers, not `{s}`"))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("epoch_timing: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args: HashMap<String, String> =
        argv.chunks(2).filter_map(|p| Some((p[0].trim_start_matches("--").to_string(), p.get(1)?.clone()))).collect();
    let batches: Vec<usize> =
        list(&args, "batch", "16,64").iter().map(|s| count("batch", s)).collect::<Result<_, _>>()?;
    let threads: Vec<usize> =
        list(&args, "threads", "1,2").iter().map(|s| count("threads", s)).collect::<Result<_, _>>()?;
    // a shard size: `auto` (None) or a count
    let shards: Vec<Option<usize>> = list(&args, "shard", "auto")
        .iter()
        .map(|s| if s == "auto" { Ok(None) } else { count("shard", s).map(Some) })
        .collect::<Result<_, _>>()?;
    let epochs: usize = args.get("epochs").map_or(Ok(2), |s| count("epochs", s))?;

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mnist");
    let bytes = match args.get("source").map_or("f32", String::as_str) {
        "f32" => false,
        "bytes" => true,
        other => return Err(format!("--source is f32 or bytes, not `{other}`").into()),
    };
    let (floats, pixels);
    let (x, y): (&dyn nn_core::RowSource<f32>, &nn_core::Matrix<f32>) = if bytes {
        pixels = nn_data::mnist_pixels::<f32>(dir, Normalisation::Centered)?;
        (&pixels.train.x, &pixels.train.y)
    } else {
        floats = nn_data::mnist::<f32>(dir, Normalisation::Centered)?;
        (&floats.train.x, &floats.train.y)
    };
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Sum);
    let rounds: usize = args.get("rounds").map_or(Ok(3), |s| count("rounds", s))?;
    println!(
        "MNIST train {}×{} ({}), 784-64-10, best and median epoch of {rounds} rounds × {epochs} epochs \
         (samples/s and speed-up from the best)",
        x.n_rows(),
        x.n_cols(),
        if bytes { "bytes" } else { "f32" },
    );
    let mut configs = Vec::new();
    for &batch in &batches {
        for shard in &shards {
            let shard_size = *shard;
            for &t in &threads {
                configs.push(TrainConfig {
                    epochs,
                    batch_size: batch,
                    shard_size,
                    seed: 1,
                    threads: Some(t),
                    progress: Progress::Silent,
                    shuffle: args.get("shuffle").is_none_or(|s| s != "no"),
                    ..TrainConfig::default()
                });
            }
        }
    }
    // rounds interleave the configurations, so that a slow spell of the machine hits them all alike
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut losses = vec![f64::NAN; configs.len()];
    // per configuration: batches, and seconds computing, stepping, gathering, in passes
    let mut phases = vec![[0.0f64; 5]; configs.len()];
    for _ in 0..rounds {
        for (k, config) in configs.iter().enumerate() {
            let mut net = NetworkBuilder::new(784)
                .dense(64, Activation::Relu)
                .dense(10, Activation::Softmax)
                .weights(Init::StandardNormal)
                .biases(Init::StandardNormal)
                .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(1))
                .expect("a valid network");
            let mut sgd = Sgd::new(0.005);
            let history = Trainer::new(config).objective(&loss).optimizer(&mut sgd).train_set(x, y).fit(&mut net)?;
            times[k].extend(history.epochs.iter().map(|e| e.seconds));
            for e in &history.epochs {
                let p = &mut phases[k];
                p[0] += e.samples.div_ceil(config.batch_size) as f64;
                p[1] += e.compute_seconds;
                p[2] += e.step_seconds;
                p[3] += e.gather_seconds;
                p[4] += e.pass_seconds;
            }
            losses[k] = history.last().map_or(f64::NAN, |e| e.train_loss);
        }
    }
    let best: Vec<f64> = times.iter().map(|t| t.iter().copied().fold(f64::INFINITY, f64::min)).collect();
    let median: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    println!(
        "{:>6} {:>6} {:>8} {:>10} {:>10} {:>12} {:>9} {:>10}",
        "batch", "shard", "threads", "best s", "median s", "samples/s", "speed-up", "loss"
    );
    let mut one_thread = f64::NAN;
    for (k, config) in configs.iter().enumerate() {
        let t = config.effective_threads();
        if k == 0 || configs[k - 1].batch_size != config.batch_size || configs[k - 1].shard_size != config.shard_size {
            one_thread = best[k];
        }
        println!(
            "{:>6} {:>6} {t:>8} {:>10.4} {:>10.4} {:>12.0} {:>8.2}× {:>10.5}",
            config.batch_size,
            config.effective_shard_size(),
            best[k],
            median[k],
            x.n_rows() as f64 / best[k],
            one_thread / best[k],
            losses[k],
        );
    }
    println!("\nper batch, µs (gather, passes and idle per thread)");
    println!(
        "{:>6} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "batch", "shard", "threads", "gradient", "step", "gather", "passes", "idle"
    );
    for (config, p) in configs.iter().zip(&phases) {
        let t = config.effective_threads() as f64;
        let per = |s: f64| s / p[0] * 1e6;
        println!(
            "{:>6} {:>6} {t:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            config.batch_size,
            config.effective_shard_size(),
            per(p[1]),
            per(p[2]),
            per(p[3]) / t,
            per(p[4]) / t,
            per(p[1] - (p[3] + p[4]) / t),
        );
    }
    Ok(())
}

/// The median of `xs` (the mean of the two middle values for an even count; NaN if empty).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}
