//! The trainer's contract: diverging runs stop with the epoch and batch,
//! bad setups are errors before the first step, evaluation and history
//! report what happened.

use std::sync::atomic::{AtomicUsize, Ordering};

use nn_core::Objective;
use nn_core::{Activation, Init, Loss, MatRef, Matrix, Network, NetworkBuilder, Reduction, Sgd, ShapeError, Workspace};
use nn_train::{Metric, Progress, TrainConfig, TrainError, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn regression(n: usize, seed: u64) -> (Matrix<f32>, Matrix<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Matrix::from_fn(n, 3, |_, _| rng.random_range(-1.0..1.0));
    let y = Matrix::from_fn(n, 1, |i, _| x.get(i, 0) - 2.0 * x.get(i, 1) + 0.5 * x.get(i, 2) + 0.25);
    (x, y)
}

fn linear() -> Network<f32> {
    NetworkBuilder::new(3)
        .dense(1, Activation::Identity)
        .weights(Init::Zeros)
        .build(&mut ChaCha8Rng::seed_from_u64(0))
        .unwrap()
}

fn quiet(epochs: usize, batch: usize, threads: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: batch,
        threads: Some(threads),
        progress: Progress::Silent,
        shuffle: false,
        ..TrainConfig::default()
    }
}

/// Mean squared error that turns NaN on its `fail_at`-th call (counted from 1).
struct FailingMse {
    calls: AtomicUsize,
    fail_at: usize,
}

impl Objective<f32> for FailingMse {
    fn output_delta(
        &self,
        net: &Network<f32>,
        t: MatRef<'_, f32>,
        ws: &mut Workspace<f32>,
        d: usize,
    ) -> Result<f32, ShapeError> {
        let e = Loss::Mse(Reduction::Mean).output_delta(net, t, ws, d)?;
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(if call == self.fail_at { f32::NAN } else { e })
    }

    fn reduction(&self) -> Reduction {
        Reduction::Mean
    }
}

#[test]
fn a_nan_loss_stops_training_naming_epoch_and_batch() {
    let (x, y) = regression(40, 1);
    // 5 batches of 8 per epoch, one shard each: call 13 is epoch 3, batch 3
    let objective = FailingMse { calls: AtomicUsize::new(0), fail_at: 13 };
    let mut net = linear();
    let mut sgd = Sgd::new(0.01);
    let mut seen = Vec::new();
    let err = Trainer::new(&TrainConfig { shard_size: Some(8), ..quiet(5, 8, 1) })
        .objective(&objective)
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .on_epoch(|r| seen.push(r.epoch))
        .fit(&mut net)
        .unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { epoch: 3, batch: 3, .. }), "{err:?}");
    assert_eq!(err.to_string(), "training diverged: the loss is NaN at epoch 3, batch 3 (both counted from 1)");
    assert_eq!(seen, vec![1, 2]);
    assert!(net.layers()[0].weights().all_finite());
}

#[test]
fn a_diverging_learning_rate_stops_with_a_non_finite_loss() {
    let (x, y) = regression(64, 2);
    let mut net = linear();
    let mut sgd = Sgd::new(1e4);
    let err = Trainer::new(&quiet(50, 8, 2))
        .objective(&Loss::Mse(Reduction::Mean))
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .fit(&mut net)
        .unwrap_err();
    let TrainError::NonFinite { epoch, batch, value } = err else { panic!("{err:?}") };
    assert!(epoch >= 1 && (1..=8).contains(&batch));
    assert!(!value.is_finite());
}

/// MSE whose δᴸ is set to f32::MAX everywhere: the loss it reports stays
/// finite, but the bias gradient Σδ overflows and a single step sends the
/// bias to infinity.
struct HugeDelta;

impl Objective<f32> for HugeDelta {
    fn output_delta(
        &self,
        net: &Network<f32>,
        t: MatRef<'_, f32>,
        ws: &mut Workspace<f32>,
        d: usize,
    ) -> Result<f32, ShapeError> {
        let e = Loss::Mse(Reduction::Mean).output_delta(net, t, ws, d)?;
        let mut delta = ws.output_delta_mut();
        for i in 0..delta.rows() {
            delta.row_mut(i).fill(f32::MAX);
        }
        Ok(e)
    }

    fn reduction(&self) -> Reduction {
        Reduction::Mean
    }
}

/// Divergence in the very last step (one epoch of one batch: no later loss
/// could show it) is an error, not a network of NaN or infinite weights.
#[test]
fn divergence_in_the_last_step_is_caught() {
    let (x, y) = regression(16, 4);
    let mut net = linear();
    let mut sgd = Sgd::new(0.01);
    let err = Trainer::new(&quiet(1, 16, 1))
        .objective(&HugeDelta)
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .fit(&mut net)
        .unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteParameters { epoch: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("after epoch 1"), "{err}");
}

#[test]
fn bad_setups_are_errors_before_the_first_step() {
    let (x, y) = regression(10, 3);
    let loss = Loss::Mse(Reduction::Mean);
    let fit = |config: &TrainConfig, x: &Matrix<f32>, y: &Matrix<f32>| {
        let mut net = linear();
        let mut sgd = Sgd::new(0.1);
        let r = Trainer::new(config).objective(&loss).optimizer(&mut sgd).train_set(x, y).fit(&mut net);
        assert_eq!(net, linear(), "no step was taken");
        r.unwrap_err().to_string()
    };
    let msg = fit(&quiet(1, 4, 1), &Matrix::zeros(10, 5), &y);
    assert!(msg.contains("3 input columns") && msg.contains("5 columns"), "{msg}");
    let msg = fit(&quiet(1, 4, 1), &x, &Matrix::zeros(10, 2));
    assert!(msg.contains("1 target columns"), "{msg}");
    let msg = fit(&quiet(1, 4, 1), &x, &Matrix::zeros(9, 1));
    assert!(msg.contains("9 target rows"), "{msg}");
    let mut bad = x.clone();
    bad.set(7, 2, f32::INFINITY);
    let msg = fit(&quiet(1, 4, 1), &bad, &y);
    assert_eq!(msg, "train inputs holds inf at row 7, column 2 (counted from 0): data must be finite");
    let msg = fit(&quiet(1, 0, 1), &x, &y);
    assert!(msg.contains("batch size"), "{msg}");
    let msg = fit(&TrainConfig { keep_last_partial: false, ..quiet(1, 16, 1) }, &x, &y);
    assert!(msg.contains("no full batch"), "{msg}");
    let msg = fit(&TrainConfig { shard_size: Some(0), ..quiet(1, 4, 1) }, &x, &y);
    assert!(msg.contains("shard size"), "{msg}");

    // a fused softmax loss on a network without a softmax output
    let mut net = linear();
    let mut sgd = Sgd::new(0.1);
    let err = Trainer::new(&quiet(1, 4, 1))
        .objective(&Loss::SoftmaxCrossEntropy(Reduction::Mean))
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .fit(&mut net)
        .unwrap_err();
    assert!(err.to_string().contains("softmax"), "{err}");
    // nothing to optimise with
    let err = Trainer::new(&quiet(1, 4, 1)).objective(&loss).train_set(&x, &y).fit(&mut net).unwrap_err();
    assert_eq!(err.to_string(), "invalid training setup: no optimizer: call .optimizer(&mut sgd)");
    // an evaluation set of the wrong width
    let wide = Matrix::zeros(3, 4);
    let err = Trainer::new(&quiet(1, 4, 1))
        .objective(&loss)
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .eval_set("val", &wide, &Matrix::zeros(3, 1))
        .fit(&mut net)
        .unwrap_err();
    assert!(err.to_string().starts_with("val set"), "{err}");
}

#[test]
fn training_fits_a_linear_target_and_records_every_epoch() {
    let (x, y) = regression(200, 4);
    let (tx, ty) = regression(50, 5);
    let mut net = linear();
    let mut sgd = Sgd::new(0.1);
    let mut rates = Vec::new();
    let history = Trainer::new(&TrainConfig { shuffle: true, ..quiet(30, 10, 2) })
        .objective(&Loss::Mse(Reduction::Mean))
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .eval_set("test", &tx, &ty)
        .metrics(&[Metric::Mse, Metric::Rmse, Metric::Mae, Metric::R2, Metric::Loss])
        .lr_schedule(|epoch| {
            let lr = if epoch <= 20 { 0.1 } else { 0.01 };
            rates.push(lr);
            lr
        })
        .fit(&mut net)
        .unwrap();
    assert_eq!(rates.len(), 30);
    assert_eq!(sgd.lr, 0.01);
    let w = net.layers()[0].weights().as_slice();
    let b = net.layers()[0].bias().as_slice();
    for (got, want) in w.iter().chain(b).zip([1.0, -2.0, 0.5, 0.25]) {
        assert!((got - want).abs() < 1e-3, "{w:?} {b:?}");
    }
    let last = history.last().unwrap();
    assert_eq!(last.samples, 200);
    assert!(last.get("test", Metric::R2).unwrap() > 0.999_99);
    // Loss (MSE, mean over rows, one output) equals the MSE metric; RMSE is its root
    let (mse, loss) = (last.get("test", Metric::Mse).unwrap(), last.get("test", Metric::Loss).unwrap());
    assert!((mse - loss).abs() <= 1e-6 * mse.max(1e-12), "{mse} vs {loss}");
    assert_eq!(last.get("test", Metric::Rmse).unwrap(), mse.sqrt());
    let losses = history.train_losses();
    assert!(losses[29] < losses[0] * 1e-3, "{losses:?}");
    assert!(history.epochs.iter().all(|e| e.seconds > 0.0 && e.samples_per_sec > 0.0));
    // where the time went, on 2 threads: computing and stepping inside the
    // epoch's wall time, the shards' own time inside the threads' time
    for e in &history.epochs {
        assert!(
            e.compute_seconds > 0.0 && e.step_seconds > 0.0 && e.pass_seconds > 0.0 && e.gather_seconds > 0.0,
            "{e:?}"
        );
        assert!(e.compute_seconds + e.step_seconds <= e.seconds, "{e:?}");
        assert!(e.gather_seconds + e.pass_seconds <= 2.0 * e.compute_seconds, "{e:?}");
    }
    assert_eq!(history.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), (1..=30).collect::<Vec<_>>());
}

#[test]
fn dropping_the_last_partial_batch_sees_fewer_samples() {
    let (x, y) = regression(45, 6);
    let run = |keep| {
        let mut net = linear();
        let mut sgd = Sgd::new(0.05);
        Trainer::new(&TrainConfig { keep_last_partial: keep, ..quiet(2, 10, 1) })
            .objective(&Loss::Mse(Reduction::Sum))
            .optimizer(&mut sgd)
            .train_set(&x, &y)
            .fit(&mut net)
            .unwrap()
    };
    assert_eq!(run(true).last().unwrap().samples, 45);
    assert_eq!(run(false).last().unwrap().samples, 40);
}

#[test]
fn thread_and_shard_settings_resolve_as_documented() {
    let c = TrainConfig { batch_size: 64, ..TrainConfig::default() };
    assert_eq!(c.effective_shard_size(), 32);
    assert_eq!(TrainConfig { shard_size: Some(5), ..c.clone() }.effective_shard_size(), 5);
    assert_eq!(TrainConfig { threads: Some(3), ..c.clone() }.effective_threads(), 3);
    assert!(c.effective_threads() >= 1);
    assert_eq!(c.batches(130), 3);
    assert_eq!(TrainConfig { keep_last_partial: false, ..c }.batches(130), 2);
}
