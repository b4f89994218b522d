//! Losses: the value E of a mini-batch and the output delta δᴸ = ∂E/∂Uᴸ,
//! computed together.
//!
//! Every loss states its reduction (ARCHITECTURE.md, Conventions):
//!
//! - [`Reduction::Mean`] divides the sum over the batch by **D = the number of
//!   samples (rows) in the mini-batch**, not by the number of elements: for an
//!   n × m output, E = (1/n) Σᵢ Σⱼ ℓ(ŷᵢⱼ, tᵢⱼ). This is PyTorch's convention for
//!   cross-entropy; for MSE with m > 1 outputs it is m times PyTorch's (which
//!   divides by n·m).
//! - [`Reduction::Sum`] uses D = 1.
//!
//! When a mini-batch is cut into shards, each shard passes the **whole
//! mini-batch size** as the divisor, so shard gradients add up exactly to the
//! batch gradient.
//!
//! | loss | E (per batch, before / D) | δᴸ = ∂E/∂Uᴸ |
//! |---|---|---|
//! | `Mse` | Σ (ŷ − t)² | 2(ŷ − t)/D ⊙ φ′(Uᴸ) |
//! | `SoftmaxCrossEntropy` | −Σ t · log softmax(U) | (softmax(U)·Σⱼtⱼ − t)/D, i.e. (softmax − t)/D for one-hot t |
//! | `SigmoidBce` | Σ softplus(U) − t·U | (σ(U) − t)/D |
//! | `Bce` (on probabilities p = Hᴸ) | −Σ t ln p + (1 − t) ln(1 − p), p clamped to [ε, 1 − ε] | (−t/p + (1 − t)/(1 − p))/D ⊙ φ′(Uᴸ) |
//!
//! The fused losses read the logits Uᴸ, never log(0), and stay finite for any
//! finite logits; the network's output activation must be `Softmax` (resp.
//! `Sigmoid`), so that predictions are probabilities.
//!
//! ```
//! use nn_core::{Activation, Loss, Matrix, Reduction};
//! // one sample, logits (0, 0): softmax = (½, ½); target class 1
//! let u = Matrix::from_vec(1, 2, vec![0.0f64, 0.0]).unwrap();
//! let h = Matrix::from_vec(1, 2, vec![0.5f64, 0.5]).unwrap();
//! let t = Matrix::from_vec(1, 2, vec![0.0f64, 1.0]).unwrap();
//! let mut delta = Matrix::zeros(1, 2);
//! let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
//! let e = loss.value_and_delta(&Activation::Softmax, u.view(), h.view(), t.view(), delta.view_mut(), 1).unwrap();
//! assert!((e - 2f64.ln()).abs() < 1e-15);
//! assert_eq!(delta.as_slice(), &[0.5, -0.5]);
//! ```

use crate::activation::{sigmoid, softplus, Activation};
use crate::error::ShapeError;
use crate::float::Float;
use crate::matrix::{MatMut, MatRef};
use crate::network::{Network, Workspace};

/// What turns a forward pass into δᴸ = ∂E/∂Uᴸ and E: a [`Loss`], or any rule
/// of one's own (a tutorial's own output delta, say). [`Network::loss_and_gradients`]
/// (forward, objective, backward) and [`crate::check_gradients`] take any
/// objective, so a rule of one's own is trained and gradient-checked the
/// same way as a built-in loss.
///
/// Shards of a mini-batch run on several threads at once, hence `Sync`.
pub trait Objective<T: Float>: Sync {
    /// Called after [`Network::forward`] (the workspace holds Uᴸ and Hᴸ):
    /// writes δᴸ = ∂E/∂Uᴸ into `ws.output_delta_mut()` (or via
    /// `ws.output_parts()`) and returns these rows' contribution to E.
    /// `divisor` is the whole mini-batch size, which a `Mean` objective
    /// divides by (for a shard, the batch it belongs to).
    fn output_delta(
        &self,
        net: &Network<T>,
        targets: MatRef<'_, T>,
        ws: &mut Workspace<T>,
        divisor: usize,
    ) -> Result<T, ShapeError>;

    /// Whether E is a mean over the batch (`Mean`: E·n is the batch's total) or a sum.
    fn reduction(&self) -> Reduction;

    /// Whether [`Objective::output_delta_of_rows`] is implemented, so that
    /// one forward pass may serve several shards
    /// ([`Network::loss_and_gradients_of_pair`]). False unless overridden.
    fn splits_rows(&self) -> bool {
        false
    }

    /// [`Objective::output_delta`] for rows `rows` of the forward pass in
    /// `ws` only, `targets` being their targets: writes those rows of δᴸ and
    /// returns their contribution to E, with the bits `output_delta` gives
    /// for a forward pass of just those rows. The default is an error (see
    /// [`Objective::splits_rows`]).
    fn output_delta_of_rows(
        &self,
        net: &Network<T>,
        targets: MatRef<'_, T>,
        ws: &mut Workspace<T>,
        rows: std::ops::Range<usize>,
        divisor: usize,
    ) -> Result<T, ShapeError> {
        let _ = (net, targets, ws, divisor);
        Err(ShapeError::new(
            "Objective::output_delta_of_rows",
            "an objective that splits rows",
            format!("one that does not (rows {rows:?})"),
        ))
    }

    /// Checks, once before training, that the objective suits `net` (e.g. a
    /// fused softmax loss needs a softmax output layer).
    fn check(&self, net: &Network<T>) -> Result<(), ShapeError> {
        let _ = net;
        Ok(())
    }
}

impl<T: Float> Objective<T> for Loss {
    fn output_delta(
        &self,
        net: &Network<T>,
        targets: MatRef<'_, T>,
        ws: &mut Workspace<T>,
        divisor: usize,
    ) -> Result<T, ShapeError> {
        let (u, h, delta) = ws.output_parts();
        self.value_and_delta(&net.output_activation(), u, h, targets, delta, divisor)
    }

    fn reduction(&self) -> Reduction {
        Loss::reduction(self)
    }

    fn splits_rows(&self) -> bool {
        true
    }

    fn output_delta_of_rows(
        &self,
        net: &Network<T>,
        targets: MatRef<'_, T>,
        ws: &mut Workspace<T>,
        rows: std::ops::Range<usize>,
        divisor: usize,
    ) -> Result<T, ShapeError> {
        let (u, h, delta) = ws.output_parts();
        if rows.start > rows.end || rows.end > u.rows() {
            return Err(ShapeError::new(
                "loss of some rows",
                format!("rows within the forward pass's {}", u.rows()),
                format!("rows {rows:?}"),
            ));
        }
        let (u, h) = (u.rows_range(rows.start, rows.end), h.rows_range(rows.start, rows.end));
        let delta = delta.into_rows_range(rows.start, rows.end);
        self.value_and_delta(&net.output_activation(), u, h, targets, delta, divisor)
    }

    fn check(&self, net: &Network<T>) -> Result<(), ShapeError> {
        self.check_output_activation(&net.output_activation())
    }
}

/// How a loss combines the samples of a mini-batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// Divide the sum by the number of samples (rows) in the mini-batch.
    Mean,
    /// The plain sum over the mini-batch.
    Sum,
}

/// A loss function with its reduction. See the module docs for the formulas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Squared error Σ(ŷ − t)².
    Mse(Reduction),
    /// Softmax fused with cross-entropy, from logits.
    SoftmaxCrossEntropy(Reduction),
    /// Sigmoid fused with binary cross-entropy, from logits.
    SigmoidBce(Reduction),
    /// Binary cross-entropy on probabilities (the network's output), clamped to [ε, 1 − ε].
    Bce(Reduction),
}

impl Loss {
    /// The loss's reduction.
    pub fn reduction(&self) -> Reduction {
        match *self {
            Loss::Mse(r) | Loss::SoftmaxCrossEntropy(r) | Loss::SigmoidBce(r) | Loss::Bce(r) => r,
        }
    }

    /// A short name for reports, e.g. `softmax_cross_entropy(mean)`.
    pub fn name(&self) -> String {
        let kind = match self {
            Loss::Mse(_) => "mse",
            Loss::SoftmaxCrossEntropy(_) => "softmax_cross_entropy",
            Loss::SigmoidBce(_) => "sigmoid_bce",
            Loss::Bce(_) => "bce",
        };
        let red = match self.reduction() {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        };
        format!("{kind}({red})")
    }

    /// The output activation a fused loss requires, if any.
    pub fn required_output_activation(&self) -> Option<Activation> {
        match self {
            Loss::SoftmaxCrossEntropy(_) => Some(Activation::Softmax),
            Loss::SigmoidBce(_) => Some(Activation::Sigmoid),
            Loss::Mse(_) | Loss::Bce(_) => None,
        }
    }

    /// Checks that `output_activation` suits this loss.
    pub fn check_output_activation(&self, output_activation: &Activation) -> Result<(), ShapeError> {
        match self.required_output_activation() {
            Some(req) if req != *output_activation => Err(ShapeError::new(
                format!("loss {}", self.name()),
                format!("an output layer with activation {}", req.name()),
                format!("activation {}", output_activation.name()),
            )),
            _ => Ok(()),
        }
    }

    /// 1/D: 1/`divisor` under `Mean`, 1 under `Sum`; a divisor of 0 is refused.
    fn inverse_divisor<T: Float>(&self, divisor: usize) -> Result<T, ShapeError> {
        if divisor == 0 {
            return Err(ShapeError::new(
                format!("loss {}", self.name()),
                "a divisor of at least 1 (the mini-batch size)",
                "0",
            ));
        }
        Ok(match self.reduction() {
            Reduction::Mean => T::ONE / T::from_usize(divisor),
            Reduction::Sum => T::ONE,
        })
    }

    /// E for the rows given (divided by `divisor` under `Mean`), and
    /// δᴸ = ∂E/∂Uᴸ written into `delta`. `u` and `h` are the output layer's
    /// pre-activation and activation, `t` the targets; all four must share a
    /// shape. Pass the whole mini-batch size as `divisor` (for a shard, the
    /// batch it belongs to); 0 is an error.
    ///
    /// Each loss's formula is written once, here: per element, its term of
    /// E and its entry of δᴸ side by side.
    pub fn value_and_delta<T: Float>(
        &self,
        output_activation: &Activation,
        u: MatRef<'_, T>,
        h: MatRef<'_, T>,
        t: MatRef<'_, T>,
        mut delta: MatMut<'_, T>,
        divisor: usize,
    ) -> Result<T, ShapeError> {
        self.check(output_activation, &u, &h, &t)?;
        if delta.rows() != u.rows() || delta.cols() != u.cols() {
            return Err(ShapeError::new(
                "loss delta",
                format!("{}×{}", u.rows(), u.cols()),
                format!("{}×{}", delta.rows(), delta.cols()),
            ));
        }
        let inv_d = self.inverse_divisor::<T>(divisor)?;
        let two = T::from_f64(2.0);
        let eps = T::EPSILON;
        let mut total = T::ZERO;
        for i in 0..u.rows() {
            let (ur, hr, tr) = (u.row(i), h.row(i), t.row(i));
            let dr = delta.row_mut(i);
            match self {
                Loss::Mse(_) => {
                    for j in 0..ur.len() {
                        // (ŷ − t)², ∂/∂ŷ = 2(ŷ − t)
                        let e = hr[j] - tr[j];
                        total += e * e;
                        dr[j] = two * e * inv_d;
                    }
                }
                Loss::SoftmaxCrossEntropy(_) => {
                    // −Σ t (u − lse), ∂/∂u = softmax·Σt − t; h holds softmax(u)
                    let lse = log_sum_exp(ur);
                    let tsum: T = tr.iter().copied().sum();
                    for j in 0..ur.len() {
                        total -= tr[j] * (ur[j] - lse);
                        dr[j] = (hr[j] * tsum - tr[j]) * inv_d;
                    }
                }
                Loss::SigmoidBce(_) => {
                    for j in 0..ur.len() {
                        // softplus(u) − t·u, ∂/∂u = σ(u) − t
                        total += softplus(ur[j]) - tr[j] * ur[j];
                        dr[j] = (sigmoid(ur[j]) - tr[j]) * inv_d;
                    }
                }
                Loss::Bce(_) => {
                    for j in 0..ur.len() {
                        // −t ln p − (1 − t) ln(1 − p), ∂/∂p = −t/p + (1 − t)/(1 − p)
                        let p = hr[j].max(eps).min(T::ONE - eps);
                        let tj = tr[j];
                        total -= tj * p.ln() + (T::ONE - tj) * (T::ONE - p).ln();
                        dr[j] = (-tj / p + (T::ONE - tj) / (T::ONE - p)) * inv_d;
                    }
                }
            }
        }
        if matches!(self, Loss::Mse(_) | Loss::Bce(_)) {
            // ∂E/∂Hᴸ ⊙ φ′(Uᴸ); the fused losses wrote ∂E/∂Uᴸ directly
            output_activation.backward(u, h, delta);
        }
        Ok(total * inv_d)
    }

    fn check<T: Float>(
        &self,
        output_activation: &Activation,
        u: &MatRef<'_, T>,
        h: &MatRef<'_, T>,
        t: &MatRef<'_, T>,
    ) -> Result<(), ShapeError> {
        self.check_output_activation(output_activation)?;
        let (r, c) = (u.rows(), u.cols());
        if h.rows() != r || h.cols() != c {
            return Err(ShapeError::new(
                "loss",
                format!("output activation {r}×{c}"),
                format!("{}×{}", h.rows(), h.cols()),
            ));
        }
        if t.rows() != r || t.cols() != c {
            return Err(ShapeError::new(
                format!("loss {}", self.name()),
                format!("targets of shape {r}×{c} (the network's output)"),
                format!("targets of shape {}×{}", t.rows(), t.cols()),
            ));
        }
        Ok(())
    }
}

/// log Σⱼ e^{xⱼ}, stable: max + log Σ e^{x − max}.
fn log_sum_exp<T: Float>(x: &[T]) -> T {
    let max = x.iter().fold(T::from_f64(f64::NEG_INFINITY), |m, &v| m.max(v));
    let s: T = x.iter().map(|&v| (v - max).exp()).sum();
    max + s.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    fn eval(loss: Loss, act: Activation, u: &[f64], t: &[f64], n: usize) -> (f64, Vec<f64>) {
        let c = u.len() / n;
        let u = Matrix::from_vec(n, c, u.to_vec()).unwrap();
        let mut h = Matrix::zeros(n, c);
        act.forward(u.view(), h.view_mut());
        let t = Matrix::from_vec(n, c, t.to_vec()).unwrap();
        let mut d = Matrix::zeros(n, c);
        let e = loss.value_and_delta(&act, u.view(), h.view(), t.view(), d.view_mut(), n).unwrap();
        (e, d.into_vec())
    }

    #[test]
    fn mse_mean_divides_by_rows() {
        let (e, d) = eval(Loss::Mse(Reduction::Mean), Activation::Identity, &[1.0, 3.0], &[0.0, 0.0], 2);
        assert_eq!(e, 5.0); // (1 + 9) / 2
        assert_eq!(d, vec![1.0, 3.0]); // 2(ŷ − t)/2
        let (e, d) = eval(Loss::Mse(Reduction::Sum), Activation::Identity, &[1.0, 3.0], &[0.0, 0.0], 2);
        assert_eq!(e, 10.0);
        assert_eq!(d, vec![2.0, 6.0]);
    }

    #[test]
    fn fused_losses_stay_finite_for_huge_logits() {
        let (e, d) =
            eval(Loss::SoftmaxCrossEntropy(Reduction::Sum), Activation::Softmax, &[1000.0, -1000.0], &[0.0, 1.0], 1);
        assert_eq!(e, 2000.0);
        assert_eq!(d, vec![1.0, -1.0]);
        let (e, d) = eval(Loss::SigmoidBce(Reduction::Sum), Activation::Sigmoid, &[-800.0], &[1.0], 1);
        assert_eq!(e, 800.0);
        assert_eq!(d, vec![-1.0]);
    }

    #[test]
    fn bce_on_probabilities_is_clamped() {
        let (e, d) = eval(Loss::Bce(Reduction::Sum), Activation::Sigmoid, &[-800.0], &[1.0], 1);
        assert!(e.is_finite() && e > 30.0);
        assert!(d.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn fused_loss_refuses_the_wrong_output_activation() {
        let u = Matrix::<f32>::zeros(1, 2);
        let mut d = Matrix::<f32>::zeros(1, 2);
        let err = Loss::SoftmaxCrossEntropy(Reduction::Mean)
            .value_and_delta(&Activation::Relu, u.view(), u.view(), u.view(), d.view_mut(), 1)
            .unwrap_err();
        assert!(err.to_string().contains("softmax"), "{err}");
        let t = Matrix::<f32>::zeros(1, 3);
        let err = Loss::Mse(Reduction::Mean)
            .value_and_delta(&Activation::Identity, u.view(), u.view(), t.view(), d.view_mut(), 1)
            .unwrap_err();
        assert!(err.to_string().contains("1×3"), "{err}");
    }

    #[test]
    fn a_divisor_of_zero_is_refused() {
        let u = Matrix::<f64>::zeros(1, 2);
        let mut d = Matrix::<f64>::zeros(1, 2);
        let err = Loss::Mse(Reduction::Mean)
            .value_and_delta(&Activation::Identity, u.view(), u.view(), u.view(), d.view_mut(), 0)
            .unwrap_err();
        assert!(err.to_string().contains("divisor"), "{err}");
    }
}
