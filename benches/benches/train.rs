//! Training and inference throughput of the mnist model (784-64-10, ReLU,
//! softmax + cross-entropy summed, SGD η = 0.005, f32, N(0,1) weights and
//! biases) on real MNIST rows, ours vs the [`PlainMlp`] yardstick (a plain
//! single-threaded loop over `matrixmultiply::sgemm`), in samples/s.
//!
//! Groups, one line per implementation and batch size (`<group>/<impl>/<batch>`):
//!
//! - `train_step`: one training step (the gradient of a mini-batch, then
//!   the SGD step) at batch 16, 64 and 256. `ours-1t` and `ours-2t` are
//!   nn-train's [`Trainer`] with 1 and 2 threads: a step there is the
//!   shards' gradients on the rayon pool, then the SGD step, each thread
//!   summing (in the fixed tree order) and stepping its own part of the
//!   parameters. So that the numbers are exactly what
//!   the trainer does, a sample is a `fit` over whole epochs of the first
//!   8192 training rows (shuffled, as in training), timed by the trainer's
//!   own per-epoch clock (the batch loop only: no pool start, no data
//!   check), divided by the number of steps. `yardstick` is
//!   `PlainMlp::step` over consecutive batches of the same rows.
//! - `mnist_epoch`: one full epoch over the 60 000 training images at batch
//!   16, 64 and 256: `yardstick` (`PlainMlp::epoch`, single thread, rows in
//!   order) and ours (`Trainer::fit`, shuffled as in the experiments, no
//!   evaluation set) with 1 and 2 threads,
//!   timed by the trainer's per-epoch clock. Each sample trains a fresh
//!   copy of the same network. These give the thread scaling. `ours-*`
//!   gathers the rows from the `f32` matrix of the images (188 MB, the
//!   yardstick's input); `ours-bytes-*` from the images kept as bytes (47
//!   MB, `nn_data::mnist_pixels`, converted as gathered), as the MNIST
//!   experiments train.
//! - `inference`: the softmax outputs of the 10 000 test images:
//!   `ours-forward` (`Network::forward` into a reused `Workspace`),
//!   `ours-predict` (`Network::predict`, which allocates its workspace), and
//!   `yardstick` (`PlainMlp::predict`), all single-threaded.
//!
//! The compute bound of an epoch: per sample the forward pass costs
//! 2·(784·64 + 64·10) FLOP, the weight gradients as much again, and δ¹ =
//! δ² W²ᵀ 2·10·64, i.e. 204 544 FLOP, × 60 000 ≈ 12.3 GFLOP per epoch. One
//! core's f32 peak here is 101.8 GFLOP/s, measured at ≈ 3.18 GHz boost (AVX2:
//! 2 FMA units × 8 lanes × 2 FLOP = 32 FLOP per cycle); two cores give
//! 203.6 GFLOP/s, so an epoch cannot take less than ≈ 0.06 s.
//! `cargo xtask bench-report` prints these results as tables, with the ratios.
//!
//! Full run (a few minutes): `cargo bench -p benches --bench train`.
//! Quick run: `cargo bench -p benches --bench train -- --warm-up-time 1 --measurement-time 2 train_step`.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use benches::{PlainMlp, EPOCH_BATCHES, STEP_BATCHES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use nn_core::{Activation, Init, Loss, Matrix, Network, NetworkBuilder, Reduction, RowSource, Sgd, Workspace};
use nn_data::{Mnist, Normalisation};
use nn_train::{Progress, TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Training rows that `train_step` cycles through (25 MB of f32 pixels,
/// more than the last-level cache, as in a real epoch).
const STEP_ROWS: usize = 8192;
const LEARNING_RATE: f64 = 0.005;

/// The project's copy of MNIST.
const MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/mnist");

fn mnist() -> Mnist<f32> {
    nn_data::mnist::<f32>(MNIST_DIR, Normalisation::Centered).expect("MNIST in datasets/mnist")
}

/// The mnist experiment's network, always from the same seed.
fn network() -> Network<f32> {
    NetworkBuilder::new(784)
        .dense(64, Activation::Relu)
        .dense(10, Activation::Softmax)
        .weights(Init::StandardNormal)
        .biases(Init::StandardNormal)
        .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(1))
        .expect("the mnist model is a valid network")
}

fn labels_u8(data: &nn_data::Dataset<f32>) -> Vec<u8> {
    let labels = data.labels.as_ref().expect("MNIST carries its labels");
    labels.iter().map(|&l| l as u8).collect()
}

/// The first `n` rows of `m`.
fn first_rows(m: &Matrix<f32>, n: usize) -> Matrix<f32> {
    m.rows_range(0, n).to_matrix()
}

/// Trains a fresh copy of `net0` on `x`, `y` for `epochs` epochs with the
/// trainer and returns the seconds its batch loops took in all.
fn fit_seconds(
    net0: &Network<f32>,
    x: &dyn RowSource<f32>,
    y: &Matrix<f32>,
    batch: usize,
    threads: usize,
    epochs: usize,
) -> f64 {
    let config = TrainConfig {
        epochs,
        batch_size: batch,
        seed: 1,
        threads: Some(threads),
        progress: Progress::Silent,
        ..TrainConfig::default()
    };
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Sum);
    let mut sgd = Sgd::new(LEARNING_RATE);
    let mut net = net0.clone();
    let history = Trainer::new(&config)
        .objective(&loss)
        .optimizer(&mut sgd)
        .train_set(x, y)
        .fit(&mut net)
        .expect("training runs");
    black_box(&net);
    history.epochs.iter().map(|e| e.seconds).sum()
}

fn train_step(c: &mut Criterion) {
    let data = mnist();
    let (x, y) = (first_rows(&data.train.x, STEP_ROWS), first_rows(&data.train.y, STEP_ROWS));
    let labels = labels_u8(&data.train);
    let net0 = network();

    let mut group = c.benchmark_group("train_step");
    group.sample_size(20);
    for batch in STEP_BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        let steps = STEP_ROWS / batch;
        for threads in [1, 2] {
            group.bench_function(BenchmarkId::new(format!("ours-{threads}t"), batch), |b| {
                b.iter_custom(|iters| {
                    let epochs = (iters as usize).div_ceil(steps);
                    let seconds = fit_seconds(&net0, &x, &y, batch, threads, epochs);
                    Duration::from_secs_f64(seconds * iters as f64 / (epochs * steps) as f64)
                })
            });
        }
        let mut mlp = PlainMlp::new(784, 64, 10, LEARNING_RATE as f32, batch);
        let (xs, ls) = (x.as_slice(), &labels[..STEP_ROWS]);
        let mut at = 0;
        group.bench_function(BenchmarkId::new("yardstick", batch), |b| {
            b.iter(|| {
                let rows = at..at + batch;
                at = (at + batch) % STEP_ROWS;
                mlp.step(black_box(&xs[rows.start * 784..rows.end * 784]), &ls[rows])
            })
        });
    }
    group.finish();
}

fn mnist_epoch(c: &mut Criterion) {
    let data = mnist();
    let (x, y) = (&data.train.x, &data.train.y);
    let pixels =
        nn_data::mnist_pixels::<f32>(MNIST_DIR, Normalisation::Centered).expect("MNIST in datasets/mnist").train;
    let labels = labels_u8(&data.train);
    let net0 = network();

    let mut group = c.benchmark_group("mnist_epoch");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(x.rows() as u64));
    for batch in EPOCH_BATCHES {
        let mut mlp = PlainMlp::new(784, 64, 10, LEARNING_RATE as f32, batch);
        group.bench_function(BenchmarkId::new("yardstick", batch), |b| {
            b.iter(|| mlp.epoch(black_box(x.as_slice()), &labels, batch))
        });
        for threads in [1, 2] {
            group.bench_function(BenchmarkId::new(format!("ours-{threads}t"), batch), |b| {
                b.iter_custom(|iters| Duration::from_secs_f64(fit_seconds(&net0, x, y, batch, threads, iters as usize)))
            });
        }
        // the same training from the images kept as bytes, as the experiments train
        for threads in [1, 2] {
            group.bench_function(BenchmarkId::new(format!("ours-bytes-{threads}t"), batch), |b| {
                b.iter_custom(|iters| {
                    Duration::from_secs_f64(fit_seconds(&net0, &pixels.x, &pixels.y, batch, threads, iters as usize))
                })
            });
        }
    }
    group.finish();
}

fn inference(c: &mut Criterion) {
    let data = mnist();
    let x = &data.test.x;
    let n = x.rows();
    let net = network();

    let mut group = c.benchmark_group("inference");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(n as u64));
    let mut ws = Workspace::new(&net, n);
    group.bench_function(BenchmarkId::new("ours-forward", n), |b| {
        b.iter(|| net.forward(black_box(x.view()), &mut ws).expect("784 inputs").get(0, 0))
    });
    group.bench_function(BenchmarkId::new("ours-predict", n), |b| {
        b.iter(|| net.predict(black_box(x.view())).expect("784 inputs"))
    });
    let mut mlp = PlainMlp::new(784, 64, 10, LEARNING_RATE as f32, n);
    let mut probs = vec![0.0; n * 10];
    group.bench_function(BenchmarkId::new("yardstick", n), |b| {
        b.iter(|| mlp.predict(black_box(x.as_slice()), &mut probs))
    });
    group.finish();
}

criterion_group!(benches, train_step, mnist_epoch, inference);
criterion_main!(benches);
