//! The data-parallel gradient of a mini-batch, and the step taken with it.
//!
//! A batch of n rows is cut into shards by a [`ShardPlan`] (the cut depends
//! on n and the shard size only, never on the number of threads). Shard i
//! gathers its rows into its own buffers and computes its gradient gᵢ with
//! [`Network::loss_and_gradients`] (the same driver a single-threaded loop
//! calls) into its own [`Workspace`] and [`Gradients`], all allocated once,
//! for the largest batch. The shard gradients are then summed in a fixed
//! pairwise-tree order over shard index (see the `reduce` module), so
//! ∇E = Σᵢ gᵢ has the same bits for any number of threads.
//!
//! [`DataParallel::step`] takes one optimizer step from the last batch: an
//! element-wise optimizer (all of nn-core's) receives each run of summed
//! gradients on the thread that summed it and steps those elements at once,
//! without ∇E ever being written; any other optimizer gets ∇E, reduced, and
//! steps as usual. Both give the bits of "∇E, then [`Optimizer::step`]".
//!
//! On several threads, a shard leaves the largest gradient, ∂E/∂W⁰ = Xᵢᵀδᵢ⁰,
//! unformed: the thread that steps a block of rows of W⁰ forms those rows of
//! Σᵢ Xᵢᵀδᵢ⁰ from the shards' rows and δ⁰, in the same order, so the threads
//! exchange Xᵢ and δᵢ⁰ rather than the gradients (an 8-row shard of MNIST
//! has 25 KB of rows, its gradient of 784 × 64 weights 200 KB), and the sum
//! goes to the optimizer while it is in cache. On one thread, shard
//! 2j + 1 adds its gradient into shard 2j's buffer instead, and when the
//! objective computes δᴸ for any rows ([`Objective::splits_rows`], as every
//! [`nn_core::Loss`] does) the pair goes through one forward and backward
//! pass of twice the rows ([`Network::loss_and_gradients_of_pair`]): the
//! same bits, in larger, faster products. Several threads pair their
//! shards so too when each gets whole pairs (a batch of 256 in 8 shards on
//! 2 or 4 threads), still leaving ∂E/∂W⁰ to the step
//! ([`Network::loss_and_gradients_of_pair_but_first_weights`]).
//!
//! ```
//! use nn_core::{Activation, Init, Loss, Matrix, NetworkBuilder, Reduction};
//! use nn_train::{DataParallel, Execution};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let net = NetworkBuilder::new(3).dense(4, Activation::Tanh).dense(2, Activation::Identity).build::<f64, _>(&mut rng)?;
//! let x = Matrix::from_fn(6, 3, |i, j| (i * 3 + j) as f64 / 10.0);
//! let t = Matrix::from_fn(6, 2, |i, j| (i + j) as f64 / 5.0);
//! let loss = Loss::Mse(Reduction::Mean);
//! // the whole batch at once …
//! let (e, whole) = net.gradients(x.view(), t.view(), &loss)?;
//! // … and in shards of 4 and 2 rows
//! let mut dp = DataParallel::new(&net, 6, 4, Execution::Serial)?;
//! let e_sharded = dp.compute(&net, x.view(), t.view(), &loss)?;
//! assert!((e - e_sharded).abs() < 1e-15);
//! let diff = whole.layers[0].weights.as_slice().iter().zip(dp.gradients().layers[0].weights.as_slice());
//! assert!(diff.map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) < 1e-15);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::Instant;

use nn_core::{
    ElementwiseStep, Float, Gradients, MatRef, Matrix, Network, Objective, Optimizer, RowSource, ShapeError, Workspace,
};
use rayon::prelude::*;

use crate::collective::{owner, Collective, Combine};
use crate::error::TrainError;
use crate::reduce::{first_weights_into, sum_into, Deferred, Slice, Strided};
use crate::shards::ShardPlan;

/// Where the shards of a batch run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Execution {
    /// One after the other, on the calling thread.
    Serial,
    /// On the current rayon pool (call inside [`rayon::ThreadPool::install`]
    /// to choose it). The same bits as `Serial`.
    Parallel,
}

/// One shard's rows of the batch, gathered, and its buffers, padded to its
/// own cache lines so that threads writing neighbouring shards never share one.
#[repr(align(128))]
struct Shard<T> {
    x: Matrix<T>,
    t: Matrix<T>,
    ws: Workspace<T>,
    grads: Gradients<T>,
    loss: T,
    /// Where the second shard's rows start in `x` when the slot holds a
    /// pair (`Job::Pair`); its rows otherwise.
    split: usize,
    /// Seconds spent gathering rows, and in the forward and backward pass,
    /// since the last [`DataParallel::take_times`].
    gather_seconds: f64,
    pass_seconds: f64,
}

impl<T> AsRef<Gradients<T>> for Shard<T> {
    fn as_ref(&self) -> &Gradients<T> {
        &self.grads
    }
}

/// The shards of a batch that left ∂E/∂W⁰ unformed, as the step sees
/// them: shard i in its own slot, or, `paired`, in slot 2⌊i/2⌋, the rows
/// before (i even) or from (i odd) that slot's split.
struct Left<'a, T> {
    shards: &'a [Shard<T>],
    paired: bool,
}

impl<T: Float> Left<'_, T> {
    fn rows(&self, i: usize) -> (&Shard<T>, std::ops::Range<usize>) {
        if !self.paired {
            let s = &self.shards[i];
            return (s, 0..s.x.rows());
        }
        let s = &self.shards[i & !1];
        let n = s.x.rows();
        let split = s.split.min(n);
        (s, if i.is_multiple_of(2) { 0..split } else { split..n })
    }
}

impl<T: Float> Deferred<T> for Left<'_, T> {
    fn count(&self) -> usize {
        self.shards.len()
    }
    fn x(&self, i: usize) -> MatRef<'_, T> {
        let (s, r) = self.rows(i);
        s.x.view().rows_range(r.start, r.end)
    }
    fn delta0(&self, i: usize) -> MatRef<'_, T> {
        let (s, r) = self.rows(i);
        s.ws.delta(0).rows_range(r.start, r.end)
    }
}

/// What a shard does with its gradient.
enum Job<'g, T> {
    /// Writes it into its own buffers.
    Write,
    /// Adds it to another shard's (the first of its pair).
    AddTo(&'g mut Gradients<T>),
    /// Writes all but ∂E/∂W⁰, left for the step to form from X and δ⁰.
    WriteButFirstWeights,
    /// With the next shard (given, to take its loss): both shards' rows in
    /// one forward and backward pass, their gradient g + g' written
    /// ([`Network::loss_and_gradients_of_pair`]); with `true`, all of it but
    /// ∂E/∂W⁰ ([`Network::loss_and_gradients_of_pair_but_first_weights`]).
    Pair(&'g mut Shard<T>, bool),
}

/// Where the last batch's gradients are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Computed {
    /// In the first k shards, not summed yet; with stride 2, the even slots
    /// hold the sums of the shard pairs (2j, 2j + 1), added in place.
    Shards(usize, usize),
    /// In the first k shards, all but ∂E/∂W⁰, which is formed from their
    /// rows and δ⁰ when summed (see [`first_weights_into`]); with `true`,
    /// the shards are in pairs, as in `Shards(k, 2)`.
    Deferred(usize, bool),
    /// Summed into ∇E.
    Reduced,
    /// Used by an element-wise step (∇E was never written), or nothing computed yet.
    Spent,
}

/// Per-shard state for the data-parallel gradient of mini-batches of up to
/// `batch_size` rows, allocated once. See the module docs.
pub struct DataParallel<T> {
    plan: ShardPlan,
    shards: Vec<Shard<T>>,
    execution: Execution,
    computed: Computed,
    /// ∇E, the sum of the shard gradients.
    sum: Gradients<T>,
    /// The other ranks of a multi-process run, if any.
    ranks: Option<Ranks<T>>,
    /// A buffer per thread for the blocks of ∂E/∂W⁰ formed in the step.
    scratch: Vec<Vec<T>>,
    /// Batches, and wall seconds in computing them and in steps, since the last take.
    times: StepTimes,
}

/// A multi-process run's side of [`DataParallel`]: the collective and the
/// buffers of its exchanges, allocated once.
struct Ranks<T> {
    collective: Arc<dyn Collective<T>>,
    /// What this rank contributes to an exchange.
    send: Vec<T>,
    /// What it receives.
    recv: Vec<T>,
    /// Values per rank of the last exchange.
    counts: Vec<usize>,
    /// Time spent in exchanges and bytes contributed, since the last [`DataParallel::take_comm`].
    seconds: f64,
    bytes: u64,
}

/// Time in the exchanges between ranks and bytes this rank contributed to them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CommStats {
    /// Wall time in collective operations (waiting for other ranks included), seconds.
    pub seconds: f64,
    /// Payload this rank contributed, bytes.
    pub bytes: u64,
}

/// Where the time of the batches since the last [`DataParallel::take_times`]
/// went. `compute` and `step` are wall times; `gather` and `pass` add up the
/// time of every shard, on whichever thread ran it. So on P threads
/// `P·compute − gather − pass` is what the threads spent not working on a
/// shard while the batches were computed: waiting for each other, for the
/// pool, or, across ranks, for the exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTimes {
    /// Batches computed.
    pub batches: u64,
    /// Wall time of the batches' gradients ([`DataParallel::gather_shards`],
    /// [`DataParallel::compute`], …: shards and exchanges), seconds.
    pub compute: f64,
    /// Wall time of [`DataParallel::step`] (the sum of the shard gradients
    /// and the optimizer, and on several threads ∂E/∂W⁰), seconds.
    pub step: f64,
    /// Time the shards spent gathering their rows, summed over shards, seconds.
    pub gather: f64,
    /// Time the shards spent in their forward and backward passes, summed over shards, seconds.
    pub pass: f64,
}

/// The values of one shard in an exchange: every parameter's gradient, layer
/// by layer (weights, then bias), then the shard's loss.
fn pack<T: Float>(out: &mut Vec<T>, grads: &Gradients<T>, loss: T) {
    for g in &grads.layers {
        out.extend_from_slice(g.weights.as_slice());
        out.extend_from_slice(g.bias.as_slice());
    }
    out.push(loss);
}

/// The inverse of [`pack`]: fills `grads` from the front of `values` and
/// returns the loss and the rest.
fn unpack<'v, T: Float>(values: &'v [T], grads: &mut Gradients<T>) -> (T, &'v [T]) {
    let mut rest = values;
    for g in &mut grads.layers {
        for m in [&mut g.weights, &mut g.bias] {
            let (head, tail) = rest.split_at(m.as_slice().len());
            m.as_mut_slice().copy_from_slice(head);
            rest = tail;
        }
    }
    let (loss, rest) = rest.split_first().map_or((T::ZERO, rest), |(l, r)| (*l, r));
    (loss, rest)
}

/// Values in one shard's part of an exchange: the parameters and the loss.
fn packed_len<T: Float>(grads: &Gradients<T>) -> usize {
    grads.layers.iter().map(|g| g.weights.as_slice().len() + g.bias.as_slice().len()).sum::<usize>() + 1
}

/// The number of the first `k` shards that rank `rank` of `ranks` owns.
fn owned(k: usize, rank: usize, ranks: usize) -> usize {
    if rank < k {
        (k - rank).div_ceil(ranks)
    } else {
        0
    }
}

/// The rows of the batch that shard `i`'s job covers (with the next shard's
/// for a pair), and where a pair's second shard starts in them (for a shard
/// alone, their number).
fn rows_of<T>(plan: ShardPlan, n: usize, i: usize, job: &Job<'_, T>) -> (std::ops::Range<usize>, usize) {
    let own = plan.range(n, i);
    match job {
        Job::Pair(..) => (own.start..plan.range(n, i + 1).end, own.len()),
        _ => (own.clone(), own.len()),
    }
}

fn check_targets(x_rows: usize, t_rows: usize) -> Result<(), ShapeError> {
    if t_rows != x_rows {
        return Err(ShapeError::new(
            "DataParallel targets",
            format!("one target row per input row ({x_rows})"),
            format!("{t_rows} target rows"),
        ));
    }
    Ok(())
}

fn check_indices(rows: usize, indices: &[usize]) -> Result<(), ShapeError> {
    if let Some((at, &bad)) = indices.iter().enumerate().find(|&(_, &i)| i >= rows) {
        return Err(ShapeError::new(
            "DataParallel batch indices",
            format!("row indices below {rows}"),
            format!("index {bad} at position {at}"),
        ));
    }
    Ok(())
}

impl<T: Float> DataParallel<T> {
    /// State for `net`, batches of up to `batch_size` rows and shards of
    /// `shard_size` rows, run as `execution` says.
    pub fn new(
        net: &Network<T>,
        batch_size: usize,
        shard_size: usize,
        execution: Execution,
    ) -> Result<Self, TrainError> {
        let plan = ShardPlan::new(shard_size)?;
        if batch_size == 0 {
            return Err(TrainError::Config("batch size must be at least 1 row".into()));
        }
        let rows = shard_size.min(batch_size);
        // shard pairs run through one pass, in the first one's buffers (on one
        // thread, and on several when each gets whole pairs)
        let capacity = |i: usize| if i.is_multiple_of(2) { 2 * rows } else { rows };
        let shards = (0..plan.count(batch_size))
            .map(|i| Shard {
                x: Matrix::zeros(capacity(i), net.inputs()),
                t: Matrix::zeros(capacity(i), net.outputs()),
                ws: Workspace::new(net, capacity(i)),
                grads: Gradients::zeros_like(net),
                loss: T::ZERO,
                split: 0,
                gather_seconds: 0.0,
                pass_seconds: 0.0,
            })
            .collect();
        Ok(DataParallel {
            plan,
            shards,
            execution,
            computed: Computed::Spent,
            sum: Gradients::zeros_like(net),
            ranks: None,
            scratch: Vec::new(),
            times: StepTimes::default(),
        })
    }

    /// The same state as one of the ranks of `collective`: each batch is cut
    /// into the same shards, this rank computes the shards it owns
    /// ([`collective::owner`](crate::collective::owner)), and the gradients are combined
    /// across ranks as [`Collective::combine`] says (see the
    /// [`collective`](crate::collective) module). Every rank must make the
    /// same calls with the same batches.
    pub fn with_collective(mut self, collective: Arc<dyn Collective<T>>) -> Result<Self, TrainError> {
        let (rank, ranks) = (collective.rank(), collective.ranks());
        if ranks == 0 || rank >= ranks {
            return Err(TrainError::Config(format!("rank {rank} of {ranks}: ranks must be at least 1, rank below it")));
        }
        let per_shard = packed_len(&self.sum);
        let k = self.shards.len();
        let (send, recv) = match collective.combine() {
            Combine::Exact => (owned(k, rank, ranks) * per_shard, k * per_shard),
            Combine::Fast => (per_shard, 0),
        };
        self.ranks = Some(Ranks {
            collective,
            send: Vec::with_capacity(send),
            recv: vec![T::ZERO; recv],
            counts: vec![0; ranks],
            seconds: 0.0,
            bytes: 0,
        });
        Ok(self)
    }

    /// This rank and the number of ranks: (0, 1) in one process.
    pub fn rank(&self) -> (usize, usize) {
        self.ranks.as_ref().map_or((0, 1), |r| (r.collective.rank(), r.collective.ranks()))
    }

    /// The collective of a multi-process run, if any.
    pub fn collective(&self) -> Option<&Arc<dyn Collective<T>>> {
        self.ranks.as_ref().map(|r| &r.collective)
    }

    /// Where the time went since the last call (see [`StepTimes`]).
    ///
    /// ```
    /// use nn_core::{Activation, Loss, Matrix, NetworkBuilder, Reduction, Sgd};
    /// use nn_train::{DataParallel, Execution};
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    /// let mut net = NetworkBuilder::new(3).dense(2, Activation::Identity).build::<f64, _>(&mut rng)?;
    /// let x = Matrix::from_fn(4, 3, |i, j| (i + j) as f64);
    /// let t = Matrix::from_fn(4, 2, |i, j| (i * j) as f64);
    /// let mut dp = DataParallel::new(&net, 4, 2, Execution::Serial)?;
    /// dp.gather_shards(&net, &x, &t, &[3, 1, 0, 2], &Loss::Mse(Reduction::Mean))?;
    /// dp.step(&mut net, &mut Sgd::new(0.1))?;
    /// let times = dp.take_times();
    /// assert_eq!(times.batches, 1);
    /// assert!(times.compute >= times.gather + times.pass && times.step > 0.0);
    /// assert_eq!(dp.take_times().batches, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_times(&mut self) -> StepTimes {
        let mut times = std::mem::take(&mut self.times);
        for s in &mut self.shards {
            times.gather += std::mem::take(&mut s.gather_seconds);
            times.pass += std::mem::take(&mut s.pass_seconds);
        }
        times
    }

    /// Time and bytes of the exchanges since the last call (zero in one process).
    pub fn take_comm(&mut self) -> CommStats {
        self.ranks.as_mut().map_or(CommStats::default(), |r| {
            let stats = CommStats { seconds: r.seconds, bytes: r.bytes };
            (r.seconds, r.bytes) = (0.0, 0);
            stats
        })
    }

    /// The shard plan.
    pub fn plan(&self) -> ShardPlan {
        self.plan
    }

    /// ∇E of the last batch computed by [`DataParallel::gather_and_compute`]
    /// or [`DataParallel::compute`] (the reduced sum of its shard gradients).
    pub fn gradients(&self) -> &Gradients<T> {
        &self.sum
    }

    /// The number of shards of a batch of `rows` rows, if the state has room.
    fn shards_for(&self, rows: usize) -> Result<usize, ShapeError> {
        let k = self.plan.count(rows);
        if rows == 0 || k > self.shards.len() {
            return Err(ShapeError::new(
                "DataParallel batch",
                format!("1 to {} rows", self.shards.len() * self.plan.shard_size()),
                format!("{rows} rows"),
            ));
        }
        Ok(k)
    }

    /// ∇E and E of the batch made of rows `indices` of `x` (a [`Matrix`] or
    /// any other [`RowSource`]) and `t`: each shard gathers its rows into its
    /// own buffers, so the data stays where it is. Returns E; ∇E is then in
    /// [`DataParallel::gradients`].
    pub fn gather_and_compute<O: Objective<T> + ?Sized, X: RowSource<T> + ?Sized>(
        &mut self,
        net: &Network<T>,
        x: &X,
        t: &Matrix<T>,
        indices: &[usize],
        objective: &O,
    ) -> Result<T, ShapeError> {
        let e = self.gather_shards(net, x, t, indices, objective)?;
        self.reduce()?;
        Ok(e)
    }

    /// E of the batch made of rows `indices` of `x` and `t`, its gradients
    /// left in the shards for [`DataParallel::step`] to sum.
    pub fn gather_shards<O: Objective<T> + ?Sized, X: RowSource<T> + ?Sized>(
        &mut self,
        net: &Network<T>,
        x: &X,
        t: &Matrix<T>,
        indices: &[usize],
        objective: &O,
    ) -> Result<T, ShapeError> {
        let n = indices.len();
        let k = self.shards_for(n)?;
        check_targets(x.n_rows(), t.rows())?;
        check_indices(x.n_rows(), indices)?;
        let plan = self.plan;
        self.run(k, true, objective.splits_rows(), |i, s, job| {
            let start = Instant::now();
            let (rows, split) = rows_of(plan, n, i, &job);
            s.split = split;
            let rows = &indices[rows];
            s.x.gather_rows_from(x, rows);
            s.t.gather_rows_from(t, rows);
            let gathered = Instant::now();
            s.gather_seconds += (gathered - start).as_secs_f64();
            let (x, t, ws) = (s.x.view(), s.t.view(), &mut s.ws);
            s.loss = match job {
                Job::Write => net.loss_and_gradients(x, t, objective, n, ws, &mut s.grads)?,
                Job::AddTo(g) => net.add_loss_and_gradients(x, t, objective, n, ws, g)?,
                Job::WriteButFirstWeights => {
                    net.loss_and_gradients_but_first_weights(x, t, objective, n, ws, &mut s.grads)?
                }
                Job::Pair(next, false) => {
                    let (e, e_next) = net.loss_and_gradients_of_pair(x, t, split, objective, n, ws, &mut s.grads)?;
                    next.loss = e_next;
                    e
                }
                Job::Pair(next, true) => {
                    let g = &mut s.grads;
                    let (e, e_next) =
                        net.loss_and_gradients_of_pair_but_first_weights(x, t, split, objective, n, ws, g)?;
                    next.loss = e_next;
                    e
                }
            };
            s.pass_seconds += gathered.elapsed().as_secs_f64();
            Ok(())
        })
    }

    /// ∇E and E of the batch `x`, `t` (its shards are row ranges, read in
    /// place). Returns E; ∇E is then in [`DataParallel::gradients`].
    pub fn compute<O: Objective<T> + ?Sized>(
        &mut self,
        net: &Network<T>,
        x: MatRef<'_, T>,
        t: MatRef<'_, T>,
        objective: &O,
    ) -> Result<T, ShapeError> {
        let n = x.rows();
        let k = self.shards_for(n)?;
        check_targets(n, t.rows())?;
        let plan = self.plan;
        // the shards read their rows in place, so none is left for the step
        // to form ∂E/∂W⁰ from: no `Job::WriteButFirstWeights`
        let e = self.run(k, false, objective.splits_rows(), |i, s, job| {
            let start = Instant::now();
            let (r, split) = rows_of(plan, n, i, &job);
            s.split = split;
            let (xs, ts) = (x.rows_range(r.start, r.end), t.rows_range(r.start, r.end));
            s.loss = match job {
                Job::AddTo(g) => net.add_loss_and_gradients(xs, ts, objective, n, &mut s.ws, g)?,
                // the rows are the caller's: nothing is deferred (`run`'s `gathered`)
                Job::Pair(next, _) => {
                    let (e, e_next) =
                        net.loss_and_gradients_of_pair(xs, ts, split, objective, n, &mut s.ws, &mut s.grads)?;
                    next.loss = e_next;
                    e
                }
                Job::Write | Job::WriteButFirstWeights => {
                    net.loss_and_gradients(xs, ts, objective, n, &mut s.ws, &mut s.grads)?
                }
            };
            s.pass_seconds += start.elapsed().as_secs_f64();
            Ok(())
        })?;
        self.reduce()?;
        Ok(e)
    }

    /// Runs `shard(i, state, job)` for the shards of a batch of `k` shards
    /// that this rank computes, combines them across ranks, and returns
    /// E = Σᵢ Eᵢ (summed in shard order). In one process and in exact mode
    /// every shard's gradient is then in its own slot, left for the step to
    /// sum; in fast mode ∇E is summed already. With `gathered` (the shards
    /// hold their rows), several threads in one process leave ∂E/∂W⁰ to the
    /// step.
    fn run<F>(&mut self, k: usize, gathered: bool, pairs_at_once: bool, shard: F) -> Result<T, ShapeError>
    where
        F: Fn(usize, &mut Shard<T>, Job<'_, T>) -> Result<(), ShapeError> + Sync,
    {
        let start = Instant::now();
        let e = self.run_shards(k, gathered, pairs_at_once, shard);
        self.times.batches += 1;
        self.times.compute += start.elapsed().as_secs_f64();
        e
    }

    /// [`DataParallel::run`] without the clock.
    fn run_shards<F>(&mut self, k: usize, gathered: bool, pairs_at_once: bool, shard: F) -> Result<T, ShapeError>
    where
        F: Fn(usize, &mut Shard<T>, Job<'_, T>) -> Result<(), ShapeError> + Sync,
    {
        self.computed = Computed::Spent;
        let (rank, ranks) = self.rank();
        let combine = self.ranks.as_ref().map_or(Combine::Exact, |r| r.collective.combine());
        // slot s computes shard `global(s)`: its own index (exact: if this
        // rank owns it), or, in fast mode, this rank's s-th shard
        let m = owned(k, rank, ranks);
        let global = |s: usize| match combine {
            Combine::Exact => (owner(s, ranks) == rank).then_some(s),
            Combine::Fast => (s < m).then_some(rank + s * ranks),
        };
        // One thread, one process: shard 2j + 1 adds its gradient into shard
        // 2j's buffer (`add_loss_and_gradients`: the same bits as the tree's
        // first level, g₂ⱼ + g₂ⱼ₊₁), so the step sums half as many buffers;
        // `pairs_at_once`: both in one pass (`loss_and_gradients_of_pair`).
        let single_pass = ranks == 1 && k > 1 && self.plan.shard_size() <= nn_core::gemm::SINGLE_PASS_K;
        let pairs = single_pass && self.execution == Execution::Serial;
        // Several threads, one process: each shard leaves Xᵢᵀδᵢ⁰ unformed, and
        // the step forms the sum of the rows of ∂E/∂W⁰ each thread updates
        // (the same bits; see `first_weights_into`).
        let defer = single_pass && gathered && self.execution == Execution::Parallel && self.parts() > 1;
        // … and when every thread gets whole pairs of shards, each pair goes
        // through one pass of twice the rows, as on one thread
        // (`loss_and_gradients_of_pair_but_first_weights`; the same bits).
        let defer_pairs = defer && pairs_at_once && k.is_multiple_of(2 * self.parts());
        // Shards 2j and 2j + 1 (`pair`, the second missing at an odd end):
        // in one pass when the objective allows it, leaving ∂E/∂W⁰ with
        // `deferred`; else the second added into the first's buffer.
        let run_pair = |j: usize, pair: &mut [Shard<T>], deferred: bool| {
            let (first, second) = pair.split_at_mut(1);
            let first = &mut first[0];
            match second.first_mut() {
                Some(second) if pairs_at_once => shard(2 * j, first, Job::Pair(second, deferred)),
                Some(second) => {
                    shard(2 * j, first, Job::Write)?;
                    shard(2 * j + 1, second, Job::AddTo(&mut first.grads))
                }
                None if deferred => shard(2 * j, first, Job::WriteButFirstWeights),
                None => shard(2 * j, first, Job::Write),
            }
        };
        let shards = &mut self.shards[..k];
        match self.execution {
            Execution::Parallel if defer_pairs => {
                shards.par_chunks_mut(2).enumerate().try_for_each(|(j, pair)| run_pair(j, pair, true))?;
            }
            Execution::Parallel if k > 1 => {
                let mine = shards.par_iter_mut().enumerate().filter_map(|(s, st)| global(s).map(|g| (g, st)));
                let job = || if defer { Job::WriteButFirstWeights } else { Job::Write };
                mine.try_for_each(|(g, st)| shard(g, st, job()))?;
            }
            _ if pairs => {
                for (j, pair) in shards.chunks_mut(2).enumerate() {
                    run_pair(j, pair, false)?;
                }
            }
            _ => {
                let mut mine = shards.iter_mut().enumerate().filter_map(|(s, st)| global(s).map(|g| (g, st)));
                mine.try_for_each(|(g, st)| shard(g, st, Job::Write))?;
            }
        }
        if pairs || defer {
            self.computed = if defer { Computed::Deferred(k, defer_pairs) } else { Computed::Shards(k, 2) };
            return Ok(self.shards[..k].iter().fold(T::ZERO, |e, s| e + s.loss));
        }
        if ranks == 1 {
            self.computed = Computed::Shards(k, 1);
            return Ok(self.shards[..k].iter().fold(T::ZERO, |e, s| e + s.loss));
        }
        match combine {
            Combine::Exact => {
                self.exchange_exact(k)?;
                self.computed = Computed::Shards(k, 1);
                Ok(self.shards[..k].iter().fold(T::ZERO, |e, s| e + s.loss))
            }
            Combine::Fast => {
                let e = self.exchange_fast(m)?;
                self.computed = Computed::Reduced;
                Ok(e)
            }
        }
    }

    /// Exact mode: every rank's shards to every rank, each into its own slot.
    fn exchange_exact(&mut self, k: usize) -> Result<(), ShapeError> {
        let Some(r) = self.ranks.as_mut() else { return Ok(()) };
        let (rank, ranks) = (r.collective.rank(), r.collective.ranks());
        let per_shard = packed_len(&self.sum);
        r.send.clear();
        for s in (rank..k).step_by(ranks) {
            pack(&mut r.send, &self.shards[s].grads, self.shards[s].loss);
        }
        for (q, c) in r.counts.iter_mut().enumerate() {
            *c = owned(k, q, ranks) * per_shard;
        }
        let total = k * per_shard;
        let start = Instant::now();
        let done = r.collective.all_gather(&r.send, &mut r.recv[..total], &r.counts);
        r.seconds += start.elapsed().as_secs_f64();
        r.bytes += (r.send.len() * std::mem::size_of::<T>()) as u64;
        done.map_err(|e| ShapeError::new("exact exchange of shard gradients", "every rank's shards", e.0))?;
        let mut rest = &r.recv[..total];
        for q in 0..ranks {
            for s in (q..k).step_by(ranks) {
                if q == rank {
                    rest = &rest[per_shard..];
                } else {
                    let (loss, tail) = unpack(rest, &mut self.shards[s].grads);
                    self.shards[s].loss = loss;
                    rest = tail;
                }
            }
        }
        Ok(())
    }

    /// Fast mode: this rank's `m` shards summed by the tree, then the ranks'
    /// sums (and losses) added by one all-reduce. Returns E.
    fn exchange_fast(&mut self, m: usize) -> Result<T, ShapeError> {
        let parts = self.parts();
        let Some(r) = self.ranks.as_mut() else { return Ok(T::ZERO) };
        let shards = &self.shards[..m];
        for (layer, g) in self.sum.layers.iter_mut().enumerate() {
            for (is_weight, out) in [(true, g.weights.as_mut_slice()), (false, g.bias.as_mut_slice())] {
                if m == 0 {
                    out.fill(T::ZERO);
                } else {
                    sum_into(Slice { offset: 0, out }, (layer, is_weight), Strided(shards, 1), parts)?;
                }
            }
        }
        let e = shards.iter().fold(T::ZERO, |e, s| e + s.loss);
        r.send.clear();
        pack(&mut r.send, &self.sum, e);
        let start = Instant::now();
        let done = r.collective.all_reduce_sum(&mut r.send);
        r.seconds += start.elapsed().as_secs_f64();
        r.bytes += (r.send.len() * std::mem::size_of::<T>()) as u64;
        done.map_err(|e| ShapeError::new("fast exchange of gradient sums", "every rank's sum", e.0))?;
        let (e, _) = unpack(&r.send, &mut self.sum);
        Ok(e)
    }

    /// Threads that share a sum: the pool's when parallel.
    fn parts(&self) -> usize {
        match self.execution {
            Execution::Parallel => rayon::current_num_threads(),
            Execution::Serial => 1,
        }
    }

    /// Sums the last batch's shard gradients into ∇E, unless they are summed already.
    fn reduce(&mut self) -> Result<(), ShapeError> {
        let parts = self.parts();
        let Some(mut sums) = Summer::pending(self.computed, &self.shards, parts, &mut self.scratch) else {
            return Ok(());
        };
        for (layer, g) in self.sum.layers.iter_mut().enumerate() {
            for (is_weight, out) in [(true, g.weights.as_mut_slice()), (false, g.bias.as_mut_slice())] {
                sums.sum(Slice { offset: 0, out }, (layer, is_weight))?;
            }
        }
        self.computed = Computed::Reduced;
        Ok(())
    }

    /// One optimizer step with the last batch's gradients (from
    /// [`DataParallel::gather_shards`], [`DataParallel::gather_and_compute`]
    /// or [`DataParallel::compute`]). An element-wise optimizer sums and
    /// steps each part of the parameters on the thread that owns it (see
    /// [`Optimizer::step_elementwise`]); any other steps with ∇E. Either way
    /// every element gets the bits of ∇E followed by [`Optimizer::step`].
    /// The gradients are used once: a second step without a new batch is an
    /// error.
    pub fn step(&mut self, net: &mut Network<T>, optimizer: &mut (dyn Optimizer<T> + Send)) -> Result<(), ShapeError> {
        let start = Instant::now();
        let done = self.step_untimed(net, optimizer);
        self.times.step += start.elapsed().as_secs_f64();
        done
    }

    /// [`DataParallel::step`] without the clock.
    fn step_untimed(
        &mut self,
        net: &mut Network<T>,
        optimizer: &mut (dyn Optimizer<T> + Send),
    ) -> Result<(), ShapeError> {
        match self.computed {
            Computed::Spent => Err(ShapeError::new(
                "DataParallel::step",
                "the gradients of a new batch",
                "gradients already used by a step (or none computed)",
            )),
            Computed::Reduced => {
                self.computed = Computed::Spent;
                optimizer.step(net, &self.sum)
            }
            Computed::Shards(..) | Computed::Deferred(..) => {
                let parts = self.parts();
                let Some(mut sums) = Summer::pending(self.computed, &self.shards, parts, &mut self.scratch) else {
                    return Ok(());
                };
                let sum_and_step = &mut |t: nn_core::TensorStep<'_, T>| {
                    let tensor = (t.layer(), t.is_weight());
                    sums.sum(t, tensor)
                };
                match optimizer.step_elementwise(net, sum_and_step)? {
                    ElementwiseStep::Taken => {
                        self.computed = Computed::Spent;
                        Ok(())
                    }
                    ElementwiseStep::Unsupported => {
                        self.reduce()?;
                        self.computed = Computed::Spent;
                        optimizer.step(net, &self.sum)
                    }
                }
            }
        }
    }
}

/// Sums the shard gradients of one batch, tensor by tensor, into ∇E or an
/// optimizer's step: [`sum_into`], or, for ∂E/∂W⁰ of shards that left it
/// unformed, [`first_weights_into`].
struct Summer<'a, T> {
    shards: &'a [Shard<T>],
    stride: usize,
    deferred: bool,
    parts: usize,
    scratch: &'a mut Vec<Vec<T>>,
}

impl<'a, T: Float> Summer<'a, T> {
    /// The summer of the gradients `computed` says are in `shards` and not
    /// summed yet, if any, on `parts` threads.
    fn pending(computed: Computed, shards: &'a [Shard<T>], parts: usize, scratch: &'a mut Vec<Vec<T>>) -> Option<Self> {
        let (k, stride, deferred) = match computed {
            Computed::Shards(k, stride) => (k, stride, false),
            Computed::Deferred(k, paired) => (k, if paired { 2 } else { 1 }, true),
            Computed::Reduced | Computed::Spent => return None,
        };
        if deferred && scratch.len() < parts {
            scratch.resize_with(parts, Vec::new);
        }
        Some(Summer { shards: &shards[..k], stride, deferred, parts, scratch })
    }

    fn sum<S: crate::reduce::Sums<T>>(&mut self, out: S, tensor: (usize, bool)) -> Result<(), ShapeError> {
        if self.deferred && tensor == (0, true) {
            let cols = self.shards.first().map_or(1, |s| s.grads.layers[0].weights.cols());
            let left = Left { shards: self.shards, paired: self.stride == 2 };
            first_weights_into(out, &left, cols, self.parts, &mut self.scratch[..self.parts])
        } else {
            sum_into(out, tensor, Strided(self.shards, self.stride), self.parts)
        }
    }
}
