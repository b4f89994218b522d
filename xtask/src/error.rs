//! The one error type of the command line. Every variant's message is a
//! single line naming what failed (file, shape, experiment); `main` prints it
//! once and exits non-zero.

use std::path::PathBuf;

use nn_core::ShapeError;

/// Everything that can stop a task.
#[derive(Debug, thiserror::Error)]
pub enum XtaskError {
    /// A missing or malformed dataset file (the message names it).
    #[error(transparent)]
    Data(#[from] nn_data::DataError),
    /// A shape mismatch inside the network code.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Drawing or encoding a plot.
    #[error("plot {}: {message}", path.display())]
    Plot {
        /// The PNG being written.
        path: PathBuf,
        /// What plotters reported.
        message: String,
    },
    /// Serialising results.
    #[error("{}: {source}", path.display())]
    Json {
        /// The JSON file being written.
        path: PathBuf,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// Training stopped (diverged, or a setup the trainer rejects).
    #[error(transparent)]
    Train(#[from] nn_train::TrainError),
    /// Writing or reading a checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] nn_train::CheckpointError),
    /// A check that failed (for example a gradient check above tolerance).
    #[error("{0}")]
    Failed(String),
}

/// `Result` with [`XtaskError`].
pub type Result<T, E = XtaskError> = std::result::Result<T, E>;
