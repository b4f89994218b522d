//! The first tutorial's `NN` class, in f64, operation for operation
//! ("Yet another explanation of backprop", the notebook behind `boston` and `digits`).
//!
//! Layers l = 1 … L−1 with Wˡ = randn(mˡ, mˡ⁺¹)/√mˡ and bˡ = 0:
//!
//! - forward: zˡ⁺¹ = aˡWˡ + bˡ, aˡ⁺¹ = g(zˡ⁺¹);
//! - output δ = 2(ŷ − y) ⊙ g′(ŷ) — the derivative taken *at the output ŷ*
//!   (for a sigmoid that is σ′(σ(z)), the tutorial's slip, kept here);
//! - hidden δ = (δ Wᵀ) ⊙ g′(z) with the weights of before the step;
//! - ∂W = aᵀδ (summed over the batch), ∂b = mean over the batch of δ;
//!   W ← W − η∂W, b ← b − η∂b, output layer first.
//!
//! Each epoch shuffles `arange(n)` with `np.random.shuffle` and runs ⌊n/B⌋
//! mini-batches (the last partial one is dropped).

use nn_core::{Matrix, RandomState};

use super::ops::{argmax_rows, column_sums, matmul, matmul_nt, matmul_tn, matrix, pairwise_sum, sgd_step, take_rows};

/// The tutorial's activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum G {
    /// max(z, 0); g′ = `[z > 0]`.
    Relu,
    /// 1/(1 + e^(−z)); g′(v) = σ(v)(1 − σ(v)).
    Sigmoid,
    /// z; g′ = 1.
    Identity,
}

impl G {
    fn value(self, z: f64) -> f64 {
        match self {
            G::Relu => {
                if z < 0.0 {
                    0.0
                } else {
                    z
                }
            }
            G::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            G::Identity => z,
        }
    }

    fn derivative(self, v: f64) -> f64 {
        match self {
            G::Relu => f64::from(u8::from(v > 0.0)),
            G::Sigmoid => {
                let s = G::Sigmoid.value(v);
                s * (1.0 - s)
            }
            G::Identity => 1.0,
        }
    }
}

/// The tutorial's `NN` with MSE loss and plain SGD.
#[derive(Clone, Debug)]
pub struct FirstNet {
    /// Wˡ, mˡ × mˡ⁺¹.
    pub w: Vec<Matrix<f64>>,
    /// bˡ.
    pub b: Vec<Vec<f64>>,
    /// g of each layer's output.
    pub g: Vec<G>,
    /// η.
    pub lr: f64,
}

impl FirstNet {
    /// Draws Wˡ = randn(mˡ, mˡ⁺¹)/√mˡ layer after layer; biases zero.
    pub fn new(dims: &[usize], g: &[G], lr: f64, rs: &mut RandomState) -> Self {
        let (mut w, mut b) = (Vec::new(), Vec::new());
        for pair in dims.windows(2) {
            let (m, k) = (pair[0], pair[1]);
            let sqrt = (m as f64).sqrt();
            w.push(matrix(m, k, rs.randn_vec(m * k).into_iter().map(|z| z / sqrt).collect()));
            b.push(vec![0.0; k]);
        }
        FirstNet { w, b, g: g.to_vec(), lr }
    }

    /// Pre-activations z and activations a of every layer (a[0] = x).
    fn feed_forward(&self, x: &Matrix<f64>) -> (Vec<Matrix<f64>>, Vec<Matrix<f64>>) {
        let (mut z, mut a) = (Vec::new(), vec![x.clone()]);
        for ((w, b), g) in self.w.iter().zip(&self.b).zip(&self.g) {
            let mut zl = matmul(a.last().expect("input"), w);
            for i in 0..zl.rows() {
                zl.row_mut(i).iter_mut().zip(b).for_each(|(z, b)| *z += b);
            }
            let al = matrix(zl.rows(), zl.cols(), zl.as_slice().iter().map(|&v| g.value(v)).collect());
            z.push(zl);
            a.push(al);
        }
        (z, a)
    }

    /// The network's output for `x`.
    pub fn predict(&self, x: &Matrix<f64>) -> Matrix<f64> {
        self.feed_forward(x).1.pop().expect("output")
    }

    /// One forward pass, backpropagation and update on a mini-batch.
    pub fn step(&mut self, x: &Matrix<f64>, y: &Matrix<f64>) {
        let (z, a) = self.feed_forward(x);
        let layers = self.w.len();
        let out = &a[layers];
        let g_out = self.g[layers - 1];
        let d = out.as_slice().iter().zip(y.as_slice()).map(|(p, t)| 2.0 * (p - t) * g_out.derivative(*p)).collect();
        let mut delta = matrix(out.rows(), out.cols(), d);
        let mut updates = Vec::with_capacity(layers);
        for l in (0..layers).rev() {
            if l + 1 < layers {
                let back = matmul_nt(&delta, &self.w[l + 1]);
                // ReLU's z was overwritten by a in place: g′ of either is the same mask.
                let g = self.g[l];
                let d = back.as_slice().iter().zip(z[l].as_slice()).map(|(v, &z)| v * g.derivative(z)).collect();
                delta = matrix(back.rows(), back.cols(), d);
            }
            updates.push((l, matmul_tn(&a[l], &delta), delta.clone()));
        }
        let n = x.rows() as f64;
        for (l, dw, delta) in updates {
            sgd_step(&mut self.w[l], self.lr, dw.as_slice());
            let db: Vec<f64> = column_sums(&delta).into_iter().map(|s| s / n).collect();
            self.b[l].iter_mut().zip(&db).for_each(|(b, g)| *b -= self.lr * g);
        }
    }

    /// One epoch: shuffle `arange(n)` with `rs`, then ⌊n/B⌋ steps; `after_step` sees
    /// the network after every update.
    pub fn epoch(
        &mut self,
        x: &Matrix<f64>,
        y: &Matrix<f64>,
        batch: usize,
        rs: &mut RandomState,
        after_step: &mut dyn FnMut(&FirstNet),
    ) {
        let mut idx: Vec<usize> = (0..x.rows()).collect();
        rs.shuffle(&mut idx);
        for j in 0..x.rows() / batch {
            let rows = &idx[j * batch..(j + 1) * batch];
            self.step(&take_rows(x, rows), &take_rows(y, rows));
            after_step(self);
        }
    }

    /// Every weight and bias, layer by layer (W row-major, then b).
    pub fn parameters(&self) -> Vec<f64> {
        self.w.iter().zip(&self.b).flat_map(|(w, b)| w.as_slice().iter().chain(b).copied()).collect()
    }
}

/// `np.mean((ŷ − y)²)` over every element (numpy's pairwise sum).
pub fn mse(pred: &Matrix<f64>, y: &Matrix<f64>) -> f64 {
    let sq: Vec<f64> = pred.as_slice().iter().zip(y.as_slice()).map(|(p, t)| (p - t) * (p - t)).collect();
    pairwise_sum(&sq) / sq.len() as f64
}

/// `metrics.mean_absolute_error(y, ŷ)`: mean |ŷ − y|.
pub fn mae(pred: &Matrix<f64>, y: &Matrix<f64>) -> f64 {
    let abs: Vec<f64> = pred.as_slice().iter().zip(y.as_slice()).map(|(p, t)| (p - t).abs()).collect();
    pairwise_sum(&abs) / abs.len() as f64
}

/// `metrics.classification_report(truth, predicted)` as scikit-learn prints it
/// (two decimals; precision tp/(tp+fp), recall tp/(tp+fn), F1 = 2tp/(2tp+fp+fn)),
/// and the number of correct predictions.
pub fn classification_report(truth: &[usize], predicted: &[usize], classes: usize) -> (String, usize) {
    let mut tp = vec![0usize; classes];
    let mut support = vec![0usize; classes];
    let mut called = vec![0usize; classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        support[t] += 1;
        called[p] += 1;
        tp[t] += usize::from(t == p);
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let rows: Vec<[f64; 3]> = (0..classes)
        .map(|c| [ratio(tp[c], called[c]), ratio(tp[c], support[c]), ratio(2 * tp[c], support[c] + called[c])])
        .collect();
    let n: usize = support.iter().sum();
    let correct: usize = tp.iter().sum();
    let width = "weighted avg".len();
    let mut s = format!("{:>width$} {:>10}{:>10}{:>10}{:>10}\n\n", "", "precision", "recall", "f1-score", "support");
    for (c, r) in rows.iter().enumerate() {
        s += &format!("{c:>width$}  {:>9.2} {:>9.2} {:>9.2} {:>9}\n", r[0], r[1], r[2], support[c]);
    }
    s += &format!("\n{:>width$}  {:>9} {:>9} {:>9.2} {:>9}\n", "accuracy", "", "", ratio(correct, n), n);
    let col = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
    let macro_avg = |k: usize| pairwise_sum(&col(k)) / classes as f64;
    let weighted = |k: usize| {
        let wv: Vec<f64> = col(k).iter().zip(&support).map(|(v, &s)| v * s as f64).collect();
        pairwise_sum(&wv) / n as f64
    };
    s += &format!(
        "{:>width$}  {:>9.2} {:>9.2} {:>9.2} {:>9}\n",
        "macro avg",
        macro_avg(0),
        macro_avg(1),
        macro_avg(2),
        n
    );
    s += &format!(
        "{:>width$}  {:>9.2} {:>9.2} {:>9.2} {:>9}\n",
        "weighted avg",
        weighted(0),
        weighted(1),
        weighted(2),
        n
    );
    (s, correct)
}

/// Predicted and true classes: argmax of each row.
pub fn classes(pred: &Matrix<f64>, y: &Matrix<f64>) -> (Vec<usize>, Vec<usize>) {
    (argmax_rows(y), argmax_rows(pred))
}
