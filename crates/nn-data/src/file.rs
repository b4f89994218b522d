//! Reading a data file into memory, gzip-compressed or plain, with a bound.
//!
//! A file is decompressed when it starts with the gzip magic bytes 1f 8b,
//! whatever its name; a file named `*.gz` that does not start with them is an
//! error ([`DataError::NotGzip`]) rather than being read as plain data. Every
//! gzip member is read (`cat a.gz b.gz` is one valid file), not only the first.
//!
//! Nothing is trusted for an allocation: not the gzip trailer's size field,
//! not a header's declared size. Buffers grow with what is actually read,
//! and reading stops one byte past a cap that the caller derives from what
//! the format can hold (the IDX reader from its header, the CSV reader from
//! [`CsvOptions::max_bytes`](crate::csv::CsvOptions::max_bytes)), so a gzip
//! bomb costs at most the cap. Only regular files are opened: a FIFO, a
//! device such as `/dev/zero` or a directory is refused before any read
//! ([`read_regular`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{DataError, Result};

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What kind of file system object `meta` describes, for an error message.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn not_regular(meta: &std::fs::Metadata) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("it is {}, not a regular file", kind_of(meta)))
}

/// Opens `path` for reading if it is a regular file (after following
/// symbolic links), and returns it with its length. A FIFO, a device, a
/// socket or a directory is an [`io::ErrorKind::InvalidInput`] error whose
/// message says what it is; nothing is opened then, so a FIFO cannot block.
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let file = File::open(path)?;
    // The path may have been replaced between the two calls: check what was opened.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok((file, meta.len()))
}

/// The whole content of the regular file `path`, refusing (before reading)
/// a file longer than `limit` bytes, and one that grows past it while being
/// read. The one bounded `fs::read` of the workspace: data files and
/// checkpoints go through it.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let (file, len) = open_regular(path)?;
    let too_long =
        || io::Error::new(io::ErrorKind::InvalidData, format!("it is larger than the limit of {limit} bytes"));
    if len > limit {
        return Err(too_long());
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(too_long());
    }
    Ok(out)
}

/// A data file's content as a stream: the decompressed bytes of every gzip
/// member, or the plain bytes. Read errors name the file and, for gzip, how
/// much was decoded.
pub struct Source<'p> {
    reader: Box<dyn Read + 'p>,
    gzip: bool,
    path: &'p Path,
    read: u64,
}

impl<'p> Source<'p> {
    /// Opens the regular file `path` (see [`open_regular`]).
    ///
    /// Errors: the file is missing, unreadable or not a regular file
    /// ([`DataError::Io`]), empty ([`DataError::Empty`]), or named `*.gz`
    /// but not gzip ([`DataError::NotGzip`]).
    pub fn open(path: &'p Path) -> Result<Self> {
        let (file, _) = open_regular(path).map_err(|e| DataError::io(path, e))?;
        Self::from_reader(BufReader::new(file), path)
    }

    /// A source over bytes already in memory; `path` names them in errors.
    pub fn from_bytes(bytes: &'p [u8], path: &'p Path) -> Result<Self> {
        Self::from_reader(bytes, path)
    }

    fn from_reader<R: BufRead + 'p>(mut r: R, path: &'p Path) -> Result<Self> {
        // Up to two bytes, to recognise gzip, left in the buffer.
        let head = loop {
            match r.fill_buf() {
                Ok(h) => break h.iter().take(4).copied().collect::<Vec<u8>>(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(DataError::io(path, e)),
            }
        };
        if head.is_empty() {
            return Err(DataError::Empty { path: path.to_path_buf(), what: "the file is empty" });
        }
        let gzip = head.starts_with(&GZIP_MAGIC);
        if !gzip && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) {
            let found = head.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
            return Err(DataError::NotGzip { path: path.to_path_buf(), found });
        }
        let reader: Box<dyn Read + 'p> =
            if gzip { Box::new(flate2::bufread::MultiGzDecoder::new(r)) } else { Box::new(r) };
        Ok(Source { reader, gzip, path, read: 0 })
    }

    /// Appends up to `n` more bytes to `out` (fewer only at the end of the data).
    pub fn read_up_to(&mut self, out: &mut Vec<u8>, n: u64) -> Result<()> {
        let before = out.len();
        let r = self.reader.by_ref().take(n).read_to_end(out);
        self.read += (out.len() - before) as u64;
        r.map(|_| ()).map_err(|source| {
            if self.gzip {
                DataError::Gzip { path: self.path.to_path_buf(), decoded: self.read as usize, source }
            } else {
                DataError::io(self.path, source)
            }
        })
    }

    /// Appends the rest of the data to `out`, or errors with
    /// [`DataError::TooLarge`] (naming `what`) as soon as more than `cap`
    /// bytes in all have been read.
    pub fn read_rest(&mut self, out: &mut Vec<u8>, cap: u64, what: &'static str) -> Result<()> {
        let left = cap.saturating_sub(self.read);
        self.read_up_to(out, left.saturating_add(1))?;
        if self.read > cap {
            return Err(DataError::TooLarge { path: self.path.to_path_buf(), what, limit: cap });
        }
        Ok(())
    }
}

/// The bytes of `path`, decompressed if they are gzip, at most `max_bytes`
/// of them (after decompression).
///
/// Errors: the file is missing, unreadable or not a regular file
/// ([`DataError::Io`]), empty ([`DataError::Empty`]), named `*.gz` but not
/// gzip ([`DataError::NotGzip`]), a corrupt or truncated gzip stream
/// ([`DataError::Gzip`]), or longer than `max_bytes` ([`DataError::TooLarge`]).
pub fn read_bytes(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    finish(Source::open(path)?, max_bytes)
}

/// [`read_bytes`] for bytes already in memory: decompresses `raw` if it is
/// gzip (every member), otherwise returns it; `path` names the source in
/// errors and decides whether plain bytes are acceptable (not for a `*.gz`
/// name).
pub fn decode_bytes(raw: &[u8], path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    finish(Source::from_bytes(raw, path)?, max_bytes)
}

fn finish(mut src: Source<'_>, max_bytes: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    src.read_rest(&mut out, max_bytes, "the data")?;
    if out.is_empty() {
        return Err(DataError::Empty { path: src.path.to_path_buf(), what: "the file is empty once decompressed" });
    }
    Ok(out)
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

    const MAX: u64 = 1 << 20;

    #[test]
    fn gzip_is_detected_by_content_not_name() {
        let data: Vec<u8> = (0..=255).cycle().take(5000).collect();
        let out = decode_bytes(&gz(&data), Path::new("plain.bin"), MAX).unwrap();
        assert_eq!(out, data);
        let out = decode_bytes(&data, Path::new("plain.bin"), MAX).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn every_truncation_of_a_gzip_stream_is_an_error() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let packed = gz(&data);
        for cut in 2..packed.len() {
            let r = decode_bytes(&packed[..cut], Path::new("x.gz"), MAX);
            assert!(matches!(r, Err(DataError::Gzip { .. }) | Err(DataError::Empty { .. })), "cut at {cut}: {r:?}");
        }
    }

    #[test]
    fn a_gz_name_without_gzip_bytes_is_refused() {
        let r = decode_bytes(b"hello", Path::new("data.csv.gz"), MAX);
        match r {
            Err(DataError::NotGzip { found, .. }) => assert_eq!(found, "68 65 6c 6c"),
            other => panic!("expected NotGzip, got {other:?}"),
        }
    }

    #[test]
    fn every_member_of_a_multi_member_gzip_is_read() {
        // What `cat a.gz b.gz > ab.gz` makes: it used to stop after a.
        let (a, b) = (b"first,1\n".repeat(100), b"second,2\n".repeat(100));
        let mut both = gz(&a);
        both.extend_from_slice(&gz(&b));
        let out = decode_bytes(&both, Path::new("ab.csv.gz"), MAX).unwrap();
        assert_eq!(out, [a, b].concat());
    }

    #[test]
    fn decompression_stops_at_the_cap_whatever_the_trailer_says() {
        let data = vec![0u8; 10_000];
        let mut packed = gz(&data);
        // A forged trailer claiming 4 GiB − 1 bytes: not used for anything.
        let n = packed.len();
        packed[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        let r = decode_bytes(&packed, Path::new("bomb.gz"), 1000);
        match r {
            Err(e @ DataError::TooLarge { limit: 1000, .. }) => {
                assert_eq!(e.to_string(), "bomb.gz: the data exceeds the limit of 1000 bytes")
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        // Plain data is capped the same way.
        assert!(matches!(decode_bytes(&data, Path::new("plain"), 9_999), Err(DataError::TooLarge { .. })));
        assert_eq!(decode_bytes(&data, Path::new("plain"), 10_000).unwrap().len(), 10_000);
    }
}
