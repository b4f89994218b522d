//! The data-parallel gradient of a mini-batch: shards, per-shard state and
//! the fixed-order reduction.
//!
//! A batch of n rows is cut into ⌈n / s⌉ shards of s rows (the last one
//! shorter), where s is the configured shard size: the cut depends on n and
//! s only, never on the number of threads. Shard i gathers its rows into its
//! own buffers and computes its gradient with [`shard_gradients`] into its
//! own [`Workspace`] and [`Gradients`], all allocated once, for the largest
//! batch. The shard gradients are then summed element by element by a
//! pairwise tree over shard index,
//!
//! ```text
//! S(lo, size) = S(lo, size/2) + S(lo + size/2, size/2),   S(i, 1) = gᵢ
//! 4 shards: (g₀ + g₁) + (g₂ + g₃);   3 shards: (g₀ + g₁) + g₂
//! ```
//!
//! so every element of ∇E = Σᵢ gᵢ is added in the same order whichever
//! thread computed which shard: the result is bit-identical for any number
//! of threads. (Each shard divides by the whole batch size, so the sum needs
//! no rescaling.) Large tensors are cut into one part per thread, and each
//! thread sums its part, a run of elements at a time into a stack buffer.
//! Each run's sum goes either into ∇E ([`DataParallel::gradients`]) or, in
//! the trainer, straight into the optimizer (`DataParallel::step_elementwise`,
//! for element-wise optimizers): then ∇E is never written, the parameters of
//! a part are written by one thread only, and each element gets the bits of
//! ∇E followed by [`Optimizer::step`].
//!
//! ```
//! use nn_core::{Activation, Gradients, Init, Loss, Matrix, NetworkBuilder, Reduction, Workspace};
//! use nn_train::{shard_gradients, DataParallel};
//! use rand::SeedableRng;
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let net = NetworkBuilder::new(3).dense(4, Activation::Tanh).dense(2, Activation::Identity).build::<f64, _>(&mut rng);
//! let x = Matrix::from_fn(6, 3, |i, j| (i * 3 + j) as f64 / 10.0);
//! let t = Matrix::from_fn(6, 2, |i, j| (i + j) as f64 / 5.0);
//! let loss = Loss::Mse(Reduction::Mean);
//! // the whole batch at once …
//! let (mut ws, mut whole) = (Workspace::new(&net, 6), Gradients::zeros_like(&net));
//! let e = shard_gradients(&net, x.view(), t.view(), &loss, 6, &mut ws, &mut whole).unwrap();
//! // … and in shards of 4 and 2 rows
//! let mut dp = DataParallel::new(&net, 6, 4, false).unwrap();
//! let e_sharded = dp.compute(&net, x.view(), t.view(), &loss).unwrap();
//! assert!((e - e_sharded).abs() < 1e-15);
//! let diff = whole.layers[0].weights.as_slice().iter().zip(dp.gradients().layers[0].weights.as_slice());
//! assert!(diff.map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) < 1e-15);
//! ```

use std::ops::Range;

use nn_core::{Float, Gradients, MatRef, Matrix, Network, Optimizer, RowSource, ShapeError, TensorStep, Workspace};
use rayon::prelude::*;

use crate::error::TrainError;
use crate::step::{batch_total, shard_gradients, Objective};

/// How many rows a shard takes when no shard size is configured: a function
/// of the batch size B alone (never of the thread count). Shards of at most
/// 32 rows (smaller ones make the matrix products less efficient per row),
/// and at least two shards once B ≥ 16, so that two cores always have work:
/// B = 16 → 2 × 8, B = 64 → 2 × 32, B = 100 → 4 × 25, B = 256 → 8 × 32,
/// B ≤ 15 → one shard. On more cores, set a smaller shard size.
///
/// ```
/// use nn_train::parallel::auto_shard_size;
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
        let start = (i * self.shard_size).min(rows);
        start..(start + self.shard_size).min(rows)
    }
}

/// One shard's rows of the batch, gathered: inputs and targets.
#[repr(align(128))]
struct ShardRows<T> {
    x: Matrix<T>,
    t: Matrix<T>,
}

/// One shard's buffers, padded to its own cache lines so that threads
/// writing neighbouring shards never share one.
#[repr(align(128))]
struct Shard<T> {
    ws: Workspace<T>,
    grads: Gradients<T>,
    loss: T,
}

/// Per-shard state for the data-parallel gradient of mini-batches of up to
/// `batch_size` rows, allocated once. See the module docs.
pub struct DataParallel<T> {
    plan: ShardPlan,
    rows: Vec<ShardRows<T>>,
    shards: Vec<Shard<T>>,
    staged: Staged,
    parallel: bool,
    /// Shards of the last batch whose gradients are not summed yet.
    pending: usize,
    /// ∇E, the sum of the shard gradients.
    sum: Gradients<T>,
}

fn check_targets<T: Float>(x_rows: usize, t: &MatRef<'_, T>) -> Result<(), ShapeError> {
    if t.rows() != x_rows {
        return Err(ShapeError::new(
            "DataParallel targets",
            format!("one target row per input row ({x_rows})"),
            format!("{} target rows", t.rows()),
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

fn check_batch(plan: ShardPlan, shards: usize, rows: usize) -> Result<usize, ShapeError> {
    let k = plan.count(rows);
    if rows == 0 || k > shards {
        return Err(ShapeError::new(
            "DataParallel batch",
            format!("1 to {} rows", shards * plan.shard_size),
            format!("{rows} rows"),
        ));
    }
    Ok(k)
}

/// Which rows the shards' buffers already hold: the first `rows` rows of
/// the batch `indices` of the matrices at addresses `x` and `t` (compared,
/// never dereferenced).
struct Staged {
    indices: Vec<usize>,
    x: usize,
    t: usize,
    rows: usize,
}

/// Gathers the next batch's rows into the shards' buffers while the
/// gradients of the last one are still borrowed (see [`DataParallel::split`]).
pub(crate) struct Stager<'a, T> {
    plan: ShardPlan,
    rows: &'a mut [ShardRows<T>],
    staged: &'a mut Staged,
}

impl<T: Float> Stager<'_, T> {
    /// Copies the rows of the batch `indices` of `x` and `t` into the
    /// shards' buffers, row by row while `keep_going()` holds; the next
    /// [`DataParallel::gather_and_compute`] of the same batch copies only the rest.
    pub(crate) fn stage_while<X: RowSource<T> + ?Sized>(
        &mut self,
        x: &X,
        t: &Matrix<T>,
        indices: &[usize],
        keep_going: impl Fn() -> bool,
    ) {
        let n = indices.len();
        self.staged.rows = 0;
        let valid = check_batch(self.plan, self.rows.len(), n).is_ok()
            && x.n_rows() == t.rows()
            && check_indices(x.n_rows(), indices).is_ok();
        if !valid {
            return;
        }
        self.staged.indices.clear();
        self.staged.indices.extend_from_slice(indices);
        (self.staged.x, self.staged.t) = (address(x), address(t));
        for i in 0..self.plan.count(n) {
            let range = self.plan.range(n, i);
            let r = &mut self.rows[i];
            if r.x.cols() != x.n_cols() || r.t.cols() != t.cols() {
                return;
            }
            // no allocation, and no writes when the shard keeps its size
            r.x.set_rows(range.len());
            r.t.set_rows(range.len());
            for (j, &src) in indices[range.clone()].iter().enumerate() {
                if !keep_going() {
                    return;
                }
                x.copy_row(src, r.x.row_mut(j));
                r.t.row_mut(j).copy_from_slice(t.row(src));
                self.staged.rows = range.start + j + 1;
            }
        }
    }
}

fn address<M: ?Sized>(m: &M) -> usize {
    std::ptr::from_ref(m).cast::<u8>() as usize
}

impl<T: Float> DataParallel<T> {
    /// State for `net`, batches of up to `batch_size` rows and shards of
    /// `shard_size` rows. With `parallel`, shards run on the current rayon
    /// pool (call inside [`rayon::ThreadPool::install`] to choose it);
    /// without, one after the other on the calling thread. Both give the
    /// same bits.
    pub fn new(net: &Network<T>, batch_size: usize, shard_size: usize, parallel: bool) -> Result<Self, TrainError> {
        let plan = ShardPlan::new(shard_size)?;
        if batch_size == 0 {
            return Err(TrainError::Config("batch size must be at least 1 row".into()));
        }
        let rows = shard_size.min(batch_size);
        let k = plan.count(batch_size);
        Ok(DataParallel {
            plan,
            rows: (0..k)
                .map(|_| ShardRows { x: Matrix::zeros(rows, net.inputs()), t: Matrix::zeros(rows, net.outputs()) })
                .collect(),
            shards: (0..k)
                .map(|_| Shard { ws: Workspace::new(net, rows), grads: Gradients::zeros_like(net), loss: T::ZERO })
                .collect(),
            staged: Staged { indices: Vec::with_capacity(batch_size), x: 0, t: 0, rows: 0 },
            parallel,
            pending: 0,
            sum: Gradients::zeros_like(net),
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

    /// ∇E of the last batch, and a [`Stager`] for the next one: the trainer
    /// gathers the next batch on an idle thread while the optimizer steps.
    pub(crate) fn split(&mut self) -> (&Gradients<T>, Stager<'_, T>) {
        let stager = Stager { plan: self.plan, rows: &mut self.rows, staged: &mut self.staged };
        (&self.sum, stager)
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

    /// As [`DataParallel::gather_and_compute`], but the shard gradients are
    /// left unsummed, for [`DataParallel::step_elementwise`] (or
    /// [`DataParallel::reduce`]).
    pub(crate) fn gather_shards<O: Objective<T> + ?Sized, X: RowSource<T> + ?Sized>(
        &mut self,
        net: &Network<T>,
        x: &X,
        t: &Matrix<T>,
        indices: &[usize],
        objective: &O,
    ) -> Result<T, ShapeError> {
        self.pending = 0;
        let st = &mut self.staged;
        let same = st.x == address(x) && st.t == address(t) && st.indices == indices;
        let staged = if same { st.rows } else { 0 };
        st.rows = 0;
        let n = indices.len();
        let k = check_batch(self.plan, self.shards.len(), n)?;
        check_targets(x.n_rows(), &t.view())?;
        check_indices(x.n_rows(), indices)?;
        let plan = self.plan;
        self.run(k, |i, r, s| {
            let range = plan.range(n, i);
            if staged <= range.start {
                let rows = &indices[range];
                r.x.gather_rows_from(x, rows);
                r.t.gather_rows_from(t, rows);
            } else if staged < range.end {
                // the stager sized this shard's buffers and copied its first rows
                for j in staged - range.start..range.len() {
                    let src = indices[range.start + j];
                    x.copy_row(src, r.x.row_mut(j));
                    r.t.row_mut(j).copy_from_slice(t.row(src));
                }
            }
            s.loss = shard_gradients(net, r.x.view(), r.t.view(), objective, n, &mut s.ws, &mut s.grads)?;
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
        self.staged.rows = 0;
        let n = x.rows();
        let k = check_batch(self.plan, self.shards.len(), n)?;
        check_targets(n, &t)?;
        let plan = self.plan;
        let e = self.run(k, |i, _, s| {
            let r = plan.range(n, i);
            let (xs, ts) = (x.rows_range(r.start, r.end), t.rows_range(r.start, r.end));
            s.loss = shard_gradients(net, xs, ts, objective, n, &mut s.ws, &mut s.grads)?;
            Ok(())
        })?;
        self.reduce()?;
        Ok(e)
    }

    /// Runs `shard(i, rows, state)` for the first `k` shards and returns
    /// Σᵢ Eᵢ (summed in shard order); their gradients are left to sum.
    fn run<F>(&mut self, k: usize, shard: F) -> Result<T, ShapeError>
    where
        F: Fn(usize, &mut ShardRows<T>, &mut Shard<T>) -> Result<(), ShapeError> + Sync,
    {
        let (rows, shards) = (&mut self.rows[..k], &mut self.shards[..k]);
        if self.parallel && k > 1 {
            rows.par_iter_mut().zip(shards.par_iter_mut()).enumerate().try_for_each(|(i, (r, s))| shard(i, r, s))?;
        } else {
            rows.iter_mut().zip(shards.iter_mut()).enumerate().try_for_each(|(i, (r, s))| shard(i, r, s))?;
        }
        self.pending = k;
        Ok(shards.iter().fold(T::ZERO, |e, s| e + s.loss))
    }

    /// Sums the last batch's shard gradients into ∇E (the tree of the module
    /// docs), unless they are summed already.
    pub(crate) fn reduce(&mut self) -> Result<(), ShapeError> {
        let (shards, parts) = (&self.shards[..self.pending], self.parts());
        if shards.is_empty() {
            return Ok(());
        }
        for (layer, g) in self.sum.layers.iter_mut().enumerate() {
            for (is_weight, out) in [(true, g.weights.as_mut_slice()), (false, g.bias.as_mut_slice())] {
                sum_into(Slice { offset: 0, out }, (layer, is_weight), shards, parts)?;
            }
        }
        self.pending = 0;
        Ok(())
    }

    /// Threads that share a sum: the pool's when parallel.
    fn parts(&self) -> usize {
        if self.parallel {
            rayon::current_num_threads()
        } else {
            1
        }
    }

    /// One optimizer step from the last batch's shard gradients, each run's
    /// sum handed straight to an element-wise optimizer (see
    /// [`Optimizer::step_elementwise`]) on the thread that sums it, without
    /// writing ∇E. Every element gets the bits of [`DataParallel::reduce`]
    /// followed by [`Optimizer::step`]. Returns `Ok(false)`, with nothing
    /// done, when the optimizer has no element-wise form or the gradients
    /// are summed already.
    pub(crate) fn step_elementwise(
        &mut self,
        net: &mut Network<T>,
        optimizer: &mut (dyn Optimizer<T> + Send),
    ) -> Result<bool, ShapeError> {
        let (shards, parts) = (&self.shards[..self.pending], self.parts());
        if shards.is_empty() {
            return Ok(false);
        }
        let stepped = optimizer.step_elementwise(net, &mut |t| {
            let tensor = (t.layer(), t.is_weight());
            sum_into(t, tensor, shards, parts)
        })?;
        if stepped {
            // the step used the sums: ∇E is not filled
            self.pending = 0;
        }
        Ok(stepped)
    }
}

/// A run of one tensor's elements that takes their summed gradients: an
/// optimizer's [`TensorStep`], or a [`Slice`] of ∇E.
trait Sums<T>: Send + Sized {
    /// Where the run starts in the tensor.
    fn offset(&self) -> usize;
    /// Its length.
    fn len(&self) -> usize;
    /// The run cut at `mid`.
    fn split_at(self, mid: usize) -> (Self, Self);
    /// Takes the sums of its next `sum.len()` elements.
    fn take(&mut self, sum: &[T]) -> Result<(), ShapeError>;
}

impl<T: Float> Sums<T> for TensorStep<'_, T> {
    fn offset(&self) -> usize {
        TensorStep::offset(self)
    }
    fn len(&self) -> usize {
        TensorStep::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        TensorStep::split_at(self, mid)
    }
    fn take(&mut self, sum: &[T]) -> Result<(), ShapeError> {
        self.apply(sum)
    }
}

/// Elements `offset..` of a tensor of ∇E.
struct Slice<'a, T> {
    offset: usize,
    out: &'a mut [T],
}

impl<T: Float> Sums<T> for Slice<'_, T> {
    fn offset(&self) -> usize {
        self.offset
    }
    fn len(&self) -> usize {
        self.out.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a, b) = self.out.split_at_mut(mid);
        (Slice { offset: self.offset, out: a }, Slice { offset: self.offset + mid, out: b })
    }
    fn take(&mut self, sum: &[T]) -> Result<(), ShapeError> {
        let (head, rest) = std::mem::take(&mut self.out).split_at_mut(sum.len());
        head.copy_from_slice(sum);
        (self.out, self.offset) = (rest, self.offset + sum.len());
        Ok(())
    }
}

/// Elements of a tensor summed at a time (a stack buffer per level of the tree).
const RUN: usize = 1024;

/// Tensors (or parts) shorter than this are summed on one thread.
const PARALLEL_MIN: usize = 4096;

/// Sums the shard gradients of the elements of `out` (in tensor `(layer,
/// is_weight)`) in the tree order of the module docs and hands them to
/// `out`, run by run, in `parts` parts of whole cache lines on as many threads.
fn sum_into<T: Float, S: Sums<T>>(
    out: S,
    (layer, is_weight): (usize, bool),
    shards: &[Shard<T>],
    parts: usize,
) -> Result<(), ShapeError> {
    if parts > 1 && out.len() >= PARALLEL_MIN {
        let left = parts / 2;
        let mid = (out.len() * left / parts) / 16 * 16;
        let (a, b) = out.split_at(mid);
        let tensor = (layer, is_weight);
        let (ra, rb) = rayon::join(|| sum_into(a, tensor, shards, left), || sum_into(b, tensor, shards, parts - left));
        return ra.and(rb);
    }
    let grads = |i: usize| {
        let g = &shards[i].grads.layers[layer];
        if is_weight {
            g.weights.as_slice()
        } else {
            g.bias.as_slice()
        }
    };
    let mut out = out;
    if shards.len() == 1 {
        let start = out.offset();
        return out.take(&grads(0)[start..start + out.len()]);
    }
    let mut sum = [T::ZERO; RUN];
    while out.len() > 0 {
        let (start, n) = (out.offset(), out.len().min(RUN));
        let run = |i: usize| &grads(i)[start..start + n];
        tree_sum(&run, shards.len(), 0, shards.len().next_power_of_two(), &mut sum[..n]);
        out.take(&sum[..n])?;
    }
    Ok(())
}

/// `out` = the sum of `run(i)` over shards `lo .. lo + size` (those below
/// `k`), added as the pairwise tree of the module docs adds them:
/// S(lo, size) = S(lo, size/2) + S(lo + size/2, size/2).
fn tree_sum<'s, T: Float>(run: &dyn Fn(usize) -> &'s [T], k: usize, lo: usize, size: usize, out: &mut [T]) {
    let half = size / 2;
    if size == 1 || lo + half >= k {
        // no right half: the left one alone
        if size == 1 {
            out.copy_from_slice(run(lo));
        } else {
            tree_sum(run, k, lo, half, out);
        }
    } else if half == 1 {
        // a pair: one pass
        out.iter_mut().zip(run(lo).iter().zip(run(lo + 1))).for_each(|(o, (&a, &b))| *o = a + b);
    } else {
        tree_sum(run, k, lo, half, out);
        let mut right = [T::ZERO; RUN];
        let right = &mut right[..out.len()];
        tree_sum(run, k, lo + half, half, right);
        add_slice(out, right);
    }
}

#[inline]
fn add_slice<T: Float>(a: &mut [T], b: &[T]) {
    a.iter_mut().zip(b).for_each(|(x, &y)| *x += y);
}

/// Rows per chunk when evaluating (forward passes only).
pub(crate) const EVAL_CHUNK: usize = 256;

#[repr(align(128))]
struct EvalSlot<T> {
    ws: Workspace<T>,
}

/// Workspaces for evaluating a network chunk by chunk, one per thread,
/// allocated once. Chunk boundaries are fixed ([`EVAL_CHUNK`] rows), so the
/// predictions and the loss do not depend on the number of threads.
pub(crate) struct Evaluator<T> {
    slots: Vec<EvalSlot<T>>,
    parallel: bool,
}

impl<T: Float> Evaluator<T> {
    pub(crate) fn new(net: &Network<T>, threads: usize) -> Self {
        let slots = (0..threads.max(1)).map(|_| EvalSlot { ws: Workspace::new(net, EVAL_CHUNK) }).collect();
        Evaluator { slots, parallel: threads > 1 }
    }

    /// Number of chunks of a set of `rows` rows (the length `losses` must have).
    pub(crate) fn chunks(rows: usize) -> usize {
        rows.div_ceil(EVAL_CHUNK)
    }

    /// Hᴸ of `net` on `x` into `pred` (already shaped rows × outputs), and per
    /// chunk the objective's per-sample loss total against `t` into `losses`.
    /// Returns the loss per sample, summed over the chunks in order.
    pub(crate) fn run<O: Objective<T> + ?Sized>(
        &mut self,
        net: &Network<T>,
        x: &Matrix<T>,
        t: &Matrix<T>,
        objective: &O,
        pred: &mut Matrix<T>,
        losses: &mut [f64],
    ) -> Result<f64, ShapeError> {
        let (n, m) = (x.rows(), net.outputs());
        let reduction = objective.reduction();
        let per_slot = self.slots.len();
        let chunk = |c: usize, slot: &mut EvalSlot<T>, out: &mut [T], loss: &mut f64| -> Result<(), ShapeError> {
            let (start, end) = (c * EVAL_CHUNK, ((c + 1) * EVAL_CHUNK).min(n));
            net.forward(x.rows_range(start, end), &mut slot.ws)?;
            let h = slot.ws.output();
            out.chunks_mut(m).enumerate().for_each(|(i, row)| row.copy_from_slice(h.row(i)));
            let e = objective.output_delta(net, t.rows_range(start, end), &mut slot.ws, end - start)?;
            *loss = batch_total(reduction, e.to_f64(), end - start);
            Ok(())
        };
        let n_chunks = Self::chunks(n);
        let data = pred.as_mut_slice();
        for first in (0..n_chunks).step_by(per_slot) {
            let last = (first + per_slot).min(n_chunks);
            let out = &mut data[first * EVAL_CHUNK * m..(last * EVAL_CHUNK).min(n) * m];
            let round = &mut losses[first..last];
            if self.parallel && last - first > 1 {
                self.slots
                    .par_iter_mut()
                    .zip(out.par_chunks_mut(EVAL_CHUNK * m))
                    .zip(round.par_iter_mut())
                    .enumerate()
                    .try_for_each(|(j, ((slot, out), loss))| chunk(first + j, slot, out, loss))?;
            } else {
                let slots = self.slots.iter_mut().zip(out.chunks_mut(EVAL_CHUNK * m)).zip(round.iter_mut());
                for (j, ((slot, out), loss)) in slots.enumerate() {
                    chunk(first + j, slot, out, loss)?;
                }
            }
        }
        Ok(losses.iter().sum::<f64>() / n.max(1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::{Activation, Loss, NetworkBuilder, Reduction};
    use rand::SeedableRng;

    fn setup() -> (Network<f64>, Matrix<f64>, Matrix<f64>) {
        let net = NetworkBuilder::new(3)
            .dense(4, Activation::Tanh)
            .dense(2, Activation::Identity)
            .build(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        let x = Matrix::from_fn(10, 3, |i, j| (i as f64 - 2.0 * j as f64) / 7.0);
        let t = Matrix::from_fn(10, 2, |i, j| ((i + j) % 3) as f64);
        (net, x, t)
    }

    #[test]
    fn staged_rows_are_used_only_for_the_same_batch() {
        let (net, mut x, t) = setup();
        let loss = Loss::Mse(Reduction::Mean);
        let idx = [7, 1, 4, 9, 0, 2];
        let mut dp = DataParallel::new(&net, 6, 2, false).unwrap();
        let fresh = dp.gather_and_compute(&net, &x, &t, &idx, &loss).unwrap();
        let fresh_grads = dp.gradients().clone();

        // the whole batch staged, then the same batch: the same result
        dp.split().1.stage_while(&x, &t, &idx, || true);
        assert_eq!(dp.staged.rows, 6);
        assert_eq!(dp.gather_and_compute(&net, &x, &t, &idx, &loss).unwrap(), fresh);
        assert_eq!(dp.gradients(), &fresh_grads);
        assert_eq!(dp.staged.rows, 0, "staged rows are used once");

        // staging stops when told to: here after three rows (the first shard and half the second)
        let calls = std::cell::Cell::new(0);
        dp.split().1.stage_while(&x, &t, &idx, || {
            calls.set(calls.get() + 1);
            calls.get() <= 3
        });
        assert_eq!(dp.staged.rows, 3);
        // the staged rows really are reused: change x in place, the first three rows stay as staged
        x.set(7, 0, 100.0);
        x.set(4, 1, -50.0);
        let mixed = dp.gather_and_compute(&net, &x, &t, &idx, &loss).unwrap();
        let changed = dp.gather_and_compute(&net, &x, &t, &idx, &loss).unwrap();
        assert_eq!(mixed, fresh);
        assert_ne!(changed, fresh);

        // another batch ignores what was staged
        dp.split().1.stage_while(&x, &t, &idx, || true);
        let other = [3, 5, 6, 8];
        let e = dp.gather_and_compute(&net, &x, &t, &other, &loss).unwrap();
        let mut check = DataParallel::new(&net, 6, 2, false).unwrap();
        assert_eq!(e, check.gather_and_compute(&net, &x, &t, &other, &loss).unwrap());
        // invalid batches stage nothing
        dp.split().1.stage_while(&x, &t, &[0, 99], || true);
        assert_eq!(dp.staged.rows, 0);
    }
}
