//! `reproduce mnist`: the second tutorial's MNIST network, 784-64-10 with
//! ReLU and softmax, N(0, 1) weights and biases, pixels /255 − 0.5.
//!
//! The tutorial's update: δᴸ = softmax(Uᴸ) − T summed over the mini-batch
//! (no division by B), W ← W − 0.005·Hᵀδ, batch 16, the last partial batch
//! kept, 10 epochs. Here: `Loss::SoftmaxCrossEntropy(Reduction::Sum)` and
//! `Sgd::new(0.005)`, which is that rule exactly.

use nn_core::{Activation, Init, Loss, NetworkBuilder, Reduction, Sgd};
use nn_data::Normalisation;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use nn_train::Metric;

use crate::error::Result;
use crate::experiments::common::Ctx;
use crate::experiments::train::{comm_rows, history_json, Fit};
use crate::plot::{Chart, Series};
use crate::report::{Goal, Report, Row};

/// The tutorial's epochs.
pub const EPOCHS: usize = 10;

/// The recipe's mini-batch size (`--batch` overrides it).
pub const BATCH: usize = 16;

/// Trains, evaluates, writes the model and the plots.
pub fn run(ctx: &Ctx) -> Result<Report> {
    let mut report = ctx.report("mnist", "784-64-10 ReLU → softmax + cross-entropy, SGD (the MNIST tutorial)");
    // the training images stay bytes, converted batch by batch (47 MB instead of 188 MB as f32)
    let data = nn_data::mnist_pixels::<f32>(ctx.data("mnist"), Normalisation::Centered)?;
    let train = ctx.limit_pixels(data.train)?;
    let test = ctx.limit_pixels(data.test)?.to_dataset()?;
    report.train_samples = train.len();
    report.update_rule = vec![
        "loss: softmax + cross-entropy with Reduction::Sum, so δᴸ = softmax(Uᴸ) − T summed over the batch, \
         exactly the tutorial's delta (no 1/B)"
            .into(),
        "step: Sgd::new(0.005): W ← W − 0.005·Hᵀδ, b ← b − 0.005·1ᵀδ, as the tutorial's lr 0.005".into(),
        "batch 16, the last partial batch kept (60 000 = 3 750 × 16), reshuffled every epoch; \
         weights and biases N(0, 1); pixels /255 − 0.5"
            .into(),
    ];

    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
    let mut net = NetworkBuilder::new(784)
        .dense(64, Activation::Relu)
        .dense(10, Activation::Softmax)
        .weights(Init::StandardNormal)
        .biases(Init::StandardNormal)
        .build::<f32, _>(&mut rng)?;
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Sum);
    let mut sgd = Sgd::new(0.005);
    let fit = Fit::rows(ctx, &train.x, &train.y, ctx.batch(BATCH)).keep_last(true).eval("test", &test).accuracy();
    let history = fit.run(&mut net, &loss, &mut sgd)?;

    let acc = history.series("test", Metric::Accuracy);
    // The tutorial prints the epoch's mean per-sample loss.
    let loss_per_sample = history.train_losses();
    let first = acc[0];
    let last = *acc.last().expect("at least one epoch");
    let mut row1 = Row::new("test accuracy, epoch 1", first, 4).tutorial("0.807");
    row1 = if ctx.opts.limit.is_none() {
        row1.band("0.795–0.809 (3 seeds)", Goal::Between(0.795, 0.809))
    } else {
        row1.band_info("0.795–0.809 (3 seeds; full data only)")
    };
    report.rows.push(row1);
    let label = format!("test accuracy, epoch {}", ctx.epochs);
    report.rows.push(if ctx.comparable() {
        Row::new(label, last, 4).tutorial("0.9194").band("0.911–0.928 (3 seeds)", Goal::Between(0.911, 0.928))
    } else {
        Row::new(label, last, 4).tutorial("0.9194 (epoch 10)").band_info("0.911–0.928 at epoch 10 (3 seeds)")
    });
    report.rows.push(Row::new("training loss per sample, epoch 1", loss_per_sample[0], 5).tutorial("1.20417"));
    report.rows.push(Row::new("seconds per epoch (mean)", history.mean_seconds(), 2));
    report.rows.extend(comm_rows(ctx, &history, train.len().div_ceil(ctx.batch(BATCH))));

    // The tutorial's printed figures and its code's band, at the epochs this run reached.
    let printed = ctx.marks(&[(1, 0.807, "0.807"), (10, 0.9194, "0.9194")]);
    let spans = ctx.spans(&[(1, 0.795, 0.809), (10, 0.911, 0.928)]);
    ctx.plot(
        &mut report,
        "accuracy.png",
        "MNIST test accuracy per epoch, beside the tutorial's printed 0.807 and 0.9194 and its code's band",
        &Chart::new("MNIST 784-64-10: test accuracy", "epoch", "accuracy")
            .with(Series::per_epoch("ours (test set)", &acc))
            .marks("the tutorial's printed accuracy", printed)
            .band("the tutorial's code, 3 seeds", Some(0), spans),
    )?;
    let printed = ctx.marks(&[(1, 1.20417, "1.20417")]);
    ctx.plot(
        &mut report,
        "loss.png",
        "training loss (cross-entropy per sample) per epoch, beside the tutorial's printed 1.20417",
        &Chart::new("MNIST 784-64-10: training loss", "epoch", "cross-entropy per sample")
            .with(Series::per_epoch("ours (training set)", &loss_per_sample))
            .marks("the tutorial's printed error, epoch 1", printed),
    )?;
    ctx.save_model(
        &mut report,
        &net,
        "model.safetensors",
        "pixels/255 - 0.5 (MNIST bytes, 784 per image, row by row)",
        &[],
    )?;
    report.details = history_json(&history);
    Ok(report)
}
