//! The MNIST tutorial's network class, in f64, operation for operation:
//! Jihwan Jeong, "Build a Neural Network from Scratch Using Numpy"
//! (<https://jihwan-jeong.github.io/machine%20learning/backpropagation/>).
//!
//! A network is a list of layers: fully connected Uˡ = Hˡ⁻¹Wˡ + 1bˡ, or an
//! activation Hˡ = φ(Uˡ). Each layer's backward pass, from the last layer
//! down, receives δ and updates itself at once:
//!
//! - fully connected: δ_out = δ Wᵀ (with the old W), W ← W − η Hᵀδ, b ← b − η 1ᵀδ;
//! - activation: δ_out = φ′(U) ⊙ δ.
//!
//! Weights and biases are drawn `randn(m_in, m_out)` then `randn(1, m_out)`,
//! layer after layer. `fit` draws one `permutation` of its index list per
//! epoch and re-indexes the already shuffled data with it, so the order
//! compounds ([`Compounding`]); the epoch's loss is Σ over mini-batches of E(batch)/N.

use nn_core::{Matrix, RandomState};

use super::ops::{
    argmax_rows, column_sums, matmul, matmul_nt, matmul_tn, matrix, pairwise_sum, sgd_step, sigmoid_stable,
    softmax_rows, take_rows,
};

/// An element-wise activation of the tutorial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phi {
    /// max(u, 0), φ′ = `[u > 0]`.
    Relu,
    /// σ(u) (the tutorial's stable form), φ′ = σ(u)(1 − σ(u)).
    Sigmoid,
}

impl Phi {
    fn value(self, u: f64) -> f64 {
        match self {
            Phi::Relu => u.max(0.0),
            Phi::Sigmoid => sigmoid_stable(u),
        }
    }

    fn derivative(self, u: f64) -> f64 {
        match self {
            Phi::Relu => f64::from(u8::from(u > 0.0)),
            Phi::Sigmoid => {
                let s = sigmoid_stable(u);
                s * (1.0 - s)
            }
        }
    }
}

/// One layer, with what its forward pass kept for the backward one.
#[derive(Clone, Debug)]
pub enum Layer {
    /// Weights W (m_in × m_out), bias b (1 × m_out), and the last input H.
    Dense { w: Matrix<f64>, b: Vec<f64>, input: Option<Matrix<f64>> },
    /// φ and the last input U.
    Activation { phi: Phi, input: Option<Matrix<f64>> },
}

/// The tutorial's two losses, summed over the mini-batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JeongLoss {
    /// E = Σ(ŷ − t)²/2, δ = (ŷ − t)/B.
    Mse,
    /// Softmax then E = −Σ t ln(p + 10⁻¹⁵), δ = p − t.
    CrossEntropy,
}

impl JeongLoss {
    /// E of a mini-batch (numpy's pairwise sums).
    pub fn loss(self, pred: &Matrix<f64>, target: &Matrix<f64>) -> f64 {
        match self {
            JeongLoss::Mse => {
                let sq: Vec<f64> =
                    pred.as_slice().iter().zip(target.as_slice()).map(|(y, t)| (y - t) * (y - t)).collect();
                pairwise_sum(&sq) / 2.0
            }
            JeongLoss::CrossEntropy => {
                // −trace(t · ln(p + 1e-15)ᵀ): the one-hot row picks one logarithm per sample.
                let p = softmax_rows(pred);
                let diag: Vec<f64> = (0..p.rows())
                    .map(|i| p.row(i).iter().zip(target.row(i)).fold(0.0, |s, (p, t)| s + t * (p + 1e-15).ln()))
                    .collect();
                -pairwise_sum(&diag)
            }
        }
    }

    /// δᴸ = ∂E/∂U of the output layer.
    pub fn delta(self, pred: &Matrix<f64>, target: &Matrix<f64>) -> Matrix<f64> {
        let n = pred.rows() as f64;
        let d = match self {
            JeongLoss::Mse => pred.as_slice().iter().zip(target.as_slice()).map(|(y, t)| (y - t) / n).collect(),
            JeongLoss::CrossEntropy => {
                softmax_rows(pred).as_slice().iter().zip(target.as_slice()).map(|(p, t)| p - t).collect()
            }
        };
        matrix(pred.rows(), pred.cols(), d)
    }
}

/// The tutorial's `NeuralNetwork`: layers, a loss, and the loss of every epoch.
#[derive(Clone, Debug)]
pub struct JeongNet {
    /// The layers in forward order.
    pub layers: Vec<Layer>,
    /// The loss trained on.
    pub loss: JeongLoss,
    /// Σ E(batch)/N of every epoch (`loss_hist`).
    pub loss_hist: Vec<f64>,
}

/// The order of the training rows in the tutorial's `fit`, which keeps two arrays:
/// `inds ← permutation(inds)` (a shuffle of the previous *values*) and
/// `x_train ← x_train[inds]` (the already shuffled rows re-indexed by them). In
/// terms of the original rows, `order_e[i] = order_{e−1}[inds_e[i]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compounding {
    inds: Vec<usize>,
    order: Vec<usize>,
}

impl Compounding {
    /// Before the first epoch: `inds = list(range(n))`, rows in file order.
    pub fn new(n: usize) -> Self {
        Compounding { inds: (0..n).collect(), order: (0..n).collect() }
    }

    /// Draws the next epoch's permutation and returns the rows (original indices) in epoch order.
    pub fn next(&mut self, rs: &mut RandomState) -> &[usize] {
        let p = rs.permutation(self.inds.len());
        self.inds = p.iter().map(|&i| self.inds[i]).collect();
        self.order = self.inds.iter().map(|&i| self.order[i]).collect();
        &self.order
    }
}

/// One fully connected layer `(m_in, m_out)` and the activation after it, if any.
pub type LayerSpec = (usize, usize, Option<Phi>);
/// The layers of a network, in forward order.
pub type Spec<'a> = &'a [LayerSpec];

impl JeongNet {
    /// Draws the layers from `rs` as the tutorial's `FCLayer` does: W = randn(m_in, m_out), then b = randn(1, m_out).
    pub fn new(spec: Spec, loss: JeongLoss, rs: &mut RandomState) -> Self {
        let mut layers = Vec::new();
        for &(m_in, m_out, phi) in spec {
            let w = matrix(m_in, m_out, rs.randn_vec(m_in * m_out));
            let b = rs.randn_vec(m_out);
            layers.push(Layer::Dense { w, b, input: None });
            if let Some(phi) = phi {
                layers.push(Layer::Activation { phi, input: None });
            }
        }
        JeongNet { layers, loss, loss_hist: Vec::new() }
    }

    /// The output for `x` (keeps every layer's input for a backward pass).
    pub fn predict(&mut self, x: &Matrix<f64>) -> Matrix<f64> {
        let mut out = x.clone();
        for layer in &mut self.layers {
            out = match layer {
                Layer::Dense { w, b, input } => {
                    let mut u = matmul(&out, w);
                    for i in 0..u.rows() {
                        u.row_mut(i).iter_mut().zip(b.iter()).for_each(|(u, b)| *u += b);
                    }
                    *input = Some(out);
                    u
                }
                Layer::Activation { phi, input } => {
                    let h = matrix(out.rows(), out.cols(), out.as_slice().iter().map(|&u| phi.value(u)).collect());
                    *input = Some(out);
                    h
                }
            };
        }
        out
    }

    /// The backward pass from δᴸ, each layer updating itself with rate `lr`.
    fn backward(&mut self, mut delta: Matrix<f64>, lr: f64) {
        for (l, layer) in self.layers.iter_mut().enumerate().rev() {
            match layer {
                Layer::Dense { w, b, input } => {
                    let h = input.as_ref().expect("forward before backward");
                    // The first layer's δ_out is computed by the tutorial but used by nothing.
                    let next = if l > 0 { Some(matmul_nt(&delta, w)) } else { None };
                    let dw = matmul_tn(h, &delta);
                    let db = column_sums(&delta);
                    sgd_step(w, lr, dw.as_slice());
                    b.iter_mut().zip(&db).for_each(|(b, g)| *b -= lr * g);
                    if let Some(next) = next {
                        delta = next;
                    }
                }
                Layer::Activation { phi, input } => {
                    let u = input.as_ref().expect("forward before backward");
                    let d = u.as_slice().iter().zip(delta.as_slice()).map(|(&u, d)| phi.derivative(u) * d).collect();
                    delta = matrix(delta.rows(), delta.cols(), d);
                }
            }
        }
    }

    /// One epoch of the tutorial's `fit`: the next [`Compounding`] order, then mini-batches
    /// of `batch` rows in that order; pushes Σ E(batch)/N onto `loss_hist` and returns it.
    /// `after_step` sees the network after every update.
    #[allow(clippy::too_many_arguments)]
    pub fn epoch(
        &mut self,
        x: &Matrix<f64>,
        t: &Matrix<f64>,
        shuffle: &mut Compounding,
        lr: f64,
        batch: usize,
        rs: &mut RandomState,
        after_step: &mut dyn FnMut(&JeongNet),
    ) -> f64 {
        let order = shuffle.next(rs);
        let n = order.len();
        let mut loss = 0.0;
        for start in (0..n).step_by(batch) {
            let rows = &order[start..(start + batch).min(n)];
            let xb = take_rows(x, rows);
            let tb = take_rows(t, rows);
            let pred = self.predict(&xb);
            loss += self.loss.loss(&pred, &tb) / n as f64;
            let delta = self.loss.delta(&pred, &tb);
            self.backward(delta, lr);
            after_step(self);
        }
        self.loss_hist.push(loss);
        loss
    }

    /// The tutorial's `test`: mean of [argmax softmax(ŷ) = argmax t] over the rows.
    pub fn accuracy(&mut self, x: &Matrix<f64>, t: &Matrix<f64>) -> f64 {
        let pred = argmax_rows(&softmax_rows(&self.predict(x)));
        let truth = argmax_rows(t);
        pred.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
    }

    /// Every weight and bias, layer by layer (W row-major, then b): for step-by-step comparisons.
    pub fn parameters(&self) -> Vec<f64> {
        self.layers
            .iter()
            .flat_map(|l| match l {
                Layer::Dense { w, b, .. } => w.as_slice().iter().chain(b.iter()).copied().collect(),
                Layer::Activation { .. } => Vec::new(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_compounds_as_the_tutorial_reindexes() {
        // by hand: x1 = x0[inds1], inds2 = inds1[p2], x2 = x1[inds2]
        let mut rs = RandomState::new(1);
        let p1 = rs.permutation(6);
        let p2 = rs.permutation(6);
        let inds2: Vec<usize> = p2.iter().map(|&i| p1[i]).collect();
        let x2: Vec<usize> = inds2.iter().map(|&i| p1[i]).collect();
        let mut c = Compounding::new(6);
        let mut rs = RandomState::new(1);
        assert_eq!(c.next(&mut rs), p1.as_slice());
        assert_eq!(c.next(&mut rs), x2.as_slice());
    }
}
