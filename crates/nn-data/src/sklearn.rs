//! The first tutorial's scikit-learn calls, value for value, for the exact
//! reproductions: `model_selection.train_test_split(..., test_size, shuffle=True,
//! random_state=k)` and `preprocessing.scale(X)`.
//!
//! - **Split**: n_test = ⌈test_size · n⌉, n_train = n − n_test; with
//!   p = `RandomState(k).permutation(n)` (numpy's legacy stream, its own
//!   generator, untouched by `np.random.seed`), the test rows are p[..n_test]
//!   and the training rows p[n_test..], in that order.
//! - **Scale**: per column, μ = Σx/n and σ = √(Σ(x − μ)²/n) (sums row after
//!   row, as numpy reduces a C-ordered array along axis 0), then x ← x − μ;
//!   if the new column mean is not within 1e-8 of 0 it is subtracted too;
//!   then x ← x/σ (σ < 10·ε taken as 1) and the same check of the mean again.
//!
//! The default runs use [`transform`](crate::transform) (the project's own
//! seeded RNG); these exist to rerun the tutorial with its own numbers.
//!
//! ```
//! use nn_data::sklearn::train_test_split_indices;
//! let (train, test) = train_test_split_indices(10, 0.3, 42).unwrap();
//! // sklearn: train_test_split(np.arange(10), test_size=0.3, shuffle=True, random_state=42)
//! assert_eq!(test, [8, 1, 5]);
//! assert_eq!(train, [0, 7, 2, 9, 4, 3, 6]);
//! ```

use nn_core::{Float, Matrix, RandomState};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// numpy's `np.allclose(v, 0)` tolerance (atol; rtol·0 adds nothing).
const ALLCLOSE_ATOL: f64 = 1e-8;

/// `(train, test)` row indices of `train_test_split(n rows, test_size=test_size,
/// shuffle=True, random_state=random_state)`. Errors unless 0 < test_size < 1
/// and both parts are non-empty.
pub fn train_test_split_indices(n: usize, test_size: f64, random_state: u32) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(DataError::invalid("test_size", "a fraction strictly between 0 and 1", test_size));
    }
    let n_test = (test_size * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(DataError::invalid(
            "train_test_split",
            format!("test_size {test_size} of {n} samples to leave both sets non-empty"),
            format!("{n_test} test samples"),
        ));
    }
    let p = RandomState::new(random_state).permutation(n);
    Ok((p[n_test..].to_vec(), p[..n_test].to_vec()))
}

/// `train_test_split(X, y, test_size=test_size, shuffle=True, random_state=random_state)`:
/// the rows of `ds` as (train, test), see [`train_test_split_indices`].
pub fn train_test_split<T: Float>(
    ds: &Dataset<T>,
    test_size: f64,
    random_state: u32,
) -> Result<(Dataset<T>, Dataset<T>)> {
    let (train, test) = train_test_split_indices(ds.len(), test_size, random_state)?;
    Ok((ds.select(&train), ds.select(&test)))
}

/// Column sums added row after row (numpy's order for `X.sum(axis=0)`).
fn column_sums(x: &Matrix<f64>) -> Vec<f64> {
    let mut s = vec![0.0; x.cols()];
    for i in 0..x.rows() {
        s.iter_mut().zip(x.row(i)).for_each(|(s, v)| *s += v);
    }
    s
}

fn column_means(x: &Matrix<f64>) -> Vec<f64> {
    let n = x.rows() as f64;
    column_sums(x).into_iter().map(|s| s / n).collect()
}

/// x ← x − m row by row, if some |mᵢ| > 1e-8 (scikit-learn's second centring).
fn recentre_if_needed(x: &mut Matrix<f64>) {
    let m = column_means(x);
    if m.iter().any(|v| v.is_nan() || v.abs() > ALLCLOSE_ATOL) {
        for i in 0..x.rows() {
            x.row_mut(i).iter_mut().zip(&m).for_each(|(v, m)| *v -= m);
        }
    }
}

/// `sklearn.preprocessing.scale(X)` (with_mean, with_std, axis 0) on f64,
/// bit for bit; see the module doc. Errors if `x` has no rows.
///
/// ```
/// use nn_core::Matrix;
/// let x = Matrix::from_vec(2, 2, vec![1.0, 5.0, 3.0, 5.0]).unwrap();
/// let z = nn_data::sklearn::scale(&x).unwrap();
/// assert_eq!(z.as_slice(), &[-1.0, 0.0, 1.0, 0.0]); // a constant column is only centred
/// ```
pub fn scale(x: &Matrix<f64>) -> Result<Matrix<f64>> {
    let n = x.rows();
    if n == 0 {
        return Err(DataError::invalid("scale", "at least one row", "0 rows"));
    }
    let mean = column_means(x);
    let mut sq = vec![0.0; x.cols()];
    for i in 0..n {
        for ((s, v), mu) in sq.iter_mut().zip(x.row(i)).zip(&mean) {
            let d = v - mu;
            *s += d * d;
        }
    }
    let sigma: Vec<f64> =
        sq.iter().map(|s| (s / n as f64).sqrt()).map(|sd| if sd < 10.0 * f64::EPSILON { 1.0 } else { sd }).collect();
    let mut z = x.clone();
    for i in 0..n {
        z.row_mut(i).iter_mut().zip(&mean).for_each(|(v, mu)| *v -= mu);
    }
    recentre_if_needed(&mut z);
    for i in 0..n {
        z.row_mut(i).iter_mut().zip(&sigma).for_each(|(v, sd)| *v /= sd);
    }
    recentre_if_needed(&mut z);
    Ok(z)
}
