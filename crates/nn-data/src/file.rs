//! Reading a data file whole into memory, gzip-compressed or plain.
//!
//! A file is decompressed when it starts with the gzip magic bytes 1f 8b,
//! whatever its name; a file named `*.gz` that does not start with them is an
//! error ([`DataError::NotGzip`]) rather than being read as plain data. The
//! decompressed buffer is allocated once, at the size the gzip trailer
//! declares, so a 47 MB IDX file costs 47 MB and no more.

use std::io::Read;
use std::path::Path;

use crate::error::{DataError, Result};

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of `path`, decompressed if they are gzip.
///
/// Errors: the file is missing or unreadable ([`DataError::Io`]), empty
/// ([`DataError::Empty`]), named `*.gz` but not gzip ([`DataError::NotGzip`]),
/// or a corrupt or truncated gzip stream ([`DataError::Gzip`]).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_bytes(raw, path)
}

/// Decompresses `raw` if it is gzip, otherwise returns it unchanged; `path`
/// names the source in errors and decides whether plain bytes are acceptable
/// (not for a `*.gz` name).
pub fn decode_bytes(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if raw.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), what: "the file is empty" });
    }
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        gunzip(&raw, path)?
    } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) {
        let found = raw.iter().take(4).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
        return Err(DataError::NotGzip { path: path.to_path_buf(), found });
    } else {
        raw
    };
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), what: "the file is empty once decompressed" });
    }
    Ok(bytes)
}

/// Decompresses a whole gzip stream.
fn gunzip(raw: &[u8], path: &Path) -> Result<Vec<u8>> {
    // The trailer's last four bytes are the uncompressed size mod 2³² (ISIZE).
    // Trust it only as a capacity hint, bounded by deflate's maximum ratio (1032:1).
    let declared = raw
        .len()
        .checked_sub(4)
        .map_or(0, |at| u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]) as usize);
    let bound = raw.len().saturating_mul(1032).saturating_add(1024);
    let mut out = Vec::with_capacity(declared.min(bound));
    let mut decoder = flate2::bufread::GzDecoder::new(raw);
    match decoder.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(source) => Err(DataError::Gzip { path: path.to_path_buf(), decoded: out.len(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_is_detected_by_content_not_name() {
        let data: Vec<u8> = (0..=255).cycle().take(5000).collect();
        let out = decode_bytes(gz(&data), Path::new("plain.bin")).unwrap();
        assert_eq!(out, data);
        let out = decode_bytes(data.clone(), Path::new("plain.bin")).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn every_truncation_of_a_gzip_stream_is_an_error() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let packed = gz(&data);
        for cut in 2..packed.len() {
            let r = decode_bytes(packed[..cut].to_vec(), Path::new("x.gz"));
            assert!(matches!(r, Err(DataError::Gzip { .. }) | Err(DataError::Empty { .. })), "cut at {cut}: {r:?}");
        }
    }

    #[test]
    fn a_gz_name_without_gzip_bytes_is_refused() {
        let r = decode_bytes(b"hello".to_vec(), Path::new("data.csv.gz"));
        match r {
            Err(DataError::NotGzip { found, .. }) => assert_eq!(found, "68 65 6c 6c"),
            other => panic!("expected NotGzip, got {other:?}"),
        }
    }
}
