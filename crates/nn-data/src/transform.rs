//! Transforms of a [`Dataset`]: seeded permutation and shuffle, train/test
//! split by fraction, standardisation (fit on one set, apply to another, or
//! the first tutorial's scale-before-split), one-hot targets and argmax.
//!
//! Everything random draws from `ChaCha8Rng::seed_from_u64(seed)`: the same
//! seed gives the same permutation on every platform and thread count.
//!
//! ```
//! use nn_core::Matrix;
//! use nn_data::transform::{argmax_rows, one_hot, Standardizer};
//! let t: Matrix<f32> = one_hot(&[2, 0], 3).unwrap();
//! assert_eq!(t.as_slice(), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
//! assert_eq!(argmax_rows(&t), vec![2, 0]);
//!
//! // z = (x − μ) / σ with the population σ: column [1, 3] has μ = 2, σ = 1.
//! let x = Matrix::from_vec(2, 1, vec![1.0f64, 3.0]).unwrap();
//! let s = Standardizer::fit(&x).unwrap();
//! assert_eq!(s.apply(&x).unwrap().as_slice(), &[-1.0, 1.0]);
//! ```

use nn_core::{Float, Matrix, ShapeError};
use rand_chacha::ChaCha8Rng;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// The RNG behind every seeded operation of this crate: ChaCha8 seeded from
/// `seed`, on stream `stream` (0 unless an epoch number picks another).
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    nn_core::shuffle::seeded_rng(seed, stream)
}

pub use nn_core::shuffle::fisher_yates;

/// A uniformly random permutation of `0..n`, the same for the same seed.
///
/// ```
/// let p = nn_data::transform::permutation(10, 42);
/// let mut sorted = p.clone();
/// sorted.sort();
/// assert_eq!(sorted, (0..10).collect::<Vec<_>>());
/// assert_eq!(p, nn_data::transform::permutation(10, 42));
/// assert_ne!(p, nn_data::transform::permutation(10, 43));
/// ```
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    fisher_yates(&mut p, &mut rng(seed, 0));
    p
}

/// The data set with its samples in the order of [`permutation`]`(n, seed)`.
pub fn shuffle<T: Float>(ds: &Dataset<T>, seed: u64) -> Dataset<T> {
    ds.select(&permutation(ds.len(), seed))
}

/// Number of test samples for a fraction: ⌈fraction · n⌉ (scikit-learn's rule).
fn test_count(n: usize, test_fraction: f64) -> Result<usize> {
    if !(0.0..=1.0).contains(&test_fraction) {
        return Err(DataError::invalid("test_fraction", "a fraction in [0, 1]", test_fraction));
    }
    Ok(((test_fraction * n as f64).ceil() as usize).min(n))
}

/// Splits into (train, test) with ⌈test_fraction · n⌉ test samples, after a
/// seeded shuffle: with p = [`permutation`]`(n, seed)`, the test set is
/// p[..n_test] and the training set p[n_test..] (scikit-learn's
/// `train_test_split` order; its NumPy permutation itself is not reproduced).
///
/// ```
/// use nn_core::Matrix;
/// use nn_data::{transform::train_test_split, Dataset};
/// let ds = Dataset::new(Matrix::<f32>::zeros(506, 13), Matrix::zeros(506, 1)).unwrap();
/// let (train, test) = train_test_split(&ds, 0.3, 7).unwrap();
/// assert_eq!((train.len(), test.len()), (354, 152));
/// ```
pub fn train_test_split<T: Float>(ds: &Dataset<T>, test_fraction: f64, seed: u64) -> Result<(Dataset<T>, Dataset<T>)> {
    let n_test = test_count(ds.len(), test_fraction)?;
    let p = permutation(ds.len(), seed);
    Ok((ds.select(&p[n_test..]), ds.select(&p[..n_test])))
}

/// Per-column standardisation z = (x − μ) / σ, with μ and σ (population
/// standard deviation, divisor n, as scikit-learn's `StandardScaler`) fitted
/// on one matrix; a constant column (σ = 0) is only centred (σ taken as 1).
/// Statistics are accumulated in f64 whatever `T` is.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    /// Column means μ.
    pub mean: Vec<f64>,
    /// Column scales σ (1 where the column was constant).
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// Fits μ and σ on the rows of `x`; errors if `x` has no rows.
    pub fn fit<T: Float>(x: &Matrix<T>) -> Result<Self> {
        let (n, m) = x.shape();
        if n == 0 {
            return Err(DataError::invalid("Standardizer::fit", "at least one row", "0 rows"));
        }
        let mut mean = vec![0.0f64; m];
        for i in 0..n {
            for (mu, v) in mean.iter_mut().zip(x.row(i)) {
                *mu += v.to_f64();
            }
        }
        mean.iter_mut().for_each(|mu| *mu /= n as f64);
        let mut var = vec![0.0f64; m];
        for i in 0..n {
            for ((s, mu), v) in var.iter_mut().zip(&mean).zip(x.row(i)) {
                let d = v.to_f64() - mu;
                *s += d * d;
            }
        }
        let scale = var.iter().map(|s| (s / n as f64).sqrt()).map(|sd| if sd > 0.0 { sd } else { 1.0 }).collect();
        Ok(Standardizer { mean, scale })
    }

    /// Errors unless `cols` is the number of columns fitted.
    fn check_cols(&self, what: &str, cols: usize) -> Result<()> {
        if cols == self.mean.len() {
            return Ok(());
        }
        Err(ShapeError::new(what, format!("{} columns (as fitted)", self.mean.len()), format!("{cols} columns")).into())
    }

    /// z = (x − μ) / σ column by column, in place; errors if the column count differs from the fit.
    pub fn apply_inplace<T: Float>(&self, x: &mut Matrix<T>) -> Result<()> {
        self.check_cols("Standardizer::apply", x.cols())?;
        for i in 0..x.rows() {
            for ((v, mu), sd) in x.row_mut(i).iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = T::from_f64((v.to_f64() - mu) / sd);
            }
        }
        Ok(())
    }

    /// z = (x − μ) / σ as a new matrix.
    pub fn apply<T: Float>(&self, x: &Matrix<T>) -> Result<Matrix<T>> {
        let mut z = x.clone();
        self.apply_inplace(&mut z)?;
        Ok(z)
    }

    /// x = z · σ + μ, the inverse of [`apply`](Self::apply).
    pub fn invert<T: Float>(&self, z: &Matrix<T>) -> Result<Matrix<T>> {
        self.check_cols("Standardizer::invert", z.cols())?;
        let mut x = z.clone();
        for i in 0..x.rows() {
            for ((v, mu), sd) in x.row_mut(i).iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = T::from_f64(v.to_f64() * sd + mu);
            }
        }
        Ok(x)
    }
}

/// The sound order: split with [`train_test_split`], fit the [`Standardizer`]
/// on the training inputs only, apply it to both sets. Targets are untouched.
pub fn split_then_standardize<T: Float>(
    ds: &Dataset<T>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset<T>, Dataset<T>, Standardizer)> {
    let (mut train, mut test) = train_test_split(ds, test_fraction, seed)?;
    let s = Standardizer::fit(&train.x)?;
    s.apply_inplace(&mut train.x)?;
    s.apply_inplace(&mut test.x)?;
    Ok((train, test, s))
}

/// The first tutorial's order, kept for a faithful reproduction: fit the
/// [`Standardizer`] on all inputs (test rows included, so their statistics
/// leak into training), apply it, then split with [`train_test_split`].
pub fn standardize_then_split<T: Float>(
    ds: &Dataset<T>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset<T>, Dataset<T>, Standardizer)> {
    let s = Standardizer::fit(&ds.x)?;
    let mut all = ds.clone();
    s.apply_inplace(&mut all.x)?;
    let (train, test) = train_test_split(&all, test_fraction, seed)?;
    Ok((train, test, s))
}

/// One-hot targets: row i is all zeros but a 1 in column `labels[i]`.
/// Errors if a label is ≥ `classes`.
pub fn one_hot<T: Float>(labels: &[usize], classes: usize) -> Result<Matrix<T>> {
    let mut t = Matrix::zeros(labels.len(), classes);
    for (i, &c) in labels.iter().enumerate() {
        if c >= classes {
            return Err(DataError::BadLabel { path: "<labels>".into(), record: i, value: c.to_string(), classes });
        }
        t.set(i, c, T::ONE);
    }
    Ok(t)
}

pub use nn_core::argmax;

/// [`argmax`] of every row: the predicted class of each sample.
pub fn argmax_rows<T: Float>(m: &Matrix<T>) -> Vec<usize> {
    (0..m.rows()).map(|i| argmax(m.row(i))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Dataset<f64> {
        let x = Matrix::from_fn(n, 2, |i, j| (i * 10 + j) as f64);
        let y = Matrix::from_fn(n, 1, |i, _| i as f64);
        Dataset::new(x, y).unwrap()
    }

    #[test]
    fn permutation_is_a_bijection_and_seeded() {
        let p = permutation(1000, 3);
        let mut seen = vec![false; 1000];
        p.iter().for_each(|&i| seen[i] = true);
        assert!(seen.iter().all(|&s| s));
        assert_eq!(p, permutation(1000, 3));
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
        assert!(permutation(0, 1).is_empty());
    }

    #[test]
    fn fisher_yates_is_uniform_over_small_permutations() {
        // All 6 orders of 3 items should each appear ≈ 1/6 of the time.
        let mut counts = std::collections::HashMap::new();
        let mut r = rng(11, 0);
        for _ in 0..60_000 {
            let mut v = [0, 1, 2];
            fisher_yates(&mut v, &mut r);
            *counts.entry(v).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), 6);
        for (&order, &c) in &counts {
            assert!((9_400..10_600).contains(&c), "{order:?} appeared {c} times");
        }
    }

    #[test]
    fn split_keeps_every_sample_once() {
        let ds = table(10);
        let (train, test) = train_test_split(&ds, 0.25, 5).unwrap();
        assert_eq!((train.len(), test.len()), (7, 3));
        let mut ys: Vec<f64> = train.y.as_slice().iter().chain(test.y.as_slice()).copied().collect();
        ys.sort_by(f64::total_cmp);
        assert_eq!(ys, (0..10).map(|i| i as f64).collect::<Vec<_>>());
        // Rows stay aligned: x[i][0] = 10·y[i].
        for i in 0..train.len() {
            assert_eq!(train.x.get(i, 0), 10.0 * train.y.get(i, 0));
        }
        assert!(train_test_split(&ds, 1.5, 0).is_err());
        assert!(train_test_split(&ds, f64::NAN, 0).is_err());
        assert_eq!(train_test_split(&ds, 0.0, 0).unwrap().1.len(), 0);
    }

    #[test]
    fn standardizer_fits_mean_and_population_std() {
        let x = Matrix::from_vec(4, 2, vec![1.0f64, 5.0, 2.0, 5.0, 3.0, 5.0, 4.0, 5.0]).unwrap();
        let s = Standardizer::fit(&x).unwrap();
        assert_eq!(s.mean, vec![2.5, 5.0]);
        assert!((s.scale[0] - 1.25f64.sqrt()).abs() < 1e-15);
        assert_eq!(s.scale[1], 1.0); // constant column: centred only
        let z = s.apply(&x).unwrap();
        assert_eq!(z.get(3, 1), 0.0);
        assert!((z.get(0, 0) + 1.5 / 1.25f64.sqrt()).abs() < 1e-15);
        let back = s.invert(&z).unwrap();
        for (a, b) in back.as_slice().iter().zip(x.as_slice()) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(s.apply(&Matrix::<f64>::zeros(1, 3)).is_err());
        assert!(Standardizer::fit(&Matrix::<f64>::zeros(0, 3)).is_err());
    }

    #[test]
    fn the_two_scaling_orders_differ_only_in_what_they_fit_on() {
        let ds = table(20);
        let (a_train, a_test, a) = split_then_standardize(&ds, 0.3, 9).unwrap();
        let (b_train, b_test, b) = standardize_then_split(&ds, 0.3, 9).unwrap();
        // Same rows on each side (same permutation) …
        assert_eq!(a_train.y, b_train.y);
        assert_eq!(a_test.y, b_test.y);
        // … but fitted on 14 rows versus all 20.
        assert_eq!(b.mean[0], 95.0);
        assert_ne!(a.mean[0], b.mean[0]);
        let train_mean: f64 = a_train.x.as_slice().iter().step_by(2).sum::<f64>() / 14.0;
        assert!(train_mean.abs() < 1e-12);
        let all_mean: f64 = b_train.x.as_slice().iter().chain(b_test.x.as_slice()).step_by(2).sum::<f64>() / 20.0;
        assert!(all_mean.abs() < 1e-12);
    }

    #[test]
    fn one_hot_rejects_labels_out_of_range() {
        let e = one_hot::<f32>(&[1, 3], 3).unwrap_err();
        assert_eq!(e.to_string(), "<labels>: line/record 1: label 3 is not a class in 0..3");
        assert_eq!(argmax(&[1.0f32, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax::<f32>(&[]), 0);
    }
}
