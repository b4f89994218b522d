//! The fixed-order sum of the shard gradients: ∇E = Σᵢ gᵢ, added by a
//! pairwise tree over shard index,
//!
//! ```text
//! S(lo, size) = S(lo, size/2) + S(lo + size/2, size/2),   S(i, 1) = gᵢ
//! 4 shards: (g₀ + g₁) + (g₂ + g₃);   3 shards: (g₀ + g₁) + g₂
//! ```
//!
//! so every element is added in the same order whichever thread computed
//! which shard: the result is bit-identical for any number of threads. (Each
//! shard divides by the whole batch size, so the sum needs no rescaling.)
//!
//! [`sum_into`] is the one routine that sums: a tensor (or a part of one)
//! is cut into one part per thread on whole cache lines, and each thread
//! sums its part a run of [`RUN`] elements at a time into a stack buffer,
//! handing each run's sum to a [`Sums`]: either a slice of ∇E, or an
//! optimizer's [`TensorStep`], which steps those elements at once (then ∇E
//! is never written, and each part of Wˡ is written by one thread only).

use nn_core::{gemm, Float, Gradients, MatMut, MatRef, Op, ShapeError, TensorStep};

/// A run of one tensor's elements that takes their summed gradients: an
/// optimizer's [`TensorStep`], or a [`Slice`] of ∇E.
pub(crate) trait Sums<T>: Send + Sized {
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
pub(crate) struct Slice<'a, T> {
    pub(crate) offset: usize,
    pub(crate) out: &'a mut [T],
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

/// The shard gradients to sum: every `stride`-th entry of a slice, from the
/// first. Stride 1: each shard's own gradient; stride 2: the sums of shard
/// pairs (2j, 2j + 1) that a single thread added in place (the tree's
/// first level, so the tree over the pair sums adds the rest as the tree
/// over the shards would).
#[derive(Debug)]
pub(crate) struct Strided<'a, G>(pub(crate) &'a [G], pub(crate) usize);

impl<G> Clone for Strided<'_, G> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<G> Copy for Strided<'_, G> {}

/// Elements of a tensor summed at a time (a stack buffer per level of the tree).
const RUN: usize = 1024;

/// Elements of ∂E/∂W⁰ that [`first_weights_into`] forms at a time for each
/// pair of shards (whole rows; 64 KiB of f32): small enough to stay in the
/// core's cache until the optimizer has used them.
const BLOCK: usize = 16 * 1024;

/// Tensors (or parts) shorter than this are summed on one thread.
const PARALLEL_MIN: usize = 4096;

/// Sums the shard gradients of the elements of `out` (in tensor `(layer,
/// is_weight)`) in the tree order of the module docs and hands them to
/// `out`, run by run, in `parts` parts of whole cache lines on as many threads.
pub(crate) fn sum_into<T: Float, S: Sums<T>, G: AsRef<Gradients<T>> + Sync>(
    out: S,
    (layer, is_weight): (usize, bool),
    shards: Strided<'_, G>,
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
    let Strided(all, stride) = shards;
    let count = all.len().div_ceil(stride.max(1));
    let grads = |i: usize| {
        let g = &all[i * stride].as_ref().layers[layer];
        if is_weight {
            g.weights.as_slice()
        } else {
            g.bias.as_slice()
        }
    };
    let mut out = out;
    if count == 1 {
        let start = out.offset();
        return out.take(&grads(0)[start..start + out.len()]);
    }
    let mut sum = [T::ZERO; RUN];
    while out.len() > 0 {
        let (start, n) = (out.offset(), out.len().min(RUN));
        let run = |i: usize| &grads(i)[start..start + n];
        tree_sum(&run, count, 0, count.next_power_of_two(), &mut sum[..n]);
        out.take(&sum[..n])?;
    }
    Ok(())
}

/// `out` = the sum of `run(i)` over shards `lo .. lo + size` (those below
/// `k`), added as the pairwise tree of the module docs adds them:
/// S(lo, size) = S(lo, size/2) + S(lo + size/2, size/2).
pub(crate) fn tree_sum<'s, T: Float>(run: &dyn Fn(usize) -> &'s [T], k: usize, lo: usize, size: usize, out: &mut [T]) {
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
        nn_core::vector::add(out, run(lo), run(lo + 1));
    } else {
        tree_sum(run, k, lo, half, out);
        let mut right = [T::ZERO; RUN];
        let right = &mut right[..out.len()];
        tree_sum(run, k, lo + half, half, right);
        nn_core::vector::add_assign(out, right);
    }
}

/// The shards of a batch whose first-layer weight gradients gᵢ = Xᵢᵀδᵢ⁰
/// were left to form
/// ([`Network::loss_and_gradients_but_first_weights`](nn_core::Network::loss_and_gradients_but_first_weights)):
/// each one's rows of the batch and its δ⁰, by shard index.
pub(crate) trait Deferred<T>: Sync {
    /// The number of shards.
    fn count(&self) -> usize;
    /// Xᵢ, shard i's rows of the batch.
    fn x(&self, i: usize) -> MatRef<'_, T>;
    /// δᵢ⁰ of shard i's backward pass.
    fn delta0(&self, i: usize) -> MatRef<'_, T>;
}

/// ∂E/∂W⁰ = Σᵢ Xᵢᵀδᵢ⁰ over `shards`, for the elements of `out` (whole rows of
/// the `cols`-column tensor), formed here rather than by each shard: in
/// `parts` parts of whole rows on as many threads, each a block of rows at a
/// time. Within a block, shard 2j + 1's product is added to shard 2j's
/// (gemm β = 1: the tree's first level, exact for shards of at most
/// [`SINGLE_PASS_K`](nn_core::gemm::SINGLE_PASS_K) rows), and the pair sums
/// are added by the tree of the module docs: the bits of [`sum_into`] over
/// gradients the shards had written themselves. A thread reads the rows of
/// X and δ⁰ of the other threads' shards, not their gradients, and its part
/// of the sum goes to the optimizer while in its cache. `scratch` holds a
/// buffer per part.
pub(crate) fn first_weights_into<T: Float, S: Sums<T>, D: Deferred<T> + ?Sized>(
    out: S,
    shards: &D,
    cols: usize,
    parts: usize,
    scratch: &mut [Vec<T>],
) -> Result<(), ShapeError> {
    let rows = out.len() / cols.max(1);
    if parts > 1 && scratch.len() > 1 && out.len() >= PARALLEL_MIN && rows > 1 {
        let left = (parts / 2).min(scratch.len() - 1);
        let mid = rows * left / parts * cols;
        let (a, b) = out.split_at(mid);
        let (sa, sb) = scratch.split_at_mut(left);
        let (ra, rb) = rayon::join(
            || first_weights_into(a, shards, cols, left, sa),
            || first_weights_into(b, shards, cols, parts - left, sb),
        );
        return ra.and(rb);
    }
    let Some(buf) = scratch.first_mut() else {
        return Err(ShapeError::new("first-layer weight gradient", "a scratch buffer", "none"));
    };
    let k = shards.count();
    let pairs = k.div_ceil(2);
    let block_rows = (BLOCK / cols.max(1)).max(1);
    let need = pairs * block_rows * cols;
    if buf.len() < need {
        buf.resize(need, T::ZERO);
    }
    let mut out = out;
    while out.len() > 0 {
        let (r0, nr) = (out.offset() / cols, (out.len() / cols).min(block_rows));
        let n = nr * cols;
        for (j, dst) in buf.chunks_mut(n).take(pairs).enumerate() {
            for i in 2 * j..(2 * j + 2).min(k) {
                let x = shards.x(i);
                // rows r0.. of Xᵢᵀ: columns r0.. of Xᵢ
                let x_cols = MatRef::new(&x.as_slice()[r0..], x.rows(), nr, x.row_stride())?;
                let beta = if i == 2 * j { T::ZERO } else { T::ONE };
                gemm(T::ONE, x_cols, Op::T, shards.delta0(i), Op::N, beta, MatMut::new(dst, nr, cols, cols)?)?;
            }
        }
        if pairs == 1 {
            out.take(&buf[..n])?;
            continue;
        }
        let mut sum = [T::ZERO; RUN];
        for start in (0..n).step_by(RUN) {
            let len = RUN.min(n - start);
            let run = |i: usize| &buf[i * n + start..i * n + start + len];
            tree_sum(&run, pairs, 0, pairs.next_power_of_two(), &mut sum[..len]);
            out.take(&sum[..len])?;
        }
    }
    Ok(())
}
