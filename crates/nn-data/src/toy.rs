//! Generated data sets: the 1-D toy regression of the MNIST tutorial's
//! regression experiment, and XOR.
//!
//! **The toy regression formula is a stand-in.** The tutorial's generator
//! (N = 2000 points, 1 input, 1 output, a smooth target plus Gaussian noise)
//! could not be located, so this module uses the classic smooth target of
//! the textbooks, documented here so that every figure built on it can say so:
//!
//! x ~ U[0, 1),  t = sin(2πx) + ε,  ε ~ N(0, σ²) with σ = [`TOY_NOISE_STD`] = 0.05.
//!
//! What that implies for E = ½·mean((ŷ − t)²): the noise alone gives
//! E ≥ ½σ² = 0.00125; the best straight line (a network without activations)
//! leaves ½·(Var t − Cov(x, t)²/Var x) = ½·(½ − 3/π² + σ²) ≈ 0.0993.

use nn_core::init::standard_normal;
use nn_core::{Float, Matrix};
use rand::Rng;

use crate::dataset::Dataset;
use crate::transform::rng;

/// Standard deviation σ of the Gaussian noise on the toy targets.
pub const TOY_NOISE_STD: f64 = 0.05;

/// The noise-free toy target f(x) = sin(2πx) (for plotting the true curve).
pub fn toy_target(x: f64) -> f64 {
    (std::f64::consts::TAU * x).sin()
}

/// `n` samples of the toy regression (see the module doc): x (n × 1) ~ U[0, 1),
/// y (n × 1) = sin(2πx) + N(0, 0.05²). Samples are drawn one after the other
/// (x then ε by Box–Muller) from ChaCha8 seeded with `seed`; the x are not sorted.
///
/// ```
/// let ds = nn_data::toy_regression::<f64>(2000, 1);
/// assert_eq!((ds.x.shape(), ds.y.shape()), ((2000, 1), (2000, 1)));
/// assert_eq!(ds, nn_data::toy_regression::<f64>(2000, 1));
/// // Residuals around sin(2πx) have the noise's standard deviation.
/// let r2: f64 = (0..2000).map(|i| (ds.y.get(i, 0) - nn_data::toy::toy_target(ds.x.get(i, 0))).powi(2)).sum();
/// assert!(((r2 / 2000.0).sqrt() - 0.05).abs() < 0.005);
/// ```
pub fn toy_regression<T: Float>(n: usize, seed: u64) -> Dataset<T> {
    let mut r = rng(seed, 0);
    let mut x = Matrix::zeros(n, 1);
    let mut y = Matrix::zeros(n, 1);
    for i in 0..n {
        let xi: f64 = r.random();
        let noise = TOY_NOISE_STD * standard_normal(&mut r);
        x.set(i, 0, T::from_f64(xi));
        y.set(i, 0, T::from_f64(toy_target(xi) + noise));
    }
    Dataset::new(x, y).expect("x and y both have n rows")
}

/// XOR: x = the four corners of the unit square (00, 01, 10, 11), y = x₁ ⊕ x₂
/// as a 4 × 1 target, labels the same as classes.
///
/// ```
/// let ds = nn_data::xor::<f32>();
/// assert_eq!(ds.x.as_slice(), &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
/// assert_eq!(ds.y.as_slice(), &[0.0, 1.0, 1.0, 0.0]);
/// assert_eq!(ds.labels, Some(vec![0, 1, 1, 0]));
/// ```
pub fn xor<T: Float>() -> Dataset<T> {
    let x = Matrix::from_fn(4, 2, |i, j| T::from_usize((i >> (1 - j)) & 1));
    let labels: Vec<usize> = (0..4).map(|i| (i >> 1) ^ (i & 1)).collect();
    let y = Matrix::from_fn(4, 1, |i, _| T::from_usize(labels[i]));
    Dataset::new(x, y).and_then(|d| d.with_labels(labels)).expect("4 rows each")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toy_inputs_are_uniform_on_the_unit_interval() {
        let ds = toy_regression::<f64>(20_000, 9);
        let xs = ds.x.as_slice();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.003, "var {var}");
        assert_ne!(ds, toy_regression::<f64>(20_000, 10));
    }

    #[test]
    fn f32_and_f64_draw_the_same_samples() {
        let a = toy_regression::<f32>(100, 4);
        let b = toy_regression::<f64>(100, 4).cast::<f32>();
        assert_eq!(a, b);
    }
}
