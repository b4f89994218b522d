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

/// Rows that [`Matrix::gather_rows_from`] requests ahead of the one it
/// copies ([`RowSource::prefetch_row`]).
const PREFETCH_ROWS: usize = 4;

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

/// Length a slice must have to hold `rows` rows of `cols` with `row_stride`,
/// or `None` if that length does not fit in a `usize`.
fn needed_len(rows: usize, cols: usize, row_stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        Some(0)
    } else {
        (rows - 1).checked_mul(row_stride)?.checked_add(cols)
    }
}

/// Number of elements of a `rows × cols` matrix, or an error naming `what`
/// when `rows · cols` elements of `T` could not be allocated at all
/// (more than `isize::MAX` bytes, which also catches a product that wraps).
fn element_count<T>(what: &str, rows: usize, cols: usize) -> Result<usize, ShapeError> {
    let too_big = || {
        ShapeError::new(
            what,
            format!("at most {} bytes of elements", isize::MAX),
            format!("a {rows}×{cols} matrix, which does not fit in memory"),
        )
    };
    let n = rows.checked_mul(cols).ok_or_else(too_big)?;
    match n.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(n),
        _ => Err(too_big()),
    }
}

/// [`element_count`] for constructors that return `Self`: panics with the
/// error's message, as `vec!` does on a capacity overflow.
fn element_count_or_panic<T>(what: &str, rows: usize, cols: usize) -> usize {
    element_count::<T>(what, rows, cols).unwrap_or_else(|e| panic!("{e}"))
}

impl<T: Float> Matrix<T> {
    /// A `rows × cols` matrix of zeros.
    ///
    /// Panics, like `vec!`, if `rows · cols` elements cannot exist
    /// (see [`Matrix::try_zeros`] for an error instead).
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::filled(rows, cols, T::ZERO)
    }

    /// A `rows × cols` matrix of zeros, or an error if `rows · cols`
    /// overflows or exceeds `isize::MAX` bytes.
    ///
    /// ```
    /// use nn_core::Matrix;
    /// assert!(Matrix::<f32>::try_zeros(1 << 63, 2).is_err());
    /// assert_eq!(Matrix::<f32>::try_zeros(2, 3).unwrap().shape(), (2, 3));
    /// ```
    ///
    /// Also an error, rather than an abort, when the allocator cannot
    /// provide the memory.
    pub fn try_zeros(rows: usize, cols: usize) -> Result<Self, ShapeError> {
        let n = element_count::<T>("Matrix::zeros", rows, cols)?;
        let mut data = Vec::new();
        data.try_reserve_exact(n).map_err(|e| {
            ShapeError::new("Matrix::zeros", format!("memory for a {rows}×{cols} matrix"), e.to_string())
        })?;
        data.resize(n, T::ZERO);
        Ok(Matrix { data, rows, cols })
    }

    /// A `rows × cols` matrix with every element `value`.
    ///
    /// Panics, like `vec!`, if `rows · cols` elements cannot exist.
    pub fn filled(rows: usize, cols: usize, value: T) -> Self {
        let n = element_count_or_panic::<T>("Matrix::filled", rows, cols);
        Matrix { data: vec![value; n], rows, cols }
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
        let n = element_count::<T>("Matrix::from_vec", rows, cols)?;
        if data.len() != n {
            return Err(ShapeError::new(
                "Matrix::from_vec",
                format!("{rows}×{cols} = {n} elements"),
                format!("{} elements", data.len()),
            ));
        }
        Ok(Matrix { data, rows, cols })
    }

    /// Builds a matrix from rows of equal length; errors on a ragged row.
    pub fn from_rows(rows: &[Vec<T>]) -> Result<Self, ShapeError> {
        let cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(element_count::<T>("Matrix::from_rows", rows.len(), cols)?);
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
    ///
    /// Panics, like `vec!`, if `rows · cols` elements cannot exist.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(element_count_or_panic::<T>("Matrix::from_fn", rows, cols));
        // With no columns there is nothing to call `f` for, however many rows.
        for i in 0..if cols == 0 { 0 } else { rows } {
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

    /// Row i as a slice. Panics if `i` is out of bounds.
    #[inline]
    pub fn row(&self, i: usize) -> &[T] {
        assert!(i < self.rows, "row {i} out of a matrix with {} rows", self.rows);
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row i as a mutable slice. Panics if `i` is out of bounds.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        assert!(i < self.rows, "row {i} out of a matrix with {} rows", self.rows);
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
    ///
    /// Panics, like `vec!`, if `rows · cols` elements cannot exist.
    pub fn set_rows(&mut self, rows: usize) {
        let n = element_count_or_panic::<T>("Matrix::set_rows", rows, self.cols);
        self.data.resize(n, T::ZERO);
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
        let n = element_count_or_panic::<T>("Matrix::select_rows", indices.len(), self.cols);
        let mut data = Vec::with_capacity(n);
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
        // rows a few ahead are requested from memory while one is copied
        for &i in indices.iter().take(PREFETCH_ROWS) {
            src.prefetch_row(i);
        }
        for (k, &i) in indices.iter().enumerate() {
            if let Some(&ahead) = indices.get(k + PREFETCH_ROWS) {
                src.prefetch_row(ahead);
            }
            src.copy_row(i, self.row_mut(k));
        }
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
    ///
    /// A view of at most one row never steps to a next row: its stride is
    /// accepted whatever it is and stored as `cols`.
    pub fn new(data: &'a [T], rows: usize, cols: usize, row_stride: usize) -> Result<Self, ShapeError> {
        let row_stride = check_view("MatRef::new", data.len(), rows, cols, row_stride)?;
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
        let from = start.saturating_mul(self.row_stride).min(self.data.len());
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
    ///
    /// A view of at most one row never steps to a next row: its stride is
    /// accepted whatever it is and stored as `cols`.
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, row_stride: usize) -> Result<Self, ShapeError> {
        let row_stride = check_view("MatMut::new", data.len(), rows, cols, row_stride)?;
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
        let from = start.saturating_mul(self.row_stride).min(self.data.len());
        MatMut { data: &mut self.data[from..], rows: end - start, cols: self.cols, row_stride: self.row_stride }
    }
}

/// Checks a view's shape against its slice; returns the stride to store
/// (`cols` for a view of at most one row, whose stride is never used, so
/// that no later arithmetic on an arbitrary stride can overflow).
fn check_view(what: &str, len: usize, rows: usize, cols: usize, row_stride: usize) -> Result<usize, ShapeError> {
    if rows > 1 && row_stride < cols {
        return Err(ShapeError::new(what, format!("row stride ≥ cols ({cols})"), format!("row stride {row_stride}")));
    }
    let Some(need) = needed_len(rows, cols, row_stride) else {
        return Err(ShapeError::new(
            what,
            format!("(rows − 1) · row stride + cols to fit in a usize for {rows}×{cols}"),
            format!("row stride {row_stride}, which overflows"),
        ));
    };
    if len < need {
        return Err(ShapeError::new(
            what,
            format!("at least {need} elements for {rows}×{cols} with row stride {row_stride}"),
            format!("{len} elements"),
        ));
    }
    Ok(if rows <= 1 { cols } else { row_stride })
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
    fn sizes_that_overflow_are_refused_not_wrapped() {
        // 2^63 · 2 wraps to 0 in release builds: it used to give an empty buffer.
        assert!(Matrix::<f32>::try_zeros(1 << 63, 2).is_err());
        assert!(Matrix::<f64>::try_zeros(usize::MAX, usize::MAX).is_err());
        // Fits in a usize but not in memory (bytes > isize::MAX).
        assert!(Matrix::<f64>::try_zeros(1 << 61, 1).is_err());
        let e = Matrix::<f32>::from_vec(1 << 63, 2, vec![]).unwrap_err();
        assert!(e.to_string().contains("Matrix::from_vec"), "{e}");
        assert!(Matrix::<f32>::from_vec(2, 1 << 63, vec![]).is_err());
        assert!(Matrix::<f32>::from_vec(0, usize::MAX, vec![]).is_ok());
        for (rows, cols) in [(1usize << 63, 2usize), (2, 1 << 63), (usize::MAX, 3)] {
            let caught = |f: fn(usize, usize)| std::panic::catch_unwind(move || f(rows, cols)).is_err();
            assert!(caught(|r, c| drop(Matrix::<f32>::zeros(r, c))), "zeros({rows}, {cols})");
            assert!(caught(|r, c| drop(Matrix::<f32>::filled(r, c, 1.0))), "filled({rows}, {cols})");
            assert!(caught(|r, c| drop(Matrix::<f32>::from_fn(r, c, |_, _| 0.0))), "from_fn({rows}, {cols})");
            assert!(caught(|r, c| Matrix::<f32>::zeros(0, c).set_rows(r)), "set_rows({rows}) with {cols} cols");
        }
    }

    #[test]
    fn strides_that_overflow_are_refused() {
        let data = [1.0f64, 2.0, 3.0, 4.0];
        // (2 − 1)·usize::MAX + 2 wraps to 1: accepted before, and gemm then
        // read the element before the buffer.
        assert!(MatRef::new(&data, 2, 2, usize::MAX).is_err());
        assert!(MatRef::new(&data, 3, 1, usize::MAX / 2 + 1).is_err());
        assert!(MatRef::new(&data, usize::MAX, 1, 2).is_err());
        let mut buf = data;
        assert!(MatMut::new(&mut buf, 2, 2, usize::MAX).is_err());
        assert!(MatMut::new(&mut buf, usize::MAX, 2, usize::MAX).is_err());
        // One row: the stride is never used, any value is fine (and kept as cols,
        // so that gemm's stride arithmetic on it cannot overflow).
        let one = MatRef::new(&data, 1, 4, usize::MAX).unwrap();
        assert_eq!(one.row(0), &data);
        assert_eq!(one.row_stride(), 4);
        assert_eq!(one.rows_range(1, 1).rows(), 0);
    }

    #[test]
    fn any_number_of_rows_of_no_columns_costs_nothing() {
        // A view of usize::MAX rows of 0 columns is valid (it holds no element);
        // copying it used to loop over every row.
        let v = MatRef::<f32>::new(&[], usize::MAX, 0, 0).unwrap();
        let m = v.to_matrix();
        assert_eq!(m.shape(), (usize::MAX, 0));
        assert!(m.as_slice().is_empty());
    }

    #[test]
    fn a_row_past_the_end_panics_instead_of_wrapping() {
        let m = Matrix::from_fn(3, 2, |i, j| (i * 2 + j) as f32);
        // (2^63) · 2 wraps to 0: `row` used to return row 0.
        assert!(std::panic::catch_unwind(|| m.row(1 << 63).to_vec()).is_err());
        assert!(std::panic::catch_unwind(|| m.row(3).to_vec()).is_err());
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
