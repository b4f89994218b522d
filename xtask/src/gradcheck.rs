//! `cargo xtask gradcheck`: for every hidden activation × loss, the largest
//! relative error between backpropagation's gradients (weights, biases and
//! inputs, in f64) and five-point finite differences, on a small random
//! network 4-6-5-3. The command fails if any error exceeds the tolerance.
//!
//! The output layer is what the loss needs: softmax for the fused
//! softmax + cross-entropy, sigmoid for the two binary cross-entropies, and
//! the hidden activation itself for MSE.

use std::fmt::Write as _;

use nn_core::{check_gradients, Activation, GradCheckReport, Init, Loss, Matrix, Network, NetworkBuilder, Reduction};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cli::GradcheckArgs;
use crate::error::{Result, XtaskError};

/// The activations checked (in hidden layers, and as the MSE output).
pub const ACTIVATIONS: [Activation; 6] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.01),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softmax,
];

/// The losses checked.
pub const LOSSES: [Loss; 5] = [
    Loss::Mse(Reduction::Mean),
    Loss::Mse(Reduction::Sum),
    Loss::SoftmaxCrossEntropy(Reduction::Mean),
    Loss::SigmoidBce(Reduction::Mean),
    Loss::Bce(Reduction::Mean),
];

/// A ReLU pre-activation closer than this to 0 makes a finite difference
/// straddle the kink; such draws are redrawn.
const KINK_MARGIN: f64 = 1e-3;

/// One cell of the table.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Hidden activation.
    pub activation: Activation,
    /// Loss (with the output activation it implies).
    pub loss: Loss,
    /// The checker's report.
    pub report: GradCheckReport,
}

/// The output activation used with `loss` when the hidden one is `hidden`.
pub fn output_activation(loss: &Loss, hidden: Activation) -> Activation {
    loss.required_output_activation().unwrap_or(match loss {
        Loss::Bce(_) => Activation::Sigmoid,
        _ => hidden,
    })
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    nn_core::init::standard_normal(rng)
}

/// Checks one activation × loss pair on a fresh random network and batch.
pub fn check_pair(activation: Activation, loss: Loss, seed: u64, eps: f64) -> Result<Cell> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut last = None;
    for _attempt in 0..10 {
        let net: Network<f64> = NetworkBuilder::new(4)
            .dense(6, activation)
            .dense(5, activation)
            .dense(3, output_activation(&loss, activation))
            .weights(Init::StandardNormal)
            .biases(Init::Normal { std: 0.5 })
            .build(&mut rng)?;
        let x = Matrix::from_fn(5, 4, |_, _| normal(&mut rng));
        let t = match loss {
            Loss::SoftmaxCrossEntropy(_) => {
                let classes: Vec<usize> = (0..5).map(|_| rng.random_range(0..3)).collect();
                Matrix::from_fn(5, 3, |i, j| if classes[i] == j { 1.0 } else { 0.0 })
            }
            Loss::SigmoidBce(_) | Loss::Bce(_) => Matrix::from_fn(5, 3, |_, _| rng.random::<f64>()),
            Loss::Mse(_) => Matrix::from_fn(5, 3, |_, _| normal(&mut rng)),
        };
        let report = check_gradients(&net, &x, &t, &loss, eps)?;
        let clear = report.min_kink_distance > KINK_MARGIN;
        last = Some(Cell { activation, loss, report });
        if clear {
            break;
        }
    }
    Ok(last.expect("at least one attempt"))
}

/// Every cell, activations × losses.
pub fn check_all(seed: u64, eps: f64) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for (a, &activation) in ACTIVATIONS.iter().enumerate() {
        for (l, &loss) in LOSSES.iter().enumerate() {
            cells.push(check_pair(activation, loss, seed.wrapping_add((a * LOSSES.len() + l) as u64), eps)?);
        }
    }
    Ok(cells)
}

/// The table: one row per activation, one column per loss, each cell the
/// largest relative error over ∂E/∂W, ∂E/∂b and ∂E/∂X.
pub fn table(cells: &[Cell]) -> String {
    let names: Vec<String> = LOSSES.iter().map(Loss::name).collect();
    let first = ACTIVATIONS.iter().map(|a| a.name().len()).max().unwrap_or(8).max("hidden φ".len());
    let widths: Vec<usize> = names.iter().map(|n| n.len().max(9)).collect();
    let mut s = format!("{:first$}", "hidden φ");
    for (n, w) in names.iter().zip(&widths) {
        let _ = write!(s, "  {n:>w$}");
    }
    s.push('\n');
    for a in ACTIVATIONS {
        let _ = write!(s, "{:first$}", a.name());
        for (loss, w) in LOSSES.iter().zip(&widths) {
            let cell = cells.iter().find(|c| c.activation == a && c.loss == *loss);
            let text = cell.map_or("—".to_string(), |c| format!("{:.1e}", c.report.max_relative_error()));
            let _ = write!(s, "  {text:>w$}");
        }
        s.push('\n');
    }
    s
}

/// Runs the check, prints the table and fails if any error exceeds the tolerance.
pub fn run(args: &GradcheckArgs) -> Result<()> {
    for (name, value) in [("--eps", args.eps), ("--tolerance", args.tolerance)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(XtaskError::Failed(format!("{name} must be a finite number above 0, not {value}")));
        }
    }
    let cells = check_all(args.seed, args.eps)?;
    println!(
        "max relative error |analytic − numeric| / max(|analytic| + |numeric|, 1e-4·max(1, |E|)) \
         over ∂E/∂W, ∂E/∂b, ∂E/∂X; network 4-6-5-3, 5 samples, f64, five-point differences, ε = {:e}\n",
        args.eps
    );
    print!("{}", table(&cells));
    let entries: usize = cells.iter().map(|c| c.report.entries).sum();
    let worst = cells
        .iter()
        .max_by(|a, b| a.report.max_relative_error().total_cmp(&b.report.max_relative_error()))
        .expect("cells");
    println!(
        "\n{} pairs, {entries} gradient entries; worst {:.2e} ({} × {})",
        cells.len(),
        worst.report.max_relative_error(),
        worst.activation.name(),
        worst.loss.name()
    );
    let failed: Vec<String> = cells
        .iter()
        .filter(|c| !c.report.within(args.tolerance))
        .map(|c| format!("{} × {} ({:.1e})", c.activation.name(), c.loss.name(), c.report.max_relative_error()))
        .collect();
    if failed.is_empty() {
        println!("all within tolerance {:e}", args.tolerance);
        Ok(())
    } else {
        Err(XtaskError::Failed(format!("gradient check above tolerance {:e}: {}", args.tolerance, failed.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_passes_and_the_table_has_a_row_per_activation() {
        let cells = check_all(1, 1e-5).unwrap();
        assert_eq!(cells.len(), ACTIVATIONS.len() * LOSSES.len());
        for c in &cells {
            assert!(
                c.report.max_relative_error() < 1e-6,
                "{} × {}: {:?}",
                c.activation.name(),
                c.loss.name(),
                c.report
            );
        }
        let t = table(&cells);
        assert_eq!(t.lines().count(), 1 + ACTIVATIONS.len());
        assert!(t.contains("leaky_relu:0.01"));
    }

    #[test]
    fn fused_losses_get_their_output_activation() {
        assert_eq!(
            output_activation(&Loss::SoftmaxCrossEntropy(Reduction::Mean), Activation::Relu),
            Activation::Softmax
        );
        assert_eq!(output_activation(&Loss::Bce(Reduction::Mean), Activation::Tanh), Activation::Sigmoid);
        assert_eq!(output_activation(&Loss::Mse(Reduction::Sum), Activation::Tanh), Activation::Tanh);
    }

    #[test]
    fn options_that_check_nothing_are_refused() {
        use crate::cli::GradcheckArgs;
        for (eps, tolerance) in [(0.0, 1e-6), (f64::NAN, 1e-6), (1e-5, f64::NAN), (1e-5, -1.0), (f64::INFINITY, 1e-6)] {
            let err = run(&GradcheckArgs { seed: 1, eps, tolerance }).unwrap_err().to_string();
            assert!(err.contains("must be a finite number above 0"), "{err}");
        }
    }
}
