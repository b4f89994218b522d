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

/// Bytes of a huge page of x86-64 and aarch64 Linux (with 4 KiB base pages).
const HUGE_PAGE: usize = 2 << 20;

/// Reserves room for at least `additional` more elements in `v` and asks
/// the kernel to back the whole 2 MiB pages of that room with huge pages
/// (Linux's `madvise(MADV_HUGEPAGE)`), before anything is written there.
/// Returns whether the kernel took the advice: `false` for a room smaller
/// than a huge page, on other systems, where transparent huge pages are
/// not built in, or if the room cannot be allocated (then `v` is left as
/// it was: no panic). A hint like [`prefetch`]: it changes no value.
///
/// For tables of samples read in random order, row by row (a shuffled
/// epoch of a data set larger than the cache): with 4 KiB pages nearly
/// every row is a TLB miss, and in a virtual machine each one walks two
/// sets of page tables. Fewer, larger pages make gathering such rows
/// faster, and filling the table too (fewer page faults).
///
/// ```
/// let mut pixels: Vec<u8> = Vec::new();
/// let advised = nn_core::rows::reserve_in_huge_pages(&mut pixels, 47_040_000);
/// assert!(pixels.capacity() >= 47_040_000);
/// # let _ = advised;
/// ```
pub fn reserve_in_huge_pages<U>(v: &mut Vec<U>, additional: usize) -> bool {
    if v.try_reserve_exact(additional).is_err() {
        return false;
    }
    let spare = v.spare_capacity_mut();
    let start = spare.as_ptr() as usize;
    let end = start + std::mem::size_of_val(spare);
    let (lo, hi) = (start.next_multiple_of(HUGE_PAGE), end / HUGE_PAGE * HUGE_PAGE);
    if hi <= lo {
        return false;
    }
    advise_huge(lo, hi - lo)
}

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
fn advise_huge(start: usize, len: usize) -> bool {
    /// `MADV_HUGEPAGE` of the kernel's generic `mman-common.h`.
    const MADV_HUGEPAGE: std::ffi::c_int = 14;
    extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: `start .. start + len` is page-aligned and lies inside the
    // caller's vector's allocation (its unused capacity); MADV_HUGEPAGE only
    // changes how the kernel backs those pages, never their contents, and
    // the C library's `madvise` has this signature.
    unsafe { madvise(start as *mut std::ffi::c_void, len, MADV_HUGEPAGE) == 0 }
}

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
fn advise_huge(_start: usize, _len: usize) -> bool {
    false
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
        // a room no allocator can give: refused, and the vector kept
        let mut w = vec![1u64, 2];
        assert!(!reserve_in_huge_pages(&mut w, usize::MAX / 4));
        assert_eq!(w, [1, 2]);
    }

    #[test]
    fn huge_page_room_is_reserved_and_advised_where_linux_takes_the_advice() {
        let mut v: Vec<u32> = vec![7, 8, 9];
        // too small for a whole huge page: nothing to advise
        assert!(!reserve_in_huge_pages(&mut v, 100));
        assert!(v.capacity() >= 103);
        let advised = reserve_in_huge_pages(&mut v, 3 << 20);
        assert!(v.capacity() >= 3 + (3 << 20));
        v.extend(0..3 << 20);
        assert_eq!((v[..4].to_vec(), v[v.len() - 1]), (vec![7, 8, 9, 0], (3 << 20) - 1));
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            println!("could not check the kernel's flags: no /proc/self/smaps (advised: {advised})");
            return;
        };
        // the mapping that holds the vector is flagged `hg` (MADV_HUGEPAGE) iff the advice was taken
        let at = v.as_ptr() as usize + v.len() * 2;
        let mut flagged = None;
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split(' ').next().and_then(|r| r.split_once('-'));
            if let Some((a, b)) = range.filter(|_| !line.starts_with("VmFlags")) {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                    inside = a <= at && at < b;
                    continue;
                }
            }
            if inside && line.starts_with("VmFlags:") {
                flagged = Some(line.split_whitespace().any(|f| f == "hg"));
            }
        }
        assert_eq!(flagged, Some(advised), "VmFlags of the vector's mapping against what the call returned");
        if !advised {
            println!("could not check huge pages: the kernel refused MADV_HUGEPAGE (no transparent huge pages here)");
        }
    }
}
