//! [`RowSource`]: a table of samples, one per row, that can copy any row
//! into a buffer of `T`. A [`Matrix`] is one; a data set kept in a compact
//! form (MNIST's pixels as bytes, converted when a mini-batch is gathered)
//! is another, so a trainer never needs the whole set as floats.
//!
//! ```
//! use nn_core::{Matrix, RowSource};
//!
//! /// Bytes, read as b / 255.
//! struct Bytes { data: Vec<u8>, cols: usize }
//!
//! impl RowSource<f32> for Bytes {
//!     fn n_rows(&self) -> usize { self.data.len() / self.cols }
//!     fn n_cols(&self) -> usize { self.cols }
//!     fn copy_row(&self, i: usize, out: &mut [f32]) {
//!         let row = &self.data[i * self.cols..(i + 1) * self.cols];
//!         out.iter_mut().zip(row).for_each(|(o, &b)| *o = f32::from(b) / 255.0);
//!     }
//! }
//!
//! let src = Bytes { data: vec![0, 255, 51, 102], cols: 2 };
//! let mut batch = Matrix::<f32>::zeros(0, 2);
//! batch.gather_rows_from(&src, &[1, 0]);
//! assert_eq!(batch.as_slice(), &[0.2, 0.4, 0.0, 1.0]);
//! assert_eq!(src.first_non_finite(), None);
//! ```

use crate::float::Float;
use crate::matrix::Matrix;

/// Samples as rows of `n_cols()` values of `T`, readable one row at a time.
///
/// `Sync`, because trainers read rows from several threads at once.
pub trait RowSource<T: Float>: Sync {
    /// Number of rows (samples).
    fn n_rows(&self) -> usize;

    /// Values per row.
    fn n_cols(&self) -> usize;

    /// Writes row `i` into `out`, whose length is [`RowSource::n_cols`].
    /// May panic if `i ≥ n_rows()` or `out` has another length: callers check.
    fn copy_row(&self, i: usize, out: &mut [T]);

    /// Asks the CPU to start loading row `i` into its caches, so that a
    /// [`RowSource::copy_row`] of it soon after does not wait for memory (a
    /// hint: it changes no result). The default does nothing. May do
    /// nothing if `i ≥ n_rows()`.
    #[inline]
    fn prefetch_row(&self, _i: usize) {}

    /// The first value that is NaN or infinite, as (row, column, value), or
    /// `None`. The default reads every row through a one-row buffer.
    fn first_non_finite(&self) -> Option<(usize, usize, f64)> {
        let mut row = vec![T::ZERO; self.n_cols()];
        for i in 0..self.n_rows() {
            self.copy_row(i, &mut row);
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Some((i, j, row[j].to_f64()));
            }
        }
        None
    }
}

impl<T: Float> RowSource<T> for Matrix<T> {
    #[inline]
    fn n_rows(&self) -> usize {
        self.rows()
    }

    #[inline]
    fn n_cols(&self) -> usize {
        self.cols()
    }

    #[inline]
    fn copy_row(&self, i: usize, out: &mut [T]) {
        out.copy_from_slice(self.row(i));
    }

    #[inline]
    fn prefetch_row(&self, i: usize) {
        if i < self.rows() {
            prefetch(self.row(i));
        }
    }

    fn first_non_finite(&self) -> Option<(usize, usize, f64)> {
        let k = self.as_slice().iter().position(|v| !v.is_finite())?;
        Some((k / self.cols(), k % self.cols(), self.as_slice()[k].to_f64()))
    }
}

/// Cache lines (64 bytes) whose loads are requested ahead: the line size of
/// every x86-64 CPU of the last two decades.
const LINE: usize = 64;

/// Asks the CPU to start loading the memory of `data` into its caches, one
/// request per cache line, and returns at once: a hint that changes no
/// value, for data that is about to be read and is likely not cached
/// (random rows of a data set larger than the cache). Does nothing on CPUs
/// other than x86-64.
///
/// ```
/// let rows = vec![0u8; 4096];
/// nn_core::rows::prefetch(&rows[1024..1808]); // the 784 bytes of one MNIST image
/// ```
#[inline]
pub fn prefetch<U>(data: &[U]) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = data.as_ptr() as usize;
        let end = start + std::mem::size_of_val(data);
        let mut line = start & !(LINE - 1);
        while line < end {
            // SAFETY: a prefetch is a hint: it never faults, whatever the
            // address, and changes no memory; the address is inside `data`'s
            // first or later lines, and SSE (the instruction's feature) is
            // part of x86-64's baseline.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    data.as_ptr().cast::<i8>().wrapping_add(line.wrapping_sub(start)),
                );
            }
            line += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_is_a_row_source() {
        let m = Matrix::from_fn(3, 2, |i, j| (10 * i + j) as f64);
        assert_eq!((m.n_rows(), m.n_cols()), (3, 2));
        let mut out = [0.0; 2];
        m.copy_row(2, &mut out);
        assert_eq!(out, [20.0, 21.0]);
        assert_eq!(m.first_non_finite(), None);
        let mut bad = m.clone();
        bad.set(1, 1, f64::NAN);
        let (i, j, v) = bad.first_non_finite().unwrap();
        assert_eq!((i, j), (1, 1));
        assert!(v.is_nan());
    }

    /// The default `first_non_finite` finds the same value as the matrix's own.
    #[test]
    fn the_default_scan_finds_the_first_bad_value() {
        struct Wrapped(Matrix<f32>);
        impl RowSource<f32> for Wrapped {
            fn n_rows(&self) -> usize {
                self.0.rows()
            }
            fn n_cols(&self) -> usize {
                self.0.cols()
            }
            fn copy_row(&self, i: usize, out: &mut [f32]) {
                out.copy_from_slice(self.0.row(i));
            }
        }
        let mut m = Matrix::from_fn(4, 3, |i, j| (i + j) as f32);
        assert_eq!(Wrapped(m.clone()).first_non_finite(), None);
        m.set(2, 0, f32::INFINITY);
        m.set(3, 2, f32::NAN);
        assert_eq!(Wrapped(m).first_non_finite(), Some((2, 0, f64::INFINITY)));
    }

    #[test]
    fn prefetching_is_a_hint_that_takes_any_slice_and_any_row() {
        let bytes: Vec<u8> = (0..=255).collect();
        for (a, b) in [(0, 0), (0, 1), (3, 67), (63, 64), (1, 256)] {
            prefetch(&bytes[a..b]);
        }
        prefetch::<f64>(&[]);
        let m = Matrix::from_fn(3, 2, |i, j| (10 * i + j) as f64);
        for i in [0, 2, 3, usize::MAX] {
            m.prefetch_row(i);
        }
        // gathering (which prefetches rows ahead) copies the same rows
        let mut g = Matrix::zeros(0, 2);
        g.gather_rows_from(&m, &[2, 0, 1, 2, 2, 1, 0]);
        assert_eq!(g.as_slice(), &[20.0, 21.0, 0.0, 1.0, 10.0, 11.0, 20.0, 21.0, 20.0, 21.0, 10.0, 11.0, 0.0, 1.0]);
        assert_eq!(bytes[255], 255);
    }
}
