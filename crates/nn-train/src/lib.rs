//! # nn-train
//!
//! Training for backprop-rs: the epoch loop, the deterministic data-parallel
//! gradient step, metrics, history, progress and checkpoints. The network,
//! losses, objectives and optimizers come from `nn-core`; the training
//! inputs are any [`RowSource`](nn_core::RowSource) (a
//! [`Matrix`](nn_core::Matrix), one sample per row, or rows kept in another
//! form and converted as a batch gathers them), so any loader works.
//!
//! Per epoch: a seeded shuffle ([`nn_core::shuffle::epoch_order`]), mini-batches
//! of B rows, each cut into shards of a fixed number of rows ([`ShardPlan`]).
//! A step is two calls on [`DataParallel`]: `gather_shards` computes each
//! shard's gradient with [`Network::loss_and_gradients`](nn_core::Network::loss_and_gradients)
//! (the same driver a single-threaded loop calls) into its own preallocated
//! buffers on a rayon pool; `step` sums the shard gradients by a pairwise
//! tree over shard index and takes one optimizer step, every thread summing
//! and stepping its own part of the parameters. Shard boundaries and the
//! summation order never depend on the thread count, so **the same seed
//! gives the same weights, bit for bit, on any number of threads**.
//!
//! | file | owns |
//! |---|---|
//! | [`trainer`] | [`TrainConfig`], [`Trainer`]: the epoch loop, shuffling, evaluation |
//! | [`parallel`] | [`DataParallel`], [`Execution`]: per-shard state, the parallel gradient and the step |
//! | [`shards`] | [`ShardPlan`], `auto_shard_size`: the cut of a batch |
//! | [`collective`] | training as several processes: the [`Collective`] seam, [`Combine`] (exact or fast), `InProcess` ranks for tests |
//! | `mpi` | `MpiCollective`, the seam over MPI (feature `mpi`, off by default) |
//! | `reduce` | `sum_into`: the fixed-order sum of the shard gradients (private) |
//! | `eval` | evaluation chunk by chunk (private) |
//! | [`metrics`] | accuracy, confusion matrix, classification report, MAE, MSE, RMSE, R² |
//! | [`history`] | [`History`], [`EpochRecord`]: CSV and JSON |
//! | [`progress`] | [`Progress`]: indicatif bar, plain lines, or silence |
//! | `checkpoint` | safetensors save and load of models and of training states (to resume) |
//! | [`error`] | [`TrainError`], [`CheckpointError`] |
//!
//! Features, on by default: `progress-bar` (indicatif; without it a bar
//! prints plain lines), `json` (serde; `History::write_json`/`read_json`),
//! `checkpoint` (safetensors; needs `json`). `default-features = false`
//! leaves rayon and thiserror as the only dependencies beside nn-core. Off
//! by default: `mpi` (rsmpi; needs an MPI library and libclang), training
//! as the ranks of an MPI job.
//!
//! Training a 2-8-1 network on XOR, on two threads, with a test set:
//!
//! ```
//! use nn_core::{Activation, Init, Loss, Matrix, NetworkBuilder, Reduction, Sgd};
//! use nn_train::{Metric, Progress, TrainConfig, Trainer};
//! use rand::SeedableRng;
//!
//! let x = Matrix::from_vec(4, 2, vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
//! let y = Matrix::from_vec(4, 1, vec![0.0f32, 1.0, 1.0, 0.0]).unwrap();
//! let mut rng = rand::rngs::StdRng::seed_from_u64(3);
//! let mut net = NetworkBuilder::new(2)
//!     .dense(8, Activation::Tanh)
//!     .dense(1, Activation::Sigmoid)
//!     .weights(Init::Glorot)
//!     .build::<f32, _>(&mut rng)?;
//! let loss = Loss::SigmoidBce(Reduction::Mean);
//! let mut sgd = Sgd::new(0.5);
//! let config = TrainConfig {
//!     epochs: 1000,
//!     batch_size: 4,
//!     shard_size: Some(2), // two shards per batch
//!     seed: 42,
//!     threads: Some(2),
//!     progress: Progress::Silent,
//!     ..TrainConfig::default()
//! };
//! let history = Trainer::new(&config)
//!     .objective(&loss)
//!     .optimizer(&mut sgd)
//!     .train_set(&x, &y)
//!     .eval_set("test", &x, &y)
//!     .metrics(&[Metric::Accuracy, Metric::Loss])
//!     .fit(&mut net)?;
//! assert_eq!(history.epochs.len(), 1000);
//! assert_eq!(history.last().unwrap().get("test", Metric::Accuracy), Some(1.0));
//! assert!(history.last().unwrap().train_loss < 0.1);
//! # Ok::<(), nn_train::TrainError>(())
//! ```
//!
//! ## The API at a glance
//!
//! - [`TrainConfig`]: `epochs`, `batch_size`, `shard_size` (`None`: [`shards::auto_shard_size`]),
//!   `seed`, `shuffle`, `keep_last_partial`, `threads` (`None`: `RAYON_NUM_THREADS` or all
//!   cores), `progress` ([`Progress::Auto`] / `Bar` / `Plain` / `Silent`, on stderr).
//! - [`Trainer`]`::new(&config)` then `.objective(&loss)`, `.optimizer(&mut opt)`,
//!   `.train_set(&x, &y)`, optionally `.eval_set(name, &x, &y)` (repeatable),
//!   `.metrics(&[`[`Metric`]`::…])`, `.on_epoch(|record| …)`, `.lr_schedule(|epoch| η)`,
//!   `.on_checkpoint(|state| …)` (a [`TrainState`] after every epoch), `.resume(history)`,
//!   `.collective(Arc<dyn Collective>)` (one rank of several),
//!   and `.fit(&mut net)` → `Result<`[`History`]`, `[`TrainError`]`>`.
//! - [`nn_core::Objective`]: `output_delta(net, targets, ws, divisor) -> Result<E, ShapeError>`
//!   writes δᴸ; `reduction()` says whether E is a mean over the batch; `check(net)` runs once.
//!   Implemented for [`nn_core::Loss`]; an experiment can implement its own rule.
//! - [`DataParallel`]: per-shard state, `gather_and_compute` / `compute` (∇E of a batch),
//!   `gather_shards` then `step` (the trainer's step), usable without the trainer;
//!   `take_times` ([`StepTimes`]: where the batches' time went); [`ShardPlan`]: the cut.
//! - [`History`] (`epochs: Vec<`[`EpochRecord`]`>`, `series(set, metric)`, `last()`,
//!   `train_losses()`, `write_csv`, `write_json`, `read_json`); [`EpochRecord`] (`epoch`,
//!   `train_loss` per sample, `samples`, `seconds`, `samples_per_sec`, `eval_seconds`,
//!   `eval: Vec<`[`MetricValue`]`>`, `get(set, Metric::…)`, and where `seconds` went:
//!   `compute_seconds`, `step_seconds`, `gather_seconds`, `pass_seconds`).
//! - [`metrics`]: `accuracy`, `accuracy_of_labels`, `classes_of`, `confusion_matrix`,
//!   `classification_report` and `classification_report_of` (from outputs and one-hot targets;
//!   a [`ClassificationReport`], printed like scikit-learn's), `mae`,
//!   `mse`, `rmse`, `r2`.
//! - `checkpoint`: `save_safetensors` (and `save_safetensors_with` for metadata of your own, e.g. the input
//!   preprocessing), `load_safetensors`, `load_safetensors_into`,
//!   `to_safetensors_bytes`, `from_safetensors_bytes`; errors are [`CheckpointError`].
//!
//! Loading the weights in Python (`pip install safetensors numpy`):
//!
//! ```text
//! from safetensors import safe_open
//! from safetensors.numpy import load_file
//! w = load_file("model.safetensors")     # {"layers.0.weight": (784, 64) float32, "layers.0.bias": (1, 64), ...}
//! with safe_open("model.safetensors", framework="np") as f:
//!     meta = f.metadata()                # {"architecture": "784,64,10", "activations": "relu,softmax", ...}
//! h = np.maximum(x @ w["layers.0.weight"] + w["layers.0.bias"], 0)   # U = H W + b, row-major, samples are rows
//! ```

#![forbid(unsafe_code)]

pub mod atomic;
#[cfg(feature = "checkpoint")]
pub mod checkpoint;
pub mod collective;
pub mod error;
mod eval;
pub mod history;
pub mod metrics;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod parallel;
pub mod progress;
mod reduce;
pub mod shards;
pub mod trainer;

pub use atomic::write_atomic;
#[cfg(feature = "checkpoint")]
pub use checkpoint::{
    load_safetensors, load_safetensors_into, load_training_state, save_safetensors, save_safetensors_with,
    save_training_state, TrainingState, CHECKPOINT_MAX_BYTES,
};
pub use collective::{Collective, Combine};
pub use error::{CheckpointError, TrainError};
pub use history::{EpochRecord, History, MetricValue};
pub use metrics::{ClassificationReport, ConfusionMatrix, Metric};
pub use parallel::{CommStats, DataParallel, Execution, StepTimes};
pub use progress::Progress;
pub use shards::ShardPlan;
pub use trainer::{EvalSet, TrainConfig, TrainState, Trainer};
