//! `Matrix<T>`: an owned, row-major, contiguous matrix, and the borrowed
//! views `MatRef` / `MatMut` that carry rows, cols and a row stride.
//!
//! Samples are rows (ARCHITECTURE.md, Conventions): a batch of n inputs of width m is an
//! n × m matrix, and a shard of a batch is a view of consecutive rows, which
//! costs nothing. Transposes are not views here: `gemm` takes an [`Op`]
//! (`N` or `T`) per operand and its packing reads either layout.
//!
//! [`Op`]: crate::gemm::Op

use crate::error::ShapeError;
use crate::float::Float;
use crate::rows::RowSource;

/// An owned row-major matrix: element (i, j) is `data[i * cols + j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
}

/// A borrowed, read-only matrix view: element (i, j) is `data[i * row_stride + j]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

/// A borrowed, mutable matrix view: element (i, j) is `data[i * row_stride + j]`.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

/// Length a slice must have to hold `rows` rows of `cols` with `row_stride`.
fn needed_len(rows: usize, cols: usize, row_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + cols
    }
}

impl<T: Float> Matrix<T> {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::filled(rows, cols, T::ZERO)
    }

    /// A `rows × cols` matrix with every element `value`.
    pub fn filled(rows: usize, cols: usize, value: T) -> Self {
        Matrix { data: vec![value; rows * cols], rows, cols }
    }

    /// Builds a matrix from row-major data; errors if `data.len() != rows * cols`.
    ///
    /// ```
    /// use nn_core::Matrix;
    /// let m = Matrix::from_vec(2, 3, vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// assert_eq!(m.get(1, 0), 4.0);
    /// assert!(Matrix::from_vec(2, 2, vec![1.0f32; 3]).is_err());
    /// ```
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Result<Self, ShapeError> {
        if data.len() != rows * cols {
            return Err(ShapeError::new(
                "Matrix::from_vec",
                format!("{rows}×{cols} = {} elements", rows * cols),
                format!("{} elements", data.len()),
            ));
        }
        Ok(Matrix { data, rows, cols })
    }

    /// Builds a matrix from rows of equal length; errors on a ragged row.
    pub fn from_rows(rows: &[Vec<T>]) -> Result<Self, ShapeError> {
        let cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, r) in rows.iter().enumerate() {
            if r.len() != cols {
                return Err(ShapeError::new(
                    "Matrix::from_rows",
                    format!("every row of length {cols}"),
                    format!("row {i} of length {}", r.len()),
                ));
            }
            data.extend_from_slice(r);
        }
        Ok(Matrix { data, rows: rows.len(), cols })
    }

    /// Builds a matrix with element (i, j) = `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { data, rows, cols }
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    #[inline]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Element (i, j). Panics if out of bounds, like slice indexing.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}×{} matrix", self.rows, self.cols);
        self.data[i * self.cols + j]
    }

    /// Sets element (i, j). Panics if out of bounds, like slice indexing.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, value: T) {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}×{} matrix", self.rows, self.cols);
        self.data[i * self.cols + j] = value;
    }

    /// Row i as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row i as a mutable slice.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The row-major data.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The row-major data, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major data.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: T) {
        self.data.iter_mut().for_each(|x| *x = value);
    }

    /// Changes the number of rows, keeping `cols`. New rows are zero. Does not
    /// allocate when the matrix held at least that many rows before (buffers
    /// in a workspace are sized once for the largest batch, then reused).
    pub fn set_rows(&mut self, rows: usize) {
        self.data.resize(rows * self.cols, T::ZERO);
        self.rows = rows;
    }

    /// A read-only view of the whole matrix.
    #[inline]
    pub fn view(&self) -> MatRef<'_, T> {
        MatRef { data: &self.data, rows: self.rows, cols: self.cols, row_stride: self.cols }
    }

    /// A mutable view of the whole matrix.
    #[inline]
    pub fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut { data: &mut self.data, rows: self.rows, cols: self.cols, row_stride: self.cols }
    }

    /// A view of rows `start..end`. Panics if the range is out of bounds.
    #[inline]
    pub fn rows_range(&self, start: usize, end: usize) -> MatRef<'_, T> {
        self.view().rows_range(start, end)
    }

    /// A mutable view of rows `start..end`. Panics if the range is out of bounds.
    #[inline]
    pub fn rows_range_mut(&mut self, start: usize, end: usize) -> MatMut<'_, T> {
        self.view_mut().into_rows_range(start, end)
    }

    /// The transpose, as a new matrix.
    pub fn transpose(&self) -> Self {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.get(j, i))
    }

    /// Copies the rows listed in `indices` into a new matrix (a gathered batch).
    pub fn select_rows(&self, indices: &[usize]) -> Self {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix { data, rows: indices.len(), cols: self.cols }
    }

    /// Copies the rows listed in `indices` of `src` (a matrix or any other
    /// [`RowSource`]) into `self`, reshaping it to `indices.len() × src.n_cols()`
    /// (no allocation once large enough). Panics if an index is out of range.
    pub fn gather_rows_from<S: RowSource<T> + ?Sized>(&mut self, src: &S, indices: &[usize]) {
        self.cols = src.n_cols();
        self.set_rows(indices.len());
        for (k, &i) in indices.iter().enumerate() {
            src.copy_row(i, self.row_mut(k));
        }
    }

    /// Applies `f` to every element, in place.
    pub fn map_inplace(&mut self, mut f: impl FnMut(T) -> T) {
        self.data.iter_mut().for_each(|x| *x = f(*x));
    }

    /// True if every element is finite (no NaN, no ±∞).
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite())
    }

    /// Converts every element to another float type.
    pub fn cast<U: Float>(&self) -> Matrix<U> {
        Matrix { data: self.data.iter().map(|x| U::from_f64(x.to_f64())).collect(), rows: self.rows, cols: self.cols }
    }
}

impl<'a, T: Float> MatRef<'a, T> {
    /// A view of `data` as a `rows × cols` matrix whose rows start
    /// `row_stride` elements apart. Errors if the slice is too short or
    /// `row_stride < cols`.
    pub fn new(data: &'a [T], rows: usize, cols: usize, row_stride: usize) -> Result<Self, ShapeError> {
        check_view("MatRef::new", data.len(), rows, cols, row_stride)?;
        Ok(MatRef { data, rows, cols, row_stride })
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance, in elements, between the starts of consecutive rows.
    #[inline]
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }

    /// The underlying slice (starting at element (0, 0)).
    #[inline]
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }

    /// Element (i, j). Panics if out of bounds.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}×{} view", self.rows, self.cols);
        self.data[i * self.row_stride + j]
    }

    /// Row i as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        assert!(i < self.rows, "row {i} out of a view with {} rows", self.rows);
        &self.data[i * self.row_stride..i * self.row_stride + self.cols]
    }

    /// Rows `start..end` as a view. Panics if out of bounds.
    #[inline]
    pub fn rows_range(&self, start: usize, end: usize) -> MatRef<'a, T> {
        assert!(start <= end && end <= self.rows, "rows {start}..{end} out of a view with {} rows", self.rows);
        let from = (start * self.row_stride).min(self.data.len());
        MatRef { data: &self.data[from..], rows: end - start, cols: self.cols, row_stride: self.row_stride }
    }

    /// Copies the view into an owned matrix.
    pub fn to_matrix(&self) -> Matrix<T> {
        Matrix::from_fn(self.rows, self.cols, |i, j| self.get(i, j))
    }
}

impl<'a, T: Float> MatMut<'a, T> {
    /// A mutable view of `data` as a `rows × cols` matrix whose rows start
    /// `row_stride` elements apart. Errors if the slice is too short or
    /// `row_stride < cols`.
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, row_stride: usize) -> Result<Self, ShapeError> {
        check_view("MatMut::new", data.len(), rows, cols, row_stride)?;
        Ok(MatMut { data, rows, cols, row_stride })
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance, in elements, between the starts of consecutive rows.
    #[inline]
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }

    /// The underlying slice (starting at element (0, 0)).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.data
    }

    /// A read-only view of the same elements.
    #[inline]
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef { data: self.data, rows: self.rows, cols: self.cols, row_stride: self.row_stride }
    }

    /// A shorter-lived mutable view of the same elements.
    #[inline]
    pub fn reborrow(&mut self) -> MatMut<'_, T> {
        MatMut { data: self.data, rows: self.rows, cols: self.cols, row_stride: self.row_stride }
    }

    /// Element (i, j). Panics if out of bounds.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}×{} view", self.rows, self.cols);
        self.data[i * self.row_stride + j]
    }

    /// Sets element (i, j). Panics if out of bounds.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, value: T) {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}×{} view", self.rows, self.cols);
        self.data[i * self.row_stride + j] = value;
    }

    /// Row i as a mutable slice.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        assert!(i < self.rows, "row {i} out of a view with {} rows", self.rows);
        &mut self.data[i * self.row_stride..i * self.row_stride + self.cols]
    }

    /// Rows `start..end` as a mutable view, consuming this one.
    #[inline]
    pub fn into_rows_range(self, start: usize, end: usize) -> MatMut<'a, T> {
        assert!(start <= end && end <= self.rows, "rows {start}..{end} out of a view with {} rows", self.rows);
        let from = (start * self.row_stride).min(self.data.len());
        MatMut { data: &mut self.data[from..], rows: end - start, cols: self.cols, row_stride: self.row_stride }
    }
}

fn check_view(what: &str, len: usize, rows: usize, cols: usize, row_stride: usize) -> Result<(), ShapeError> {
    if rows > 1 && row_stride < cols {
        return Err(ShapeError::new(what, format!("row stride ≥ cols ({cols})"), format!("row stride {row_stride}")));
    }
    let need = needed_len(rows, cols, row_stride);
    if len < need {
        return Err(ShapeError::new(
            what,
            format!("at least {need} elements for {rows}×{cols} with row stride {row_stride}"),
            format!("{len} elements"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_follow_the_row_stride() {
        let data: Vec<f64> = (0..12).map(f64::from).collect();
        let v = MatRef::new(&data, 3, 2, 4).unwrap();
        assert_eq!(v.get(2, 1), 9.0);
        assert_eq!(v.row(1), &[4.0, 5.0]);
        let sub = v.rows_range(1, 3);
        assert_eq!(sub.rows(), 2);
        assert_eq!(sub.get(1, 0), 8.0);
        assert!(MatRef::new(&data, 4, 2, 4).is_err());
        assert!(MatRef::new(&data, 2, 5, 4).is_err());
    }

    #[test]
    fn set_rows_reuses_the_buffer() {
        let mut m = Matrix::<f32>::zeros(8, 3);
        let ptr = m.as_slice().as_ptr();
        m.set_rows(2);
        m.set_rows(8);
        assert_eq!(m.as_slice().as_ptr(), ptr);
        assert_eq!(m.shape(), (8, 3));
    }

    #[test]
    fn transpose_and_gather() {
        let m = Matrix::from_fn(2, 3, |i, j| (i * 3 + j) as f32);
        let t = m.transpose();
        assert_eq!(t.shape(), (3, 2));
        assert_eq!(t.get(2, 1), 5.0);
        let g = m.select_rows(&[1, 1, 0]);
        assert_eq!(g.row(0), &[3.0, 4.0, 5.0]);
        assert_eq!(g.row(2), &[0.0, 1.0, 2.0]);
    }
}
