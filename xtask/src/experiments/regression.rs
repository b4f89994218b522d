//! `reproduce regression`: the MNIST tutorial's toy regression (its published
//! generator, [`nn_data::toy`]), N = 2000 points, 1-16-16-1 with ReLU, sigmoid and a linear output, and the same
//! network without activations (a linear model).
//!
//! The tutorial's loss and update: E = ½·Σ(ŷ − t)²/N, δᴸ = (ŷ − t)/B for a
//! mini-batch of B = 16, W ← W − 0.001·Hᵀδ. nn-core's `Mse(Reduction::Mean)`
//! has δ = 2(ŷ − t)/B, twice the tutorial's, so the learning rate here is
//! 0.0005: 0.0005·2(ŷ − t)/B = 0.001·(ŷ − t)/B, the tutorial's step exactly.
//! Reported losses are the tutorial's E = ½·mean (ŷ − t)² over all N points.

use nn_core::{Activation, Init, Loss, Matrix, Network, NetworkBuilder, Reduction, Sgd};
use nn_data::Dataset;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use nn_train::Metric;

use crate::error::Result;
use crate::experiments::common::Ctx;
use crate::experiments::train::{history_json, Fit, History};
use crate::plot::{Chart, Mark, Series};
use crate::report::{Goal, Report, Row};

/// The tutorial's epochs.
pub const EPOCHS: usize = 300;
/// The tutorial's number of points.
pub const N: usize = 2000;

/// Seeds in the sweep (the band's own count).
pub const SWEEP: u64 = 5;

fn train_once(ctx: &Ctx, ds: &Dataset<f32>, linear: bool, seed: u64, quiet: bool) -> Result<(Network<f32>, History)> {
    let (a1, a2) =
        if linear { (Activation::Identity, Activation::Identity) } else { (Activation::Relu, Activation::Sigmoid) };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = NetworkBuilder::new(1)
        .dense(16, a1)
        .dense(16, a2)
        .dense(1, Activation::Identity)
        .weights(Init::StandardNormal)
        .biases(Init::StandardNormal)
        .build::<f32, _>(&mut rng)?;
    let mut sgd = Sgd::new(0.0005);
    let mut fit = Fit::new(ctx, ds, 16).seed(seed).keep_last(true).eval("train", ds).mse();
    if quiet {
        fit = fit.silent();
    }
    let history = fit.run(&mut net, &Loss::Mse(Reduction::Mean), &mut sgd)?;
    Ok((net, history))
}

/// ½·(Var t − Cov(x, t)²/Var x): the smallest E any straight line reaches on `ds`.
pub fn best_line_loss(ds: &Dataset<f32>) -> f64 {
    let n = ds.len().max(1) as f64;
    let xs: Vec<f64> = ds.x.as_slice().iter().map(|&v| f64::from(v)).collect();
    let ts: Vec<f64> = ds.y.as_slice().iter().map(|&v| f64::from(v)).collect();
    let (mx, mt) = (xs.iter().sum::<f64>() / n, ts.iter().sum::<f64>() / n);
    let vx = xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>() / n;
    let vt = ts.iter().map(|t| (t - mt).powi(2)).sum::<f64>() / n;
    let c = xs.iter().zip(&ts).map(|(x, t)| (x - mx) * (t - mt)).sum::<f64>() / n;
    0.5 * (vt - if vx > 0.0 { c * c / vx } else { 0.0 })
}

fn fit_chart(title: &str, ds: &Dataset<f32>, net: &Network<f32>) -> Result<Chart> {
    let xs = ds.x.as_slice();
    let (lo, hi) = xs.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let grid = Matrix::from_fn(201, 1, |i, _| lo + (hi - lo) * i as f32 / 200.0);
    let pred = net.predict(grid.view())?;
    let data: Vec<(f64, f64)> = (0..ds.len()).map(|i| (f64::from(ds.x.get(i, 0)), f64::from(ds.y.get(i, 0)))).collect();
    let fitted: Vec<(f64, f64)> = (0..201).map(|i| (f64::from(grid.get(i, 0)), f64::from(pred.get(i, 0)))).collect();
    Ok(Chart::new(title, "x", "target t and prediction y(x)")
        .with(Series::new("targets t (noisy)", data, Mark::Points))
        .with(Series::new("network y(x)", fitted, Mark::Line)))
}

/// Trains both networks, writes the models and the plots.
pub fn run(ctx: &Ctx) -> Result<Report> {
    let mut report = ctx.report("regression", "toy regression 1-16-16-1 (ReLU, sigmoid, linear) and its linear twin");
    let ds = ctx.limit(nn_data::toy_regression::<f32>(N, ctx.seed))?;
    report.train_samples = ds.len();
    report.update_rule = vec![
        "loss: Mse(Reduction::Mean), δᴸ = 2(ŷ − t)/B; step Sgd::new(0.0005), so 0.0005·2(ŷ − t)/B = 0.001·(ŷ − t)/B, \
         the tutorial's δ = (ŷ − t)/B with its lr 0.001"
            .into(),
        "reported loss: the tutorial's loss_hist, E = Σ over the epoch's mini-batches of ½·Σ(ŷ − t)²/N, each batch \
         taken before its step (what its loss plot shows and what the bands measure); E over all N points with the \
         weights after the last epoch is shown beside it"
            .into(),
        "batch 16, reshuffled every epoch; weights and biases N(0, 1); the linear twin has identity activations".into(),
    ];

    let (nonlinear, h_nl) = train_once(ctx, &ds, false, ctx.seed, ctx.opts.quiet)?;
    let (linear, h_lin) = train_once(ctx, &ds, true, ctx.seed, ctx.opts.quiet)?;
    // the tutorial's loss_hist: ½ of the per-sample squared error accumulated during the epoch
    let half = |h: &History| h.train_losses().iter().map(|m| m / 2.0).collect::<Vec<f64>>();
    let after = |h: &History| h.series("train", Metric::Mse).last().map_or(f64::NAN, |m| m / 2.0);
    let (e_nl, e_lin) = (half(&h_nl), half(&h_lin));
    let (last_nl, last_lin) = (*e_nl.last().expect("epochs"), *e_lin.last().expect("epochs"));
    let full = ctx.comparable();
    let row = Row::new("final E, linear network", last_lin, 4);
    report.rows.push(if full {
        row.band("0.044–0.048 (5 seeds)", Goal::Between(0.044, 0.048))
    } else {
        row.band_info("0.044–0.048 after 300 epochs")
    });
    let row = Row::new("final E, nonlinear network", last_nl, 4);
    report.rows.push(if full {
        row.band("0.0021–0.0035 (5 seeds); goal ≤ 0.005", Goal::AtMost(0.005))
    } else {
        row.band_info("0.0021–0.0035 after 300 epochs")
    });
    report.rows.push(Row::new("E over all points after the last epoch, linear", after(&h_lin), 4));
    report.rows.push(Row::new("E over all points after the last epoch, nonlinear", after(&h_nl), 4));
    let span = ctx.seed_span(SWEEP);
    let mut sweep = serde_json::Map::new();
    for (linear, name, band) in [(true, "linear", "0.044–0.048"), (false, "nonlinear", "0.0021–0.0035")] {
        let mut finals = Vec::new();
        for seed in ctx.seeds(SWEEP) {
            let data = ctx.limit(nn_data::toy_regression::<f32>(N, seed))?;
            let (_, h) = train_once(ctx, &data, linear, seed, true)?;
            finals.push(half(&h).last().copied().unwrap_or(f64::NAN));
        }
        let (lo, hi) = finals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        report
            .rows
            .push(Row::with_text(format!("final E, {name}, {span}"), lo, format!("{lo:.4}–{hi:.4}")).band_info(band));
        sweep.insert(name.into(), serde_json::json!(finals));
    }
    let floor = best_line_loss(&ds);
    report.rows.push(Row::new("least-squares line on these points (closed form)", floor, 4));
    report.notes.push(format!(
        "The points come from the tutorial's own toy_regression() formula (nn_data::toy): x = 0.5·z + 0.35, \
         x̃ = 0.75x − 0.35, y = exp(−(8x̃² + 0.1x̃ + 0.1) + 0.05·ε₁) + 0.05·ε₂, y /= max|y|, with the project's \
         seeded normal deviates (the --exact run draws them from numpy's stream instead). No straight line gets \
         below E = {floor:.4} on these points."
    ));

    let at_end = |lo, hi| ctx.spans(&[(EPOCHS, lo, hi)]);
    ctx.plot(
        &mut report,
        "loss.png",
        "E = ½Σ(ŷ − t)²/N per epoch, beside the bands of the tutorial's code after 300 epochs",
        &Chart::new("toy regression: loss per epoch", "epoch", "E = ½·mean (ŷ − t)²")
            .with(Series::per_epoch("ours, nonlinear", &e_nl))
            .with(Series::per_epoch("ours, linear", &e_lin))
            .band("the tutorial's code, 5 seeds, nonlinear", Some(0), at_end(0.0021, 0.0035))
            .band("the tutorial's code, 5 seeds, linear", Some(1), at_end(0.044, 0.048))
            .log_y(),
    )?;
    ctx.plot(
        &mut report,
        "fit_nonlinear.png",
        "targets and the nonlinear network's prediction vs x",
        &fit_chart(&format!("1-16-16-1 ReLU/sigmoid: E = {last_nl:.4}"), &ds, &nonlinear)?,
    )?;
    ctx.plot(
        &mut report,
        "fit_linear.png",
        "targets and the linear network's prediction vs x",
        &fit_chart(&format!("1-16-16-1 without activations: E = {last_lin:.4}"), &ds, &linear)?,
    )?;
    let none = "x as is (one input), output y as is (toy_regression's y, divided by its max |y|)";
    ctx.save_model(&mut report, &nonlinear, "model.safetensors", none, &[])?;
    ctx.save_model(&mut report, &linear, "model-linear.safetensors", none, &[])?;
    report.details = serde_json::json!({ "nonlinear": history_json(&h_nl), "linear": history_json(&h_lin), "best_line_loss": floor });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_line_of_points_on_a_line_is_exact() {
        let x = Matrix::from_fn(5, 1, |i, _| i as f32);
        let y = Matrix::from_fn(5, 1, |i, _| 2.0 * i as f32 + 1.0);
        assert!(best_line_loss(&Dataset::new(x, y).unwrap()).abs() < 1e-12);
    }
}
