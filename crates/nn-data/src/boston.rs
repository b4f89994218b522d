//! The Boston housing table (Harrison & Rubinfeld, 1978) in scikit-learn's
//! CSV layout: line 1 is a count line `506,13,…`, line 2 the 14 column names,
//! then 506 rows of 13 features and the target MEDV (median home value, k$).
//!
//! A caveat that travels with this data: the feature `B` is
//! 1000·(Bk − 0.63)², Bk being the proportion of Black residents by town, a
//! variable built on a racial assumption. scikit-learn removed the data set
//! for that reason. It is read here only to reproduce a published experiment
//! and should not be used to build anything that makes decisions.

use std::path::Path;

use nn_core::Float;

use crate::csv::{parse_table, CsvOptions, Target};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::file::read_bytes;

/// The 13 feature names in file order (the target, MEDV, is the 14th column).
pub const BOSTON_FEATURES: [&str; 13] =
    ["CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT"];

/// Reads the Boston CSV: x is 506 × 13 (raw, unscaled), y is MEDV (506 × 1),
/// `feature_names` the 13 names of the header.
///
/// Checks that the count line's numbers of samples and features match the
/// table and that the header names the 13 features and MEDV.
///
/// ```
/// let ds = nn_data::boston::<f64>("../../datasets/boston_house_prices.csv").unwrap();
/// assert_eq!((ds.x.shape(), ds.y.shape()), ((506, 13), (506, 1)));
/// assert_eq!(ds.x.row(0)[..3], [0.00632, 18.0, 2.31]);
/// assert_eq!(ds.y.get(0, 0), 24.0);
/// ```
pub fn boston<T: Float>(path: impl AsRef<Path>) -> Result<Dataset<T>> {
    let path = path.as_ref();
    let opts = CsvOptions { skip_lines: 1, header: true, ..CsvOptions::default() };
    let bytes = read_bytes(path, opts.max_bytes)?;
    let (n, m) = count_line(&bytes, path)?;
    let table = parse_table(&bytes, path, &opts)?;
    let names = table.names.clone().unwrap_or_default();
    let expected_names: Vec<&str> = BOSTON_FEATURES.iter().copied().chain(["MEDV"]).collect();
    if m != BOSTON_FEATURES.len() || names != expected_names {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            line: 2,
            expected: format!("the column names {expected_names:?} (13 features declared on line 1)"),
            found: format!("{names:?} ({m} features declared on line 1)"),
        });
    }
    if table.rows != n {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            line: 1,
            expected: format!("{} samples, as the table holds", table.rows),
            found: format!("{n} samples declared"),
        });
    }
    table.to_dataset(&Target::Last)
}

/// The `n_samples,n_features` pair of line 1.
fn count_line(bytes: &[u8], path: &Path) -> Result<(usize, usize)> {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(first);
    let mut fields = text.trim_end_matches('\r').split(',').map(str::trim);
    let mut number = || fields.next().and_then(|f| f.parse::<usize>().ok());
    match (number(), number()) {
        (Some(n), Some(m)) => Ok((n, m)),
        _ => Err(DataError::BadHeader {
            path: path.to_path_buf(),
            line: 1,
            expected: "a count line \"n_samples,n_features,…\"".to_string(),
            found: format!("{:?}", text.chars().take(60).collect::<String>()),
        }),
    }
}
