//! Errors of nn-core: every one says which operation failed and what shape
//! it expected versus what it found.

use std::fmt;

/// A shape mismatch: `context` names the operation, `expected` and `found`
/// describe the shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    /// The operation that refused its arguments, e.g. `"gemm"` or `"Network::forward"`.
    pub context: String,
    /// What the operation needed.
    pub expected: String,
    /// What it was given.
    pub found: String,
}

impl ShapeError {
    /// A new shape error.
    pub fn new(context: impl Into<String>, expected: impl Into<String>, found: impl Into<String>) -> Self {
        ShapeError { context: context.into(), expected: expected.into(), found: found.into() }
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}, found {}", self.context, self.expected, self.found)
    }
}

impl std::error::Error for ShapeError {}
