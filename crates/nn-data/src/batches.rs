//! Mini-batches: a permutation of the sample indices cut into consecutive
//! batches of B, with the last partial batch kept or dropped (the MNIST
//! tutorial keeps it, the first tutorial drops it).
//!
//! An epoch's order is a seeded permutation drawn on its own ChaCha8 stream
//! (stream = epoch number), so epoch e's batches depend on (seed, e) alone and
//! not on how many epochs ran before, nor on any thread count.
//!
//! ```
//! use nn_data::batches::{LastBatch, MiniBatches};
//! let keep = MiniBatches::sequential(10, 4, LastBatch::Keep).unwrap();
//! let sizes: Vec<usize> = keep.iter().map(|b| b.len()).collect();
//! assert_eq!(sizes, vec![4, 4, 2]);
//! let drop = MiniBatches::sequential(10, 4, LastBatch::Drop).unwrap();
//! assert_eq!(drop.iter().collect::<Vec<_>>(), vec![&[0, 1, 2, 3][..], &[4, 5, 6, 7][..]]);
//!
//! let epoch1 = MiniBatches::shuffled(10, 4, LastBatch::Keep, 42, 1).unwrap();
//! assert_eq!(epoch1.order(), MiniBatches::shuffled(10, 4, LastBatch::Keep, 42, 1).unwrap().order());
//! assert_ne!(epoch1.order(), MiniBatches::shuffled(10, 4, LastBatch::Keep, 42, 2).unwrap().order());
//! ```

use crate::error::{DataError, Result};

/// What to do with the samples left over when B does not divide n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastBatch {
    /// Train on them as a smaller final batch (⌈n / B⌉ batches).
    Keep,
    /// Skip them this epoch (⌊n / B⌋ batches).
    Drop,
}

/// The batches of one epoch: `order` cut into slices of `batch_size` indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MiniBatches {
    order: Vec<usize>,
    batch_size: usize,
    last: LastBatch,
}

impl MiniBatches {
    /// Batches over `0..n` in order (no shuffle). Errors if `batch_size` is 0.
    pub fn sequential(n: usize, batch_size: usize, last: LastBatch) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::invalid("MiniBatches: batch_size", "at least 1", 0));
        }
        Ok(MiniBatches { order: (0..n).collect(), batch_size, last })
    }

    /// Batches over a permutation of `0..n` drawn by Fisher–Yates from
    /// ChaCha8 seeded with `seed` on stream `epoch`. Epoch 0's order equals
    /// [`crate::transform::permutation`]`(n, seed)`.
    pub fn shuffled(n: usize, batch_size: usize, last: LastBatch, seed: u64, epoch: u64) -> Result<Self> {
        let mut b = Self::sequential(n, batch_size, last)?;
        b.reshuffle(seed, epoch);
        Ok(b)
    }

    /// Redraws the order for another epoch in the same buffer (no allocation):
    /// the result equals `shuffled(n, batch_size, last, seed, epoch)`.
    pub fn reshuffle(&mut self, seed: u64, epoch: u64) {
        nn_core::shuffle::epoch_order(&mut self.order, seed, epoch);
    }

    /// Number of batches: ⌈n / B⌉ when keeping the last partial batch, ⌊n / B⌋ when dropping it.
    pub fn len(&self) -> usize {
        match self.last {
            LastBatch::Keep => self.order.len().div_ceil(self.batch_size),
            LastBatch::Drop => self.order.len() / self.batch_size,
        }
    }

    /// True if there is no batch at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of samples that will be seen this epoch (n, or n − n mod B when dropping).
    pub fn samples(&self) -> usize {
        match self.last {
            LastBatch::Keep => self.order.len(),
            LastBatch::Drop => self.len() * self.batch_size,
        }
    }

    /// The batch size B.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The whole order of this epoch.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The batches, each a slice of sample indices.
    pub fn iter(&self) -> std::iter::Take<std::slice::Chunks<'_, usize>> {
        self.order.chunks(self.batch_size).take(self.len())
    }
}

impl<'a> IntoIterator for &'a MiniBatches {
    type Item = &'a [usize];
    type IntoIter = std::iter::Take<std::slice::Chunks<'a, usize>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::permutation;

    #[test]
    fn batch_counts_follow_keep_and_drop() {
        for (n, b) in [(0, 3), (1, 3), (9, 3), (10, 3), (60_000, 16), (506, 8)] {
            let keep = MiniBatches::sequential(n, b, LastBatch::Keep).unwrap();
            let drop = MiniBatches::sequential(n, b, LastBatch::Drop).unwrap();
            assert_eq!(keep.iter().count(), n.div_ceil(b));
            assert_eq!(drop.iter().count(), n / b);
            assert_eq!(keep.iter().map(<[usize]>::len).sum::<usize>(), n);
            assert!(drop.iter().all(|x| x.len() == b));
            assert_eq!(drop.samples(), n - n % b);
        }
        assert!(MiniBatches::sequential(5, 0, LastBatch::Keep).is_err());
    }

    #[test]
    fn epoch_zero_is_the_plain_permutation_and_reshuffle_matches_shuffled() {
        let b = MiniBatches::shuffled(100, 7, LastBatch::Keep, 5, 0).unwrap();
        assert_eq!(b.order(), permutation(100, 5).as_slice());
        let mut r = b.clone();
        r.reshuffle(5, 3);
        assert_eq!(r, MiniBatches::shuffled(100, 7, LastBatch::Keep, 5, 3).unwrap());
        let mut flat: Vec<usize> = (&r).into_iter().flatten().copied().collect();
        flat.sort();
        assert_eq!(flat, (0..100).collect::<Vec<_>>());
    }
}
