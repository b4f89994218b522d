//! The training call every experiment makes, [`Fit`]: a thin layer over
//! nn-train's [`Trainer`] that takes the experiment's data sets, the run's
//! seed, epochs, threads and verbosity, and returns nn-train's [`History`].
//!
//! Everything that matters for the numbers (the seeded per-epoch shuffle,
//! the mini-batches, the sharded gradient and its fixed-order sum, one
//! optimizer step per batch) is nn-train's, so `--threads` changes the wall
//! time and nothing else.

use nn_core::Objective;
use nn_core::{Matrix, Network, Optimizer, RowSource};
use nn_data::Dataset;
use nn_train::{Metric, Progress, TrainConfig, Trainer};

pub use nn_train::History;

use crate::error::{Result, XtaskError};
use crate::experiments::common::Ctx;
use crate::report::Row;

/// A training run: data, batching, evaluation; [`Fit::run`] trains.
pub struct Fit<'a> {
    ctx: &'a Ctx<'a>,
    x: &'a dyn RowSource<f32>,
    y: &'a Matrix<f32>,
    config: TrainConfig,
    evals: Vec<(&'a str, &'a Dataset<f32>)>,
    metrics: Vec<Metric>,
    schedule: Option<fn(usize) -> f64>,
}

impl<'a> Fit<'a> {
    /// Mini-batches of `batch` rows of `train`, the context's seed, epochs
    /// and threads, reshuffled every epoch, the last partial batch kept,
    /// one progress line (or bar, on a terminal) per epoch unless `--quiet`.
    pub fn new(ctx: &'a Ctx<'a>, train: &'a Dataset<f32>, batch: usize) -> Self {
        Self::rows(ctx, &train.x, &train.y, batch)
    }

    /// As [`Fit::new`], with the training inputs from any [`RowSource`]
    /// (e.g. MNIST's pixels kept as bytes) and targets `y`.
    pub fn rows(ctx: &'a Ctx<'a>, x: &'a dyn RowSource<f32>, y: &'a Matrix<f32>, batch: usize) -> Self {
        let config = TrainConfig {
            epochs: ctx.epochs,
            batch_size: batch,
            seed: ctx.seed,
            threads: ctx.opts.threads,
            progress: if ctx.opts.quiet { Progress::Silent } else { Progress::Auto },
            ..TrainConfig::default()
        };
        Fit { ctx, x, y, config, evals: Vec::new(), metrics: Vec::new(), schedule: None }
    }

    /// Keep (true) or drop (false) the last partial batch.
    pub fn keep_last(mut self, keep: bool) -> Self {
        self.config.keep_last_partial = keep;
        self
    }

    /// Reshuffle every epoch (true) or visit the samples in order (false).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.config.shuffle = shuffle;
        self
    }

    /// The seed of the shuffles.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// No per-epoch progress.
    pub fn silent(mut self) -> Self {
        self.config.progress = Progress::Silent;
        self
    }

    /// Evaluates on `ds` after every epoch, under the name `name`.
    pub fn eval(mut self, name: &'a str, ds: &'a Dataset<f32>) -> Self {
        self.evals.push((name, ds));
        self
    }

    /// Adds the accuracy metric.
    pub fn accuracy(mut self) -> Self {
        self.metrics.push(Metric::Accuracy);
        self
    }

    /// Adds the mean squared error metric.
    pub fn mse(mut self) -> Self {
        self.metrics.push(Metric::Mse);
        self
    }

    /// Adds the mean absolute error metric.
    pub fn mae(mut self) -> Self {
        self.metrics.push(Metric::Mae);
        self
    }

    /// Sets η before every epoch from its 1-based number.
    pub fn lr_schedule(mut self, f: fn(usize) -> f64) -> Self {
        self.schedule = Some(f);
        self
    }

    /// Trains `net` with `objective` (a [`nn_core::Loss`] or an experiment's
    /// own rule) and `optimizer`. With the context's checkpointing (mnist,
    /// mnist-best) the training state is saved after every epoch, and
    /// `--resume` starts from it; in an MPI run the ranks train together.
    pub fn run<O, P>(self, net: &mut Network<f32>, objective: &O, optimizer: &mut P) -> Result<History>
    where
        O: Objective<f32>,
        P: Optimizer<f32> + Send,
    {
        let ctx = self.ctx;
        let mut resumed = None;
        if let (Some(cp), true) = (&ctx.checkpoint, ctx.opts.resume) {
            if !cp.path.is_file() {
                return Err(XtaskError::Failed(format!(
                    "--resume: no checkpoint at {} (it is written after every epoch of a run into the folder beside it)",
                    cp.path.display()
                )));
            }
            let state = nn_train::load_training_state::<f32>(&cp.path)?;
            let saved_run = state.metadata.get("run").map_or("an unnamed run", String::as_str);
            if saved_run != cp.run || state.net.widths() != net.widths() {
                return Err(XtaskError::Failed(format!(
                    "--resume: {} holds the state of `{saved_run}`, not of `{}`; run without --resume to start over",
                    cp.path.display(),
                    cp.run
                )));
            }
            let done = state.history.epochs.len();
            if done > self.config.epochs {
                return Err(XtaskError::Failed(format!(
                    "--resume: {} holds the state after epoch {done}, past --epochs {}; ask for more epochs",
                    cp.path.display(),
                    self.config.epochs
                )));
            }
            optimizer.set_state(&state.net, state.optimizer)?;
            *net = state.net;
            ctx.say(format!("resuming after epoch {} from {}", state.history.epochs.len(), cp.path.display()));
            resumed = Some(state.history);
        }
        let mut trainer = Trainer::new(&self.config)
            .objective(objective)
            .optimizer(optimizer)
            .train_set(self.x, self.y)
            .metrics(&self.metrics);
        for &(name, ds) in &self.evals {
            trainer = trainer.eval_set(name, &ds.x, &ds.y);
        }
        if let Some(f) = self.schedule {
            trainer = trainer.lr_schedule(f);
        }
        if let Some(history) = resumed {
            trainer = trainer.resume(history);
        }
        if let Some(r) = &ctx.opts.ranks {
            trainer = trainer.collective(r.collective.clone());
        }
        if let (Some(cp), true) = (&ctx.checkpoint, ctx.is_root()) {
            let (path, run) = (cp.path.clone(), cp.run.clone());
            trainer = trainer.on_checkpoint(move |s| {
                let state = s.optimizer.state();
                Ok(nn_train::save_training_state(&path, s.net, &state, s.history, &[("run", &run)])?)
            });
        }
        Ok(trainer.fit(net)?)
    }
}

/// The rows of a multi-process run's report: ranks, and per step the time
/// spent in exchanges and the bytes each rank sent (none in one process).
pub fn comm_rows(ctx: &Ctx, history: &History, steps_per_epoch: usize) -> Vec<Row> {
    let Some(r) = &ctx.opts.ranks else { return Vec::new() };
    let steps = (history.epochs.len() * steps_per_epoch).max(1) as f64;
    let seconds: f64 = history.epochs.iter().map(|e| e.comm_seconds).sum();
    let bytes: u64 = history.epochs.iter().map(|e| e.comm_bytes).sum();
    vec![
        Row::with_text("MPI ranks", r.size() as f64, format!("{} ({})", r.size(), r.collective.combine().name())),
        Row::new("rank 0: exchange time per step (ms)", seconds / steps * 1e3, 3),
        Row::with_text("rank 0: bytes sent per step", bytes as f64 / steps, format!("{:.0}", bytes as f64 / steps)),
    ]
}

/// A history as JSON (one record per epoch).
pub fn history_json(history: &History) -> serde_json::Value {
    serde_json::to_value(history).unwrap_or(serde_json::Value::Null)
}
