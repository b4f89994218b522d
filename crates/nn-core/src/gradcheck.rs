//! Finite-difference gradient checking, in f64.
//!
//! Every analytic gradient g = ∂E/∂θ from [`Network::backward`] is compared
//! with the five-point central difference
//! ĝ = [8(E(θ + ε) − E(θ − ε)) − (E(θ + 2ε) − E(θ − 2ε))] / 12ε, whose
//! truncation error is O(ε⁴) (the plain two-point difference, O(ε²), leaves
//! errors near 1e-6 on deep sigmoid stacks, which would hide real bugs of
//! that size).
//!
//! The relative error of one entry is |g − ĝ| / max(|g| + |ĝ|, floor), with
//! floor = 1e-4 · max(1, |E|): rounding in E(θ ± ε) is proportional to |E|,
//! so entries whose true gradient is ~0 are judged by their absolute error
//! against the loss's own scale instead of dividing rounding noise by zero.
//!
//! Any [`Objective`] can be checked, not only the built-in losses: the
//! analytic side is [`Network::loss_and_gradients`], the one driver the
//! trainer also calls, and the numerical side differences the E that the
//! same objective returns. A NaN anywhere makes the report fail (it is
//! never swallowed by a maximum), and a step ε that is not a finite
//! positive number is an error.
//!
//! Near a kink of ReLU or leaky ReLU (|u| ≲ 2ε·|input|) the central difference is
//! meaningless; the report gives the smallest |u| over such units so a caller
//! can tell.
//!
//! ```
//! use nn_core::{check_gradients, Activation, Init, Loss, Matrix, Network, NetworkBuilder, Reduction};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(3);
//! let net: Network<f64> = NetworkBuilder::new(3)
//!     .dense(4, Activation::Tanh)
//!     .dense(2, Activation::Softmax)
//!     .weights(Init::StandardNormal)
//!     .biases(Init::StandardNormal)
//!     .build(&mut rng)
//!     .unwrap();
//! let x = Matrix::from_fn(5, 3, |i, j| (i as f64 - 2.0) * 0.3 + j as f64 * 0.1);
//! let t = Matrix::from_fn(5, 2, |i, j| if i % 2 == j { 1.0 } else { 0.0 });
//! let report = check_gradients(&net, &x, &t, &Loss::SoftmaxCrossEntropy(Reduction::Mean), 1e-4).unwrap();
//! assert!(report.max_relative_error() < 1e-6, "{report:?}");
//! ```

use crate::activation::Activation;
use crate::error::ShapeError;
use crate::loss::Objective;
use crate::matrix::Matrix;
use crate::network::{Gradients, Network, Workspace};

/// Floor of the denominator of the relative error, per unit of max(1, |E|).
pub const RELATIVE_ERROR_FLOOR: f64 = 1e-4;

/// The worst disagreements between analytic and numerical gradients.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GradCheckReport {
    /// Largest relative error over all ∂E/∂Wˡ entries.
    pub weights: f64,
    /// Largest relative error over all ∂E/∂bˡ entries.
    pub bias: f64,
    /// Largest relative error over all ∂E/∂X entries.
    pub input: f64,
    /// Largest absolute error over every entry checked.
    pub max_abs_error: f64,
    /// Number of entries checked.
    pub entries: usize,
    /// Smallest |u| over the pre-activations of ReLU / leaky-ReLU units
    /// (∞ if there are none); below ~ε the check is not meaningful there.
    pub min_kink_distance: f64,
}

impl GradCheckReport {
    /// The largest relative error of the three (NaN if any is NaN).
    pub fn max_relative_error(&self) -> f64 {
        worst(worst(self.weights, self.bias), self.input)
    }

    /// Whether every entry is within `tolerance` (false if any error is
    /// NaN, or the tolerance is).
    pub fn within(&self, tolerance: f64) -> bool {
        self.max_relative_error() <= tolerance
    }
}

/// The larger of `a` and `b`, NaN if either is: a NaN error is a failure,
/// which `f64::max` would drop.
fn worst(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn relative_error(analytic: f64, numeric: f64, floor: f64) -> f64 {
    (analytic - numeric).abs() / (analytic.abs() + numeric.abs()).max(floor)
}

/// [8(f(ε) − f(−ε)) − (f(2ε) − f(−2ε))] / 12ε ≈ f′(0).
fn five_point(eps: f64, mut f: impl FnMut(f64) -> Result<f64, ShapeError>) -> Result<f64, ShapeError> {
    let (p1, m1, p2, m2) = (f(eps)?, f(-eps)?, f(2.0 * eps)?, f(-2.0 * eps)?);
    Ok((8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * eps))
}

/// E(net, x) as the objective gives it, dividing by the rows of `x`.
fn loss_value<O: Objective<f64> + ?Sized>(
    net: &Network<f64>,
    x: &Matrix<f64>,
    t: &Matrix<f64>,
    objective: &O,
    ws: &mut Workspace<f64>,
) -> Result<f64, ShapeError> {
    net.forward(x.view(), ws)?;
    objective.output_delta(net, t.view(), ws, x.rows())
}

/// Compares analytic gradients (weights, biases, inputs) of `objective`
/// at (`x`, `t`) with central differences of step `eps` (a finite number
/// above 0).
pub fn check_gradients<O: Objective<f64> + ?Sized>(
    net: &Network<f64>,
    x: &Matrix<f64>,
    t: &Matrix<f64>,
    objective: &O,
    eps: f64,
) -> Result<GradCheckReport, ShapeError> {
    if !(eps.is_finite() && eps > 0.0) {
        return Err(ShapeError::new("check_gradients: step ε", "a finite number above 0", format!("{eps}")));
    }
    objective.check(net)?;
    let n = x.rows();
    let mut ws = Workspace::new(net, n).with_input_gradient();
    let mut grads = Gradients::zeros_like(net);
    let e = net.loss_and_gradients(x.view(), t.view(), objective, n, &mut ws, &mut grads)?;
    let floor = RELATIVE_ERROR_FLOOR * e.abs().max(1.0);
    let rel = |a: f64, b: f64| relative_error(a, b, floor);
    let input_grad = ws.input_gradient().expect("workspace computes ∂E/∂X").to_matrix();

    let mut report = GradCheckReport { min_kink_distance: f64::INFINITY, ..Default::default() };
    for (l, layer) in net.layers().iter().enumerate() {
        if matches!(layer.activation(), Activation::Relu | Activation::LeakyRelu(_)) {
            let m = ws.pre_activation(l).to_matrix();
            let d = m.as_slice().iter().fold(f64::INFINITY, |a, &u| a.min(u.abs()));
            report.min_kink_distance = report.min_kink_distance.min(d);
        }
    }

    let mut probe = net.clone();
    let mut ws = Workspace::new(net, n);
    let mut central =
        |probe: &mut Network<f64>, get: &dyn Fn(&mut Network<f64>) -> &mut f64| -> Result<f64, ShapeError> {
            let orig = *get(probe);
            let d = five_point(eps, |h| {
                *get(probe) = orig + h;
                loss_value(probe, x, t, objective, &mut ws)
            });
            *get(probe) = orig;
            d
        };
    for l in 0..net.layers().len() {
        for k in 0..grads.layers[l].weights.as_slice().len() {
            let num = central(&mut probe, &|p| &mut p.layers_mut()[l].parameters_mut().0[k])?;
            let ana = grads.layers[l].weights.as_slice()[k];
            report.weights = worst(report.weights, rel(ana, num));
            report.max_abs_error = worst(report.max_abs_error, (ana - num).abs());
            report.entries += 1;
        }
        for k in 0..grads.layers[l].bias.as_slice().len() {
            let num = central(&mut probe, &|p| &mut p.layers_mut()[l].parameters_mut().1[k])?;
            let ana = grads.layers[l].bias.as_slice()[k];
            report.bias = worst(report.bias, rel(ana, num));
            report.max_abs_error = worst(report.max_abs_error, (ana - num).abs());
            report.entries += 1;
        }
    }
    let mut xp = x.clone();
    for k in 0..x.as_slice().len() {
        let orig = xp.as_slice()[k];
        let num = five_point(eps, |h| {
            xp.as_mut_slice()[k] = orig + h;
            loss_value(net, &xp, t, objective, &mut ws)
        })?;
        xp.as_mut_slice()[k] = orig;
        let ana = input_grad.as_slice()[k];
        report.input = worst(report.input, rel(ana, num));
        report.max_abs_error = worst(report.max_abs_error, (ana - num).abs());
        report.entries += 1;
    }
    Ok(report)
}
