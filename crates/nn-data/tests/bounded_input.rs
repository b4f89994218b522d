//! Input that is not what it claims to be is refused with an error naming
//! the file, before it can block, exhaust memory or be silently cut short:
//! FIFOs and devices, multi-member gzip, data past what a header declares,
//! and values that overflow the element type.

mod common;

use std::io::Read;

use common::{datasets, gz, Scratch};
use nn_data::csv::{read_csv, read_table, CsvOptions, Target};
use nn_data::file::{read_bytes, read_regular};
use nn_data::idx::{encode_idx_u8, read_idx};
use nn_data::DataError;

fn refused_as_not_regular(e: DataError, what: &str) {
    let text = e.to_string();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(text.contains(what) && text.contains("not a regular file"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let s = Scratch::new("fifo");
    let fifo = s.0.join("train-images-idx3-ubyte");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer comes: it used to hang here.
    refused_as_not_regular(read_idx(&fifo).unwrap_err(), "FIFO");
    refused_as_not_regular(read_table(&fifo, &CsvOptions::default()).unwrap_err(), "FIFO");
    let e = read_regular(&fifo, 1 << 20).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_instead_of_read_forever() {
    let zero = std::path::Path::new("/dev/zero");
    refused_as_not_regular(read_idx(zero).unwrap_err(), "a device");
    refused_as_not_regular(nn_data::boston::<f32>(zero).unwrap_err(), "a device");
    refused_as_not_regular(read_bytes(zero, 1 << 20).unwrap_err(), "a device");
    assert!(read_regular(zero, 1 << 20).is_err());
}

#[test]
fn a_directory_is_refused_as_such() {
    let s = Scratch::new("dir");
    refused_as_not_regular(read_idx(&s.0).unwrap_err(), "a directory");
}

#[test]
fn read_regular_refuses_a_file_over_its_limit_before_reading() {
    let s = Scratch::new("limit");
    let p = s.write("big.bin", &[1u8; 1000]);
    assert_eq!(read_regular(&p, 1000).unwrap().len(), 1000);
    let e = read_regular(&p, 999).unwrap_err();
    assert!(e.to_string().contains("larger than the limit of 999 bytes"), "{e}");
}

#[test]
fn a_multi_member_gzip_is_read_whole() {
    // `cat a.gz b.gz`: digits used to train on the first member only (630 samples).
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&*std::fs::read(datasets().join("digits.csv.gz")).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    let cut = text.len() / 2;
    let cut = cut + text[cut..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut both = gz(&text[..cut]);
    both.extend_from_slice(&gz(&text[cut..]));
    let s = Scratch::new("multigz");
    let p = s.write("digits.csv.gz", &both);
    let ds = nn_data::digits::<f32>(&p).unwrap();
    assert_eq!(ds.len(), 1797);
    // And an IDX file split the same way.
    let labels = encode_idx_u8(&[1000], &(0..1000).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    let mut idx = gz(&labels[..300]);
    idx.extend_from_slice(&gz(&labels[300..]));
    let p = s.write("labels-idx1-ubyte.gz", &idx);
    assert_eq!(read_idx(&p).unwrap().data.len(), 1000);
}

#[test]
fn idx_data_past_the_declared_size_is_refused_without_reading_it_all() {
    let s = Scratch::new("idxlong");
    let mut bytes = encode_idx_u8(&[10], &[3u8; 10]);
    bytes.extend_from_slice(&[0u8; 100_000]);
    for (name, content) in [("x-idx1-ubyte", bytes.clone()), ("x-idx1-ubyte.gz", gz(&bytes))] {
        let p = s.write(name, &content);
        let e = read_idx(&p).unwrap_err();
        assert!(matches!(e, DataError::TooLarge { limit: 65554, .. }), "{name}: {e:?}");
        assert!(e.to_string().contains("the data its header declares"), "{e}");
    }
    // A header declaring 2³² − 1 elements over 10 bytes: refused, nothing reserved.
    let mut forged = encode_idx_u8(&[u32::MAX, u32::MAX, u32::MAX], &[]);
    forged.extend_from_slice(&[1u8; 10]);
    let p = s.write("forged-idx3-ubyte", &forged);
    assert!(matches!(read_idx(&p), Err(DataError::SizeMismatch { .. })));
}

#[test]
fn csv_values_beyond_f32_fail_at_file_line_and_column() {
    let s = Scratch::new("f32range");
    let p = s.write("big.csv", b"a,b\n1,2\n3,-1e39\n");
    let opts = CsvOptions { header: true, ..CsvOptions::default() };
    assert!(read_csv::<f64>(&p, &opts, &Target::Last).is_ok());
    let e = read_csv::<f32>(&p, &opts, &Target::Last).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}: line 3, column 2: -1e39 is outside the range of f32", p.display())),
        "{text}"
    );
}

#[test]
fn a_csv_larger_than_its_limit_is_refused() {
    let s = Scratch::new("csvlimit");
    let p = s.write("t.csv.gz", &gz(&b"1,2\n".repeat(1000)));
    let opts = CsvOptions { max_bytes: 3999, ..CsvOptions::default() };
    let e = read_table(&p, &opts).unwrap_err();
    assert!(matches!(e, DataError::TooLarge { limit: 3999, .. }), "{e:?}");
    assert_eq!(read_table(&p, &CsvOptions { max_bytes: 4000, ..opts }).unwrap().rows, 1000);
}
