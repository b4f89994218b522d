//! The record of a training run: per epoch, the training loss, the
//! evaluation metrics and the wall time, writable as CSV and JSON (each
//! through a temporary file and a rename).
//!
//! ```
//! use nn_train::{EpochRecord, History, Metric, MetricValue};
//! let mut h = History::default();
//! for (epoch, acc) in [(1, 0.81), (2, 0.87)] {
//!     h.epochs.push(EpochRecord {
//!         epoch,
//!         train_loss: 1.0 / epoch as f64,
//!         samples: 100,
//!         seconds: 0.5,
//!         samples_per_sec: 200.0,
//!         eval_seconds: 0.1,
//!         eval: vec![MetricValue { set: "test".into(), metric: Metric::Accuracy, value: acc }],
//!         ..EpochRecord::default()
//!     });
//! }
//! assert_eq!(h.series("test", Metric::Accuracy), vec![0.81, 0.87]);
//! assert_eq!(h.last().unwrap().get("test", Metric::Accuracy), Some(0.87));
//! assert_eq!(h.last().unwrap().get("test", Metric::Mse), None); // not computed
//! // the metric is written by its name, as in the CSV header
//! # #[cfg(feature = "json")]
//! assert!(serde_json::to_string(&h).unwrap().contains(r#""metric":"accuracy""#));
//! assert_eq!(h.to_csv().lines().next(), Some("epoch,train_loss,samples,seconds,samples_per_sec,eval_seconds,test_accuracy"));
//! ```

use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::TrainError;
use crate::metrics::Metric;

/// One metric on one evaluation set.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct MetricValue {
    /// The evaluation set's name (e.g. `test`).
    pub set: String,
    /// The metric (written by its [`Metric::name`] in JSON and CSV).
    pub metric: Metric,
    /// Its value after the epoch.
    pub value: f64,
}

/// What one epoch did.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The objective's value per training sample, averaged over the epoch:
    /// (1/N) Σ_batches E_b · n_b for a `Mean` objective, (1/N) Σ_batches E_b for a `Sum` one
    /// (N samples seen, n_b rows in batch b). Computed with the weights as they were
    /// during the epoch, before each batch's step.
    pub train_loss: f64,
    /// Training samples seen this epoch.
    pub samples: usize,
    /// Wall time of the epoch's training steps, seconds (evaluation excluded).
    pub seconds: f64,
    /// samples / seconds.
    pub samples_per_sec: f64,
    /// Wall time of the evaluation after the epoch, seconds.
    pub eval_seconds: f64,
    /// Every (set, metric) value after the epoch, in the order sets and metrics were given.
    pub eval: Vec<MetricValue>,
    /// Multi-process runs: wall time spent in operations between the ranks
    /// (waiting included), seconds; 0 in one process.
    #[cfg_attr(feature = "json", serde(default))]
    pub comm_seconds: f64,
    /// Multi-process runs: bytes this rank sent to the others this epoch
    /// (payload, as MPI counts it); 0 in one process.
    #[cfg_attr(feature = "json", serde(default))]
    pub comm_bytes: u64,
    /// Where `seconds` went ([`StepTimes`](crate::StepTimes)): wall time
    /// computing the batches' gradients, seconds.
    #[cfg_attr(feature = "json", serde(default))]
    pub compute_seconds: f64,
    /// Wall time in the optimizer steps (with the sums of the shard gradients), seconds.
    #[cfg_attr(feature = "json", serde(default))]
    pub step_seconds: f64,
    /// Time the shards spent gathering their rows, summed over shards (on
    /// P threads up to P times the wall time), seconds.
    #[cfg_attr(feature = "json", serde(default))]
    pub gather_seconds: f64,
    /// Time the shards spent in forward and backward passes, summed over shards, seconds.
    #[cfg_attr(feature = "json", serde(default))]
    pub pass_seconds: f64,
}

impl EpochRecord {
    /// The value of `metric` on `set`, if it was computed.
    pub fn get(&self, set: &str, metric: Metric) -> Option<f64> {
        self.eval.iter().find(|v| v.set == set && v.metric == metric).map(|v| v.value)
    }
}

/// Every epoch's record, in order.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// `metric` on `set`, one value per epoch that computed it.
    pub fn series(&self, set: &str, metric: Metric) -> Vec<f64> {
        self.epochs.iter().filter_map(|e| e.get(set, metric)).collect()
    }

    /// The training loss per sample, one value per epoch.
    pub fn train_losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_loss).collect()
    }

    /// Mean training seconds per epoch (0 for no epochs).
    pub fn mean_seconds(&self) -> f64 {
        self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len().max(1) as f64
    }

    /// The (set, metric) pairs in order of first appearance.
    fn columns(&self) -> Vec<(&str, Metric)> {
        let mut cols: Vec<(&str, Metric)> = Vec::new();
        for v in self.epochs.iter().flat_map(|e| &e.eval) {
            if !cols.iter().any(|&(s, m)| s == v.set && m == v.metric) {
                cols.push((&v.set, v.metric));
            }
        }
        cols
    }

    /// The history as CSV: `epoch,train_loss,samples,seconds,samples_per_sec,eval_seconds`,
    /// then one `{set}_{metric}` column per evaluation (empty where an epoch lacks it).
    /// Numbers are written in Rust's shortest round-trip form.
    pub fn to_csv(&self) -> String {
        let cols = self.columns();
        let mut out = String::from("epoch,train_loss,samples,seconds,samples_per_sec,eval_seconds");
        for (s, m) in &cols {
            out.push_str(&format!(",{}_{}", csv_field(s), m.name()));
        }
        out.push('\n');
        for e in &self.epochs {
            out.push_str(&format!(
                "{},{},{},{},{},{}",
                e.epoch, e.train_loss, e.samples, e.seconds, e.samples_per_sec, e.eval_seconds
            ));
            for (s, m) in &cols {
                out.push(',');
                if let Some(v) = e.get(s, *m) {
                    out.push_str(&v.to_string());
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes [`History::to_csv`] to `path` (temporary file, then rename).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let path = path.as_ref();
        write_atomic(path, self.to_csv().as_bytes()).map_err(|source| TrainError::Io { path: path.into(), source })
    }

    /// Writes the history as pretty-printed JSON, `{"epochs": [{"epoch": 1, "train_loss": …, "eval":
    /// [{"set": …, "metric": …, "value": …}]}, …]}`, to `path` (temporary file, then rename).
    /// NaN or infinite values are written as `null`. (Feature `json`, on by default.)
    #[cfg(feature = "json")]
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let path = path.as_ref();
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| TrainError::Json { path: path.into(), source })?;
        write_atomic(path, &bytes).map_err(|source| TrainError::Io { path: path.into(), source })
    }

    /// Reads a history written by [`History::write_json`]: a regular file
    /// of at most [`HISTORY_MAX_BYTES`]. (Feature `json`, on by default.)
    #[cfg(feature = "json")]
    pub fn read_json(path: impl AsRef<Path>) -> Result<Self, TrainError> {
        let path = path.as_ref();
        let bytes = nn_data::file::read_regular(path, HISTORY_MAX_BYTES)
            .map_err(|source| TrainError::Io { path: path.into(), source })?;
        serde_json::from_slice(&bytes).map_err(|source| TrainError::Json { path: path.into(), source })
    }
}

/// The largest history file [`History::read_json`] reads: 256 MiB, about a
/// million epochs with a few metrics each.
pub const HISTORY_MAX_BYTES: u64 = 256 << 20;

/// A name made safe for a CSV header (commas, quotes and newlines become `_`).
fn csv_field(s: &str) -> String {
    s.chars().map(|c| if matches!(c, ',' | '"' | '\n' | '\r') { '_' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, eval: &[(&str, Metric, f64)]) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 0.25 * epoch as f64,
            samples: 8,
            seconds: 2.0,
            samples_per_sec: 4.0,
            eval_seconds: 0.5,
            eval: eval.iter().map(|&(s, m, v)| MetricValue { set: s.into(), metric: m, value: v }).collect(),
            ..EpochRecord::default()
        }
    }

    #[test]
    fn csv_has_one_column_per_set_and_metric() {
        let h = History {
            epochs: vec![
                record(1, &[("test", Metric::Accuracy, 0.5), ("test", Metric::Loss, 1.5)]),
                record(2, &[("test", Metric::Accuracy, 0.75), ("val,1", Metric::Mae, 0.1)]),
            ],
        };
        let csv = h.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "epoch,train_loss,samples,seconds,samples_per_sec,eval_seconds,test_accuracy,test_loss,val_1_mae"
        );
        assert_eq!(lines[1], "1,0.25,8,2,4,0.5,0.5,1.5,");
        assert_eq!(lines[2], "2,0.5,8,2,4,0.5,0.75,,0.1");
        assert_eq!(h.series("test", Metric::Loss), vec![1.5]);
        assert_eq!(h.series("val,1", Metric::Loss), Vec::<f64>::new());
        assert_eq!(h.train_losses(), vec![0.25, 0.5]);
        assert_eq!(h.mean_seconds(), 2.0);
    }

    #[test]
    #[cfg(feature = "json")]
    fn json_and_csv_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("nn-train-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let h =
            History { epochs: vec![record(1, &[("test", Metric::R2, 0.9)]), record(2, &[("test", Metric::R2, 0.95)])] };
        h.write_json(dir.join("h.json")).unwrap();
        assert_eq!(History::read_json(dir.join("h.json")).unwrap(), h);
        h.write_csv(dir.join("h.csv")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("h.csv")).unwrap(), h.to_csv());
        let err = h.write_csv(dir.join("missing/h.csv")).unwrap_err();
        assert!(err.to_string().contains("missing/h.csv"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
