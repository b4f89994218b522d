//! Shared pieces of the benchmarks.
//!
//! [`PlainMlp`] is the training yardstick: the mnist experiment's model
//! (784-64-10, ReLU, softmax + cross-entropy summed, SGD) written as a plain
//! single-threaded loop over `matrixmultiply::sgemm`, the way a careful Rust
//! programmer would write it without this project. Benchmarks time our
//! trainer against it in the same run, so every ratio is taken on the same
//! machine under the same conditions.
//!
//! The shapes and batch sizes the benches time are listed in [`shapes`]
//! ([`GEMM_SHAPES`], [`STEP_BATCHES`], [`EPOCH_BATCHES`]): `cargo xtask
//! bench-report` compiles the same file and reads criterion's results back
//! by the same names, so the two cannot drift apart.

// The only unsafe code here is the `matrixmultiply` yardstick wrapper
// (`sgemm`) and the FMA peak probe's intrinsics (`peak::x86`), each allowed
// by name; everything else may not use it.
#![deny(unsafe_code)]

pub mod peak;
pub mod shapes;
pub use shapes::{GemmShape, EPOCH_BATCHES, GEMM_SHAPES, STEP_BATCHES};

/// C (m × n) ← α·A·B + β·C through `matrixmultiply::sgemm`, with explicit
/// (row, column) strides so a transpose is a stride swap.
#[allow(clippy::too_many_arguments)]
#[allow(unsafe_code)]
fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // Dense storage only: row-major (k, 1) / (n, 1) or column-major (1, m) / (1, k).
    assert!(matches!((rsa, csa), (r, 1) if r == k) || matches!((rsa, csa), (1, c) if c == m), "A strides");
    assert!(matches!((rsb, csb), (r, 1) if r == n) || matches!((rsb, csb), (1, c) if c == k), "B strides");
    // SAFETY: the asserts above bound every index the strides can reach:
    // A is m × k, B is k × n and C is m × n, each stored densely with the
    // strides checked above.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Softmax of one row, in place, shifted by the row's maximum for stability.
fn softmax(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    row.iter_mut().for_each(|v| {
        *v = (*v - max).exp();
        sum += *v;
    });
    row.iter_mut().for_each(|v| *v /= sum);
}

/// The yardstick MLP: 784-64-10 (or any n_in-n_hidden-n_out), ReLU hidden
/// layer, softmax output with summed cross-entropy (δ = softmax − t), plain SGD.
pub struct PlainMlp {
    n_in: usize,
    n_hidden: usize,
    n_out: usize,
    lr: f32,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
    h1: Vec<f32>,
    out: Vec<f32>,
    d1: Vec<f32>,
    gw1: Vec<f32>,
    gw2: Vec<f32>,
}

impl PlainMlp {
    /// A network with small deterministic weights (their values do not
    /// change the work done per step).
    pub fn new(n_in: usize, n_hidden: usize, n_out: usize, lr: f32, batch: usize) -> Self {
        let w = |n: usize, s: f32| (0..n).map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * s).collect::<Vec<_>>();
        PlainMlp {
            n_in,
            n_hidden,
            n_out,
            lr,
            w1: w(n_in * n_hidden, 0.1),
            b1: vec![0.0; n_hidden],
            w2: w(n_hidden * n_out, 0.3),
            b2: vec![0.0; n_out],
            h1: vec![0.0; batch * n_hidden],
            out: vec![0.0; batch * n_out],
            d1: vec![0.0; batch * n_hidden],
            gw1: vec![0.0; n_in * n_hidden],
            gw2: vec![0.0; n_hidden * n_out],
        }
    }

    /// Forward pass of the first `n` rows of `x` (at most the batch the
    /// buffers were made for) into the buffers: U¹ = X W¹ + b¹, H¹ = relu(U¹),
    /// and the logits U² = H¹ W² + b² in `out`.
    fn forward(&mut self, x: &[f32], n: usize) {
        let (ni, nh, no) = (self.n_in, self.n_hidden, self.n_out);
        let (h1, out) = (&mut self.h1[..n * nh], &mut self.out[..n * no]);
        for r in 0..n {
            h1[r * nh..(r + 1) * nh].copy_from_slice(&self.b1);
            out[r * no..(r + 1) * no].copy_from_slice(&self.b2);
        }
        sgemm(n, ni, nh, x, (ni, 1), &self.w1, (nh, 1), 1.0, h1);
        h1.iter_mut().for_each(|v| *v = v.max(0.0));
        sgemm(n, nh, no, h1, (nh, 1), &self.w2, (no, 1), 1.0, out);
    }

    /// One SGD step on a batch: `x` is rows × n_in, `labels` has one class per row.
    /// Returns the summed cross-entropy of the batch.
    pub fn step(&mut self, x: &[f32], labels: &[u8]) -> f32 {
        let (ni, nh, no) = (self.n_in, self.n_hidden, self.n_out);
        let n = labels.len();
        self.forward(x, n);
        let (h1, out, d1) = (&self.h1[..n * nh], &mut self.out[..n * no], &mut self.d1[..n * nh]);
        // softmax + cross-entropy: δ² = softmax − t
        let mut loss = 0.0;
        for (r, row) in out.chunks_exact_mut(no).enumerate() {
            softmax(row);
            let c = labels[r] as usize;
            loss -= row[c].max(1e-30).ln();
            row[c] -= 1.0;
        }
        // backward: ∂W² = H¹ᵀ δ², δ¹ = δ² W²ᵀ ⊙ relu′, ∂W¹ = Xᵀ δ¹
        sgemm(nh, n, no, h1, (1, nh), out, (no, 1), 0.0, &mut self.gw2);
        sgemm(n, no, nh, out, (no, 1), &self.w2, (1, no), 0.0, d1);
        d1.iter_mut().zip(h1.iter()).for_each(|(d, &h)| {
            if h <= 0.0 {
                *d = 0.0
            }
        });
        sgemm(ni, n, nh, x, (1, ni), d1, (nh, 1), 0.0, &mut self.gw1);
        let lr = self.lr;
        for r in 0..n {
            self.b2.iter_mut().zip(&out[r * no..(r + 1) * no]).for_each(|(b, &d)| *b -= lr * d);
            self.b1.iter_mut().zip(&d1[r * nh..(r + 1) * nh]).for_each(|(b, &d)| *b -= lr * d);
        }
        self.w1.iter_mut().zip(&self.gw1).for_each(|(w, &g)| *w -= lr * g);
        self.w2.iter_mut().zip(&self.gw2).for_each(|(w, &g)| *w -= lr * g);
        loss
    }

    /// One epoch over `x` (rows × n_in, row-major) in order, in batches of
    /// `batch` rows (the last partial batch kept). Returns the mean loss.
    pub fn epoch(&mut self, x: &[f32], labels: &[u8], batch: usize) -> f32 {
        let mut total = 0.0;
        for (xs, ls) in x.chunks(batch * self.n_in).zip(labels.chunks(batch)) {
            total += self.step(xs, ls);
        }
        total / labels.len() as f32
    }

    /// Softmax outputs for the rows of `x` (rows × n_in) into `probs`
    /// (rows × n_out), a forward pass per chunk of as many rows as the
    /// buffers hold (the `batch` given to [`PlainMlp::new`]).
    pub fn predict(&mut self, x: &[f32], probs: &mut [f32]) {
        let (ni, no) = (self.n_in, self.n_out);
        let chunk = self.out.len() / no;
        assert_eq!(x.len() / ni * no, probs.len(), "one output row per input row");
        for (xs, ps) in x.chunks(chunk * ni).zip(probs.chunks_mut(chunk * no)) {
            let n = xs.len() / ni;
            self.forward(xs, n);
            ps.copy_from_slice(&self.out[..n * no]);
            ps.chunks_exact_mut(no).for_each(softmax);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The yardstick must really learn, or its timings mean nothing.
    #[test]
    fn the_yardstick_learns_a_separable_problem() {
        let (n, ni) = (256, 8);
        let x: Vec<f32> = (0..n * ni).map(|i| ((i * 2654435761usize) % 1000) as f32 / 1000.0).collect();
        let labels: Vec<u8> = (0..n).map(|r| u8::from(x[r * ni] > 0.5)).collect();
        let mut mlp = PlainMlp::new(ni, 16, 2, 0.05, 16);
        let first = mlp.epoch(&x, &labels, 16);
        let mut last = first;
        for _ in 0..30 {
            last = mlp.epoch(&x, &labels, 16);
        }
        assert!(last < 0.5 * first, "loss {first} → {last}");
    }

    /// Inference gives probabilities, whatever the chunk its buffers hold.
    #[test]
    fn predict_gives_the_same_probabilities_in_any_chunk() {
        let (n, ni, no) = (37, 8, 3);
        let x: Vec<f32> = (0..n * ni).map(|i| ((i * 40503) % 997) as f32 / 997.0 - 0.5).collect();
        let (mut whole, mut chunked) = (vec![0.0; n * no], vec![0.0; n * no]);
        PlainMlp::new(ni, 5, no, 0.1, n).predict(&x, &mut whole);
        PlainMlp::new(ni, 5, no, 0.1, 16).predict(&x, &mut chunked);
        assert_eq!(whole, chunked);
        for row in whole.chunks(no) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
        }
    }
}
