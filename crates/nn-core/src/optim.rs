//! Optimizers: how a step turns gradients ∇ = ∂E/∂θ into new parameters θ.
//!
//! | optimizer | update (η = learning rate) |
//! |---|---|
//! | [`Sgd`] | W ← (1 − η·l2)·W − η∇W, b ← b − (η/k)∇b  (Nielsen's L2 form with l2 = λ/n; k = 1, or the batch size for a bias step by the batch mean of δ) |
//! | [`Momentum`] | v ← μv + g, θ ← θ − η·v (Nesterov: θ ← θ − η·(g + μv)), g = ∇ + wd·W |
//! | [`Adam`] | m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η·m̂/(√v̂ + ε), m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) |
//! | Adam**W** | as Adam, with W ← W − η·wd·W applied before the step (decoupled decay) |
//!
//! Weight decay (L2) applies to weights only, never to biases. Every
//! hyperparameter must be finite (and η, ε positive where they divide): a
//! step with a NaN learning rate is an error, not NaN weights.
//!
//! Each update reads only its own element, that element's gradient and its
//! own state, so a step can also be taken in pieces
//! ([`Optimizer::step_elementwise`], [`TensorStep`]): `step` itself is the
//! element-wise rule applied to whole tensors, so both give the same bits.
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
//! assert!((net.layers()[0].weights().get(0, 0) - 0.94).abs() < 1e-15);
//! assert!((net.layers()[0].bias().get(0, 0) - 0.95).abs() < 1e-15);
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
    /// The same step as [`Optimizer::step`], handed out tensor by tensor for
    /// the caller to apply, for optimizers whose update of a parameter element
    /// reads only that element, its gradient and its own state (all of
    /// nn-core's). Calls `f` once per parameter tensor (layer by layer,
    /// weights then bias) with a [`TensorStep`]: the tensor, its optimizer
    /// state and this step's rule, its scalars fixed (η, Adam's bias
    /// corrections). Applying every element exactly once, in any pieces, in
    /// any order or on any thread, gives the bits of [`Optimizer::step`]:
    /// a data-parallel trainer can sum and apply each part of the gradient
    /// on the thread that owns it. Returns [`ElementwiseStep::Taken`], or,
    /// without calling `f`, when the optimizer has no element-wise form (the default:
    /// [`ElementwiseStep::Unsupported`]); use [`Optimizer::step`] then. An
    /// error from `f` ends the step there (the tensors before it are
    /// stepped) and is returned.
    ///
    /// ```
    /// use nn_core::{Activation, Dense, Matrix, Network, Optimizer, Sgd};
    /// let layer = Dense::new(Matrix::filled(1, 4, 1.0f64), Matrix::filled(1, 4, 0.0), Activation::Identity).unwrap();
    /// let mut net = Network::new(vec![layer]).unwrap();
    /// // η = 0.5 with ∇ = 1 everywhere, each tensor applied in two pieces
    /// Sgd::new(0.5).step_elementwise(&mut net, &mut |tensor| {
    ///     let g = vec![1.0; tensor.len()];
    ///     let (mut a, mut b) = tensor.split_at(1);
    ///     b.apply(&g[1..])?;
    ///     a.apply(&g[..1])
    /// }).unwrap();
    /// assert_eq!(net.layers()[0].weights().as_slice(), &[0.5; 4]);
    /// assert_eq!(net.layers()[0].bias().as_slice(), &[-0.5; 4]);
    /// ```
    fn step_elementwise(
        &mut self,
        net: &mut Network<T>,
        f: &mut dyn FnMut(TensorStep<'_, T>) -> Result<(), ShapeError>,
    ) -> Result<ElementwiseStep, ShapeError> {
        let _ = (net, f);
        Ok(ElementwiseStep::Unsupported)
    }

    /// What the optimizer has learnt besides its hyperparameters (Adam's
    /// moments and step count, the momentum velocity), to save with the
    /// weights so that a run can stop and resume with the same bits. The
    /// default: nothing (plain SGD has no state).
    fn state(&self) -> OptimizerState<T> {
        OptimizerState::default()
    }

    /// Restores what [`Optimizer::state`] returned. Errors if the state is
    /// not this optimizer's (other tensor names, or shapes unlike `net`'s);
    /// then nothing changes.
    ///
    /// ```
    /// use nn_core::{Activation, Adam, Dense, Gradients, Matrix, Network, Optimizer};
    /// let layer = Dense::new(Matrix::filled(1, 2, 1.0f64), Matrix::filled(1, 2, 0.0), Activation::Identity).unwrap();
    /// let mut a = Network::new(vec![layer]).unwrap();
    /// let mut grads = Gradients::zeros_like(&a);
    /// grads.layers[0].weights.fill(0.5);
    /// let mut adam = Adam::new(0.1);
    /// adam.step(&mut a, &grads).unwrap();
    /// // stop here, and go on with a new optimizer from the saved state
    /// let (saved, mut net) = (adam.state(), a.clone());
    /// let mut resumed = Adam::new(0.1);
    /// resumed.set_state(&net, saved).unwrap();
    /// adam.step(&mut a, &grads).unwrap();
    /// resumed.step(&mut net, &grads).unwrap();
    /// assert_eq!(a.layers()[0].weights().as_slice(), net.layers()[0].weights().as_slice());
    /// // a state of another optimizer is refused
    /// assert!(nn_core::Momentum::new(0.1, 0.9).set_state(&net, adam.state()).is_err());
    /// ```
    fn set_state(&mut self, net: &Network<T>, state: OptimizerState<T>) -> Result<(), ShapeError> {
        state.expect(net, &[])?;
        Ok(())
    }
}

/// An optimizer's state ([`Optimizer::state`]): its step count and named
/// tensors shaped like the network's parameters (`"m"`, `"v"` for Adam,
/// `"velocity"` for momentum). Empty for plain SGD.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState<T> {
    /// Steps taken.
    pub steps: u64,
    /// The named tensors, in the optimizer's order.
    pub tensors: Vec<(String, Gradients<T>)>,
}

impl<T: Float> OptimizerState<T> {
    /// Checks that the state holds exactly the tensors `names` (in that
    /// order), each shaped like `net`'s parameters, and returns them. No
    /// tensor at all (a state saved before the first step) gives `None`s.
    fn expect(self, net: &Network<T>, names: &[&str]) -> Result<Vec<Option<Gradients<T>>>, ShapeError> {
        if self.tensors.is_empty() {
            return Ok(names.iter().map(|_| None).collect());
        }
        let found: Vec<&str> = self.tensors.iter().map(|(n, _)| n.as_str()).collect();
        if found != names {
            return Err(ShapeError::new(
                "optimizer state",
                format!("the tensors [{}]", names.join(", ")),
                format!("[{}]", found.join(", ")),
            ));
        }
        for (name, g) in &self.tensors {
            g.check(net).map_err(|e| ShapeError::new(format!("optimizer state {name}"), e.expected, e.found))?;
        }
        Ok(self.tensors.into_iter().map(|(_, g)| Some(g)).collect())
    }
}

/// What [`Optimizer::step_elementwise`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementwiseStep {
    /// The step was handed out tensor by tensor, and is taken.
    Taken,
    /// The optimizer has no element-wise form: nothing was done; reduce the
    /// gradients and call [`Optimizer::step`].
    Unsupported,
}

/// Checks that a hyperparameter is finite (and, with `positive`, above 0).
fn check_hyper(optimizer: &str, name: &str, value: f64, positive: bool) -> Result<(), ShapeError> {
    if value.is_finite() && (!positive || value > 0.0) {
        return Ok(());
    }
    let expected = if positive { "a finite number above 0" } else { "a finite number" };
    Err(ShapeError::new(format!("{optimizer}: {name}"), expected, format!("{value}")))
}

/// The update rule of one step of an element-wise optimizer, its scalars
/// fixed for the step.
#[derive(Clone, Copy, Debug)]
enum Rule<T> {
    /// W ← keep·W − η∇W, b ← b − η_b∇b.
    Sgd { lr: T, keep: T, lr_bias: T },
    /// g = ∇ + wd·W, v ← μv + g, θ ← θ − η·v (Nesterov: θ ← θ − η·(g + μv)).
    Momentum { lr: T, mu: T, wd: T, nesterov: bool },
    /// Adam with bias corrections c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ folded into the
    /// step size αₜ = η·√c₂/c₁ and ε̂ = ε·√c₂ (η is kept for AdamW's decay).
    Adam { lr: T, b1: T, b2: T, step: T, eps_hat: T, wd: T, decoupled: bool },
}

impl<T: Float> Rule<T> {
    /// Applies the rule to parameters `p` with gradients `g` and state `s0`,
    /// `s1` (as long as `p`, or empty when the rule keeps less state).
    #[inline(always)]
    fn apply(self, p: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T], is_weight: bool) {
        match self {
            Rule::Sgd { lr, keep, lr_bias } => {
                let (keep, lr) = if is_weight { (keep, lr) } else { (T::ONE, lr_bias) };
                p.iter_mut().zip(g).for_each(|(w, &d)| *w = keep * *w - lr * d);
            }
            Rule::Momentum { lr, mu, wd, nesterov } => {
                let wd = if is_weight { wd } else { T::ZERO };
                for ((w, &d), vel) in p.iter_mut().zip(g).zip(s0) {
                    let g = d + wd * *w;
                    *vel = mu * *vel + g;
                    let step = if nesterov { g + mu * *vel } else { *vel };
                    *w -= lr * step;
                }
            }
            Rule::Adam { lr, b1, b2, step, eps_hat, wd, decoupled } => {
                let wd = if is_weight { wd } else { T::ZERO };
                for (((w, &d), mi), vi) in p.iter_mut().zip(g).zip(s0).zip(s1) {
                    let g = if decoupled {
                        *w -= lr * wd * *w;
                        d
                    } else {
                        d + wd * *w
                    };
                    *mi = b1 * *mi + (T::ONE - b1) * g;
                    *vi = b2 * *vi + (T::ONE - b2) * g * g;
                    // η·m̂/(√v̂ + ε) with m̂ = m/c₁, v̂ = v/c₂, multiplied
                    // through by √c₂: one division and one square root
                    *w -= step * (*mi / (vi.sqrt() + eps_hat));
                }
            }
        }
    }
}

/// One parameter tensor's part of an optimizer step (see
/// [`Optimizer::step_elementwise`]): a contiguous run of the tensor's
/// elements, their optimizer state and the step's rule. Split it with
/// [`TensorStep::split_at`] to hand the pieces to other threads; apply it
/// with [`TensorStep::apply`].
#[derive(Debug)]
pub struct TensorStep<'a, T> {
    layer: usize,
    is_weight: bool,
    offset: usize,
    params: &'a mut [T],
    s0: &'a mut [T],
    s1: &'a mut [T],
    rule: Rule<T>,
}

impl<'a, T: Float> TensorStep<'a, T> {
    /// The layer this tensor belongs to (0 = first hidden layer).
    pub fn layer(&self) -> usize {
        self.layer
    }

    /// Whether the tensor is the layer's weights Wˡ (else its bias bˡ).
    pub fn is_weight(&self) -> bool {
        self.is_weight
    }

    /// Where this piece starts in the tensor's elements (row-major).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The number of elements in this piece.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the piece has no elements.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The piece cut in two at `mid` (elements `..mid` and `mid..`).
    ///
    /// # Panics
    /// If `mid > self.len()`, as [`slice::split_at_mut`].
    pub fn split_at(self, mid: usize) -> (TensorStep<'a, T>, TensorStep<'a, T>) {
        let TensorStep { layer, is_weight, offset, params, s0, s1, rule } = self;
        let (p0, p1) = params.split_at_mut(mid);
        let ((a0, b0), (a1, b1)) = (cut_state(s0, mid), cut_state(s1, mid));
        (
            TensorStep { layer, is_weight, offset, params: p0, s0: a0, s1: a1, rule },
            TensorStep { layer, is_weight, offset: offset + mid, params: p1, s0: b0, s1: b1, rule },
        )
    }

    /// Applies the step to the first `g.len()` elements of this piece, `g`
    /// being their gradient, and keeps the rest as the piece. Call it
    /// repeatedly with consecutive runs of the gradient, or once with all
    /// of it. A `g` longer than the piece is an error, and nothing is applied.
    pub fn apply(&mut self, g: &[T]) -> Result<(), ShapeError> {
        let n = g.len();
        if n > self.len() {
            let what = if self.is_weight { "weights" } else { "bias" };
            return Err(ShapeError::new(
                format!("TensorStep::apply, layer {} {what}", self.layer),
                format!("at most {} gradient values (elements {}..)", self.len(), self.offset),
                format!("{n} values"),
            ));
        }
        let (p, rest) = std::mem::take(&mut self.params).split_at_mut(n);
        let (s0, r0) = cut_state(std::mem::take(&mut self.s0), n);
        let (s1, r1) = cut_state(std::mem::take(&mut self.s1), n);
        // the same bits at every vector width (see `vector`)
        apply_rule(self.rule, p, g, s0, s1, self.is_weight);
        (self.params, self.s0, self.s1) = (rest, r0, r1);
        self.offset += n;
        Ok(())
    }
}

crate::vector::widest! {
    /// [`Rule::apply`], compiled for the CPU's widest vector unit.
    fn apply_rule / apply_rule_at<T: Float>(rule: Rule<T>, p: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T], is_weight: bool)
        => rule_body
}

#[inline(always)]
fn rule_body<T: Float>(rule: Rule<T>, p: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T], is_weight: bool) {
    rule.apply(p, g, s0, s1, is_weight);
}

/// `s` cut at `mid`; an empty state (a rule that keeps less) stays empty.
fn cut_state<T>(s: &mut [T], mid: usize) -> (&mut [T], &mut [T]) {
    if s.is_empty() {
        (&mut [], &mut [])
    } else {
        s.split_at_mut(mid)
    }
}

/// Calls `f` with a [`TensorStep`] for every parameter tensor of `net`, with
/// `rule` and up to two per-tensor states `s0`, `s1` (shaped like `net`).
fn for_each_tensor<T: Float>(
    net: &mut Network<T>,
    rule: Rule<T>,
    mut s0: Option<&mut Gradients<T>>,
    mut s1: Option<&mut Gradients<T>>,
    f: &mut dyn FnMut(TensorStep<'_, T>) -> Result<(), ShapeError>,
) -> Result<(), ShapeError> {
    /// Layer `l`'s weights or bias in `state`; empty without a state.
    fn part<'s, T: Float>(state: &'s mut Option<&mut Gradients<T>>, l: usize, is_weight: bool) -> &'s mut [T] {
        let Some(g) = state else { return &mut [] };
        let g = &mut g.layers[l];
        if is_weight {
            g.weights.as_mut_slice()
        } else {
            g.bias.as_mut_slice()
        }
    }
    for (l, (weights, bias)) in net.parameters_mut().enumerate() {
        for (is_weight, params) in [(true, weights), (false, bias)] {
            let (a, b) = (part(&mut s0, l, is_weight), part(&mut s1, l, is_weight));
            f(TensorStep { layer: l, is_weight, offset: 0, params, s0: a, s1: b, rule })?;
        }
    }
    Ok(())
}

/// The whole step: every tensor's rule applied to its gradient from `grads`
/// (already checked to be shaped like the network).
fn apply_all<T: Float>(grads: &Gradients<T>) -> impl FnMut(TensorStep<'_, T>) -> Result<(), ShapeError> + '_ {
    move |mut t| {
        let g = &grads.layers[t.layer];
        t.apply(if t.is_weight { g.weights.as_slice() } else { g.bias.as_slice() })
    }
}

/// Plain stochastic gradient descent, optionally with L2 weight decay and
/// a bias step by the batch mean of δ.
#[derive(Clone, Debug)]
pub struct Sgd {
    /// η.
    pub lr: f64,
    /// The decay factor per unit of η: W ← (1 − η·l2)·W (Nielsen: l2 = λ/n).
    pub l2: f64,
    /// k in b ← b − (η/k)·∇b: 1, or the batch size B when the bias moves by
    /// the batch mean of δ while the weights move by its sum.
    pub bias_divisor: f64,
}

impl Sgd {
    /// SGD with learning rate `lr` and no weight decay.
    pub fn new(lr: f64) -> Self {
        Sgd { lr, l2: 0.0, bias_divisor: 1.0 }
    }

    /// The bias moves by the batch mean of δ while the weights move by its
    /// sum: W ← W − η·Hᵀδ, b ← b − (η/B)·1ᵀδ, B = `batch`. This is the first
    /// tutorial's step (`W -= lr * X.T @ delta`, `b -= lr * delta.mean(axis=0)`),
    /// used with a summed loss.
    ///
    /// ```
    /// use nn_core::{Activation, Dense, Gradients, Matrix, Network, Optimizer, Sgd};
    /// let layer = Dense::new(Matrix::filled(1, 1, 1.0f64), Matrix::filled(1, 1, 1.0), Activation::Identity).unwrap();
    /// let mut net = Network::new(vec![layer]).unwrap();
    /// let mut grads = Gradients::zeros_like(&net);
    /// grads.layers[0].weights.fill(8.0);
    /// grads.layers[0].bias.fill(8.0);
    /// Sgd::new(0.1).with_bias_mean(8).step(&mut net, &grads).unwrap();
    /// assert!((net.layers()[0].weights().get(0, 0) - (1.0 - 0.8)).abs() < 1e-15);
    /// assert!((net.layers()[0].bias().get(0, 0) - (1.0 - 0.1)).abs() < 1e-15);
    /// ```
    pub fn with_bias_mean(mut self, batch: usize) -> Self {
        self.bias_divisor = batch as f64;
        self
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
        grads.check(net)?;
        self.step_elementwise(net, &mut apply_all(grads)).map(drop)
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn step_elementwise(
        &mut self,
        net: &mut Network<T>,
        f: &mut dyn FnMut(TensorStep<'_, T>) -> Result<(), ShapeError>,
    ) -> Result<ElementwiseStep, ShapeError> {
        check_hyper("Sgd", "learning rate", self.lr, false)?;
        check_hyper("Sgd", "l2", self.l2, false)?;
        check_hyper("Sgd", "bias divisor", self.bias_divisor, true)?;
        let rule = Rule::Sgd {
            lr: T::from_f64(self.lr),
            keep: T::from_f64(1.0 - self.lr * self.l2),
            lr_bias: T::from_f64(self.lr / self.bias_divisor),
        };
        for_each_tensor(net, rule, None, None, f)?;
        Ok(ElementwiseStep::Taken)
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
    steps: u64,
}

impl<T: Float> Momentum<T> {
    /// Heavy-ball momentum with learning rate `lr` and coefficient `momentum`.
    pub fn new(lr: f64, momentum: f64) -> Self {
        Momentum { lr, momentum, nesterov: false, weight_decay: 0.0, velocity: None, steps: 0 }
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
        grads.check(net)?;
        self.step_elementwise(net, &mut apply_all(grads)).map(drop)
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn step_elementwise(
        &mut self,
        net: &mut Network<T>,
        f: &mut dyn FnMut(TensorStep<'_, T>) -> Result<(), ShapeError>,
    ) -> Result<ElementwiseStep, ShapeError> {
        check_hyper("Momentum", "learning rate", self.lr, false)?;
        check_hyper("Momentum", "momentum", self.momentum, false)?;
        check_hyper("Momentum", "weight decay", self.weight_decay, false)?;
        let velocity = self.velocity.get_or_insert_with(|| Gradients::zeros_like(net));
        velocity.check(net)?;
        let f64_ = T::from_f64;
        let rule = Rule::Momentum {
            lr: f64_(self.lr),
            mu: f64_(self.momentum),
            wd: f64_(self.weight_decay),
            nesterov: self.nesterov,
        };
        for_each_tensor(net, rule, Some(velocity), None, f)?;
        self.steps += 1;
        Ok(ElementwiseStep::Taken)
    }

    fn state(&self) -> OptimizerState<T> {
        let tensors = self.velocity.iter().map(|v| ("velocity".to_string(), v.clone())).collect();
        OptimizerState { steps: self.steps, tensors }
    }

    fn set_state(&mut self, net: &Network<T>, state: OptimizerState<T>) -> Result<(), ShapeError> {
        let steps = state.steps;
        let [velocity]: [Option<Gradients<T>>; 1] =
            state.expect(net, &["velocity"])?.try_into().map_err(|_| unreachable_state())?;
        (self.velocity, self.steps) = (velocity, steps);
        Ok(())
    }
}

/// Adam (Kingma & Ba), with optional L2 (added to the gradient) or
/// decoupled weight decay (AdamW, Loshchilov & Hutter).
///
/// The step is computed in the order Kingma & Ba give for efficiency (§2 of
/// the paper), θ ← θ − αₜ·m/(√v + ε̂) with αₜ = η·√(1−β₂ᵗ)/(1−β₁ᵗ) and
/// ε̂ = ε·√(1−β₂ᵗ): the same value as η·m̂/(√v̂ + ε) in exact arithmetic,
/// with one division and one square root per parameter instead of three
/// divisions and a root (those dominated the step's time).
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
        grads.check(net)?;
        self.step_elementwise(net, &mut apply_all(grads)).map(drop)
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn step_elementwise(
        &mut self,
        net: &mut Network<T>,
        f: &mut dyn FnMut(TensorStep<'_, T>) -> Result<(), ShapeError>,
    ) -> Result<ElementwiseStep, ShapeError> {
        check_hyper("Adam", "learning rate", self.lr, false)?;
        check_hyper("Adam", "beta1", self.beta1, false)?;
        check_hyper("Adam", "beta2", self.beta2, false)?;
        check_hyper("Adam", "eps", self.eps, true)?;
        check_hyper("Adam", "weight decay", self.weight_decay, false)?;
        let m = self.m.get_or_insert_with(|| Gradients::zeros_like(net));
        m.check(net)?;
        let v = self.v.get_or_insert_with(|| Gradients::zeros_like(net));
        v.check(net)?;
        self.t += 1;
        let f64_ = T::from_f64;
        let (c1, c2) = (1.0 - self.beta1.powi(self.t), 1.0 - self.beta2.powi(self.t));
        let rule = Rule::Adam {
            lr: f64_(self.lr),
            b1: f64_(self.beta1),
            b2: f64_(self.beta2),
            step: f64_(self.lr * c2.sqrt() / c1),
            eps_hat: f64_(self.eps * c2.sqrt()),
            wd: f64_(self.weight_decay),
            decoupled: self.decoupled,
        };
        for_each_tensor(net, rule, Some(m), Some(v), f)?;
        Ok(ElementwiseStep::Taken)
    }

    fn state(&self) -> OptimizerState<T> {
        let tensors = match (&self.m, &self.v) {
            (Some(m), Some(v)) => vec![("m".to_string(), m.clone()), ("v".to_string(), v.clone())],
            _ => Vec::new(),
        };
        OptimizerState { steps: u64::try_from(self.t).unwrap_or(0), tensors }
    }

    fn set_state(&mut self, net: &Network<T>, state: OptimizerState<T>) -> Result<(), ShapeError> {
        let t = i32::try_from(state.steps)
            .map_err(|_| ShapeError::new("Adam state", "a step count below 2³¹", format!("{} steps", state.steps)))?;
        let [m, v]: [Option<Gradients<T>>; 2] =
            state.expect(net, &["m", "v"])?.try_into().map_err(|_| unreachable_state())?;
        (self.m, self.v, self.t) = (m, v, t);
        Ok(())
    }
}

/// `expect` returns one entry per name; this is the error if it ever did not.
fn unreachable_state() -> ShapeError {
    ShapeError::new("optimizer state", "one tensor per name", "another count")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::Width;

    /// Every rule, at every vector width this CPU has, gives the baseline loop's bits.
    #[test]
    fn every_vector_width_steps_with_the_same_bits() {
        let n = 1000 + 37;
        let values = |seed: usize, scale: f32| -> Vec<f32> {
            (0..n).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0) * scale).collect()
        };
        let rules = [
            Rule::Sgd { lr: 0.01f32, keep: 0.9999, lr_bias: 0.001 },
            Rule::Momentum { lr: 0.01, mu: 0.9, wd: 1e-4, nesterov: true },
            Rule::Adam { lr: 1e-3, b1: 0.9, b2: 0.999, step: 2.3e-4, eps_hat: 6.3e-10, wd: 0.01, decoupled: true },
            Rule::Adam { lr: 1e-3, b1: 0.9, b2: 0.999, step: 3.2e-4, eps_hat: 3.2e-10, wd: 1e-4, decoupled: false },
        ];
        for rule in rules {
            for is_weight in [true, false] {
                let run = |width: Width| {
                    let (mut p, g, mut s0, mut s1) = (values(1, 1.0), values(2, 0.1), values(3, 0.01), values(4, 0.01));
                    s1.iter_mut().for_each(|v| *v = v.abs());
                    apply_rule_at(width, rule, &mut p, &g, &mut s0, &mut s1, is_weight);
                    [p, s0, s1].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
                };
                let reference = run(Width::Baseline);
                for width in [Width::Avx512, Width::Avx2] {
                    if width.available() {
                        assert_eq!(run(width), reference, "{rule:?} {width:?}");
                    } else {
                        eprintln!("NOT RUN: this CPU lacks {width:?}; only the baseline rule was checked");
                    }
                }
            }
        }
    }
}
