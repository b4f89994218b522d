//! nn-data (filled by its issue).
