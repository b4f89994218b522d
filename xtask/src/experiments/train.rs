//! The training call every experiment makes, [`Fit`], and the per-epoch
//! [`History`] it returns (train loss per sample, evaluation metrics, time).

use std::time::Instant;

use nn_core::{Float, Gradients, Loss, MatRef, Matrix, Network, Optimizer, Reduction, Workspace};
use nn_data::{Dataset, LastBatch, MiniBatches};
use serde::Serialize;

use crate::error::{Result, XtaskError};
use crate::experiments::common::Ctx;

/// What produces δᴸ for a batch: a [`Loss`], or an experiment's own rule.
pub trait Objective<T: Float> {
    /// After a forward pass held in `ws`: writes δᴸ into the workspace and
    /// returns the batch's E. `divisor` is the mini-batch size.
    fn output_delta(&self, net: &Network<T>, targets: MatRef<'_, T>, ws: &mut Workspace<T>, divisor: usize) -> T;
}

impl<T: Float> Objective<T> for Loss {
    fn output_delta(&self, net: &Network<T>, targets: MatRef<'_, T>, ws: &mut Workspace<T>, divisor: usize) -> T {
        self.value_and_delta_at_output(net, targets, ws, divisor).unwrap_or(T::from_f64(f64::NAN))
    }
}

/// An evaluation metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Share of rows whose argmax matches the target's.
    Accuracy,
    /// mean over elements of (ŷ − t)².
    Mse,
    /// mean over elements of |ŷ − t|.
    Mae,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Mse => "mse",
            Metric::Mae => "mae",
        }
    }
}

/// One epoch's record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// The objective's mean value per training sample over the epoch's batches.
    pub train_loss_per_sample: f64,
    /// (set, metric, value) after the epoch.
    pub evals: Vec<(String, String, f64)>,
    /// Wall time of the epoch's training (evaluation excluded), seconds.
    pub seconds: f64,
}

/// Every epoch's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct History {
    /// In order.
    pub epochs: Vec<EpochStats>,
}

impl History {
    /// The values of `metric` on `set`, one per epoch.
    pub fn metric(&self, set: &str, metric: &str) -> Vec<f64> {
        self.epochs
            .iter()
            .filter_map(|e| e.evals.iter().find(|(s, m, _)| s == set && m == metric).map(|t| t.2))
            .collect()
    }

    /// Training loss per sample, one per epoch.
    pub fn train_loss_per_sample(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_loss_per_sample).collect()
    }

    /// Mean training seconds per epoch.
    pub fn mean_seconds(&self) -> f64 {
        self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len().max(1) as f64
    }

    /// As JSON (per-epoch arrays).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A training run: data, batching, evaluation; [`Fit::run`] trains.
pub struct Fit<'a> {
    train: &'a Dataset<f32>,
    batch: usize,
    keep_last: bool,
    shuffle: bool,
    seed: u64,
    epochs: usize,
    quiet: bool,
    evals: Vec<(&'a str, &'a Dataset<f32>)>,
    metrics: Vec<Metric>,
    schedule: Option<fn(usize) -> f64>,
}

impl<'a> Fit<'a> {
    /// Mini-batches of `batch` rows of `train`, the context's seed and epochs,
    /// reshuffled every epoch, the last partial batch kept.
    pub fn new(ctx: &'a Ctx<'a>, train: &'a Dataset<f32>, batch: usize) -> Self {
        Fit {
            train,
            batch,
            keep_last: true,
            shuffle: true,
            seed: ctx.seed,
            epochs: ctx.epochs,
            quiet: ctx.opts.quiet,
            evals: Vec::new(),
            metrics: Vec::new(),
            schedule: None,
        }
    }

    /// Keep (true) or drop (false) the last partial batch.
    pub fn keep_last(mut self, keep: bool) -> Self {
        self.keep_last = keep;
        self
    }

    /// Reshuffle every epoch (true) or visit the samples in order (false).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffles.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// No per-epoch progress.
    pub fn silent(mut self) -> Self {
        self.quiet = true;
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

    /// Trains `net` with `objective` and `optimizer`; `mean` tells whether
    /// the objective divides by the batch size (for the per-sample loss).
    fn train<O, P>(&self, net: &mut Network<f32>, objective: &O, optimizer: &mut P, mean: bool) -> Result<History>
    where
        O: Objective<f32> + ?Sized,
        P: Optimizer<f32> + ?Sized,
    {
        let n = self.train.len();
        let last = if self.keep_last { LastBatch::Keep } else { LastBatch::Drop };
        let mut batches = MiniBatches::sequential(n, self.batch, last)?;
        let mut ws = Workspace::new(net, self.batch);
        let mut grads = Gradients::zeros_like(net);
        let mut xb = Matrix::zeros(self.batch, self.train.x.cols());
        let mut yb = Matrix::zeros(self.batch, self.train.y.cols());
        let mut history = History::default();
        for epoch in 1..=self.epochs {
            if let Some(f) = self.schedule {
                optimizer.set_learning_rate(f(epoch));
            }
            if self.shuffle {
                batches.reshuffle(self.seed, epoch as u64);
            }
            let start = Instant::now();
            let mut total = 0.0;
            let mut seen = 0;
            for (b, idx) in batches.iter().enumerate() {
                self.train.gather_batch(idx, &mut xb, &mut yb);
                net.forward(xb.view(), &mut ws)?;
                let e = f64::from(objective.output_delta(net, yb.view(), &mut ws, idx.len()));
                if !e.is_finite() {
                    return Err(XtaskError::Failed(format!(
                        "training diverged: loss {e} at epoch {epoch}, batch {}",
                        b + 1
                    )));
                }
                net.backward(xb.view(), &mut ws, &mut grads)?;
                optimizer.step(net, &grads)?;
                total += if mean { e * idx.len() as f64 } else { e };
                seen += idx.len();
            }
            let seconds = start.elapsed().as_secs_f64();
            let mut evals = Vec::new();
            for &(name, ds) in &self.evals {
                let pred = net.predict(ds.x.view())?;
                for &m in &self.metrics {
                    evals.push((name.to_string(), m.name().to_string(), metric(m, &pred, &ds.y)));
                }
            }
            let stats = EpochStats { epoch, train_loss_per_sample: total / seen.max(1) as f64, evals, seconds };
            if !self.quiet {
                println!("{}", progress_line(&stats, self.epochs, seen));
            }
            history.epochs.push(stats);
        }
        Ok(history)
    }

    /// Trains with a [`Loss`] or any other [`Objective`] (summing objectives:
    /// their value is per batch, not per sample).
    pub fn run<O, P>(self, net: &mut Network<f32>, objective: &O, optimizer: &mut P) -> Result<History>
    where
        O: Objective<f32> + AsLoss + ?Sized,
        P: Optimizer<f32> + ?Sized,
    {
        let mean = objective.as_loss().is_some_and(|l| l.reduction() == Reduction::Mean);
        self.train(net, objective, optimizer, mean)
    }
}

/// The loss behind an objective, if it is one (to read its reduction).
pub trait AsLoss {
    /// `Some` for a [`Loss`].
    fn as_loss(&self) -> Option<&Loss> {
        None
    }
}

impl AsLoss for Loss {
    fn as_loss(&self) -> Option<&Loss> {
        Some(self)
    }
}

fn metric(m: Metric, pred: &Matrix<f32>, y: &Matrix<f32>) -> f64 {
    let count = pred.as_slice().len().max(1) as f64;
    let pairs = || pred.as_slice().iter().zip(y.as_slice()).map(|(&p, &t)| f64::from(p) - f64::from(t));
    match m {
        Metric::Accuracy => {
            let right = (0..pred.rows()).filter(|&i| nn_data::argmax(pred.row(i)) == nn_data::argmax(y.row(i))).count();
            right as f64 / pred.rows().max(1) as f64
        }
        Metric::Mse => pairs().map(|d| d * d).sum::<f64>() / count,
        Metric::Mae => pairs().map(f64::abs).sum::<f64>() / count,
    }
}

fn progress_line(s: &EpochStats, epochs: usize, samples: usize) -> String {
    let width = epochs.to_string().len();
    let mut line = format!("epoch {:>width$}/{epochs}  loss {:.5}", s.epoch, s.train_loss_per_sample);
    for (set, m, v) in &s.evals {
        line.push_str(&format!("  {set} {m} {v:.4}"));
    }
    let rate = samples as f64 / s.seconds.max(1e-9);
    line.push_str(&format!("  {:.2} s ({rate:.0} samples/s)", s.seconds));
    line
}

/// A per-class precision / recall / F1 / support table, like scikit-learn's
/// `classification_report`.
pub fn classification_report(predicted: &[usize], labels: &[usize], classes: usize) -> String {
    let mut tp = vec![0usize; classes];
    let mut fp = vec![0usize; classes];
    let mut support = vec![0usize; classes];
    for (&p, &l) in predicted.iter().zip(labels) {
        if l < classes {
            support[l] += 1;
        }
        if p == l && p < classes {
            tp[p] += 1;
        } else if p < classes {
            fp[p] += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut s = format!("{:>12} {:>9} {:>9} {:>9} {:>9}\n\n", "", "precision", "recall", "f1-score", "support");
    let (mut mp, mut mr, mut mf, mut wp, mut wr, mut wf) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let total: usize = support.iter().sum();
    for c in 0..classes {
        let p = ratio(tp[c], tp[c] + fp[c]);
        let r = ratio(tp[c], support[c]);
        let f = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        s.push_str(&format!("{c:>12} {p:>9.2} {r:>9.2} {f:>9.2} {:>9}\n", support[c]));
        let w = support[c] as f64;
        (mp, mr, mf) = (mp + p, mr + r, mf + f);
        (wp, wr, wf) = (wp + w * p, wr + w * r, wf + w * f);
    }
    let k = classes.max(1) as f64;
    let t = total.max(1) as f64;
    let acc = ratio(tp.iter().sum(), total);
    s.push_str(&format!("\n{:>12} {:>9} {:>9} {acc:>9.2} {total:>9}\n", "accuracy", "", ""));
    s.push_str(&format!("{:>12} {:>9.2} {:>9.2} {:>9.2} {total:>9}\n", "macro avg", mp / k, mr / k, mf / k));
    s.push_str(&format!("{:>12} {:>9.2} {:>9.2} {:>9.2} {total:>9}\n", "weighted avg", wp / t, wr / t, wf / t));
    s
}

/// Writes `net` as safetensors (`layers.{i}.weight`, `layers.{i}.bias`,
/// activations in the metadata), through a temporary file.
pub fn save_checkpoint(net: &Network<f32>, path: &std::path::Path) -> Result<()> {
    use safetensors::tensor::{Dtype, TensorView};
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = net
        .layers()
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            let le = |m: &Matrix<f32>| m.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
            [
                (format!("layers.{i}.weight"), vec![l.weights.rows(), l.weights.cols()], le(&l.weights)),
                (format!("layers.{i}.bias"), vec![l.bias.rows(), l.bias.cols()], le(&l.bias)),
            ]
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, shape, b)| {
            Ok((
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b)
                    .map_err(|e| XtaskError::Failed(format!("{}: {e}", path.display())))?,
            ))
        })
        .collect::<Result<_>>()?;
    let acts: Vec<String> = net.layers().iter().map(|l| l.activation.name()).collect();
    let meta = std::collections::HashMap::from([("activations".to_string(), acts.join(","))]);
    let data = safetensors::tensor::serialize(views, &Some(meta))
        .map_err(|e| XtaskError::Failed(format!("{}: {e}", path.display())))?;
    crate::paths::write_atomic(path, &data)
}
