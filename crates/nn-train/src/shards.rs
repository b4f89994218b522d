//! The cut of a mini-batch into shards: a function of the batch size and
//! the shard size alone, never of the number of threads.

use std::ops::Range;

use crate::error::TrainError;

/// How many rows a shard takes when no shard size is configured: a function
/// of the batch size B alone (never of the thread count). Shards of at most
/// 32 rows (smaller ones make the matrix products less efficient per row),
/// and at least two shards once B ≥ 16, so that two cores always have work:
/// B = 16 → 2 × 8, B = 64 → 2 × 32, B = 100 → 4 × 25, B = 256 → 8 × 32,
/// B ≤ 15 → one shard. On more cores, set a smaller shard size.
///
/// ```
/// use nn_train::shards::auto_shard_size;
/// assert_eq!([1, 10, 16, 64, 100, 256].map(auto_shard_size), [1, 10, 8, 32, 25, 32]);
/// ```
pub fn auto_shard_size(batch_size: usize) -> usize {
    let b = batch_size.max(1);
    let shards = b.div_ceil(32).max((b / 8).min(2)).max(1);
    b.div_ceil(shards)
}

/// The cut of a batch into shards of `shard_size` rows (the last one shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardPlan {
    shard_size: usize,
}

impl ShardPlan {
    /// Shards of `shard_size` rows; errors if it is 0.
    pub fn new(shard_size: usize) -> Result<Self, TrainError> {
        if shard_size == 0 {
            return Err(TrainError::Config("shard size must be at least 1 row".into()));
        }
        Ok(ShardPlan { shard_size })
    }

    /// Rows per shard.
    pub fn shard_size(&self) -> usize {
        self.shard_size
    }

    /// Number of shards of a batch of `rows` rows: ⌈rows / s⌉.
    pub fn count(&self, rows: usize) -> usize {
        rows.div_ceil(self.shard_size)
    }

    /// The rows of shard `i` of a batch of `rows` rows.
    ///
    /// ```
    /// let plan = nn_train::ShardPlan::new(4).unwrap();
    /// let cut: Vec<_> = (0..plan.count(10)).map(|i| plan.range(10, i)).collect();
    /// assert_eq!(cut, vec![0..4, 4..8, 8..10]);
    /// ```
    pub fn range(&self, rows: usize, i: usize) -> Range<usize> {
        let start = i.saturating_mul(self.shard_size).min(rows);
        start..start.saturating_add(self.shard_size).min(rows)
    }
}
