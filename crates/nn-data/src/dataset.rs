//! `Dataset<T>`: inputs `x` (n × m⁰, one sample per row) and targets `y`
//! (n × mᴸ), plus the class labels of a classification set and the feature
//! names of a table.
//!
//! ```
//! use nn_core::Matrix;
//! use nn_data::Dataset;
//! let x = Matrix::from_vec(3, 2, vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
//! let y = Matrix::from_vec(3, 1, vec![10.0f32, 11.0, 12.0]).unwrap();
//! let ds = Dataset::new(x, y).unwrap();
//! let picked = ds.select(&[2, 0]);
//! assert_eq!(picked.x.row(0), &[4.0, 5.0]);
//! assert_eq!(picked.y.as_slice(), &[12.0, 10.0]);
//! let (head, tail) = ds.split_at(1).unwrap();
//! assert_eq!((head.len(), tail.len()), (1, 2));
//! ```

use nn_core::{Float, Matrix, ShapeError};

use crate::error::{DataError, Result};

/// Samples as rows: `x.row(i)` is the input and `y.row(i)` the target of sample i.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    /// Inputs, n × m⁰.
    pub x: Matrix<T>,
    /// Targets, n × mᴸ (one-hot rows for a classification set).
    pub y: Matrix<T>,
    /// Class of each sample (classification sets only); `labels[i]` is the
    /// index of the 1 in `y.row(i)`.
    pub labels: Option<Vec<usize>>,
    /// Name of each column of `x` (tables with a header only).
    pub feature_names: Option<Vec<String>>,
}

impl<T: Float> Dataset<T> {
    /// A data set of inputs and targets; errors unless they have the same number of rows.
    pub fn new(x: Matrix<T>, y: Matrix<T>) -> Result<Self> {
        if x.rows() != y.rows() {
            return Err(ShapeError::new(
                "Dataset::new",
                format!("as many target rows as input rows ({})", x.rows()),
                format!("{} target rows", y.rows()),
            )
            .into());
        }
        Ok(Dataset { x, y, labels: None, feature_names: None })
    }

    /// Attaches class labels; errors unless there is one per sample.
    pub fn with_labels(mut self, labels: Vec<usize>) -> Result<Self> {
        same_count("Dataset::with_labels", "labels", self.len(), labels.len())?;
        self.labels = Some(labels);
        Ok(self)
    }

    /// Attaches feature names; errors unless there is one per column of `x`.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self> {
        same_count("Dataset::with_feature_names", "names", self.x.cols(), names.len())?;
        self.feature_names = Some(names);
        Ok(self)
    }

    /// Number of samples n.
    pub fn len(&self) -> usize {
        self.x.rows()
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input width m⁰.
    pub fn n_features(&self) -> usize {
        self.x.cols()
    }

    /// Target width mᴸ.
    pub fn n_outputs(&self) -> usize {
        self.y.cols()
    }

    /// The samples at `indices`, in that order (labels and names follow).
    /// Panics if an index is ≥ `len()`, like slice indexing.
    pub fn select(&self, indices: &[usize]) -> Self {
        Dataset {
            x: self.x.select_rows(indices),
            y: self.y.select_rows(indices),
            labels: self.labels.as_ref().map(|l| indices.iter().map(|&i| l[i]).collect()),
            feature_names: self.feature_names.clone(),
        }
    }

    /// The first `n` samples and the rest, in order; errors if `n > len()`.
    pub fn split_at(&self, n: usize) -> Result<(Self, Self)> {
        if n > self.len() {
            return Err(DataError::invalid("Dataset::split_at", format!("at most {} samples", self.len()), n));
        }
        let head: Vec<usize> = (0..n).collect();
        let tail: Vec<usize> = (n..self.len()).collect();
        Ok((self.select(&head), self.select(&tail)))
    }

    /// The first `n` samples and the rest, moving the data rather than copying
    /// it (the tail is split off the same buffers); errors if `n > len()`.
    pub fn into_split(self, n: usize) -> Result<(Self, Self)> {
        if n > self.len() {
            return Err(DataError::invalid("Dataset::into_split", format!("at most {} samples", self.len()), n));
        }
        let (x_head, x_tail) = split_rows(self.x, n)?;
        let (y_head, y_tail) = split_rows(self.y, n)?;
        let (l_head, l_tail) = match self.labels {
            Some(mut l) => {
                let tail = l.split_off(n);
                (Some(l), Some(tail))
            }
            None => (None, None),
        };
        let names = self.feature_names;
        Ok((
            Dataset { x: x_head, y: y_head, labels: l_head, feature_names: names.clone() },
            Dataset { x: x_tail, y: y_tail, labels: l_tail, feature_names: names },
        ))
    }

    /// Copies the samples at `indices` into `x_batch` and `y_batch`, reshaping
    /// them to `indices.len()` rows; allocates nothing once the buffers have
    /// held a batch that large. Panics if an index is ≥ `len()`.
    pub fn gather_batch(&self, indices: &[usize], x_batch: &mut Matrix<T>, y_batch: &mut Matrix<T>) {
        x_batch.gather_rows_from(&self.x, indices);
        y_batch.gather_rows_from(&self.y, indices);
    }

    /// The same data in another float type.
    pub fn cast<U: Float>(&self) -> Dataset<U> {
        Dataset {
            x: self.x.cast(),
            y: self.y.cast(),
            labels: self.labels.clone(),
            feature_names: self.feature_names.clone(),
        }
    }
}

/// Errors unless `found == expected` (a count of `what` given to `context`).
fn same_count(context: &str, what: &str, expected: usize, found: usize) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    Err(ShapeError::new(context, format!("{expected} {what}"), format!("{found} {what}")).into())
}

/// Rows `..n` and `n..` of `m`, moving its buffer.
pub(crate) fn split_rows<T: Float>(m: Matrix<T>, n: usize) -> Result<(Matrix<T>, Matrix<T>)> {
    let (rows, cols) = m.shape();
    let mut head = m.into_vec();
    let tail = head.split_off(n * cols);
    head.shrink_to_fit();
    Ok((Matrix::from_vec(n, cols, head)?, Matrix::from_vec(rows - n, cols, tail)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked() {
        let x = Matrix::<f64>::zeros(3, 2);
        assert!(Dataset::new(x.clone(), Matrix::zeros(2, 1)).is_err());
        let ds = Dataset::new(x, Matrix::zeros(3, 1)).unwrap();
        assert!(ds.clone().with_labels(vec![0, 1]).is_err());
        assert!(ds.clone().with_feature_names(vec!["a".into()]).is_err());
        assert!(ds.split_at(4).is_err());
        assert!(ds.clone().into_split(4).is_err());
        let ds = ds.with_labels(vec![4, 5, 6]).unwrap();
        assert_eq!(ds.select(&[2, 2, 0]).labels, Some(vec![6, 6, 4]));
    }

    #[test]
    fn into_split_equals_split_at() {
        let x = Matrix::from_fn(5, 3, |i, j| (i * 3 + j) as f64);
        let y = Matrix::from_fn(5, 1, |i, _| i as f64);
        let ds = Dataset::new(x, y).unwrap().with_labels(vec![0, 1, 0, 1, 1]).unwrap();
        for n in 0..=5 {
            assert_eq!(ds.clone().into_split(n).unwrap(), ds.split_at(n).unwrap());
        }
    }

    #[test]
    fn gather_batch_reuses_buffers() {
        let x = Matrix::from_fn(5, 2, |i, j| (i * 2 + j) as f32);
        let y = Matrix::from_fn(5, 1, |i, _| i as f32);
        let ds = Dataset::new(x, y).unwrap();
        let (mut xb, mut yb) = (Matrix::zeros(4, 2), Matrix::zeros(4, 1));
        ds.gather_batch(&[4, 1], &mut xb, &mut yb);
        assert_eq!(xb.as_slice(), &[8.0, 9.0, 2.0, 3.0]);
        assert_eq!(yb.as_slice(), &[4.0, 1.0]);
    }
}
