//! The UCI optical-recognition digits as scikit-learn ships them: 1797
//! images of 8 × 8 pixels with values 0–16 (counts of set pixels in 4 × 4
//! blocks of a 32 × 32 bitmap), one image per CSV row, the class 0–9 in the
//! last column, no header.

use std::path::Path;

use nn_core::Float;

use crate::csv::{read_table, CsvOptions, Target};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::transform::one_hot;

/// Pixels per image (8 × 8).
pub const DIGITS_PIXELS: usize = 64;
/// Number of classes.
pub const DIGITS_CLASSES: usize = 10;

/// Reads the digits CSV (plain or gzip): x is n × 64 with the raw values
/// 0–16 (unscaled, as the first tutorial uses them), y the one-hot labels
/// (n × 10) and `labels` the classes.
///
/// Errors if a row does not hold 65 fields or a label is not a whole number in 0..10.
///
/// ```
/// let ds = nn_data::digits::<f32>("../../datasets/digits.csv.gz").unwrap();
/// assert_eq!((ds.x.shape(), ds.y.shape()), ((1797, 64), (1797, 10)));
/// assert_eq!(ds.labels.as_ref().unwrap()[..5], [0, 1, 2, 3, 4]);
/// assert_eq!(ds.x.row(0)[..6], [0.0, 0.0, 5.0, 13.0, 9.0, 1.0]);
/// ```
pub fn digits<T: Float>(path: impl AsRef<Path>) -> Result<Dataset<T>> {
    let path = path.as_ref();
    let table = read_table(path, &CsvOptions::default())?;
    if table.cols != DIGITS_PIXELS + 1 {
        return Err(DataError::RaggedRow {
            path: path.to_path_buf(),
            line: table.lines[0],
            expected: DIGITS_PIXELS + 1,
            found: table.cols,
        });
    }
    let mut labels = Vec::with_capacity(table.rows);
    for i in 0..table.rows {
        let v = table.get(i, DIGITS_PIXELS);
        if v.fract() != 0.0 || !(0.0..DIGITS_CLASSES as f64).contains(&v) {
            return Err(DataError::BadLabel {
                path: path.to_path_buf(),
                record: table.lines[i],
                value: v.to_string(),
                classes: DIGITS_CLASSES,
            });
        }
        labels.push(v as usize);
    }
    let ds = table.to_dataset::<T>(&Target::Last)?;
    Dataset::new(ds.x, one_hot(&labels, DIGITS_CLASSES)?)?.with_labels(labels)
}
