//! Evaluation: forward passes over a whole set, chunk by chunk on every
//! thread, and the per-sample loss. Chunk boundaries are fixed, so the
//! predictions and the loss do not depend on the number of threads.

use nn_core::{Float, Matrix, Network, Objective, Reduction, ShapeError, Workspace};
use rayon::prelude::*;

/// The per-sample loss total a batch of `rows` rows contributes: E·n for a
/// `Mean` objective (whose E is already divided by the n rows), E for a
/// `Sum` one.
pub(crate) fn batch_total(reduction: Reduction, e: f64, rows: usize) -> f64 {
    match reduction {
        Reduction::Mean => e * rows as f64,
        Reduction::Sum => e,
    }
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
