//! nn-train (filled by its issue).
