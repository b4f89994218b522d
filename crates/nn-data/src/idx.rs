//! The IDX file format (LeCun's, used by MNIST, Fashion-MNIST, EMNIST …),
//! gzipped or plain.
//!
//! Layout, all integers big-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 0–1 | zero |
//! | 2 | element type: 08 u8, 09 i8, 0b i16, 0c i32, 0d f32, 0e f64 |
//! | 3 | number of dimensions d ≥ 1 |
//! | 4 … 4 + 4d | the d dimensions, u32 each |
//! | then | d₀·d₁·…·d_{d−1} elements, row-major |
//!
//! MNIST images are `08 03` (u8, 60000 × 28 × 28), labels `08 01` (u8, 60000).
//! The reader checks the magic, the type, that the header is complete and
//! that the data holds exactly the declared number of elements; u8 data is
//! kept in the buffer it was read into (no second copy).
//!
//! ```
//! use nn_data::idx::{parse_idx, IdxData};
//! // A 2 × 3 u8 array.
//! let bytes = vec![0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
//! let a = parse_idx(bytes, "inline.idx".as_ref()).unwrap();
//! assert_eq!(a.dims, vec![2, 3]);
//! assert_eq!(a.data, IdxData::U8(vec![1, 2, 3, 4, 5, 6]));
//! // One byte short of the declared 6 elements:
//! assert!(parse_idx(vec![0, 0, 0x08, 1, 0, 0, 0, 6, 1, 2, 3, 4, 5], "short.idx".as_ref()).is_err());
//! ```

use std::path::Path;

use crate::error::{DataError, Result};
use crate::file::Source;

/// The element type of an IDX file (byte 2 of the magic number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxDtype {
    /// 0x08: unsigned byte.
    U8,
    /// 0x09: signed byte.
    I8,
    /// 0x0b: big-endian i16.
    I16,
    /// 0x0c: big-endian i32.
    I32,
    /// 0x0d: big-endian f32.
    F32,
    /// 0x0e: big-endian f64.
    F64,
}

impl IdxDtype {
    /// The type for a magic-number type byte, if the format defines one.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxDtype::U8,
            0x09 => IdxDtype::I8,
            0x0b => IdxDtype::I16,
            0x0c => IdxDtype::I32,
            0x0d => IdxDtype::F32,
            0x0e => IdxDtype::F64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxDtype::U8 | IdxDtype::I8 => 1,
            IdxDtype::I16 => 2,
            IdxDtype::I32 | IdxDtype::F32 => 4,
            IdxDtype::F64 => 8,
        }
    }

    /// Short name (`"u8"`, `"f32"` …).
    pub fn name(self) -> &'static str {
        match self {
            IdxDtype::U8 => "u8",
            IdxDtype::I8 => "i8",
            IdxDtype::I16 => "i16",
            IdxDtype::I32 => "i32",
            IdxDtype::F32 => "f32",
            IdxDtype::F64 => "f64",
        }
    }
}

/// The elements of an IDX array, in their file type.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Unsigned bytes (MNIST).
    U8(Vec<u8>),
    /// Signed bytes.
    I8(Vec<i8>),
    /// 16-bit integers.
    I16(Vec<i16>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
}

impl IdxData {
    /// The element type.
    pub fn dtype(&self) -> IdxDtype {
        match self {
            IdxData::U8(_) => IdxDtype::U8,
            IdxData::I8(_) => IdxDtype::I8,
            IdxData::I16(_) => IdxDtype::I16,
            IdxData::I32(_) => IdxDtype::I32,
            IdxData::F32(_) => IdxDtype::F32,
            IdxData::F64(_) => IdxDtype::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    /// True if there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An n-dimensional array read from an IDX file: `data` holds the product of
/// `dims` elements in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// The dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements.
    pub data: IdxData,
}

impl IdxArray {
    /// Takes the data as u8 if the array is u8 of rank `rank`, else a
    /// [`DataError::WrongKind`] naming `path` and `what` (e.g. `"images"`).
    pub fn into_u8(self, rank: usize, what: &str, path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
        match self.data {
            IdxData::U8(v) if self.dims.len() == rank => Ok((self.dims, v)),
            data => Err(DataError::WrongKind {
                path: path.to_path_buf(),
                expected: format!("{what}: u8 of rank {rank}"),
                found: format!("{} of rank {} (dimensions {:?})", data.dtype().name(), self.dims.len(), self.dims),
            }),
        }
    }
}

/// How many bytes past its declared size [`read_idx`] reads from a file
/// that is too long before it stops (64 KiB).
pub const IDX_SLACK: u64 = 1 << 16;

/// Reads an IDX file, gzipped (every member) or plain.
///
/// The header is read first; the data after it is read up to the size the
/// header declares plus [`IDX_SLACK`] bytes (enough to say by how much a
/// slightly long file is off), and past that the read stops with
/// [`DataError::TooLarge`], so a gzip bomb
/// costs at most what the header declares. The declared size is never used to reserve memory:
/// buffers grow with the bytes actually read.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let mut src = Source::open(path)?;
    let mut bytes = Vec::new();
    src.read_up_to(&mut bytes, 4)?;
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[3] == 0 || IdxDtype::from_code(bytes[2]).is_none() {
        // parse_idx says what is wrong with the magic number.
        return parse_idx(bytes, path);
    }
    let ndim = u64::from(bytes[3]);
    src.read_up_to(&mut bytes, 4 * ndim)?;
    let header = bytes.len() as u64;
    if header < 4 + 4 * ndim {
        return parse_idx(bytes, path);
    }
    let elem = IdxDtype::from_code(bytes[2]).map_or(1, IdxDtype::size) as u64;
    let declared = bytes[4..]
        .chunks_exact(4)
        .try_fold(elem, |acc, c| acc.checked_mul(u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))));
    match declared.and_then(|d| d.checked_add(header)).filter(|&total| total <= isize::MAX as u64) {
        Some(total) => src.read_rest(
            &mut bytes,
            total.saturating_add(IDX_SLACK),
            "the IDX file (header plus the data its header declares, plus 64 KiB)",
        )?,
        // More than any buffer can hold: parse_idx reports the declared size
        // against the few bytes read so far.
        None => src.read_up_to(&mut bytes, 1)?,
    }
    parse_idx(bytes, path)
}

/// Parses the bytes of an (already decompressed) IDX file; `path` names it in errors.
pub fn parse_idx(mut bytes: Vec<u8>, path: &Path) -> Result<IdxArray> {
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), what: "the file is empty" });
    }
    if bytes.len() < 4 {
        let found = bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        return Err(DataError::BadMagic { path: path.to_path_buf(), found });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 || bytes[3] == 0 {
        return Err(DataError::BadMagic { path: path.to_path_buf(), found: magic });
    }
    let dtype =
        IdxDtype::from_code(bytes[2]).ok_or(DataError::BadDtype { path: path.to_path_buf(), code: bytes[2] })?;
    let ndim = usize::from(bytes[3]);
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(DataError::TruncatedHeader {
            path: path.to_path_buf(),
            ndim,
            expected: header,
            found: bytes.len(),
        });
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let found = bytes.len() - header;
    // The product in u128 with overflow checks: 255 dimensions of up to 2³² − 1 each can exceed any integer.
    let expected = dims.iter().try_fold(dtype.size() as u128, |acc, &d| acc.checked_mul(d as u128));
    if expected != Some(found as u128) {
        return Err(DataError::SizeMismatch {
            path: path.to_path_buf(),
            dims,
            elem_size: dtype.size(),
            expected: expected.map_or_else(|| "more than 2^128".to_string(), |e| e.to_string()),
            found,
        });
    }
    let data = match dtype {
        IdxDtype::U8 => {
            bytes.drain(..header);
            IdxData::U8(bytes)
        }
        IdxDtype::I8 => IdxData::I8(bytes[header..].iter().map(|&b| b as i8).collect()),
        IdxDtype::I16 => IdxData::I16(be_chunks(&bytes[header..], i16::from_be_bytes)),
        IdxDtype::I32 => IdxData::I32(be_chunks(&bytes[header..], i32::from_be_bytes)),
        IdxDtype::F32 => IdxData::F32(be_chunks(&bytes[header..], f32::from_be_bytes)),
        IdxDtype::F64 => IdxData::F64(be_chunks(&bytes[header..], f64::from_be_bytes)),
    };
    Ok(IdxArray { dims, data })
}

/// Decodes consecutive big-endian `N`-byte elements.
fn be_chunks<const N: usize, E>(bytes: &[u8], decode: fn([u8; N]) -> E) -> Vec<E> {
    bytes.chunks_exact(N).map(|c| decode(c.try_into().expect("chunks_exact yields N bytes"))).collect()
}

/// Encodes a u8 array as IDX bytes (uncompressed): the inverse of [`parse_idx`]
/// for u8 data, used to write test fixtures and small data sets.
pub fn encode_idx_u8(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, 0x08, dims.len() as u8]);
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.idx")
    }

    #[test]
    fn decodes_every_element_type_big_endian() {
        let mut b = vec![0, 0, 0x0b, 1, 0, 0, 0, 2];
        b.extend_from_slice(&(-2i16).to_be_bytes());
        b.extend_from_slice(&300i16.to_be_bytes());
        assert_eq!(parse_idx(b, p()).unwrap().data, IdxData::I16(vec![-2, 300]));

        let mut b = vec![0, 0, 0x0d, 1, 0, 0, 0, 1];
        b.extend_from_slice(&1.5f32.to_be_bytes());
        assert_eq!(parse_idx(b, p()).unwrap().data, IdxData::F32(vec![1.5]));

        let mut b = vec![0, 0, 0x0e, 1, 0, 0, 0, 1];
        b.extend_from_slice(&(-0.25f64).to_be_bytes());
        assert_eq!(parse_idx(b, p()).unwrap().data, IdxData::F64(vec![-0.25]));

        let mut b = vec![0, 0, 0x0c, 1, 0, 0, 0, 1];
        b.extend_from_slice(&(-70000i32).to_be_bytes());
        assert_eq!(parse_idx(b, p()).unwrap().data, IdxData::I32(vec![-70000]));

        let b = vec![0, 0, 0x09, 1, 0, 0, 0, 2, 0xff, 0x7f];
        assert_eq!(parse_idx(b, p()).unwrap().data, IdxData::I8(vec![-1, 127]));
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let data: Vec<u8> = (0..24).collect();
        let a = parse_idx(encode_idx_u8(&[2, 3, 4], &data), p()).unwrap();
        assert_eq!(a.dims, vec![2, 3, 4]);
        assert_eq!(a.data, IdxData::U8(data));
    }

    #[test]
    fn header_errors_say_what_is_wrong() {
        assert!(matches!(parse_idx(vec![0, 0, 8], p()), Err(DataError::BadMagic { found: 0x0008, .. })));
        assert!(matches!(parse_idx(vec![0, 0, 8, 0], p()), Err(DataError::BadMagic { .. })));
        assert!(matches!(parse_idx(vec![0, 0, 0x0a, 1, 0, 0, 0, 0], p()), Err(DataError::BadDtype { code: 0x0a, .. })));
        match parse_idx(vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0], p()) {
            Err(DataError::TruncatedHeader { ndim: 3, expected: 16, found: 10, .. }) => {}
            other => panic!("{other:?}"),
        }
        // Dimensions whose product overflows u128.
        let mut b = vec![0, 0, 0x0e, 5];
        for _ in 0..5 {
            b.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        match parse_idx(b, p()) {
            Err(DataError::SizeMismatch { expected, found: 0, .. }) => assert_eq!(expected, "more than 2^128"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn into_u8_checks_type_and_rank() {
        let a = parse_idx(encode_idx_u8(&[4], &[1, 2, 3, 4]), p()).unwrap();
        let e = a.clone().into_u8(3, "images", p()).unwrap_err();
        assert_eq!(e.to_string(), "t.idx: expected images: u8 of rank 3, found u8 of rank 1 (dimensions [4])");
        assert_eq!(a.into_u8(1, "labels", p()).unwrap().1, vec![1, 2, 3, 4]);
    }
}
