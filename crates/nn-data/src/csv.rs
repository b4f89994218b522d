//! A small numeric CSV reader: optional lines to skip, an optional header of
//! column names, one target column chosen by name or index, every other
//! field a finite number. Gzipped files are read the same way.
//!
//! Lines are numbered from 1 as in an editor, columns from 1 as in a
//! spreadsheet; every error names the file and the line (and column) at fault.
//! Blank lines are skipped; fields are trimmed of spaces; header names may be
//! quoted (`"CRIM"`); numeric fields may not.
//!
//! ```
//! use nn_data::csv::{parse_table, CsvOptions, Target};
//! let text = b"a,b,price\n1,2,10.5\n3,4,11\n";
//! let opts = CsvOptions { header: true, ..CsvOptions::default() };
//! let table = parse_table(text, "inline.csv".as_ref(), &opts).unwrap();
//! let ds = table.to_dataset::<f64>(&Target::Name("price".into())).unwrap();
//! assert_eq!(ds.x.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
//! assert_eq!(ds.y.as_slice(), &[10.5, 11.0]);
//! assert_eq!(ds.feature_names, Some(vec!["a".to_string(), "b".to_string()]));
//!
//! let bad = parse_table(b"1,2\n3,x\n", "bad.csv".as_ref(), &CsvOptions::default()).unwrap_err();
//! assert_eq!(bad.to_string(), "bad.csv: line 2, column 2: expected a number, found \"x\"");
//! ```

use std::path::{Path, PathBuf};

use nn_core::{Float, Matrix};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::file::read_bytes;

/// Which column is the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// No target: every column is a feature (y has 0 columns).
    None,
    /// The last column.
    Last,
    /// The column at this 0-based index.
    Index(usize),
    /// The column with this header name (needs a header).
    Name(String),
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Lines to ignore before the header or the data (e.g. scikit-learn's count line).
    pub skip_lines: usize,
    /// Whether the first line after the skipped ones names the columns.
    pub header: bool,
    /// The field separator.
    pub delimiter: char,
    /// The most bytes a file may hold once decompressed
    /// ([`CSV_MAX_BYTES`] by default); reading stops past it with
    /// [`DataError::TooLarge`], so a gzip bomb costs no more than this.
    pub max_bytes: u64,
}

/// The default [`CsvOptions::max_bytes`]: 256 MiB of text, over a hundred
/// times the largest table the experiments read, and far less than the
/// memory of a machine that trains on it (the parsed values take about as
/// much again).
pub const CSV_MAX_BYTES: u64 = 256 << 20;

impl Default for CsvOptions {
    /// No skipped line, no header, comma-separated, at most [`CSV_MAX_BYTES`].
    fn default() -> Self {
        CsvOptions { skip_lines: 0, header: false, delimiter: ',', max_bytes: CSV_MAX_BYTES }
    }
}

/// A parsed numeric table: `rows × cols` finite values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The file the table came from.
    pub path: PathBuf,
    /// Column names, if the file has a header.
    pub names: Option<Vec<String>>,
    /// Number of data rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The values, row-major.
    pub values: Vec<f64>,
    /// `lines[i]` is the 1-based line number of data row i.
    pub lines: Vec<usize>,
}

/// Reads a CSV file (plain or gzip) into a [`Table`].
pub fn read_table(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Table> {
    let path = path.as_ref();
    parse_table(&read_bytes(path, opts.max_bytes)?, path, opts)
}

/// Reads a CSV file into a [`Dataset`] with the `target` column as y (n × 1)
/// and the other columns, in file order, as x.
pub fn read_csv<T: Float>(path: impl AsRef<Path>, opts: &CsvOptions, target: &Target) -> Result<Dataset<T>> {
    read_table(path, opts)?.to_dataset(target)
}

/// The text of a line without its end (`\n` or `\r\n`), checked to be UTF-8.
fn line_text<'a>(line: &'a [u8], number: usize, path: &Path) -> Result<&'a str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).map_err(|_| DataError::NotText { path: path.to_path_buf(), line: number })
}

/// Parses CSV bytes (already decompressed); `path` names the source in errors.
pub fn parse_table(bytes: &[u8], path: &Path, opts: &CsvOptions) -> Result<Table> {
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), what: "the file is empty" });
    }
    let mut lines = bytes.split(|&b| b == b'\n').enumerate().map(|(i, l)| (i + 1, l)).skip(opts.skip_lines);
    let mut names: Option<Vec<String>> = None;
    if opts.header {
        for (number, raw) in lines.by_ref() {
            let text = line_text(raw, number, path)?;
            if text.trim().is_empty() {
                continue;
            }
            names = Some(text.split(opts.delimiter).map(|f| f.trim().trim_matches('"').to_string()).collect());
            break;
        }
        if names.is_none() {
            return Err(DataError::Empty { path: path.to_path_buf(), what: "no header line" });
        }
    }
    let mut cols = names.as_ref().map(Vec::len);
    let mut values = Vec::new();
    let mut row_lines = Vec::new();
    for (number, raw) in lines {
        let text = line_text(raw, number, path)?;
        if text.trim().is_empty() {
            continue;
        }
        let before = values.len();
        for (j, field) in text.split(opts.delimiter).enumerate() {
            values.push(parse_number(field.trim(), path, number, j + 1)?);
        }
        let found = values.len() - before;
        let expected = *cols.get_or_insert(found);
        if found != expected {
            return Err(DataError::RaggedRow { path: path.to_path_buf(), line: number, expected, found });
        }
        row_lines.push(number);
    }
    if row_lines.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), what: "no data rows" });
    }
    Ok(Table {
        path: path.to_path_buf(),
        names,
        rows: row_lines.len(),
        cols: cols.unwrap_or(0),
        values,
        lines: row_lines,
    })
}

/// A finite f64, or an error naming line and column.
fn parse_number(field: &str, path: &Path, line: usize, column: usize) -> Result<f64> {
    match field.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(DataError::NonFinite { path: path.to_path_buf(), line, column, field: field.to_string() }),
        Err(_) => Err(DataError::NotNumeric { path: path.to_path_buf(), line, column, field: field.to_string() }),
    }
}

impl Table {
    /// Value at data row `i`, column `j`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.cols + j]
    }

    /// The 0-based index of the target column, if any; errors if it does not exist.
    pub fn target_index(&self, target: &Target) -> Result<Option<usize>> {
        let bad = |found: String| DataError::InvalidArgument {
            what: "CSV target column",
            expected: match &self.names {
                Some(n) => format!("one of {n:?} or an index below {}", self.cols),
                None => format!("an index below {} (the file has no header)", self.cols),
            },
            found,
        };
        match target {
            Target::None => Ok(None),
            Target::Last => Ok(self.cols.checked_sub(1)),
            Target::Index(j) if *j < self.cols => Ok(Some(*j)),
            Target::Index(j) => Err(bad(format!("index {j} in {}", self.path.display()))),
            Target::Name(name) => match self.names.as_ref().and_then(|n| n.iter().position(|c| c == name)) {
                Some(j) => Ok(Some(j)),
                None => Err(bad(format!("{name:?} in {}", self.path.display()))),
            },
        }
    }

    /// x = every column but the target (in file order), y = the target column
    /// (n × 1; n × 0 for [`Target::None`]); feature names from the header.
    ///
    /// Errors with [`DataError::OutOfRange`], naming the line and column, if
    /// a value (finite as f64) is not finite as `T` (`1e39` as f32).
    pub fn to_dataset<T: Float>(&self, target: &Target) -> Result<Dataset<T>> {
        let t = self.target_index(target)?;
        if let Some(k) = self.values.iter().position(|&v| !T::from_f64(v).is_finite()) {
            let max = if T::NAME == "f32" { f64::from(f32::MAX) } else { f64::MAX };
            return Err(DataError::OutOfRange {
                path: self.path.clone(),
                line: self.lines.get(k.checked_div(self.cols).unwrap_or(0)).copied().unwrap_or(0),
                column: k.checked_rem(self.cols).unwrap_or(k) + 1,
                value: self.values[k],
                ty: T::NAME,
                max,
            });
        }
        let keep: Vec<usize> = (0..self.cols).filter(|&j| Some(j) != t).collect();
        let x = Matrix::from_fn(self.rows, keep.len(), |i, k| T::from_f64(self.get(i, keep[k])));
        let y = match t {
            Some(j) => Matrix::from_fn(self.rows, 1, |i, _| T::from_f64(self.get(i, j))),
            None => Matrix::zeros(self.rows, 0),
        };
        let ds = Dataset::new(x, y)?;
        match &self.names {
            Some(names) => ds.with_feature_names(keep.iter().map(|&j| names[j].clone()).collect()),
            None => Ok(ds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, opts: &CsvOptions) -> Result<Table> {
        parse_table(text.as_bytes(), Path::new("t.csv"), opts)
    }

    #[test]
    fn skips_blank_lines_and_handles_crlf() {
        let t = parse("1, 2\r\n\r\n 3 ,4\r\n\n", &CsvOptions::default()).unwrap();
        assert_eq!((t.rows, t.cols), (2, 2));
        assert_eq!(t.values, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t.lines, vec![1, 3]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let d = CsvOptions::default();
        let e = parse("1,2\n3,4,5\n", &d).unwrap_err();
        assert_eq!(e.to_string(), "t.csv: line 2: expected 2 fields, found 3");
        let e = parse("1,2\n3,\n", &d).unwrap_err();
        assert!(matches!(e, DataError::NotNumeric { line: 2, column: 2, ref field, .. } if field.is_empty()));
        for bad in ["NaN", "inf", "-infinity", "1e999"] {
            let e = parse(&format!("1,2\n\n4,{bad}\n"), &d).unwrap_err();
            assert!(matches!(e, DataError::NonFinite { line: 3, column: 2, .. }), "{bad}: {e}");
        }
        let e = parse_table(b"1,2\n3,\xff\n", Path::new("t.csv"), &d).unwrap_err();
        assert!(matches!(e, DataError::NotText { line: 2, .. }));
        assert!(matches!(parse("\n\n", &d), Err(DataError::Empty { what: "no data rows", .. })));
        let h = CsvOptions { header: true, ..d };
        assert!(matches!(parse("a,b\n", &h), Err(DataError::Empty { what: "no data rows", .. })));
        let e = parse("a,b\n1,2,3\n", &h).unwrap_err();
        assert!(matches!(e, DataError::RaggedRow { line: 2, expected: 2, found: 3, .. }));
    }

    #[test]
    fn values_beyond_f32_fail_at_their_line_and_column() {
        let t = parse("1,2\n3,1e39\n", &CsvOptions::default()).unwrap();
        // Finite in f64: fine there.
        assert_eq!(t.to_dataset::<f64>(&Target::Last).unwrap().y.get(1, 0), 1e39);
        let e = t.to_dataset::<f32>(&Target::Last).unwrap_err();
        assert!(matches!(e, DataError::OutOfRange { line: 2, column: 2, ty: "f32", .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "t.csv: line 2, column 2: 1e39 is outside the range of f32 (largest finite f32 is 3.4028234663852886e38)"
        );
        let neg = parse("-1e39,2\n", &CsvOptions::default()).unwrap();
        assert!(matches!(neg.to_dataset::<f32>(&Target::None), Err(DataError::OutOfRange { line: 1, column: 1, .. })));
    }

    #[test]
    fn target_by_name_index_last_or_none() {
        let h = CsvOptions { skip_lines: 1, header: true, ..CsvOptions::default() };
        let t = parse("junk line\n\"a\",\"b\",\"c\"\n1,2,3\n4,5,6\n", &h).unwrap();
        let by_name = t.to_dataset::<f32>(&Target::Name("a".into())).unwrap();
        assert_eq!(by_name.y.as_slice(), &[1.0, 4.0]);
        assert_eq!(by_name.x.as_slice(), &[2.0, 3.0, 5.0, 6.0]);
        assert_eq!(by_name.feature_names.unwrap(), vec!["b", "c"]);
        assert_eq!(t.to_dataset::<f32>(&Target::Index(1)).unwrap().y.as_slice(), &[2.0, 5.0]);
        assert_eq!(t.to_dataset::<f32>(&Target::Last).unwrap().y.as_slice(), &[3.0, 6.0]);
        let none = t.to_dataset::<f32>(&Target::None).unwrap();
        assert_eq!((none.x.cols(), none.y.cols()), (3, 0));
        let e = t.to_dataset::<f32>(&Target::Name("zz".into())).unwrap_err();
        assert!(e.to_string().contains("\"zz\" in t.csv"), "{e}");
        assert!(t.to_dataset::<f32>(&Target::Index(3)).is_err());
    }
}
