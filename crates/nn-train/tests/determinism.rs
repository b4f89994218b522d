//! Same seed ⇒ same weights, bit for bit, for any number of threads, on real
//! data (the first 2 000 MNIST training images, 784-32-10, 2 epochs); a run
//! whose shards are whole batches equals a plain serial loop exactly; and
//! the step taken in parallel parts equals the reduction and a whole step.

use nn_core::shuffle::epoch_order;
use nn_core::{
    Activation, Adam, Gradients, Init, Loss, Matrix, Network, NetworkBuilder, Optimizer, Reduction, Sgd, Workspace,
};
use nn_data::{LastBatch, MiniBatches, Normalisation};
use nn_train::{DataParallel, Execution, History, Metric, Progress, TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const MNIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mnist");

/// The first 2 000 training images (pixels /255 − 0.5, one-hot targets) and the first 500 test images.
fn data() -> (Matrix<f32>, Matrix<f32>, Matrix<f32>, Matrix<f32>) {
    let m = nn_data::mnist::<f32>(MNIST, Normalisation::Centered).expect("MNIST is in datasets/mnist");
    let (x, y) = (m.train.x.rows_range(0, 2000).to_matrix(), m.train.y.rows_range(0, 2000).to_matrix());
    let (tx, ty) = (m.test.x.rows_range(0, 500).to_matrix(), m.test.y.rows_range(0, 500).to_matrix());
    (x, y, tx, ty)
}

fn network(seed: u64) -> Network<f32> {
    NetworkBuilder::new(784)
        .dense(32, Activation::Relu)
        .dense(10, Activation::Softmax)
        .weights(Init::He)
        .build(&mut ChaCha8Rng::seed_from_u64(seed))
        .unwrap()
}

fn config(threads: usize, batch: usize, shard: usize) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: batch,
        shard_size: Some(shard),
        seed: 7,
        threads: Some(threads),
        progress: Progress::Silent,
        ..TrainConfig::default()
    }
}

/// The history with its timings zeroed.
fn without_times(h: &History) -> History {
    let mut h = h.clone();
    for e in &mut h.epochs {
        (e.seconds, e.samples_per_sec, e.eval_seconds) = (0.0, 0.0, 0.0);
        (e.compute_seconds, e.step_seconds, e.gather_seconds, e.pass_seconds) = (0.0, 0.0, 0.0, 0.0);
    }
    h
}

#[test]
fn one_two_and_four_threads_give_identical_weights_on_mnist() {
    let (x, y, tx, ty) = data();
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    // batch 48 in shards of 8: 6 shards per batch, a last partial batch of 32 rows (4 shards)
    let runs: Vec<(Network<f32>, History)> = [1, 2, 4]
        .into_iter()
        .map(|threads| {
            let mut net = network(1);
            let mut adam = Adam::new(1e-3);
            let history = Trainer::new(&config(threads, 48, 8))
                .objective(&loss)
                .optimizer(&mut adam)
                .train_set(&x, &y)
                .eval_set("test", &tx, &ty)
                .metrics(&[Metric::Accuracy, Metric::Loss])
                .fit(&mut net)
                .unwrap();
            (net, history)
        })
        .collect();
    let (net1, h1) = &runs[0];
    assert_ne!(net1, &network(1), "training changed the weights");
    assert!(h1.last().unwrap().get("test", Metric::Accuracy).unwrap() > 0.7, "{:?}", h1.last());
    for (net, h) in &runs[1..] {
        for (a, b) in net1.layers().iter().zip(net.layers()) {
            let bits = |m: &Matrix<f32>| m.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a.weights()), bits(b.weights()));
            assert_eq!(bits(a.bias()), bits(b.bias()));
        }
        assert_eq!(without_times(h1), without_times(h));
    }
}

#[test]
fn whole_batch_shards_equal_a_plain_serial_loop() {
    let (x, y, _, _) = data();
    let x = x.rows_range(0, 600).to_matrix();
    let y = y.rows_range(0, 600).to_matrix();
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Sum);
    let (batch, lr) = (16, 0.005);

    // nn-train on two threads, one shard per batch (600 = 37·16 + 8: the last batch is partial)
    let mut trained = network(2);
    let mut sgd = Sgd::new(lr);
    Trainer::new(&config(2, batch, batch))
        .objective(&loss)
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .fit(&mut trained)
        .unwrap();

    // the same by hand: nn-data's batches, nn-core's loss_and_gradients, one SGD step per batch
    let mut net = network(2);
    let mut sgd = Sgd::new(lr);
    let mut ws = Workspace::new(&net, batch);
    let mut grads = Gradients::zeros_like(&net);
    for epoch in 1..=2 {
        let batches = MiniBatches::shuffled(x.rows(), batch, LastBatch::Keep, 7, epoch).unwrap();
        for idx in &batches {
            let (xb, yb) = (x.select_rows(idx), y.select_rows(idx));
            net.loss_and_gradients(xb.view(), yb.view(), &loss, idx.len(), &mut ws, &mut grads).unwrap();
            sgd.step(&mut net, &grads).unwrap();
        }
    }
    assert_eq!(trained, net);
}

/// Momentum without its element-wise form: the trainer reduces the shard
/// gradients and steps serially.
struct WholeStepsOnly(nn_core::Momentum<f32>);

impl Optimizer<f32> for WholeStepsOnly {
    fn step(&mut self, net: &mut Network<f32>, grads: &Gradients<f32>) -> Result<(), nn_core::ShapeError> {
        self.0.step(net, grads)
    }
    fn learning_rate(&self) -> f64 {
        Optimizer::<f32>::learning_rate(&self.0)
    }
    fn set_learning_rate(&mut self, lr: f64) {
        Optimizer::<f32>::set_learning_rate(&mut self.0, lr)
    }
}

/// Batches of 48 rows in shards of 8.
const BATCH_48: (usize, usize) = (48, 8);

/// `network(3)` trained with `opt` for two epochs on `x`, `y` in batches of 48.
fn fit_600<P: Optimizer<f32> + Send>(opt: &mut P, threads: usize, x: &Matrix<f32>, y: &Matrix<f32>) -> Network<f32> {
    let mut net = network(3);
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    Trainer::new(&config(threads, BATCH_48.0, BATCH_48.1))
        .objective(&loss)
        .optimizer(opt)
        .train_set(x, y)
        .fit(&mut net)
        .unwrap();
    net
}

/// The trainer's step, each thread summing and stepping its own part of the
/// parameters, equals summing the shard gradients first (`gather_and_compute`)
/// and one whole `Optimizer::step`, bit for bit; so does the trainer with an
/// optimizer that only steps whole. Batches of 48 rows in 6 shards, the
/// last batch of 24 rows in 3 (an odd tree).
#[test]
fn parallel_parts_of_the_step_equal_the_reduction_and_a_whole_step() {
    let (x, y, _, _) = data();
    let x = x.rows_range(0, 600).to_matrix();
    let y = y.rows_range(0, 600).to_matrix();
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    let momentum = || nn_core::Momentum::new(0.05, 0.9).nesterov().weight_decay(1e-4);
    let (batch, shard) = (BATCH_48.0, BATCH_48.1);

    let mut by_hand = network(3);
    let mut opt = momentum();
    let mut dp = DataParallel::new(&by_hand, batch, shard, Execution::Serial).unwrap();
    let mut order: Vec<usize> = (0..x.rows()).collect();
    for epoch in 1..=2 {
        epoch_order(&mut order, 7, epoch);
        for idx in order.chunks(batch) {
            dp.gather_and_compute(&by_hand, &x, &y, idx, &loss).unwrap();
            opt.step(&mut by_hand, dp.gradients()).unwrap();
        }
    }
    assert_ne!(by_hand, network(3), "training changed the weights");

    // the number of parameters whose bits differ from the by-hand run
    let differing = |net: &Network<f32>| {
        let flat = |n: &Network<f32>| {
            n.layers()
                .iter()
                .flat_map(|l| l.weights().as_slice().iter().chain(l.bias().as_slice()))
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        flat(net).iter().zip(&flat(&by_hand)).filter(|(a, b)| a != b).count()
    };
    for threads in [1, 2, 3] {
        let parts = fit_600(&mut momentum(), threads, &x, &y);
        assert_eq!(differing(&parts), 0, "element-wise step in parts, {threads} threads");
        let whole = fit_600(&mut WholeStepsOnly(momentum()), threads, &x, &y);
        assert_eq!(differing(&whole), 0, "whole steps, {threads} threads");
    }
}

/// Training straight from the bytes (`PixelRows`, rows converted as they are
/// gathered) gives the same weights, bit for bit, as training from the
/// converted `f32` matrix, on one thread and on two.
#[test]
fn training_from_bytes_equals_training_from_the_converted_matrix() {
    let m = nn_data::mnist_pixels::<f32>(MNIST, Normalisation::Centered).expect("MNIST is in datasets/mnist");
    let (small, _) = m.train.into_split(1000).unwrap();
    let converted = small.to_dataset().unwrap();
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Sum);
    let train = |x: &dyn nn_core::RowSource<f32>, threads: usize| {
        let mut net = network(5);
        let mut sgd = Sgd::new(0.005);
        Trainer::new(&config(threads, 16, 8))
            .objective(&loss)
            .optimizer(&mut sgd)
            .train_set(x, &small.y)
            .fit(&mut net)
            .unwrap();
        net
    };
    let from_matrix = train(&converted.x, 1);
    assert_ne!(from_matrix, network(5));
    assert_eq!(train(&small.x, 1), from_matrix);
    assert_eq!(train(&small.x, 2), from_matrix);
}

/// One thread adds shard 2j + 1's gradient into shard 2j's buffer in place
/// (`Network::add_loss_and_gradients`) and sums the pair sums; two threads
/// compute every shard into its own buffer and sum them all, or, when the
/// shards come in whole pairs for each thread (4 or 8 shards), run each pair
/// through one pass. All give the same bits for every number of shards, odd
/// ones included, for SGD and Adam, and for shards too long to be added in
/// place (which one thread then computes one by one).
#[test]
fn adding_shard_pairs_in_place_gives_the_bits_of_the_tree() {
    let (x, y, _, _) = data();
    let (x, y) = (x.rows_range(0, 700).to_matrix(), y.rows_range(0, 700).to_matrix());
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Sum);
    // (batch, shard): 1 to 8 shards per batch, partial last batches; 300-row shards exceed SINGLE_PASS_K
    for (batch, shard) in [(8, 8), (16, 8), (24, 8), (32, 8), (40, 8), (56, 8), (64, 8), (96, 32), (600, 300)] {
        for adam in [false, true] {
            let run = |threads: usize| {
                let mut net = network(3);
                let cfg = TrainConfig { epochs: 1, ..config(threads, batch, shard) };
                let mut sgd = Sgd::new(0.001);
                let mut opt = nn_core::Adam::new(1e-3);
                let trainer = Trainer::new(&cfg).objective(&loss).train_set(&x, &y);
                let h = if adam {
                    trainer.optimizer(&mut opt).fit(&mut net)
                } else {
                    trainer.optimizer(&mut sgd).fit(&mut net)
                };
                let losses: Vec<u64> = h.unwrap().train_losses().iter().map(|v| v.to_bits()).collect();
                let bits: Vec<u32> = net
                    .layers()
                    .iter()
                    .flat_map(|l| l.weights().as_slice().iter().chain(l.bias().as_slice()))
                    .map(|v| v.to_bits())
                    .collect();
                (bits, losses)
            };
            assert!(run(1) == run(2), "batch {batch}, shard {shard}, adam {adam}: 1 and 2 threads differ");
        }
    }
    const { assert!(nn_core::gemm::SINGLE_PASS_K < 300, "the 300-row shards must exceed SINGLE_PASS_K") };
}
