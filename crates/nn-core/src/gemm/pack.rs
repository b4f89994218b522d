//! Operands as strided views, and packing: copying a block of op(A) or op(B)
//! into the panel layout the microkernel streams through.
//!
//! A block of `rows × cols` elements of an operand X is cut into panels of
//! `R` consecutive rows; panel `q` is stored column after column, each column
//! holding `R` contiguous values:
//!
//! ```text
//! dst[q·R·cols + c·R + r] = X(r0 + q·R + r, c0 + c)      (0 for rows past the block)
//! ```
//!
//! A is packed with `R = MR` (rows of op(A)); B is packed as op(B)ᵀ with
//! `R = NR`, so one routine serves both. Because X is read through a row
//! stride and a column stride, op = T costs nothing: it is a stride swap.

use super::Op;
use crate::float::Float;
use crate::matrix::MatRef;

/// A read-only strided matrix: element (i, j) is `data[i·rs + j·cs]`.
///
/// Invariant (established by the constructors): when `rows > 0` and
/// `cols > 0`, `(rows − 1)·rs + (cols − 1)·cs < data.len()`, so every
/// element of the matrix lies inside `data`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T: Float> Operand<'a, T> {
    /// op(X) for a row-major view X: `N` keeps the strides, `T` swaps them.
    pub(crate) fn new(x: MatRef<'a, T>, op: Op) -> Self {
        // MatRef guarantees (rows − 1)·row_stride + cols ≤ len, which is the
        // invariant above for op = N, and for op = T with the roles swapped.
        let (rows, cols, rs, cs) = match op {
            Op::N => (x.rows(), x.cols(), x.row_stride(), 1),
            Op::T => (x.cols(), x.rows(), 1, x.row_stride()),
        };
        Operand { data: x.as_slice(), rows, cols, rs, cs }
    }

    /// The transpose: a stride swap.
    pub(crate) fn t(self) -> Self {
        Operand { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Distance between vertically adjacent elements.
    pub(crate) fn rs(&self) -> usize {
        self.rs
    }

    /// Distance between horizontally adjacent elements.
    pub(crate) fn cs(&self) -> usize {
        self.cs
    }

    /// The underlying slice, starting at element (0, 0).
    pub(crate) fn data(&self) -> &'a [T] {
        self.data
    }
}

/// Length of the packed buffer for a `rows × cols` block cut into `r`-row panels.
pub(crate) fn packed_len(rows: usize, cols: usize, r: usize) -> usize {
    rows.div_ceil(r) * r * cols
}

/// True when the block `rows r0..r0+rows, cols c0..c0+cols` lies inside `x`
/// (overflow-checked: a block whose end does not fit in a `usize` is outside).
pub(crate) fn block_inside<T>(x: &Operand<'_, T>, r0: usize, rows: usize, c0: usize, cols: usize) -> bool {
    r0.checked_add(rows).is_some_and(|end| end <= x.rows) && c0.checked_add(cols).is_some_and(|end| end <= x.cols)
}

/// Packs the block `rows r0..r0+rows, cols c0..c0+cols` of `x` into `R`-row
/// panels (layout in the module doc), zero-filling the rows of the last panel
/// that lie past the block.
///
/// Panics if the block is not inside `x` or `dst` is shorter than
/// [`packed_len`]`(rows, cols, R)`; callers size both from the same numbers.
#[inline(always)]
pub(crate) fn pack_panels<T: Float, const R: usize>(
    dst: &mut [T],
    x: Operand<'_, T>,
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
) {
    assert!(block_inside(&x, r0, rows, c0, cols), "packing block outside its operand");
    let len = packed_len(rows, cols, R);
    assert!(dst.len() >= len, "packing buffer too short");
    if rows == 0 || cols == 0 {
        return;
    }
    let (rs, cs) = (x.rs, x.cs);
    let src = x.data.as_ptr();
    for (q, panel) in dst[..len].chunks_exact_mut(R * cols).enumerate() {
        let pr = R.min(rows - q * R);
        let base = (r0 + q * R) * rs + c0 * cs;
        // Bounds (all three branches' unsafe reads): the reads are X(r0 + q·R + r, c0 + c) for
        // r < pr, c < cols, i.e. rows < r0 + rows ≤ x.rows and columns
        // < c0 + cols ≤ x.cols (asserted above), so each offset
        // base + r·rs + c·cs ≤ (x.rows − 1)·rs + (x.cols − 1)·cs < data.len()
        // by the Operand invariant. The writes stay in `panel` (R·cols
        // elements), at c·R + r with r < R, c < cols, through `chunks_exact_mut`.
        if rs == 1 {
            // Columns of X are contiguous (op(A) = Aᵀ, or op(B) = B): each
            // packed column is a copy of pr consecutive elements.
            for (c, out) in panel.chunks_exact_mut(R).enumerate() {
                // SAFETY: pr ≤ R consecutive elements (rs = 1) of one column of
                // the block, in bounds as shown above.
                let column = unsafe { std::slice::from_raw_parts(src.add(base + c * cs), pr) };
                if pr == R {
                    // A copy of constant length: a few vector moves.
                    out.copy_from_slice(&column[..R]);
                } else {
                    for (o, &v) in out.iter_mut().zip(column) {
                        *o = v;
                    }
                    out[pr..].fill(T::ZERO);
                }
            }
        } else if cs == 1 && pr == R {
            // Rows of X are contiguous (op(A) = A, or op(B) = Bᵀ): a transpose.
            // Read R rows side by side so that each packed column is written once.
            for (c, out) in panel.chunks_exact_mut(R).enumerate() {
                for (r, o) in out.iter_mut().enumerate() {
                    // SAFETY: element (r0 + q·R + r, c0 + c) of the block, r < R = pr.
                    *o = unsafe { *src.add(base + r * rs + c) };
                }
            }
        } else {
            for (c, out) in panel.chunks_exact_mut(R).enumerate() {
                for (r, o) in out[..pr].iter_mut().enumerate() {
                    // SAFETY: element (r0 + q·R + r, c0 + c) of the block, r < pr.
                    *o = unsafe { *src.add(base + r * rs + c * cs) };
                }
                out[pr..].fill(T::ZERO);
            }
        }
    }
}
