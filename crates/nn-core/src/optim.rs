//! Optimizers: how a step turns gradients ∇ = ∂E/∂θ into new parameters θ.
//!
//! | optimizer | update (η = learning rate) |
//! |---|---|
//! | [`Sgd`] | W ← (1 − η·l2)·W − η∇W, b ← b − η∇b  (Nielsen's L2 form with l2 = λ/n) |
//! | [`Momentum`] | v ← μv + g, θ ← θ − η·v (Nesterov: θ ← θ − η·(g + μv)), g = ∇ + wd·W |
//! | [`Adam`] | m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η·m̂/(√v̂ + ε), m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) |
//! | Adam**W** | as Adam, with W ← W − η·wd·W applied before the step (decoupled decay) |
//!
//! Weight decay (L2) applies to weights only, never to biases.
//!
//! ```
//! use nn_core::{Activation, Dense, Gradients, Matrix, Network, Optimizer, Sgd};
//! let layer = Dense::new(Matrix::filled(1, 1, 1.0f64), Matrix::filled(1, 1, 1.0), Activation::Identity).unwrap();
//! let mut net = Network::new(vec![layer]).unwrap();
//! let mut grads = Gradients::zeros_like(&net);
//! grads.layers[0].weights.fill(0.5);
//! grads.layers[0].bias.fill(0.5);
//! // η = 0.1, λ = 1, n = 10: W ← (1 − 0.1·1/10)·1 − 0.1·0.5 = 0.94, b ← 1 − 0.05 = 0.95
//! Sgd::new(0.1).with_l2(1.0, 10).step(&mut net, &grads).unwrap();
//! assert!((net.layers()[0].weights.get(0, 0) - 0.94).abs() < 1e-15);
//! assert!((net.layers()[0].bias.get(0, 0) - 0.95).abs() < 1e-15);
//! ```

use crate::error::ShapeError;
use crate::float::Float;
use crate::network::{Gradients, Network};

/// One optimisation step from gradients.
pub trait Optimizer<T: Float> {
    /// Updates `net`'s parameters from `grads` (shaped like `net`).
    fn step(&mut self, net: &mut Network<T>, grads: &Gradients<T>) -> Result<(), ShapeError>;
    /// The current learning rate η.
    fn learning_rate(&self) -> f64;
    /// Sets η (for schedules).
    fn set_learning_rate(&mut self, lr: f64);
}

/// Checks that `grads` is shaped like `net`.
fn check<T: Float>(net: &Network<T>, grads: &Gradients<T>) -> Result<(), ShapeError> {
    let same = grads.layers.len() == net.layers().len()
        && net
            .layers()
            .iter()
            .zip(&grads.layers)
            .all(|(l, g)| l.weights.shape() == g.weights.shape() && l.bias.shape() == g.bias.shape());
    if same {
        Ok(())
    } else {
        Err(ShapeError::new(
            "Optimizer::step",
            format!("gradients shaped like the network {:?}", net.widths()),
            format!("gradients for {} layers of other shapes", grads.layers.len()),
        ))
    }
}

/// Calls `f(param, grad, state, is_weight)` for every parameter tensor, with
/// per-tensor optimizer state taken from `states` (each shaped like `net`).
fn for_each_tensor<T: Float, const K: usize>(
    net: &mut Network<T>,
    grads: &Gradients<T>,
    states: [&mut Gradients<T>; K],
    mut f: impl FnMut(&mut [T], &[T], [&mut [T]; K], bool),
) {
    let mut states = states;
    for (l, (layer, g)) in net.layers_mut().iter_mut().zip(&grads.layers).enumerate() {
        f(
            layer.weights.as_mut_slice(),
            g.weights.as_slice(),
            states.each_mut().map(|st| st.layers[l].weights.as_mut_slice()),
            true,
        );
        f(
            layer.bias.as_mut_slice(),
            g.bias.as_slice(),
            states.each_mut().map(|st| st.layers[l].bias.as_mut_slice()),
            false,
        );
    }
}

/// Plain stochastic gradient descent, optionally with L2 weight decay.
#[derive(Clone, Debug)]
pub struct Sgd {
    /// η.
    pub lr: f64,
    /// The decay factor per unit of η: W ← (1 − η·l2)·W (Nielsen: l2 = λ/n).
    pub l2: f64,
}

impl Sgd {
    /// SGD with learning rate `lr` and no weight decay.
    pub fn new(lr: f64) -> Self {
        Sgd { lr, l2: 0.0 }
    }

    /// Adds L2 weight decay in Nielsen's form: W ← (1 − ηλ/n)·W − η∇W,
    /// where `n` is the size of the whole training set.
    pub fn with_l2(mut self, lambda: f64, n: usize) -> Self {
        self.l2 = lambda / n as f64;
        self
    }
}

impl<T: Float> Optimizer<T> for Sgd {
    fn step(&mut self, net: &mut Network<T>, grads: &Gradients<T>) -> Result<(), ShapeError> {
        check(net, grads)?;
        let lr = T::from_f64(self.lr);
        let keep = T::from_f64(1.0 - self.lr * self.l2);
        for_each_tensor(net, grads, [], |p, g, [], is_weight| {
            let keep = if is_weight { keep } else { T::ONE };
            p.iter_mut().zip(g).for_each(|(w, &d)| *w = keep * *w - lr * d);
        });
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// SGD with (heavy-ball or Nesterov) momentum, in PyTorch's form:
/// g = ∇ + wd·W, v ← μv + g, θ ← θ − η·v (Nesterov: θ ← θ − η·(g + μv)).
#[derive(Clone, Debug)]
pub struct Momentum<T> {
    /// η.
    pub lr: f64,
    /// μ.
    pub momentum: f64,
    /// Use Nesterov's look-ahead form.
    pub nesterov: bool,
    /// L2 coefficient added to the weight gradients (0 = none).
    pub weight_decay: f64,
    velocity: Option<Gradients<T>>,
}

impl<T: Float> Momentum<T> {
    /// Heavy-ball momentum with learning rate `lr` and coefficient `momentum`.
    pub fn new(lr: f64, momentum: f64) -> Self {
        Momentum { lr, momentum, nesterov: false, weight_decay: 0.0, velocity: None }
    }

    /// Switches to Nesterov momentum.
    pub fn nesterov(mut self) -> Self {
        self.nesterov = true;
        self
    }

    /// Adds wd·W to the weight gradients.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
}

impl<T: Float> Optimizer<T> for Momentum<T> {
    fn step(&mut self, net: &mut Network<T>, grads: &Gradients<T>) -> Result<(), ShapeError> {
        check(net, grads)?;
        let velocity = self.velocity.get_or_insert_with(|| Gradients::zeros_like(net));
        check(net, velocity)?;
        let (lr, mu, wd, nesterov) =
            (T::from_f64(self.lr), T::from_f64(self.momentum), T::from_f64(self.weight_decay), self.nesterov);
        for_each_tensor(net, grads, [velocity], |p, g, [v], is_weight| {
            let wd = if is_weight { wd } else { T::ZERO };
            for ((w, &d), vel) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                let g = d + wd * *w;
                *vel = mu * *vel + g;
                let step = if nesterov { g + mu * *vel } else { *vel };
                *w -= lr * step;
            }
        });
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// Adam (Kingma & Ba), with optional L2 (added to the gradient) or
/// decoupled weight decay (AdamW, Loshchilov & Hutter).
#[derive(Clone, Debug)]
pub struct Adam<T> {
    /// η.
    pub lr: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Weight-decay coefficient (0 = none).
    pub weight_decay: f64,
    /// Decoupled decay (AdamW) rather than L2 in the gradient.
    pub decoupled: bool,
    t: i32,
    m: Option<Gradients<T>>,
    v: Option<Gradients<T>>,
}

impl<T: Float> Adam<T> {
    /// Adam with learning rate `lr`, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(lr: f64) -> Self {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, t: 0, m: None, v: None }
    }

    /// AdamW: Adam with decoupled weight decay `wd`.
    pub fn adamw(lr: f64, wd: f64) -> Self {
        Adam { weight_decay: wd, decoupled: true, ..Self::new(lr) }
    }

    /// Sets β₁ and β₂.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// L2 weight decay added to the weight gradients (classic Adam + L2).
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self.decoupled = false;
        self
    }

    /// Steps taken so far.
    pub fn steps(&self) -> i32 {
        self.t
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, net: &mut Network<T>, grads: &Gradients<T>) -> Result<(), ShapeError> {
        check(net, grads)?;
        let m = self.m.get_or_insert_with(|| Gradients::zeros_like(net));
        check(net, m)?;
        let v = self.v.get_or_insert_with(|| Gradients::zeros_like(net));
        check(net, v)?;
        self.t += 1;
        let f = T::from_f64;
        let (b1, b2, eps, lr) = (f(self.beta1), f(self.beta2), f(self.eps), f(self.lr));
        let c1 = f(1.0 - self.beta1.powi(self.t));
        let c2 = f(1.0 - self.beta2.powi(self.t));
        let (wd, decoupled) = (f(self.weight_decay), self.decoupled);
        for_each_tensor(net, grads, [m, v], |p, g, [m, v], is_weight| {
            let wd = if is_weight { wd } else { T::ZERO };
            for (((w, &d), mi), vi) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let g = if decoupled {
                    *w -= lr * wd * *w;
                    d
                } else {
                    d + wd * *w
                };
                *mi = b1 * *mi + (T::ONE - b1) * g;
                *vi = b2 * *vi + (T::ONE - b2) * g * g;
                let m_hat = *mi / c1;
                let v_hat = *vi / c2;
                *w -= lr * m_hat / (v_hat.sqrt() + eps);
            }
        });
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}
