//! Training as several processes: the one operation that crosses them.
//!
//! Every process (a *rank*, 0 … P − 1) holds a full replica of the network,
//! reads the same data and draws the same seeded shuffle, so every rank
//! knows every mini-batch. The batch is cut into the same fixed shards as in
//! one process ([`ShardPlan`](crate::ShardPlan)); shard i belongs to rank
//! [`owner`]`(i, P)` = i mod P, a rule of the shard index and the number of
//! ranks alone. Each rank computes its own shards (in parallel on its rayon
//! pool, as one process does), and then the shard gradients are combined
//! across ranks, in one of two ways ([`Combine`]):
//!
//! - **exact**: every rank receives every shard's gradient and loss
//!   ([`Collective::all_gather`]), and sums them with the same pairwise tree
//!   over shard index as one process does. The weights are those of the
//!   single-process run, bit for bit, for any number of ranks and threads.
//!   This is the MPI standard's advice for reproducible reductions: gather
//!   the operands, reduce them in a fixed order. Each rank receives
//!   (K − its own) × (parameters + 1) values per step, for K shards.
//! - **fast**: each rank sums its own shards (the same tree, over its shards
//!   only), and one [`Collective::all_reduce_sum`] (`MPI_Allreduce`) adds the
//!   P partial sums. It moves one gradient per rank instead of one per shard,
//!   but the additions happen in another order, so the weights differ from
//!   the single-process run in the last bits, and differ between rank
//!   counts; the accuracy is the same within noise.
//!
//! Both leave the replicas identical (every rank computes the same sum from
//! the same values); the trainer checks that at the end of every epoch
//! ([`Collective::all_gather_u64`] of a hash of the parameters).
//!
//! The trait is the seam: [`Local`] is one process (what the trainer does
//! without a collective), [`InProcess`] runs P ranks as threads of one
//! process (the reference implementation of the contract, used by the
//! tests), and the `mpi` feature adds `mpi::MpiCollective` over MPI.

use std::sync::{Arc, Barrier, Mutex, PoisonError};

use crate::error::TrainError;

/// How the shard gradients are combined across ranks. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Combine {
    /// Gather every shard's gradient, sum them in the single-process order:
    /// bit-identical to one process.
    Exact,
    /// Sum each rank's shards, then add the ranks' sums with `MPI_Allreduce`:
    /// less traffic, not bit-identical.
    Fast,
}

impl Combine {
    /// `exact` or `fast`.
    pub fn name(self) -> &'static str {
        match self {
            Combine::Exact => "exact",
            Combine::Fast => "fast",
        }
    }
}

/// The rank that computes shard `shard` when `ranks` ranks train: `shard mod ranks`.
///
/// ```
/// use nn_train::collective::owner;
/// // 8 shards on 3 ranks: rank 0 takes 0, 3, 6; rank 1 takes 1, 4, 7; rank 2 takes 2, 5
/// assert_eq!((0..8).map(|i| owner(i, 3)).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2, 0, 1]);
/// ```
pub fn owner(shard: usize, ranks: usize) -> usize {
    shard % ranks.max(1)
}

/// What failed in a collective operation, as one sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectiveError(pub String);

impl std::fmt::Display for CollectiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CollectiveError {}

impl From<CollectiveError> for TrainError {
    fn from(e: CollectiveError) -> Self {
        TrainError::Collective(e.0)
    }
}

/// The ranks of a training run and the operations between them. Every rank
/// calls the same operations in the same order (they are collective: a call
/// returns once every rank has made it). Implementations must give every
/// rank the same result, bit for bit.
pub trait Collective<T>: Send + Sync {
    /// This process's rank, `0 .. ranks()`.
    fn rank(&self) -> usize;
    /// The number of ranks, P ≥ 1.
    fn ranks(&self) -> usize;
    /// How shard gradients are combined.
    fn combine(&self) -> Combine;
    /// Every rank's `mine`, concatenated in rank order, into `all`;
    /// `counts[r]` is the length of rank r's part (the same `counts` on
    /// every rank, `all.len()` their sum).
    fn all_gather(&self, mine: &[T], all: &mut [T], counts: &[usize]) -> Result<(), CollectiveError>;
    /// `buf` ← the element-wise sum of every rank's `buf`.
    fn all_reduce_sum(&self, buf: &mut [T]) -> Result<(), CollectiveError>;
    /// Every rank's `value`, in rank order (to check that the ranks agree).
    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, CollectiveError>;
}

/// Checks that every rank has the same `value` (e.g. a hash of its data and
/// settings); the error names the first rank that differs from rank 0, with `what`.
pub fn check_agreement<T>(collective: &dyn Collective<T>, value: u64, what: &str) -> Result<(), CollectiveError> {
    let all = collective.all_gather_u64(value)?;
    match all.iter().position(|&v| v != all[0]) {
        None => Ok(()),
        Some(r) => Err(CollectiveError(format!(
            "the ranks disagree on {what}: rank {r} has {:016x}, rank 0 has {:016x} (ranks must run the same binary with \
             the same options on the same data)",
            all[r], all[0]
        ))),
    }
}

/// One process: no other rank, nothing to exchange.
#[derive(Clone, Copy, Debug, Default)]
pub struct Local;

impl<T: Copy + Send + Sync> Collective<T> for Local {
    fn rank(&self) -> usize {
        0
    }
    fn ranks(&self) -> usize {
        1
    }
    fn combine(&self) -> Combine {
        Combine::Exact
    }
    fn all_gather(&self, mine: &[T], all: &mut [T], counts: &[usize]) -> Result<(), CollectiveError> {
        check_counts(mine.len(), all.len(), counts, 0, 1)?;
        all.copy_from_slice(mine);
        Ok(())
    }
    fn all_reduce_sum(&self, _buf: &mut [T]) -> Result<(), CollectiveError> {
        Ok(())
    }
    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, CollectiveError> {
        Ok(vec![value])
    }
}

/// Checks the arguments of [`Collective::all_gather`] on rank `rank` of
/// `ranks`: one count per rank, this rank's count is `mine`'s length, and
/// `all` holds their sum.
pub(crate) fn check_counts(
    mine: usize,
    all: usize,
    counts: &[usize],
    rank: usize,
    ranks: usize,
) -> Result<(), CollectiveError> {
    let total: usize = counts.iter().sum();
    if counts.len() != ranks || counts.get(rank) != Some(&mine) || total != all {
        return Err(CollectiveError(format!(
            "all_gather: rank {rank} of {ranks} sends {mine} values into {all}, but the counts say {counts:?}"
        )));
    }
    Ok(())
}

/// P ranks as threads of one process, for tests and as the reference of the
/// [`Collective`] contract: [`InProcess::group`] makes the P handles, one
/// per thread. Sums add the ranks' values in rank order.
pub struct InProcess<T> {
    rank: usize,
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    ranks: usize,
    combine: Combine,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<T>>>,
    words: Mutex<Vec<u64>>,
}

impl<T: Copy + Default + Send + Sync + std::ops::Add<Output = T>> InProcess<T> {
    /// The handles of `ranks` ranks that combine gradients as `combine`.
    pub fn group(ranks: usize, combine: Combine) -> Vec<InProcess<T>> {
        let ranks = ranks.max(1);
        let shared = Arc::new(Shared {
            ranks,
            combine,
            barrier: Barrier::new(ranks),
            slots: Mutex::new(vec![Vec::new(); ranks]),
            words: Mutex::new(vec![0; ranks]),
        });
        (0..ranks).map(|rank| InProcess { rank, shared: Arc::clone(&shared) }).collect()
    }

    /// Publishes `mine` in this rank's slot, waits for every rank, and hands
    /// out all the slots; waits again before any slot is reused.
    fn exchange<R>(&self, mine: &[T], read: impl FnOnce(&[Vec<T>]) -> R) -> R {
        {
            let mut slots = self.shared.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots[self.rank].clear();
            slots[self.rank].extend_from_slice(mine);
        }
        self.shared.barrier.wait();
        let r = read(&self.shared.slots.lock().unwrap_or_else(PoisonError::into_inner));
        self.shared.barrier.wait();
        r
    }
}

impl<T: Copy + Default + Send + Sync + std::ops::Add<Output = T>> Collective<T> for InProcess<T> {
    fn rank(&self) -> usize {
        self.rank
    }
    fn ranks(&self) -> usize {
        self.shared.ranks
    }
    fn combine(&self) -> Combine {
        self.shared.combine
    }
    fn all_gather(&self, mine: &[T], all: &mut [T], counts: &[usize]) -> Result<(), CollectiveError> {
        let checked = check_counts(mine.len(), all.len(), counts, self.rank, self.shared.ranks);
        self.exchange(mine, |slots| {
            checked?;
            let mut at = 0;
            for (r, slot) in slots.iter().enumerate() {
                if slot.len() != counts[r] {
                    return Err(CollectiveError(format!(
                        "all_gather: rank {r} sent {} values, the counts say {}",
                        slot.len(),
                        counts[r]
                    )));
                }
                all[at..at + slot.len()].copy_from_slice(slot);
                at += slot.len();
            }
            Ok(())
        })
    }
    fn all_reduce_sum(&self, buf: &mut [T]) -> Result<(), CollectiveError> {
        let rank = self.rank;
        let mine = buf.to_vec();
        self.exchange(&mine, |slots| {
            if let Some((r, s)) = slots.iter().enumerate().find(|(_, s)| s.len() != buf.len()) {
                return Err(CollectiveError(format!(
                    "all_reduce_sum: rank {r} sent {} values, rank {rank} {}",
                    s.len(),
                    buf.len()
                )));
            }
            buf.copy_from_slice(&slots[0]);
            for s in &slots[1..] {
                buf.iter_mut().zip(s).for_each(|(b, &v)| *b = *b + v);
            }
            Ok(())
        })
    }
    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>, CollectiveError> {
        self.shared.words.lock().unwrap_or_else(PoisonError::into_inner)[self.rank] = value;
        self.shared.barrier.wait();
        let all = self.shared.words.lock().unwrap_or_else(PoisonError::into_inner).clone();
        self.shared.barrier.wait();
        Ok(all)
    }
}
