//! `reproduce mnist-best`: beyond the tutorials, a recipe that reaches
//! ≥ 98 % MNIST test accuracy on the CPU in a few minutes:
//!
//! - 784-256-128-10, ReLU with He initialisation N(0, 2/n_in), biases 0;
//! - softmax + cross-entropy, mean over the batch (δ = (softmax − t)/B);
//! - Adam(η, β₁ = 0.9, β₂ = 0.999), batch 64, η = 1e-3 halved every 3 epochs;
//! - pixels /255, 10 epochs.

use std::time::Instant;

use nn_core::{Activation, Adam, Init, Loss, NetworkBuilder, Reduction};
use nn_data::Normalisation;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use nn_train::Metric;

use crate::error::Result;
use crate::experiments::common::{predict_classes, Ctx};
use crate::experiments::train::{comm_rows, history_json, Fit};
use crate::plot::{Chart, Series, Span};
use crate::report::{Goal, Report, Row};
use nn_train::metrics::confusion_matrix;

/// Epochs of the recipe.
pub const EPOCHS: usize = 10;
/// Initial learning rate.
pub const LR: f64 = 1e-3;

/// η for a 1-based epoch: 1e-3 halved after every 3 epochs.
pub fn learning_rate(epoch: usize) -> f64 {
    LR * 0.5f64.powi(((epoch.max(1) - 1) / 3) as i32)
}

/// The recipe's mini-batch size (`--batch` overrides it).
pub const BATCH: usize = 64;

/// Trains the recipe, evaluates, writes the model and the plots.
pub fn run(ctx: &Ctx) -> Result<Report> {
    let mut report = ctx.report("mnist-best", "784-256-128-10 ReLU (He), softmax + CE, Adam with step decay, batch 64");
    let data = nn_data::mnist_pixels::<f32>(ctx.data("mnist"), Normalisation::Unit)?;
    let train = ctx.limit_pixels(data.train)?;
    let test = ctx.limit_pixels(data.test)?.to_dataset()?;
    report.train_samples = train.len();
    report.update_rule = vec![
        "loss: softmax + cross-entropy, Reduction::Mean (δ = (softmax − t)/B)".into(),
        "step: Adam(β₁ 0.9, β₂ 0.999, ε 1e-8), η = 1e-3 halved every 3 epochs; batch 64, last partial batch kept"
            .into(),
        "He initialisation N(0, 2/n_in), biases 0; pixels /255".into(),
    ];

    let start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
    let mut net = NetworkBuilder::new(784)
        .dense(256, Activation::Relu)
        .dense(128, Activation::Relu)
        .dense(10, Activation::Softmax)
        .weights(Init::He)
        .biases(Init::Zeros)
        .build::<f32, _>(&mut rng)?;
    let mut adam = Adam::<f32>::new(LR);
    let fit = Fit::rows(ctx, &train.x, &train.y, ctx.batch(BATCH))
        .keep_last(true)
        .eval("test", &test)
        .accuracy()
        .lr_schedule(learning_rate);
    let history = fit.run(&mut net, &Loss::SoftmaxCrossEntropy(Reduction::Mean), &mut adam)?;
    let train_seconds = start.elapsed().as_secs_f64();

    let acc = history.series("test", Metric::Accuracy);
    let last = *acc.last().expect("epochs");
    let row = Row::new(format!("test accuracy, epoch {}", ctx.epochs), last, 4);
    report.rows.push(if ctx.comparable() {
        row.band("goal ≥ 0.980", Goal::AtLeast(0.98))
    } else {
        row.band_info("goal ≥ 0.980")
    });
    report.rows.push(Row::with_text("wall time of training (s)", train_seconds, format!("{train_seconds:.1}")));
    report.rows.push(Row::new("seconds per epoch (mean)", history.mean_seconds(), 2));
    report.rows.extend(comm_rows(ctx, &history, train.len().div_ceil(ctx.batch(BATCH))));
    report.rows.push(Row::with_text("parameters", net.parameter_count() as f64, net.parameter_count().to_string()));

    let labels = test.labels.clone().unwrap_or_else(|| nn_data::argmax_rows(&test.y));
    let predicted = predict_classes(&net, &test.x)?;
    let top = acc.iter().copied().fold(0.98, f64::max);
    let goal = vec![Span::over(1.0, ctx.epochs as f64, 0.98, top)];
    ctx.plot(
        &mut report,
        "accuracy.png",
        "test accuracy per epoch",
        &Chart::new("MNIST 784-256-128-10, Adam: test accuracy", "epoch", "accuracy")
            .with(Series::per_epoch("ours (test set)", &acc))
            .band("goal ≥ 0.980 (no tutorial: beyond them)", None, goal),
    )?;
    ctx.plot(
        &mut report,
        "loss.png",
        "training loss per epoch",
        &Chart::new("MNIST 784-256-128-10, Adam: training loss", "epoch", "cross-entropy per sample")
            .with(Series::per_epoch("train", &history.train_losses()))
            .log_y(),
    )?;
    ctx.confusion(
        &mut report,
        "confusion.png",
        &format!("MNIST test confusion matrix, accuracy {last:.4}"),
        &confusion_matrix(&predicted, &labels, 10)?.counts,
    )?;
    ctx.save_model(&mut report, &net, "model.safetensors", "pixels/255 (MNIST bytes, 784 per image, row by row)", &[])?;
    report.details = serde_json::json!({ "history": history_json(&history), "train_seconds": train_seconds });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learning_rate_halves_every_three_epochs() {
        assert_eq!(learning_rate(1), 1e-3);
        assert_eq!(learning_rate(3), 1e-3);
        assert_eq!(learning_rate(4), 5e-4);
        assert_eq!(learning_rate(10), 1.25e-4);
    }
}
