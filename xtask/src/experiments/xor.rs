//! `reproduce xor`: the fourth tutorial's XOR network, 2-2-1 sigmoid, binary
//! cross-entropy on probabilities, one sample per step, step 0.01, 50 000
//! epochs, weights N(0, 1)·√(2/n_in), biases 0.5; run over 20 seeds to count
//! how often it solves XOR, next to a setting that solves all 20.
//!
//! The tutorial's update for one sample: δᴸ = ∂E/∂a ⊙ σ′(z) with
//! E = −t ln a − (1 − t) ln(1 − a), W ← W − 0.01·hᵀδ. Here:
//! `Loss::Bce(Reduction::Sum)` (on probabilities, δ through σ′(z)) with
//! batch 1 and `Sgd::new(0.01)`: the same rule.

use std::fmt::Write as _;

use nn_core::{Activation, Init, Loss, Network, NetworkBuilder, Reduction, Sgd};
use nn_data::Dataset;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::experiments::common::Ctx;
use crate::experiments::train::{Fit, History};
use crate::plot::{Chart, Mark, Series, Span};
use crate::report::{Goal, Report, Row, TextBlock};

/// The tutorial's epochs.
pub const EPOCHS: usize = 50_000;
/// Seeds per setting.
pub const SEEDS: u64 = 20;
/// A run solves XOR if each of the four outputs is within this distance of
/// its target (successes end within ≈ 0.03, failures leave outputs near 0.5).
pub const SOLVED_WITHIN: f64 = 0.25;

/// The two settings compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The tutorial's 2-2-1.
    Tutorial,
    /// 2-4-1: two more hidden units, everything else the tutorial's.
    Wider,
}

impl Setting {
    fn hidden(self) -> usize {
        match self {
            Setting::Tutorial => 2,
            Setting::Wider => 4,
        }
    }
}

struct RunResult {
    net: Network<f32>,
    history: History,
    outputs: Vec<f64>,
    max_error: f64,
}

fn train_once(ctx: &Ctx, ds: &Dataset<f32>, setting: Setting, seed: u64) -> Result<RunResult> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = NetworkBuilder::new(2)
        .dense(setting.hidden(), Activation::Sigmoid)
        .dense(1, Activation::Sigmoid)
        .weights(Init::He)
        .biases(Init::Constant(0.5))
        .build::<f32, _>(&mut rng)?;
    let mut sgd = Sgd::new(0.01);
    let fit = Fit::new(ctx, ds, 1).seed(seed).shuffle(false).silent();
    let history = fit.run(&mut net, &Loss::Bce(Reduction::Sum), &mut sgd)?;
    let outputs: Vec<f64> = net.predict(ds.x.view())?.as_slice().iter().map(|&v| f64::from(v)).collect();
    let max_error = outputs.iter().zip(ds.y.as_slice()).map(|(&o, &t)| (o - f64::from(t)).abs()).fold(0.0, f64::max);
    Ok(RunResult { net, history, outputs, max_error })
}

fn outputs_line(seed: u64, r: &RunResult) -> String {
    let outs: Vec<String> = r.outputs.iter().map(|o| format!("{o:.3}")).collect();
    let verdict = if r.max_error < SOLVED_WITHIN { "solved" } else { "failed" };
    format!("seed {seed:>3}: {}  max |y − t| {:.3}  {verdict}", outs.join("  "), r.max_error)
}

/// Every 50th value (and the last), for plotting 50 000 epochs.
fn thin(ys: &[f64]) -> Vec<(f64, f64)> {
    let step = (ys.len() / 1000).max(1);
    let mut pts: Vec<(f64, f64)> = ys.iter().enumerate().step_by(step).map(|(i, &y)| ((i + 1) as f64, y)).collect();
    if let Some(&y) = ys.last() {
        if !(ys.len() - 1).is_multiple_of(step) {
            pts.push((ys.len() as f64, y));
        }
    }
    pts
}

/// Runs both settings over the seeds, writes the table, models and plots.
pub fn run(ctx: &Ctx) -> Result<Report> {
    let mut report =
        ctx.report("xor", "XOR 2-2-1 sigmoid, BCE, one sample per step (the fourth tutorial), over 20 seeds");
    let ds = nn_data::xor::<f32>();
    report.train_samples = ds.len();
    report.update_rule = vec![
        "loss: Bce(Reduction::Sum) on the sigmoid's probabilities, δᴸ = (−t/a + (1 − t)/(1 − a))·σ′(z); \
         batch 1 so Sum and Mean agree; the four samples in order, every epoch"
            .into(),
        "step: Sgd::new(0.01), W ← W − 0.01·hᵀδ, the tutorial's step 0.01".into(),
        format!(
            "weights N(0, 1)·√(2/n_in), biases 0.5; solved = all four outputs within {SOLVED_WITHIN} of their targets"
        ),
        "fixed setting: 2-4-1, everything else unchanged".into(),
    ];

    let names = ["(0,0)→0", "(0,1)→1", "(1,0)→1", "(1,1)→0"];
    let mut counts = Vec::new();
    let mut firsts = Vec::new();
    let mut scatter = Vec::new();
    for setting in [Setting::Tutorial, Setting::Wider] {
        let mut block = String::new();
        let _ = writeln!(block, "          {}", names.join("  "));
        let mut solved = 0;
        let mut points = Vec::new();
        let mut first = None;
        for (k, seed) in ctx.seeds(SEEDS).enumerate() {
            let r = train_once(ctx, &ds, setting, seed)?;
            if r.max_error < SOLVED_WITHIN {
                solved += 1;
            }
            let _ = writeln!(block, "{}", outputs_line(seed, &r));
            ctx.say(format!("xor {:?} {}", setting, outputs_line(seed, &r)));
            // spread the seeds a little along x so that the dots do not hide each other
            let dx = (k as f64 - (SEEDS as f64 - 1.0) / 2.0) * 0.012;
            points.extend(r.outputs.iter().enumerate().map(|(i, &o)| (i as f64 + dx, o)));
            if first.is_none() {
                first = Some(r);
            }
        }
        let label = match setting {
            Setting::Tutorial => "tutorial's 2-2-1",
            Setting::Wider => "2-4-1",
        };
        report.blocks.push(TextBlock { title: format!("{label}: outputs after {} epochs", ctx.epochs), body: block });
        counts.push(solved);
        scatter.push(Series::new(format!("{label} ({solved}/{SEEDS} solved)"), points, Mark::Points));
        firsts.push(first.expect("at least one seed"));
    }

    let full = ctx.comparable();
    let rate = counts[0] as f64 / SEEDS as f64;
    report.rows.push(
        Row::with_text("tutorial's setting: seeds solved", rate, format!("{}/{SEEDS}", counts[0]))
            .tutorial("its run fails")
            .band_info("7 of 10 seeds"),
    );
    let wide = counts[1] as f64 / SEEDS as f64;
    let row = Row::with_text("2-4-1 setting: seeds solved", wide, format!("{}/{SEEDS}", counts[1]));
    report.rows.push(if full { row.band("goal 20/20", Goal::AtLeast(1.0)) } else { row.band_info("goal 20/20") });
    let outs: Vec<String> = firsts[0].outputs.iter().map(|o| format!("{o:.3}")).collect();
    report.rows.push(Row::with_text(
        format!("tutorial's setting, seed {}: outputs", ctx.seed),
        firsts[0].max_error,
        outs.join(" "),
    ));

    ctx.plot(
        &mut report,
        "outputs.png",
        "the four outputs of every seed, both settings, and the zones that count as solved",
        &Chart::new(
            format!(
                "XOR outputs after {} epochs, {SEEDS} seeds (the tutorial's code: 7 of 10 seeds solved)",
                ctx.epochs
            ),
            "input → target",
            "output",
        )
        .with(scatter.remove(0))
        .with(scatter.remove(0))
        .band(
            format!("solved: within {SOLVED_WITHIN} of the target"),
            None,
            ds.y.as_slice()
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    let (x, t) = (i as f64, f64::from(t));
                    Span::over(x - 0.25, x + 0.25, (t - SOLVED_WITHIN).max(0.0), (t + SOLVED_WITHIN).min(1.0))
                })
                .collect(),
        )
        .x_categories(names.iter().map(|s| s.to_string()).collect()),
    )?;
    ctx.plot(
        &mut report,
        "loss.png",
        "mean BCE per epoch, first seed of each setting",
        &Chart::new(format!("XOR: loss per epoch (seed {})", ctx.seed), "epoch", "mean binary cross-entropy")
            .with(Series::new("tutorial's 2-2-1", thin(&firsts[0].history.train_losses()), Mark::Line))
            .with(Series::new("2-4-1", thin(&firsts[1].history.train_losses()), Mark::Line))
            .log_y(),
    )?;
    let none = "inputs 0 or 1 as is; output the probability of 1";
    ctx.save_model(&mut report, &firsts[0].net, "model.safetensors", none, &[])?;
    ctx.save_model(&mut report, &firsts[1].net, "model-2-4-1.safetensors", none, &[])?;
    report.details = serde_json::json!({ "solved": { "tutorial": counts[0], "wider": counts[1], "seeds": SEEDS } });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_ends() {
        let ys: Vec<f64> = (0..5000).map(f64::from).collect();
        let t = thin(&ys);
        assert_eq!(t.first(), Some(&(1.0, 0.0)));
        assert_eq!(t.last(), Some(&(5000.0, 4999.0)));
        assert!(t.len() <= 1002);
        assert_eq!(thin(&[1.0, 2.0]).len(), 2);
    }
}
