//! The epoch loop: per epoch a seeded shuffle, mini-batches of B rows, the
//! data-parallel gradient of each batch ([`DataParallel`]), one optimizer
//! step per batch, then evaluation and a history record.
//!
//! Epoch e visits the samples in the order of
//! [`nn_core::shuffle::epoch_order`]`(seed, e)` (a seeded Fisher–Yates
//! shuffle), so it depends on (seed, e) alone. Batch b is
//! `order[b·B .. (b+1)·B]`; the last, shorter batch is kept or dropped.
//!
//! A step is two calls: [`DataParallel::gather_shards`] (each shard's
//! forward, δᴸ and backward pass, in parallel) and [`DataParallel::step`]
//! (the shard gradients summed in a fixed order and the optimizer's update,
//! each thread summing and stepping its own part of the parameters). Each
//! batch's loss is checked before its step: a NaN or infinite value stops
//! training with [`TrainError::NonFinite`] naming the epoch and batch. The
//! parameters are checked at the end of every epoch, so a step that makes
//! them non-finite (the last one included) is never returned as a result.
//!
//! The whole run executes inside one rayon pool (built once per fit with
//! the configured number of threads). After the first batch nothing in the
//! loop allocates, except the per-epoch record and, on a terminal, the
//! progress bar's text (redrawn at most ten times a second).

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use nn_core::shuffle::epoch_order;
use nn_core::{Float, Matrix, Network, Objective, Optimizer, RowSource, ShapeError};

use crate::collective::{check_agreement, Collective};
use crate::error::TrainError;
use crate::eval::{batch_total, Evaluator};
use crate::history::{EpochRecord, History, MetricValue};
use crate::metrics::Metric;
use crate::parallel::{DataParallel, Execution};
use crate::progress::{Progress, Reporter};
use crate::shards::auto_shard_size;

/// Settings of a training run. `TrainConfig::default()` gives 1 epoch of
/// batches of 16, automatic shards, seed 0, shuffled, last partial batch
/// kept, all cores, automatic progress.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Rows per mini-batch, B (one optimizer step per batch).
    pub batch_size: usize,
    /// Rows per shard; `None`: [`auto_shard_size`]`(batch_size)`. Results
    /// depend on it (it fixes the order of the gradient sums), never on `threads`.
    pub shard_size: Option<usize>,
    /// Seed of the per-epoch shuffles.
    pub seed: u64,
    /// Reshuffle every epoch (`false`: visit the samples in order).
    pub shuffle: bool,
    /// Train on the last, shorter batch (`true`) or drop it (`false`).
    pub keep_last_partial: bool,
    /// Threads; `None` (or `Some(0)`): `RAYON_NUM_THREADS` if set, else every core.
    /// 1 runs on the calling thread; more build one rayon pool for the whole fit.
    pub threads: Option<usize>,
    /// How to report progress (on stderr).
    pub progress: Progress,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 1,
            batch_size: 16,
            shard_size: None,
            seed: 0,
            shuffle: true,
            keep_last_partial: true,
            threads: None,
            progress: Progress::Auto,
        }
    }
}

impl TrainConfig {
    /// The shard size in force: the configured one, or [`auto_shard_size`]`(batch_size)`.
    pub fn effective_shard_size(&self) -> usize {
        self.shard_size.unwrap_or_else(|| auto_shard_size(self.batch_size))
    }

    /// The number of threads in force: the configured one, else
    /// `RAYON_NUM_THREADS` (if a positive integer), else every core.
    pub fn effective_threads(&self) -> usize {
        match self.threads {
            Some(n) if n > 0 => n,
            _ => std::env::var("RAYON_NUM_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        }
    }

    /// Number of batches per epoch for `n` samples: ⌈n / B⌉ keeping the last
    /// partial batch, ⌊n / B⌋ dropping it.
    pub fn batches(&self, n: usize) -> usize {
        let b = self.batch_size.max(1);
        if self.keep_last_partial {
            n.div_ceil(b)
        } else {
            n / b
        }
    }
}

/// A named evaluation set: inputs `x`, targets `y`.
#[derive(Clone, Copy, Debug)]
pub struct EvalSet<'a, T> {
    /// The name in histories and reports (e.g. `test`).
    pub name: &'a str,
    /// Inputs, one sample per row.
    pub x: &'a Matrix<T>,
    /// Targets, one row per sample.
    pub y: &'a Matrix<T>,
}

type EpochCallback<'a> = Box<dyn FnMut(&EpochRecord) + Send + 'a>;
type Schedule<'a> = Box<dyn FnMut(usize) -> f64 + Send + 'a>;
type CheckpointCallback<'a, T> = Box<dyn FnMut(&TrainState<'_, T>) -> Result<(), TrainError> + Send + 'a>;

/// Everything a run needs to go on from the end of an epoch, handed to
/// [`Trainer::on_checkpoint`]: save it, and a later run with
/// [`Trainer::resume`] (the history), the weights and the optimizer's
/// [`Optimizer::state`] ends with the same bits as an unbroken run.
pub struct TrainState<'s, T> {
    /// The epoch just finished (1-based).
    pub epoch: usize,
    /// The network after it.
    pub net: &'s Network<T>,
    /// The optimizer after it (its [`Optimizer::state`] is what to save).
    pub optimizer: &'s dyn Optimizer<T>,
    /// Every epoch's record so far, this one included.
    pub history: &'s History,
    /// This process's rank and the number of ranks ((0, 1) in one process):
    /// in a multi-process run, only rank 0 should write files.
    pub rank: (usize, usize),
}

/// A training run, configured step by step and started by [`Trainer::fit`].
/// See the crate docs for an example.
pub struct Trainer<'a, T> {
    config: TrainConfig,
    objective: Option<&'a dyn Objective<T>>,
    optimizer: Option<&'a mut (dyn Optimizer<T> + Send)>,
    train: Option<(&'a dyn RowSource<T>, &'a Matrix<T>)>,
    evals: Vec<EvalSet<'a, T>>,
    metrics: Vec<Metric>,
    on_epoch: Option<EpochCallback<'a>>,
    schedule: Option<Schedule<'a>>,
    on_checkpoint: Option<CheckpointCallback<'a, T>>,
    collective: Option<Arc<dyn Collective<T>>>,
    resume: History,
}

impl<'a, T: Float> Trainer<'a, T> {
    /// A run with the settings `config`.
    pub fn new(config: &TrainConfig) -> Self {
        Trainer {
            config: config.clone(),
            objective: None,
            optimizer: None,
            train: None,
            evals: Vec::new(),
            metrics: Vec::new(),
            on_epoch: None,
            schedule: None,
            on_checkpoint: None,
            collective: None,
            resume: History::default(),
        }
    }

    /// Trains as one rank of a multi-process run (see the
    /// [`collective`](crate::collective) module): every rank runs the same
    /// trainer on the same data with the same settings, computes the shards
    /// it owns, and the shard gradients are combined across ranks. The
    /// ranks check at the start that their settings, network and data
    /// shapes agree, and at the end of every epoch that their parameters
    /// are still identical. Only rank 0 reports progress.
    pub fn collective(mut self, collective: Arc<dyn Collective<T>>) -> Self {
        self.collective = Some(collective);
        self
    }

    /// Called at the end of every epoch, after [`Trainer::on_epoch`], with
    /// the state to save for [`Trainer::resume`]; an error stops training.
    pub fn on_checkpoint(mut self, f: impl FnMut(&TrainState<'_, T>) -> Result<(), TrainError> + Send + 'a) -> Self {
        self.on_checkpoint = Some(Box::new(f));
        self
    }

    /// Goes on from a saved state: `history` holds the epochs already done,
    /// and the network and optimizer given to the run must be the ones saved
    /// after the last of them. Training runs epochs `history.epochs.len() + 1
    /// ..= epochs`, and the history returned holds them all. Shuffles and
    /// learning-rate schedules depend on the epoch number alone, so the
    /// result has the bits of an unbroken run.
    pub fn resume(mut self, history: History) -> Self {
        self.resume = history;
        self
    }

    /// What gives δᴸ and E: a [`nn_core::Loss`] or any [`Objective`].
    pub fn objective<O: Objective<T> + 'a>(mut self, objective: &'a O) -> Self {
        self.objective = Some(objective);
        self
    }

    /// The optimizer that takes one step per batch.
    pub fn optimizer<P: Optimizer<T> + Send + 'a>(mut self, optimizer: &'a mut P) -> Self {
        self.optimizer = Some(optimizer);
        self
    }

    /// The training inputs `x` (one sample per row: a [`Matrix`], or any
    /// [`RowSource`], e.g. pixels kept as bytes and converted batch by batch)
    /// and targets `y`.
    pub fn train_set(mut self, x: &'a dyn RowSource<T>, y: &'a Matrix<T>) -> Self {
        self.train = Some((x, y));
        self
    }

    /// Evaluates on (`x`, `y`) after every epoch under `name`.
    pub fn eval_set(mut self, name: &'a str, x: &'a Matrix<T>, y: &'a Matrix<T>) -> Self {
        self.evals.push(EvalSet { name, x, y });
        self
    }

    /// The metrics computed on every evaluation set (default: [`Metric::Loss`]).
    pub fn metrics(mut self, metrics: &[Metric]) -> Self {
        self.metrics = metrics.to_vec();
        self
    }

    /// Called with every epoch's record as soon as it is complete.
    pub fn on_epoch(mut self, f: impl FnMut(&EpochRecord) + Send + 'a) -> Self {
        self.on_epoch = Some(Box::new(f));
        self
    }

    /// Sets the learning rate before each epoch to `f(epoch)` (epoch counted from 1).
    pub fn lr_schedule(mut self, f: impl FnMut(usize) -> f64 + Send + 'a) -> Self {
        self.schedule = Some(Box::new(f));
        self
    }

    /// Trains `net` and returns the history. Errors before the first step if
    /// something is missing or shapes do not fit, and during training if a
    /// batch's loss is not finite.
    pub fn fit(self, net: &mut Network<T>) -> Result<History, TrainError> {
        let Trainer {
            config,
            objective,
            optimizer,
            train,
            evals,
            metrics,
            on_epoch,
            schedule,
            on_checkpoint,
            collective,
            resume,
        } = self;
        let objective = objective.ok_or_else(|| missing("objective: call .objective(&loss)"))?;
        let optimizer = optimizer.ok_or_else(|| missing("optimizer: call .optimizer(&mut sgd)"))?;
        let (x, y) = train.ok_or_else(|| missing("training set: call .train_set(&x, &y)"))?;
        if config.batch_size == 0 {
            return Err(TrainError::Config("batch size must be at least 1".into()));
        }
        check_set(net, "train", x, y)?;
        for e in &evals {
            check_set(net, e.name, e.x, e.y)?;
        }
        objective.check(net)?;
        let batches = config.batches(x.n_rows());
        if batches == 0 {
            return Err(TrainError::Config(format!(
                "no full batch: {} training samples, batch size {}, last partial batch dropped",
                x.n_rows(),
                config.batch_size
            )));
        }
        if resume.epochs.iter().enumerate().any(|(i, r)| r.epoch != i + 1) {
            return Err(TrainError::Config("the history to resume from must hold epochs 1, 2, … in order".into()));
        }
        let threads = config.effective_threads();
        let execution = if threads > 1 { Execution::Parallel } else { Execution::Serial };
        let metrics = if metrics.is_empty() { vec![Metric::Loss] } else { metrics };
        let mut dp = DataParallel::new(net, config.batch_size, config.effective_shard_size(), execution)?;
        let mut progress = config.progress;
        if let Some(c) = collective {
            let settings = fingerprint(&config, net, x, y, resume.epochs.len(), c.combine().name());
            check_agreement(&*c, settings, "the training settings, network, data shapes or resumed epoch")?;
            check_agreement(&*c, parameter_hash(net), "the initial parameters")?;
            if c.rank() != 0 {
                progress = crate::progress::Progress::Silent;
            }
            dp = dp.with_collective(c)?;
        }
        let mut run = Run {
            dp,
            evaluator: Evaluator::new(net, threads),
            preds: evals.iter().map(|e| Matrix::zeros(e.x.rows(), net.outputs())).collect(),
            losses: evals.iter().map(|e| vec![0.0; Evaluator::<T>::chunks(e.x.rows())]).collect(),
            order: (0..x.n_rows()).collect(),
            reporter: Reporter::new(progress, config.epochs),
            config,
            objective,
            optimizer,
            x,
            y,
            evals,
            metrics,
            on_epoch,
            schedule,
            on_checkpoint,
            resume: Some(resume),
            batches,
        };
        if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("nn-train-{i}"))
                .build()
                .map_err(|e| TrainError::ThreadPool { threads, reason: e.to_string() })?;
            pool.install(|| run.epochs(net))
        } else {
            run.epochs(net)
        }
    }
}

fn missing(what: &str) -> TrainError {
    TrainError::Config(format!("no {what}"))
}

/// Checks a data set against the network: rows match, widths match, values finite.
fn check_set<T: Float>(net: &Network<T>, name: &str, x: &dyn RowSource<T>, y: &Matrix<T>) -> Result<(), TrainError> {
    let shape =
        |expected: String, found: String| TrainError::Shape(ShapeError::new(format!("{name} set"), expected, found));
    if x.n_rows() != y.rows() {
        return Err(shape(
            format!("one target row per input row ({})", x.n_rows()),
            format!("{} target rows", y.rows()),
        ));
    }
    if x.n_rows() == 0 {
        return Err(shape("at least one sample".into(), "none".into()));
    }
    if x.n_cols() != net.inputs() {
        return Err(shape(
            format!("{} input columns (the network's input width)", net.inputs()),
            format!("{} columns", x.n_cols()),
        ));
    }
    if y.cols() != net.outputs() {
        return Err(shape(
            format!("{} target columns (the network's output width)", net.outputs()),
            format!("{} columns", y.cols()),
        ));
    }
    for (part, m) in [("inputs", x), ("targets", y as &dyn RowSource<T>)] {
        if let Some((row, col, value)) = m.first_non_finite() {
            return Err(TrainError::NonFiniteData { set: name.to_string(), part, row, col, value });
        }
    }
    Ok(())
}

/// A hash of what every rank of a multi-process run must share: the
/// settings that shape the batches, the network's shape, the data's shape,
/// the epoch resumed from and the combine mode.
fn fingerprint<T: Float>(
    config: &TrainConfig,
    net: &Network<T>,
    x: &dyn RowSource<T>,
    y: &Matrix<T>,
    resumed: usize,
    combine: &str,
) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (config.epochs, config.batch_size, config.effective_shard_size(), config.seed).hash(&mut h);
    (config.shuffle, config.keep_last_partial, resumed, combine).hash(&mut h);
    (x.n_rows(), x.n_cols(), y.rows(), y.cols(), std::mem::size_of::<T>()).hash(&mut h);
    for l in net.layers() {
        (l.inputs(), l.outputs(), format!("{:?}", l.activation())).hash(&mut h);
    }
    h.finish()
}

/// A hash of every parameter's bits.
fn parameter_hash<T: Float>(net: &Network<T>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for l in net.layers() {
        for v in l.weights().as_slice().iter().chain(l.bias().as_slice()) {
            v.to_f64().to_bits().hash(&mut h);
        }
    }
    h.finish()
}

/// Everything a run needs, allocated before the first epoch.
struct Run<'a, T> {
    config: TrainConfig,
    objective: &'a dyn Objective<T>,
    optimizer: &'a mut (dyn Optimizer<T> + Send),
    x: &'a dyn RowSource<T>,
    y: &'a Matrix<T>,
    evals: Vec<EvalSet<'a, T>>,
    metrics: Vec<Metric>,
    on_epoch: Option<EpochCallback<'a>>,
    schedule: Option<Schedule<'a>>,
    on_checkpoint: Option<CheckpointCallback<'a, T>>,
    /// The epochs done before this run (taken by `epochs`).
    resume: Option<History>,
    batches: usize,
    dp: DataParallel<T>,
    evaluator: Evaluator<T>,
    preds: Vec<Matrix<T>>,
    losses: Vec<Vec<f64>>,
    order: Vec<usize>,
    reporter: Reporter,
}

impl<T: Float> Run<'_, T> {
    fn epochs(&mut self, net: &mut Network<T>) -> Result<History, TrainError> {
        let mut history = self.resume.take().unwrap_or_default();
        for epoch in history.epochs.len() + 1..=self.config.epochs {
            let record = match self.epoch(net, epoch) {
                Ok(r) => r,
                Err(e) => {
                    self.reporter.abandon();
                    return Err(e);
                }
            };
            self.reporter.end_epoch(&record);
            if let Some(f) = &mut self.on_epoch {
                f(&record);
            }
            history.epochs.push(record);
            if let Some(f) = &mut self.on_checkpoint {
                let state =
                    TrainState { epoch, net, optimizer: &*self.optimizer, history: &history, rank: self.dp.rank() };
                f(&state)?;
            }
        }
        Ok(history)
    }

    fn epoch(&mut self, net: &mut Network<T>, epoch: usize) -> Result<EpochRecord, TrainError> {
        if let Some(f) = &mut self.schedule {
            self.optimizer.set_learning_rate(f(epoch));
        }
        if self.config.shuffle {
            epoch_order(&mut self.order, self.config.seed, epoch as u64);
        }
        let (n, b) = (self.order.len(), self.config.batch_size);
        let reduction = self.objective.reduction();
        self.reporter.start_epoch(epoch, self.batches);
        let start = Instant::now();
        let (mut total, mut seen) = (0.0, 0);
        for batch in 0..self.batches {
            let idx = &self.order[batch * b..((batch + 1) * b).min(n)];
            let e = self.dp.gather_shards(net, self.x, self.y, idx, self.objective)?;
            if !e.is_finite() {
                return Err(TrainError::NonFinite { epoch, batch: batch + 1, value: e.to_f64() });
            }
            self.dp.step(net, &mut *self.optimizer)?;
            total += batch_total(reduction, e.to_f64(), idx.len());
            seen += idx.len();
            self.reporter.batch(batch + 1, seen, total);
        }
        let seconds = start.elapsed().as_secs_f64();
        if let Some(value) = first_non_finite_parameter(net) {
            return Err(TrainError::NonFiniteParameters { epoch, value });
        }
        if let Some(c) = self.dp.collective() {
            check_agreement(&**c, parameter_hash(net), &format!("the parameters after epoch {epoch}"))?;
        }
        let comm = self.dp.take_comm();
        let times = self.dp.take_times();
        let eval_start = Instant::now();
        let mut eval = Vec::with_capacity(self.evals.len() * self.metrics.len());
        for (k, set) in self.evals.iter().enumerate() {
            let loss =
                self.evaluator.run(net, set.x, set.y, self.objective, &mut self.preds[k], &mut self.losses[k])?;
            for &m in &self.metrics {
                let value = match m.compute(self.preds[k].view(), set.y.view())? {
                    Some(v) => v,
                    None => loss,
                };
                eval.push(MetricValue { set: set.name.to_string(), metric: m, value });
            }
        }
        Ok(EpochRecord {
            epoch,
            train_loss: total / seen.max(1) as f64,
            samples: seen,
            seconds,
            samples_per_sec: seen as f64 / seconds.max(1e-12),
            eval_seconds: eval_start.elapsed().as_secs_f64(),
            eval,
            comm_seconds: comm.seconds,
            comm_bytes: comm.bytes,
            compute_seconds: times.compute,
            step_seconds: times.step,
            gather_seconds: times.gather,
            pass_seconds: times.pass,
        })
    }
}

/// The first parameter of `net` that is NaN or infinite, if any.
fn first_non_finite_parameter<T: Float>(net: &Network<T>) -> Option<f64> {
    let layers = net.layers().iter();
    let mut values = layers.flat_map(|l| l.weights().as_slice().iter().chain(l.bias().as_slice()));
    values.find(|v| !v.is_finite()).map(|v| v.to_f64())
}
