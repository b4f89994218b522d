//! `Network`: a sequential stack of [`Dense`] layers, with the per-batch
//! [`Workspace`] that holds Uˡ, Hˡ and δˡ, and the [`Gradients`] that
//! backpropagation fills.
//!
//! Backpropagation, for layers l = L … 1 (δᴸ = ∂E/∂Uᴸ comes from the loss):
//!
//! - ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ,  ∂E/∂bˡ = 1ᵀ δˡ  (H⁰ = X)
//! - δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ φ′(Uˡ⁻¹)
//!
//! The workspace is sized once for the largest batch; after that a training
//! step allocates nothing. Gradients live apart from the network, so the
//! gradients of several shards of a batch can be computed independently and
//! summed.
//!
//! ```
//! use nn_core::{Activation, Gradients, Init, Loss, Matrix, Network, NetworkBuilder, Reduction, Workspace};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let net: Network<f64> = NetworkBuilder::new(2)
//!     .dense(3, Activation::Tanh)
//!     .dense(1, Activation::Identity)
//!     .weights(Init::Glorot)
//!     .biases(Init::Zeros)
//!     .build(&mut rng)
//!     .unwrap();
//! let x = Matrix::from_vec(2, 2, vec![0.0, 1.0, 1.0, 0.0]).unwrap();
//! let t = Matrix::from_vec(2, 1, vec![1.0, 1.0]).unwrap();
//! let mut ws = Workspace::new(&net, 2);
//! let mut grads = Gradients::zeros_like(&net);
//! let e = net.loss_and_gradients(x.view(), t.view(), &Loss::Mse(Reduction::Mean), 2, &mut ws, &mut grads).unwrap();
//! assert!(e > 0.0);
//! assert_eq!(grads.layers[0].weights.shape(), (2, 3));
//! // a wrong input width is an error, not a panic
//! assert!(net.predict(Matrix::<f64>::zeros(1, 5).view()).is_err());
//! ```

use rand::Rng;

use crate::activation::Activation;
use crate::dense::{check_layer, Dense};
use crate::error::ShapeError;
use crate::float::Float;
use crate::init::Init;
use crate::loss::Objective;
use crate::matrix::{MatMut, MatRef, Matrix};

/// A sequential multilayer perceptron.
#[derive(Clone, Debug, PartialEq)]
pub struct Network<T> {
    layers: Vec<Dense<T>>,
}

/// Builds a [`Network`] from widths, activations and initialisation policies.
#[derive(Clone, Debug)]
pub struct NetworkBuilder {
    inputs: usize,
    layers: Vec<(usize, Activation)>,
    weights: Init,
    biases: Init,
}

impl NetworkBuilder {
    /// Starts a network whose inputs have width `inputs`.
    pub fn new(inputs: usize) -> Self {
        NetworkBuilder { inputs, layers: Vec::new(), weights: Init::ScaledNormal, biases: Init::Zeros }
    }

    /// Appends a dense layer of `outputs` units with activation `activation`.
    pub fn dense(mut self, outputs: usize, activation: Activation) -> Self {
        self.layers.push((outputs, activation));
        self
    }

    /// The weight initialiser (default: [`Init::ScaledNormal`]).
    pub fn weights(mut self, init: Init) -> Self {
        self.weights = init;
        self
    }

    /// The bias initialiser (default: [`Init::Zeros`]).
    pub fn biases(mut self, init: Init) -> Self {
        self.biases = init;
        self
    }

    /// Draws the parameters, layer by layer (weights row-major, then bias).
    /// Errors, before drawing anything, if there are no layers or a width
    /// is 0, or an activation's parameter is not finite.
    ///
    /// ```
    /// use nn_core::{Activation, NetworkBuilder};
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// assert!(NetworkBuilder::new(4).build::<f32, _>(&mut rng).is_err()); // no layers
    /// assert!(NetworkBuilder::new(4).dense(0, Activation::Relu).build::<f32, _>(&mut rng).is_err());
    /// ```
    pub fn build<T: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Network<T>, ShapeError> {
        if self.layers.is_empty() {
            return Err(ShapeError::new("NetworkBuilder::build", "at least one layer", "none"));
        }
        let mut n_in = self.inputs;
        for (l, &(n_out, activation)) in self.layers.iter().enumerate() {
            check_layer(&format!("NetworkBuilder::build, layer {l}"), n_in, n_out, &activation)?;
            n_in = n_out;
        }
        let mut n_in = self.inputs;
        let mut layers = Vec::with_capacity(self.layers.len());
        for &(n_out, activation) in &self.layers {
            let weights = self.weights.matrix(n_in, n_out, n_in, n_out, rng);
            let bias = self.biases.matrix(1, n_out, n_in, n_out, rng);
            layers.push(Dense::new(weights, bias, activation)?);
            n_in = n_out;
        }
        Network::new(layers)
    }
}

impl<T: Float> Network<T> {
    /// A network from its layers; errors if a layer's input width differs
    /// from the previous layer's output width, or if there are no layers.
    pub fn new(layers: Vec<Dense<T>>) -> Result<Self, ShapeError> {
        if layers.is_empty() {
            return Err(ShapeError::new("Network::new", "at least one layer", "none"));
        }
        for (l, pair) in layers.windows(2).enumerate() {
            if pair[0].outputs() != pair[1].inputs() {
                return Err(ShapeError::new(
                    "Network::new",
                    format!("layer {} to take {} inputs (layer {l}'s outputs)", l + 1, pair[0].outputs()),
                    format!("{} inputs", pair[1].inputs()),
                ));
            }
        }
        Ok(Network { layers })
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Dense<T>] {
        &self.layers
    }

    /// The layers, mutable (an optimizer's view; shapes must not change).
    pub(crate) fn layers_mut(&mut self) -> &mut [Dense<T>] {
        &mut self.layers
    }

    /// Every layer's parameters, mutable, as flat row-major slices
    /// (Wˡ, bˡ), first layer to last: their values can change, their shapes
    /// cannot.
    pub fn parameters_mut(&mut self) -> impl Iterator<Item = (&mut [T], &mut [T])> {
        self.layers.iter_mut().map(Dense::parameters_mut)
    }

    /// Input width m⁰.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs()
    }

    /// Output width mᴸ.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs()
    }

    /// Widths [m⁰, m¹, …, mᴸ].
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.inputs()).chain(self.layers.iter().map(Dense::outputs)).collect()
    }

    /// The number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(|l| l.weights().as_slice().len() + l.bias().as_slice().len()).sum()
    }

    /// The output layer's activation.
    pub fn output_activation(&self) -> Activation {
        self.layers[self.layers.len() - 1].activation()
    }

    fn check_input(&self, x: &MatRef<'_, T>) -> Result<(), ShapeError> {
        if x.cols() != self.inputs() {
            return Err(ShapeError::new(
                "Network input",
                format!("{} features per sample (the first layer's width)", self.inputs()),
                format!("{} columns ({} samples)", x.cols(), x.rows()),
            ));
        }
        Ok(())
    }

    /// Forward pass over the rows of `x`; returns Hᴸ (a view into `ws`).
    pub fn forward<'w>(&self, x: MatRef<'_, T>, ws: &'w mut Workspace<T>) -> Result<MatRef<'w, T>, ShapeError> {
        self.check_input(&x)?;
        ws.prepare(self, x.rows())?;
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, from_l) = ws.h.split_at_mut(l);
            let input = if l == 0 { x } else { before[l - 1].view() };
            layer.forward(input, ws.u[l].view_mut(), from_l[0].view_mut())?;
        }
        Ok(ws.output())
    }

    /// Backward pass. Call after [`Network::forward`] on the same `x`, once
    /// `ws.output_delta_mut()` holds δᴸ = ∂E/∂Uᴸ. Overwrites `grads` with
    /// ∂E/∂Wˡ and ∂E/∂bˡ, and fills ∂E/∂X if the workspace was made
    /// [`with_input_gradient`](Workspace::with_input_gradient).
    pub fn backward(
        &self,
        x: MatRef<'_, T>,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
    ) -> Result<(), ShapeError> {
        self.backward_into(x, ws, grads, GradMode::Write, x.rows())
    }

    /// [`Network::backward`], writing the gradients into `grads`, adding them
    /// to it (see [`Network::add_loss_and_gradients`]) or writing all but
    /// ∂E/∂W⁰, as `mode` says. With `split` < the rows, the weight and bias
    /// gradients are those of rows `..split`, then those of rows `split..`
    /// added to them (see [`Network::loss_and_gradients_of_pair`]).
    fn backward_into(
        &self,
        x: MatRef<'_, T>,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
        mode: GradMode,
        split: usize,
    ) -> Result<(), ShapeError> {
        self.check_input(&x)?;
        grads.check(self)?;
        if ws.rows != x.rows() || ws.u.len() != self.layers.len() {
            return Err(ShapeError::new(
                "Network::backward",
                format!("a workspace holding a forward pass of {} rows", x.rows()),
                format!("one of {} rows", ws.rows),
            ));
        }
        for l in (0..self.layers.len()).rev() {
            let layer = &self.layers[l];
            let (below, from_l) = ws.delta.split_at_mut(l);
            let delta = from_l[0].view();
            let input = if l == 0 { x } else { ws.h[l - 1].view() };
            let down: Option<MatMut<'_, T>> =
                if l > 0 { Some(below[l - 1].view_mut()) } else { ws.input_grad.as_mut().map(Matrix::view_mut) };
            let g = &mut grads.layers[l];
            let skip_dw = l == 0 && mode == GradMode::WriteAllButFirstWeights;
            let n = delta.rows();
            let dw = if skip_dw { None } else { Some(&mut g.weights) };
            let (x0, d0) = (input.rows_range(0, split.min(n)), delta.rows_range(0, split.min(n)));
            layer.weight_gradients(x0, d0, dw, &mut g.bias, mode == GradMode::Add)?;
            if split < n {
                let dw = if skip_dw { None } else { Some(&mut g.weights) };
                layer.weight_gradients(
                    input.rows_range(split, n),
                    delta.rows_range(split, n),
                    dw,
                    &mut g.bias,
                    true,
                )?;
            }
            if let Some(down) = down {
                layer.propagate(delta, down)?;
            }
            if l > 0 {
                // δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ φ′(Uˡ⁻¹)
                self.layers[l - 1].activation().backward(
                    ws.u[l - 1].view(),
                    ws.h[l - 1].view(),
                    below[l - 1].view_mut(),
                );
            }
        }
        Ok(())
    }

    /// The one driver of a gradient: forward pass, the objective's E and δᴸ,
    /// backward pass. Returns E and overwrites `grads`. `divisor` is the
    /// mini-batch size that a `Mean` objective divides by (the whole batch,
    /// when `x` is one shard of it). The trainer calls it once per shard and
    /// the gradient checker once per check; allocates nothing once `ws` has
    /// room for `x.rows()` rows.
    pub fn loss_and_gradients<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        objective: &O,
        divisor: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
    ) -> Result<T, ShapeError> {
        self.drive(x, t, objective, divisor, ws, grads, GradMode::Write)
    }

    /// As [`Network::loss_and_gradients`], but adds this batch's gradients to
    /// `grads` instead of overwriting them: each element becomes `g + p`, one
    /// rounding, where `p` has the bits `loss_and_gradients` would write —
    /// exactly so for a batch of at most [`gemm::SINGLE_PASS_K`](crate::gemm::SINGLE_PASS_K)
    /// rows (a longer one is added to `g` in more than one piece). So for
    /// two shards g₀, g₁ of a batch, `loss_and_gradients` on the first and
    /// this on the second give g₀ + g₁ with the bits of summing two separate
    /// buffers, without the second buffer and the pass that sums them: a
    /// single-threaded trainer adds shard pairs this way.
    ///
    /// ```
    /// use nn_core::{Activation, Dense, Gradients, Loss, Matrix, Network, Reduction, Workspace};
    /// let layer = Dense::new(Matrix::from_fn(3, 2, |i, j| (i + 2 * j) as f32 / 7.0), Matrix::zeros(1, 2), Activation::Tanh).unwrap();
    /// let net = Network::new(vec![layer]).unwrap();
    /// let x = Matrix::from_fn(8, 3, |i, j| ((i * 3 + j) % 5) as f32 / 3.0);
    /// let t = Matrix::from_fn(8, 2, |i, j| ((i + j) % 2) as f32);
    /// let loss = Loss::Mse(Reduction::Mean);
    /// let (a, b) = (x.rows_range(0, 4), x.rows_range(4, 8));
    /// let (ta, tb) = (t.view().rows_range(0, 4), t.view().rows_range(4, 8));
    /// let mut ws = Workspace::new(&net, 4);
    /// // two buffers, summed
    /// let (mut g0, mut g1) = (Gradients::zeros_like(&net), Gradients::zeros_like(&net));
    /// net.loss_and_gradients(a, ta, &loss, 8, &mut ws, &mut g0).unwrap();
    /// net.loss_and_gradients(b, tb, &loss, 8, &mut ws, &mut g1).unwrap();
    /// let summed: Vec<f32> = g0.layers[0].weights.as_slice().iter().zip(g1.layers[0].weights.as_slice()).map(|(p, q)| p + q).collect();
    /// // one buffer, the second shard added in place
    /// net.add_loss_and_gradients(b, tb, &loss, 8, &mut ws, &mut g0).unwrap();
    /// assert_eq!(g0.layers[0].weights.as_slice(), &summed[..]);
    /// ```
    pub fn add_loss_and_gradients<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        objective: &O,
        divisor: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
    ) -> Result<T, ShapeError> {
        self.drive(x, t, objective, divisor, ws, grads, GradMode::Add)
    }

    /// As [`Network::loss_and_gradients`], but leaves the first layer's
    /// weight gradient ∂E/∂W⁰ = Xᵀδ⁰ unwritten (`grads.layers[0].weights`
    /// keeps what it held): δ⁰ stays in `ws` ([`Workspace::delta`]`(0)`), so
    /// the caller can form Xᵀδ⁰ later, in row blocks, where it is used. A
    /// data-parallel trainer does so on the thread that updates those rows
    /// of W⁰, which moves the rows of X and δ⁰ between cores instead of the
    /// far larger gradient. Every other gradient has the bits
    /// `loss_and_gradients` writes, and so does any row block of Xᵀδ⁰
    /// computed with [`gemm`](crate::gemm()) (the bits of an element of a
    /// product do not depend on which rows are computed with it).
    ///
    /// ```
    /// use nn_core::{gemm, Activation, Gradients, Loss, Matrix, MatMut, MatRef, NetworkBuilder, Op, Reduction, Workspace};
    /// use rand::SeedableRng;
    /// let net = NetworkBuilder::new(5).dense(4, Activation::Tanh).dense(2, Activation::Identity)
    ///     .build::<f64, _>(&mut rand::rngs::StdRng::seed_from_u64(3)).unwrap();
    /// let x = Matrix::from_fn(6, 5, |i, j| ((i * 5 + j) % 7) as f64 / 4.0);
    /// let t = Matrix::from_fn(6, 2, |i, j| ((i + j) % 3) as f64);
    /// let loss = Loss::Mse(Reduction::Mean);
    /// let mut ws = Workspace::new(&net, 6);
    /// let mut whole = Gradients::zeros_like(&net);
    /// net.loss_and_gradients(x.view(), t.view(), &loss, 6, &mut ws, &mut whole).unwrap();
    /// let mut rest = Gradients::zeros_like(&net);
    /// net.loss_and_gradients_but_first_weights(x.view(), t.view(), &loss, 6, &mut ws, &mut rest).unwrap();
    /// assert_eq!(rest.layers[1].weights, whole.layers[1].weights);
    /// assert!(rest.layers[0].weights.as_slice().iter().all(|&g| g == 0.0));
    /// // rows 2..5 of ∂E/∂W⁰ = (columns 2..5 of X)ᵀ δ⁰
    /// let mut block = Matrix::zeros(3, 4);
    /// let cols = MatRef::new(&x.as_slice()[2..], 6, 3, 5).unwrap();
    /// gemm(1.0, cols, Op::T, ws.delta(0), Op::N, 0.0, block.view_mut()).unwrap();
    /// assert_eq!(block.as_slice(), &whole.layers[0].weights.as_slice()[2 * 4..]);
    /// ```
    pub fn loss_and_gradients_but_first_weights<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        objective: &O,
        divisor: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
    ) -> Result<T, ShapeError> {
        self.drive(x, t, objective, divisor, ws, grads, GradMode::WriteAllButFirstWeights)
    }

    /// The gradients of two consecutive shards of one mini-batch, held in
    /// one `x`: rows `..split` and rows `split..`. Returns (E₀, E₁) and writes
    /// g₀ + g₁ into `grads`, with the bits of [`Network::loss_and_gradients`]
    /// on the first shard followed by [`Network::add_loss_and_gradients`] on
    /// the second (so exactly those of two buffers summed when the second
    /// has at most [`gemm::SINGLE_PASS_K`](crate::gemm::SINGLE_PASS_K) rows).
    /// What is shared is the forward pass and the propagation of δ: a row's
    /// values do not depend on the other rows, so both shards go through
    /// them at once, as one product of twice the rows, which runs faster
    /// than two (a single-threaded trainer pairs its shards this way). Only
    /// the sums over rows, E, ∂E/∂W and ∂E/∂b, are taken shard by shard.
    /// Needs an objective that computes δᴸ for any rows
    /// ([`Objective::splits_rows`]); `ws` needs room for all of `x`'s rows.
    ///
    /// ```
    /// use nn_core::{Activation, Gradients, Loss, Matrix, NetworkBuilder, Reduction, Workspace};
    /// use rand::SeedableRng;
    /// let net = NetworkBuilder::new(3).dense(5, Activation::Tanh).dense(2, Activation::Softmax)
    ///     .build::<f32, _>(&mut rand::rngs::StdRng::seed_from_u64(4)).unwrap();
    /// let x = Matrix::from_fn(7, 3, |i, j| ((i * 3 + j) % 5) as f32 / 3.0);
    /// let t = Matrix::from_fn(7, 2, |i, j| ((i + j) % 2) as f32);
    /// let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    /// let (mut ws, mut g) = (Workspace::new(&net, 7), Gradients::zeros_like(&net));
    /// // shards of 4 and 3 rows, one after the other, the second added in place …
    /// let e0 = net.loss_and_gradients(x.rows_range(0, 4), t.rows_range(0, 4), &loss, 7, &mut ws, &mut g).unwrap();
    /// let e1 = net.add_loss_and_gradients(x.rows_range(4, 7), t.rows_range(4, 7), &loss, 7, &mut ws, &mut g).unwrap();
    /// // … or both at once
    /// let mut pair = Gradients::zeros_like(&net);
    /// let (p0, p1) = net.loss_and_gradients_of_pair(x.view(), t.view(), 4, &loss, 7, &mut ws, &mut pair).unwrap();
    /// assert_eq!((p0, p1), (e0, e1));
    /// assert_eq!(pair, g);
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn loss_and_gradients_of_pair<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        split: usize,
        objective: &O,
        divisor: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
    ) -> Result<(T, T), ShapeError> {
        self.drive_pair(x, t, split, objective, divisor, ws, grads, GradMode::Write)
    }

    /// As [`Network::loss_and_gradients_of_pair`], but, as
    /// [`Network::loss_and_gradients_but_first_weights`] does, leaves
    /// ∂E/∂W⁰ unwritten, with δ⁰ of both shards' rows in `ws`: the caller
    /// forms X₀ᵀδ₀⁰ + X₁ᵀδ₁⁰ later, in row blocks, where it is used (a
    /// data-parallel trainer does so on the thread that updates those rows
    /// of W⁰). Every other gradient has the bits
    /// `loss_and_gradients_of_pair` writes.
    ///
    /// ```
    /// use nn_core::{Activation, Gradients, Loss, Matrix, NetworkBuilder, Reduction, Workspace};
    /// use rand::SeedableRng;
    /// let net = NetworkBuilder::new(3).dense(5, Activation::Relu).dense(2, Activation::Softmax)
    ///     .build::<f32, _>(&mut rand::rngs::StdRng::seed_from_u64(5)).unwrap();
    /// let x = Matrix::from_fn(6, 3, |i, j| ((i * 3 + j) % 5) as f32 / 3.0);
    /// let t = Matrix::from_fn(6, 2, |i, j| ((i + j) % 2) as f32);
    /// let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    /// let mut ws = Workspace::new(&net, 6);
    /// let mut whole = Gradients::zeros_like(&net);
    /// let e = net.loss_and_gradients_of_pair(x.view(), t.view(), 2, &loss, 6, &mut ws, &mut whole).unwrap();
    /// let mut rest = Gradients::zeros_like(&net);
    /// let e_rest = net.loss_and_gradients_of_pair_but_first_weights(x.view(), t.view(), 2, &loss, 6, &mut ws, &mut rest).unwrap();
    /// assert_eq!(e_rest, e);
    /// assert_eq!(rest.layers[1], whole.layers[1]);
    /// assert_eq!(rest.layers[0].bias, whole.layers[0].bias);
    /// assert!(rest.layers[0].weights.as_slice().iter().all(|&g| g == 0.0));
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn loss_and_gradients_of_pair_but_first_weights<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        split: usize,
        objective: &O,
        divisor: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
    ) -> Result<(T, T), ShapeError> {
        self.drive_pair(x, t, split, objective, divisor, ws, grads, GradMode::WriteAllButFirstWeights)
    }

    /// The driver of the pair forms: forward pass of both shards' rows, each
    /// shard's E and δᴸ, backward pass taking the sums over rows shard by shard.
    #[allow(clippy::too_many_arguments)]
    fn drive_pair<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        split: usize,
        objective: &O,
        divisor: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
        mode: GradMode,
    ) -> Result<(T, T), ShapeError> {
        let what = "Network::loss_and_gradients_of_pair";
        if !objective.splits_rows() {
            return Err(ShapeError::new(
                what,
                "an objective that splits rows (Objective::splits_rows)",
                "one that does not",
            ));
        }
        let n = x.rows();
        if split > n || t.rows() != n {
            return Err(ShapeError::new(
                what,
                format!("a split at most {n} and {n} target rows"),
                format!("split {split}, {} target rows", t.rows()),
            ));
        }
        self.forward(x, ws)?;
        let e0 = objective.output_delta_of_rows(self, t.rows_range(0, split), ws, 0..split, divisor)?;
        let e1 = objective.output_delta_of_rows(self, t.rows_range(split, n), ws, split..n, divisor)?;
        self.backward_into(x, ws, grads, mode, split)?;
        Ok((e0, e1))
    }

    /// Forward pass, δᴸ and E, backward pass writing (or adding) the gradients.
    #[allow(clippy::too_many_arguments)]
    fn drive<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        objective: &O,
        divisor: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
        mode: GradMode,
    ) -> Result<T, ShapeError> {
        self.forward(x, ws)?;
        let e = objective.output_delta(self, t, ws, divisor)?;
        self.backward_into(x, ws, grads, mode, x.rows())?;
        Ok(e)
    }

    /// E and ∂E/∂θ of the whole batch (`x`, `t`), in new buffers: the simple
    /// form of [`Network::loss_and_gradients`] (which reuses its buffers).
    ///
    /// ```
    /// use nn_core::{Activation, Dense, Loss, Matrix, Network, Reduction};
    /// let layer = Dense::new(Matrix::filled(2, 1, 0.5f64), Matrix::zeros(1, 1), Activation::Identity).unwrap();
    /// let net = Network::new(vec![layer]).unwrap();
    /// let x = Matrix::from_vec(1, 2, vec![1.0, 3.0]).unwrap();
    /// let t = Matrix::from_vec(1, 1, vec![1.0]).unwrap();
    /// // ŷ = 2, E = (2 − 1)² = 1, δ = 2(ŷ − t) = 2, ∂E/∂W = xᵀδ
    /// let (e, grads) = net.gradients(x.view(), t.view(), &Loss::Mse(Reduction::Mean)).unwrap();
    /// assert_eq!(e, 1.0);
    /// assert_eq!(grads.layers[0].weights.as_slice(), &[2.0, 6.0]);
    /// ```
    pub fn gradients<O: Objective<T> + ?Sized>(
        &self,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        objective: &O,
    ) -> Result<(T, Gradients<T>), ShapeError> {
        let mut ws = Workspace::new(self, x.rows());
        let mut grads = Gradients::zeros_like(self);
        let e = self.loss_and_gradients(x, t, objective, x.rows().max(1), &mut ws, &mut grads)?;
        Ok((e, grads))
    }

    /// Hᴸ for the rows of `x`, as a new matrix (allocates; for evaluation).
    pub fn predict(&self, x: MatRef<'_, T>) -> Result<Matrix<T>, ShapeError> {
        let mut ws = Workspace::new(self, x.rows());
        self.forward(x, &mut ws)?;
        Ok(ws.output().to_matrix())
    }
}

/// What a backward pass does with the gradients it computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GradMode {
    /// Overwrites every gradient.
    Write,
    /// Adds every gradient to what the buffers hold.
    Add,
    /// Overwrites every gradient but ∂E/∂W⁰, which it does not compute.
    WriteAllButFirstWeights,
}

/// Buffers for one forward and backward pass: Uˡ, Hˡ and δˡ for every layer
/// (and ∂E/∂X if asked), sized for up to `max_rows` samples.
#[derive(Clone, Debug)]
pub struct Workspace<T> {
    u: Vec<Matrix<T>>,
    h: Vec<Matrix<T>>,
    delta: Vec<Matrix<T>>,
    input_grad: Option<Matrix<T>>,
    rows: usize,
}

impl<T: Float> Workspace<T> {
    /// Buffers for `net` and batches of up to `max_rows` rows (larger
    /// batches still work: the buffers grow once).
    pub fn new(net: &Network<T>, max_rows: usize) -> Self {
        let buf = |w: usize| {
            let mut m = Matrix::zeros(max_rows, w);
            m.set_rows(0);
            m
        };
        let widths: Vec<usize> = net.layers.iter().map(Dense::outputs).collect();
        Workspace {
            u: widths.iter().map(|&w| buf(w)).collect(),
            h: widths.iter().map(|&w| buf(w)).collect(),
            delta: widths.iter().map(|&w| buf(w)).collect(),
            input_grad: None,
            rows: 0,
        }
    }

    /// Also compute ∂E/∂X in [`Network::backward`].
    pub fn with_input_gradient(mut self) -> Self {
        self.input_grad = Some(Matrix::zeros(0, 0));
        self
    }

    fn prepare(&mut self, net: &Network<T>, rows: usize) -> Result<(), ShapeError> {
        let fits = self.u.len() == net.layers.len()
            && net.layers.iter().zip(&self.u).all(|(layer, u)| layer.outputs() == u.cols());
        if !fits {
            return Err(ShapeError::new(
                "Workspace",
                format!("buffers for layer widths {:?}", &net.widths()[1..]),
                format!("buffers for widths {:?}", self.u.iter().map(Matrix::cols).collect::<Vec<_>>()),
            ));
        }
        for m in self.u.iter_mut().chain(&mut self.h).chain(&mut self.delta) {
            m.set_rows(rows);
        }
        if let Some(g) = &mut self.input_grad {
            if g.cols() != net.inputs() {
                *g = Matrix::zeros(rows, net.inputs());
            }
            g.set_rows(rows);
        }
        self.rows = rows;
        Ok(())
    }

    /// Number of rows of the last forward pass.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of layers the workspace serves.
    pub fn layers(&self) -> usize {
        self.u.len()
    }

    /// Uˡ of the last forward pass (l counts from 0).
    pub fn pre_activation(&self, l: usize) -> MatRef<'_, T> {
        self.u[l].view()
    }

    /// Hˡ of the last forward pass (l counts from 0).
    pub fn activation(&self, l: usize) -> MatRef<'_, T> {
        self.h[l].view()
    }

    /// Hᴸ, the network's output.
    pub fn output(&self) -> MatRef<'_, T> {
        self.h[self.h.len() - 1].view()
    }

    /// δᴸ = ∂E/∂Uᴸ, to be written by a loss or by the caller before [`Network::backward`].
    pub fn output_delta_mut(&mut self) -> MatMut<'_, T> {
        let last = self.delta.len() - 1;
        self.delta[last].view_mut()
    }

    /// Uᴸ, Hᴸ and δᴸ at once (read, read, write), for a caller computing its own output delta.
    pub fn output_parts(&mut self) -> (MatRef<'_, T>, MatRef<'_, T>, MatMut<'_, T>) {
        let last = self.delta.len() - 1;
        (self.u[last].view(), self.h[last].view(), self.delta[last].view_mut())
    }

    /// δˡ of the last backward pass (l counts from 0).
    pub fn delta(&self, l: usize) -> MatRef<'_, T> {
        self.delta[l].view()
    }

    /// ∂E/∂X of the last backward pass, if the workspace computes it.
    pub fn input_gradient(&self) -> Option<MatRef<'_, T>> {
        self.input_grad.as_ref().map(Matrix::view)
    }
}

/// ∂E/∂W and ∂E/∂b of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseGradients<T> {
    /// ∂E/∂Wˡ, shape of Wˡ.
    pub weights: Matrix<T>,
    /// ∂E/∂bˡ, shape of bˡ.
    pub bias: Matrix<T>,
}

/// Gradients of every layer's parameters, shaped like a network.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<T> {
    /// One entry per layer, first to last.
    pub layers: Vec<DenseGradients<T>>,
}

impl<T: Float> Gradients<T> {
    /// Zero gradients shaped like `net`'s parameters.
    pub fn zeros_like(net: &Network<T>) -> Self {
        Gradients {
            layers: net
                .layers
                .iter()
                .map(|l| DenseGradients {
                    weights: Matrix::zeros(l.inputs(), l.outputs()),
                    bias: Matrix::zeros(1, l.outputs()),
                })
                .collect(),
        }
    }

    /// Checks that these gradients are shaped like `net`'s parameters (the
    /// one such check: backward and every optimizer call it).
    pub(crate) fn check(&self, net: &Network<T>) -> Result<(), ShapeError> {
        let ok = self.layers.len() == net.layers.len()
            && self
                .layers
                .iter()
                .zip(&net.layers)
                .all(|(g, l)| g.weights.shape() == l.weights().shape() && g.bias.shape() == l.bias().shape());
        if ok {
            Ok(())
        } else {
            Err(ShapeError::new(
                "Gradients",
                format!("gradients shaped like a network of widths {:?}", net.widths()),
                format!("{} layers of other shapes", self.layers.len()),
            ))
        }
    }

    /// Every parameter gradient as a slice, weights then bias, layer by layer.
    pub fn slices(&self) -> impl Iterator<Item = &[T]> {
        self.layers.iter().flat_map(|g| [g.weights.as_slice(), g.bias.as_slice()])
    }

    fn slices_mut(&mut self) -> impl Iterator<Item = &mut [T]> {
        self.layers.iter_mut().flat_map(|g| [g.weights.as_mut_slice(), g.bias.as_mut_slice()])
    }

    /// self += other (element-wise; shapes must match, as for gradients of one network).
    pub fn add_assign(&mut self, other: &Self) {
        assert_eq!(self.layers.len(), other.layers.len(), "Gradients::add_assign: different networks");
        for (a, b) in self.slices_mut().zip(other.slices()) {
            assert_eq!(a.len(), b.len(), "Gradients::add_assign: different shapes");
            a.iter_mut().zip(b).for_each(|(x, &y)| *x += y);
        }
    }

    /// self ← s · self.
    pub fn scale(&mut self, s: T) {
        self.slices_mut().for_each(|a| a.iter_mut().for_each(|x| *x *= s));
    }

    /// True if no gradient is NaN or infinite.
    pub fn all_finite(&self) -> bool {
        self.slices().all(|s| s.iter().all(|x| x.is_finite()))
    }
}
