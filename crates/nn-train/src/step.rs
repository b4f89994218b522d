//! One shard's gradients: the single function that both the serial and the
//! parallel trainer call, and the [`Objective`] that supplies the output delta.
//!
//! For the rows X, T of one shard of a mini-batch of size B:
//!
//! 1. forward: Uˡ = Hˡ⁻¹ Wˡ + 1 bˡ, Hˡ = φ(Uˡ)
//! 2. objective: E_shard and δᴸ = ∂E/∂Uᴸ, dividing by B (not by the shard's
//!    rows) under a `Mean` reduction
//! 3. backward: ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ, ∂E/∂bˡ = 1ᵀ δˡ, δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ φ′(Uˡ⁻¹)
//!
//! Because every shard divides by the whole batch size, the batch gradient is
//! the plain sum of the shard gradients.
//!
//! ```
//! use nn_core::{Activation, Gradients, Init, Loss, Matrix, NetworkBuilder, Reduction, Workspace};
//! use nn_train::shard_gradients;
//! use rand::SeedableRng;
//! let net = NetworkBuilder::new(2).dense(1, Activation::Identity).weights(Init::Zeros).build::<f64, _>(
//!     &mut rand_chacha::ChaCha8Rng::seed_from_u64(0),
//! );
//! let x = Matrix::from_vec(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
//! let t = Matrix::from_vec(2, 1, vec![1.0, -1.0]).unwrap();
//! let (mut ws, mut g) = (Workspace::new(&net, 2), Gradients::zeros_like(&net));
//! let loss = Loss::Mse(Reduction::Mean);
//! // the first row as one shard of a batch of 2: E = (0 − 1)²/2, δ = 2(0 − 1)/2 = −1
//! let e = shard_gradients(&net, x.rows_range(0, 1), t.rows_range(0, 1), &loss, 2, &mut ws, &mut g).unwrap();
//! assert_eq!(e, 0.5);
//! assert_eq!(g.layers[0].weights.as_slice(), &[-1.0, -2.0]); // Xᵀδ
//! assert_eq!(g.layers[0].bias.as_slice(), &[-1.0]);
//! ```

use nn_core::{Float, Gradients, Loss, MatRef, Network, Reduction, ShapeError, Workspace};

/// What produces δᴸ for a shard. The standard case is an [`nn_core::Loss`];
/// an experiment can supply its own rule (e.g. a tutorial's own output delta).
///
/// Shards run on several threads at once, hence `Sync`.
pub trait Objective<T: Float>: Sync {
    /// Called after `net.forward` on the shard (the workspace holds Uᴸ and Hᴸ):
    /// writes δᴸ = ∂E/∂Uᴸ into `ws.output_delta_mut()` (or via `ws.output_parts()`)
    /// and returns the shard's contribution to E. `divisor` is the whole
    /// mini-batch size, which a `Mean` objective divides by.
    fn output_delta(
        &self,
        net: &Network<T>,
        targets: MatRef<'_, T>,
        ws: &mut Workspace<T>,
        divisor: usize,
    ) -> Result<T, ShapeError>;

    /// Whether E is a mean over the batch (`Mean`: E·n is the batch's total) or a sum.
    /// Used to report the loss per sample.
    fn reduction(&self) -> Reduction;

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
        self.value_and_delta_at_output(net, targets, ws, divisor)
    }

    fn reduction(&self) -> Reduction {
        Loss::reduction(self)
    }

    fn check(&self, net: &Network<T>) -> Result<(), ShapeError> {
        self.check_output_activation(&net.output_activation())
    }
}

/// One shard's gradients: forward on `x`, the objective's δᴸ against `t`,
/// backward into `grads` (overwritten). Returns the shard's E. `divisor` is
/// the size of the mini-batch the shard belongs to. `ws` must have room for
/// `x.rows()` rows (it grows once otherwise). Allocates nothing when it has.
pub fn shard_gradients<T: Float, O: Objective<T> + ?Sized>(
    net: &Network<T>,
    x: MatRef<'_, T>,
    t: MatRef<'_, T>,
    objective: &O,
    divisor: usize,
    ws: &mut Workspace<T>,
    grads: &mut Gradients<T>,
) -> Result<T, ShapeError> {
    net.forward(x, ws)?;
    let e = objective.output_delta(net, t, ws, divisor)?;
    net.backward(x, ws, grads)?;
    Ok(e)
}

/// The per-sample loss a batch contributes: E·n for a `Mean` objective
/// (whose E is already divided by the n rows), E for a `Sum` one.
pub(crate) fn batch_total(reduction: Reduction, e: f64, rows: usize) -> f64 {
    match reduction {
        Reduction::Mean => e * rows as f64,
        Reduction::Sum => e,
    }
}
