//! `DataError`: every way a data file or a transform's argument can be wrong,
//! each variant carrying the file and the place (line, column, dimension) at
//! fault and, where there is one, what was expected versus what was found.
//!
//! The `Display` text is meant to be shown to a command-line user as is:
//! one line, starting with the path.

use std::io;
use std::path::PathBuf;

use nn_core::ShapeError;

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// What went wrong while reading or transforming data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read (missing, unreadable).
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The file is named `*.gz` but does not start with the gzip magic bytes 1f 8b.
    #[error("{}: not a gzip file: expected the magic bytes 1f 8b, found {found}", path.display())]
    NotGzip {
        /// The file.
        path: PathBuf,
        /// The first bytes of the file, in hex.
        found: String,
    },

    /// The gzip stream is corrupt or ends early.
    #[error("{}: corrupt or truncated gzip data after {decoded} decompressed bytes: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// How many bytes had been decompressed when the error struck.
        decoded: usize,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },

    /// The file (after decompression) holds more bytes than its format
    /// allows: more than an IDX header declares, or more than a CSV limit.
    #[error("{}: {what} exceeds the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What is too large, e.g. "the data" or "the IDX data after the header".
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
    },

    /// The file (after decompression) holds no bytes, or a CSV file holds no data rows.
    #[error("{}: {what}", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What is missing, e.g. "the file is empty" or "no data rows after the header".
        what: &'static str,
    },

    /// The IDX magic number is wrong (bytes 0–1 must be zero, byte 3 the number of dimensions ≥ 1).
    #[error("{}: not an IDX file: expected a magic number 00 00 <type> <ndim>, found {found:#010x}", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes, big-endian.
        found: u32,
    },

    /// The IDX type byte is not one of the six the format defines.
    #[error("{}: unknown IDX element type {code:#04x} (expected 08, 09, 0b, 0c, 0d or 0e)", path.display())]
    BadDtype {
        /// The file.
        path: PathBuf,
        /// The type byte found.
        code: u8,
    },

    /// An IDX file has the wrong element type or rank for what the caller asked.
    #[error("{}: expected {expected}, found {found}", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What the caller needs, e.g. "u8 images of rank 3".
        expected: String,
        /// What the header declares.
        found: String,
    },

    /// The IDX header ends before all its dimensions are given.
    #[error("{}: truncated IDX header: {ndim} dimensions need {expected} header bytes, found {found}", path.display())]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Number of dimensions the magic declares.
        ndim: usize,
        /// Header length needed.
        expected: usize,
        /// Bytes available.
        found: usize,
    },

    /// The data length differs from the product of the declared dimensions.
    #[error(
        "{}: declared dimensions {dims:?} of {elem_size}-byte elements need {expected} data bytes, found {found}",
        path.display()
    )]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Dimensions from the header.
        dims: Vec<usize>,
        /// Size of one element in bytes.
        elem_size: usize,
        /// Bytes the dimensions call for, as text (their product may overflow any integer type).
        expected: String,
        /// Bytes present after the header.
        found: usize,
    },

    /// Images and labels disagree in count.
    #[error("{} holds {images} images but {} holds {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Number of images.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of labels.
        labels: usize,
    },

    /// A class label is outside `0..classes` (or not a whole number).
    #[error("{}: line/record {record}: label {value} is not a class in 0..{classes}", path.display())]
    BadLabel {
        /// The file (or `<labels>` for labels not read from a file).
        path: PathBuf,
        /// 1-based line (CSV) or 0-based record index (IDX, in-memory labels).
        record: usize,
        /// The offending value, as text.
        value: String,
        /// Number of classes.
        classes: usize,
    },

    /// A CSV row has a different number of fields than the first row.
    #[error("{}: line {line}: expected {expected} fields, found {found}", path.display())]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Fields in the first row (or header).
        expected: usize,
        /// Fields in this row.
        found: usize,
    },

    /// A CSV field is not a number.
    #[error("{}: line {line}, column {column}: expected a number, found {field:?}", path.display())]
    NotNumeric {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The field's text.
        field: String,
    },

    /// A CSV value is finite as f64 but not in the element type the data is
    /// loaded as (e.g. `1e39` is ±∞ in f32).
    #[error(
        "{}: line {line}, column {column}: {value:e} is outside the range of {ty} (largest finite {ty} is {max:e})",
        path.display()
    )]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The value as read (f64).
        value: f64,
        /// The element type, e.g. "f32".
        ty: &'static str,
        /// The largest finite value of `ty`.
        max: f64,
    },

    /// A CSV field is NaN or ±∞ (written so, or overflowing f64).
    #[error("{}: line {line}, column {column}: expected a finite number, found {field:?}", path.display())]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The field's text.
        field: String,
    },

    /// A CSV line is not valid UTF-8.
    #[error("{}: line {line}: not valid UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },

    /// A file's header or count line is not what the format requires.
    #[error("{}: line {line}: expected {expected}, found {found}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What the format requires.
        expected: String,
        /// What the line holds.
        found: String,
    },

    /// An argument to a reader or a transform is out of range
    /// (a fraction outside [0, 1], a batch size of 0, a missing target column …).
    #[error("{what}: expected {expected}, found {found}")]
    InvalidArgument {
        /// The function and argument at fault.
        what: &'static str,
        /// The accepted range.
        expected: String,
        /// The value given.
        found: String,
    },

    /// Matrices whose shapes do not fit together.
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

impl DataError {
    /// An `Io` error for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    /// An `InvalidArgument` error.
    pub(crate) fn invalid(what: &'static str, expected: impl Into<String>, found: impl ToString) -> Self {
        DataError::InvalidArgument { what, expected: expected.into(), found: found.to_string() }
    }
}
