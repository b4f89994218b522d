//! Errors of nn-train. Each one says what went wrong and where: the epoch and
//! batch of a diverging run, the file and tensor of a bad checkpoint, the
//! data set, row and column of a bad sample, the expected and found shapes.

use std::path::PathBuf;

use nn_core::ShapeError;

/// Why training (or writing its history) stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The mini-batch loss became NaN or infinite; no step was taken with it.
    #[error("training diverged: the loss is {value} at epoch {epoch}, batch {batch} (both counted from 1)")]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The loss of that batch.
        value: f64,
    },
    /// A step made a parameter NaN or infinite (found at the end of the
    /// epoch, the last step included); the network is not a result.
    #[error(
        "training diverged: a parameter is {value} after epoch {epoch} (counted from 1); \
         try a smaller learning rate"
    )]
    NonFiniteParameters {
        /// 1-based epoch.
        epoch: usize,
        /// The first non-finite parameter's value.
        value: f64,
    },
    /// A data set holds a NaN or infinite value.
    #[error("{set} {part} holds {value} at row {row}, column {col} (counted from 0): data must be finite")]
    NonFiniteData {
        /// The data set's name (`train`, or the name given to an evaluation set).
        set: String,
        /// `inputs` or `targets`.
        part: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
        /// The value.
        value: f64,
    },
    /// Shapes that do not fit: data versus network, targets versus outputs.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// A setting that cannot work (batch size 0, nothing to train on, …).
    #[error("invalid training setup: {0}")]
    Config(String),
    /// The rayon thread pool could not be built.
    #[error("cannot start {threads} training threads: {reason}")]
    ThreadPool {
        /// Requested threads.
        threads: usize,
        /// rayon's explanation.
        reason: String,
    },
    /// Writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Encoding JSON failed.
    #[cfg(feature = "json")]
    #[error("{}: cannot encode JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// An operation between the ranks of a multi-process run failed, or the
    /// ranks disagree (data, settings, parameters).
    #[error("multi-process training: {0}")]
    Collective(String),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a well-formed safetensors file (truncated, corrupted, or another format).
    #[error("{}: not a valid safetensors file: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// The header metadata lacks the architecture or cannot be parsed.
    #[error("{}: bad model metadata: {reason}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Tensors missing, of the wrong shape or type, unexpected, or not matching the network.
    #[error("{}: the tensors do not match the model: {}", path.display(), problems.join("; "))]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Every problem found, one per tensor (`layers.0.weight: expected 784×64, found 784×32`).
        problems: Vec<String>,
    },
    /// A weight is NaN or infinite.
    #[error("{}: tensor {tensor} holds {value} at element {index}: weights must be finite", path.display())]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The tensor, e.g. `layers.1.bias`.
        tensor: String,
        /// Flat row-major index of the first bad value.
        index: usize,
        /// The value.
        value: f64,
    },
}
