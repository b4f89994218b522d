//! Generated data sets: the toy regression of the MNIST tutorial (Jihwan
//! Jeong, "Build a Neural Network from Scratch Using Numpy",
//! <https://jihwan-jeong.github.io/machine%20learning/backpropagation/>), and XOR.
//!
//! The toy regression is the tutorial's published `toy_regression()`, with
//! z, ε₁, ε₂ three vectors of N standard normal deviates drawn in that order:
//!
//! x = 0.5·z + 0.35,  x̃ = 0.75·x − 0.35,
//! y = exp(−(8x̃² + 0.1x̃ + 0.1) + 0.05·ε₁) + 0.05·ε₂,  then y ← y / max|y|.
//!
//! So x ~ N(0.35, 0.5²), the target is a bump peaking at x̃ ≈ −0.006 (x ≈ 0.46),
//! and |y| ≤ 1 with max |y| = 1 exactly. [`toy_regression`] draws the deviates
//! from the project's seeded RNG; [`toy_regression_numpy`] from numpy's legacy
//! stream, reproducing the tutorial's data bit for bit.

use nn_core::init::standard_normal;
use nn_core::{Float, Matrix, RandomState};

use crate::dataset::Dataset;
use crate::transform::rng;

/// The noise-free target before the division by max|y|: exp(−(8x̃² + 0.1x̃ + 0.1)), x̃ = 0.75x − 0.35.
pub fn toy_target(x: f64) -> f64 {
    let xt = 0.75 * x - 0.35;
    (-(8.0 * (xt * xt) + 0.1 * xt + 0.1)).exp()
}

/// The tutorial's formula (module doc) on N = `n` points, every deviate from
/// `normal()`: first the n of z, then the n of ε₁, then the n of ε₂. Operations
/// in numpy's order, element by element, in f64. Also returns max|y| before the division.
fn toy_points(n: usize, mut normal: impl FnMut() -> f64) -> (Vec<f64>, Vec<f64>, f64) {
    let x: Vec<f64> = (0..n).map(|_| 0.5 * normal() + 0.35).collect();
    let mut y: Vec<f64> = x
        .iter()
        .map(|&x| {
            let xt = 0.75 * x - 0.35;
            -(8.0 * (xt * xt) + 0.1 * xt + 0.1) + 0.05 * normal()
        })
        .collect();
    for y in &mut y {
        *y = y.exp() + 0.05 * normal();
    }
    let max = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    y.iter_mut().for_each(|y| *y /= max);
    (x, y, max)
}

fn dataset<T: Float>(x: &[f64], y: &[f64]) -> Dataset<T> {
    let n = x.len();
    let x = Matrix::from_fn(n, 1, |i, _| T::from_f64(x[i]));
    let y = Matrix::from_fn(n, 1, |i, _| T::from_f64(y[i]));
    Dataset::new(x, y).expect("x and y both have n rows")
}

/// `n` points of the tutorial's toy regression (module doc), x and y both
/// n × 1, the normal deviates drawn from ChaCha8 seeded with `seed`.
///
/// ```
/// let ds = nn_data::toy_regression::<f64>(2000, 1);
/// assert_eq!((ds.x.shape(), ds.y.shape()), ((2000, 1), (2000, 1)));
/// assert_eq!(ds, nn_data::toy_regression::<f64>(2000, 1));
/// // y is scaled so that its largest magnitude is exactly 1
/// assert_eq!(ds.y.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs())), 1.0);
/// ```
pub fn toy_regression<T: Float>(n: usize, seed: u64) -> Dataset<T> {
    let mut r = rng(seed, 0);
    let (x, y, _) = toy_points(n, || standard_normal(&mut r));
    dataset(&x, &y)
}

/// The tutorial's `toy_regression()` exactly: `np.random.seed(seed)` then the
/// formula with `np.random.normal`, in f64. Returns the data and the random
/// stream where the tutorial's code continues it (its networks are drawn next).
///
/// ```
/// let (ds, _stream) = nn_data::toy::toy_regression_numpy(2000, 1);
/// assert_eq!(ds.x.get(0, 0), 0.5 * 1.6243453636632417 + 0.35); // np.random.seed(1); randn()
/// ```
pub fn toy_regression_numpy(n: usize, seed: u32) -> (Dataset<f64>, RandomState) {
    let mut rs = RandomState::new(seed);
    let (x, y, _) = toy_points(n, || rs.randn());
    (dataset(&x, &y), rs)
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
    fn toy_inputs_are_normal_around_the_tutorials_centre() {
        let ds = toy_regression::<f64>(20_000, 9);
        let xs = ds.x.as_slice();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.35).abs() < 0.01, "mean {mean}");
        assert!((var - 0.25).abs() < 0.01, "var {var}");
        assert_ne!(ds, toy_regression::<f64>(20_000, 10));
    }

    #[test]
    fn targets_follow_the_bump_up_to_the_noise() {
        let mut r = rng(3, 0);
        let (x, y, max) = toy_points(20_000, || standard_normal(&mut r));
        // y·max − f(x) = f(x)(e^{0.05ε₁} − 1) + 0.05ε₂: mean ≈ f·0.00125, sd ≈ 0.05 (plus ≤ 0.05 f)
        let r: Vec<f64> = x.iter().zip(&y).map(|(x, y)| y * max - toy_target(*x)).collect();
        let mean = r.iter().sum::<f64>() / r.len() as f64;
        let sd = (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / r.len() as f64).sqrt();
        assert!(mean.abs() < 0.003, "mean residual {mean}");
        assert!((0.05..0.06).contains(&sd), "residual sd {sd}");
    }

    #[test]
    fn f32_and_f64_draw_the_same_samples() {
        let a = toy_regression::<f32>(100, 4);
        let b = toy_regression::<f64>(100, 4).cast::<f32>();
        assert_eq!(a, b);
    }
}
