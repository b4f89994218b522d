//! # nn-data
//!
//! The data side of backprop-rs: readers that turn the files in `datasets/`
//! into [`Dataset`]s (`x`: one sample per row, `y`: targets), the generated
//! toy sets, and the transforms the experiments apply (shuffle, split,
//! standardise, one-hot, mini-batches). Every reader returns a
//! [`Result`] whose error names the file and what is wrong in it
//! (line, column, dimension, expected versus found); nothing panics on bad
//! input and nothing turns a bad field into NaN. Everything random is seeded
//! (ChaCha8), so the same seed gives the same data bit for bit.
//!
//! | reader / generator | gives |
//! |---|---|
//! | [`mnist`](fn@mnist)`(dir, Normalisation)` | 60 000 + 10 000 images, 784 columns, one-hot y; [`Mnist::nielsen_split`] for 50k/10k/10k |
//! | [`boston`](fn@boston)`(path)` | x 506 × 13, y 506 × 1 (MEDV), feature names |
//! | [`digits`](fn@digits)`(path)` | x 1797 × 64 (0–16), y one-hot 1797 × 10, labels |
//! | [`toy_regression`]`(n, seed)` | x n × 1, y n × 1: the MNIST tutorial's noisy bump, scaled to max 1 |
//! | [`sklearn::train_test_split`], [`sklearn::scale`] | scikit-learn's split (numpy's `RandomState`) and `scale`, value for value |
//! | [`xor`]`()` | the four XOR points |
//! | [`idx::read_idx`], [`csv::read_csv`] | any IDX file; any numeric CSV |
//!
//! ```
//! use nn_data::{transform, LastBatch, MiniBatches};
//! let ds = nn_data::digits::<f32>("../../datasets/digits.csv.gz")?;
//! let (train, test) = transform::train_test_split(&ds, 0.2, 42)?;
//! assert_eq!((train.len(), test.len()), (1437, 360));
//! let batches = MiniBatches::shuffled(train.len(), 16, LastBatch::Keep, 42, 0)?;
//! assert_eq!(batches.len(), 90); // ⌈1437 / 16⌉
//! # Ok::<(), nn_data::DataError>(())
//! ```

#![forbid(unsafe_code)]

pub mod batches;
pub mod boston;
pub mod csv;
pub mod dataset;
pub mod digits;
pub mod error;
pub mod file;
pub mod idx;
pub mod mnist;
pub mod sklearn;
pub mod toy;
pub mod transform;

pub use batches::{LastBatch, MiniBatches};
pub use boston::boston;
pub use dataset::Dataset;
pub use digits::digits;
pub use error::{DataError, Result};
pub use mnist::{mnist, mnist_pixels, Mnist, MnistPixels, NielsenSplit, Normalisation, PixelRows, PixelSet};
pub use toy::{toy_regression, xor};
pub use transform::{argmax, argmax_rows, one_hot, Standardizer};
