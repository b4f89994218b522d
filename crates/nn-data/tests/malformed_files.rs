//! Every kind of bad input the readers must refuse, each written to a real
//! file first, with the error's variant and its context (path, line, column,
//! expected and found) checked.

mod common;

use common::{datasets, gz, Scratch};
use nn_data::idx::{encode_idx_u8, read_idx};
use nn_data::mnist::{mnist_u8, read_images, read_labelled};
use nn_data::DataError;

fn idx_images(n: u32) -> Vec<u8> {
    encode_idx_u8(&[n, 28, 28], &vec![7u8; n as usize * 784])
}

fn idx_labels(n: u32) -> Vec<u8> {
    encode_idx_u8(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())
}

#[test]
fn missing_file() {
    let s = Scratch::new("missing");
    let p = s.0.join("nope-images-idx3-ubyte.gz");
    let e = read_idx(&p).unwrap_err();
    match &e {
        DataError::Io { path, source } => {
            assert_eq!(path, &p);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().starts_with(&format!("{}: cannot read the file", p.display())), "{e}");
    // A directory without the MNIST files names the first one it looked for.
    let e = mnist_u8(&s.0).unwrap_err();
    assert!(e.to_string().contains("train-images-idx3-ubyte.gz"), "{e}");
    assert!(nn_data::boston::<f32>(s.0.join("boston.csv")).is_err());
    assert!(nn_data::digits::<f32>(s.0.join("digits.csv.gz")).is_err());
}

#[test]
fn not_gzip() {
    let s = Scratch::new("notgz");
    let p = s.write("train-images-idx3-ubyte.gz", &idx_images(2));
    match read_images(&p).unwrap_err() {
        DataError::NotGzip { path, found } => {
            assert_eq!(path, p);
            assert_eq!(found, "00 00 08 03");
        }
        other => panic!("{other:?}"),
    }
    // The same bytes without the .gz name are a valid plain IDX file.
    let plain = s.write("train-images-idx3-ubyte", &idx_images(2));
    assert_eq!(read_images(plain).unwrap().count, 2);
}

#[test]
fn truncated_gzip() {
    let s = Scratch::new("truncgz");
    let real = std::fs::read(datasets().join("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    for keep in [real.len() / 2, real.len() - 4, 12] {
        let p = s.write("t10k-labels-idx1-ubyte.gz", &real[..keep]);
        let e = read_idx(&p).unwrap_err();
        assert!(matches!(e, DataError::Gzip { ref path, .. } if *path == p), "cut to {keep}: {e:?}");
        assert!(e.to_string().contains("corrupt or truncated gzip"), "{e}");
    }
    // A flipped byte in the middle of the stream is caught too (by the decoder or the CRC).
    let mut flipped = real.clone();
    flipped[real.len() / 2] ^= 0x55;
    let p = s.write("flipped.gz", &flipped);
    assert!(matches!(read_idx(&p), Err(DataError::Gzip { .. })));
}

#[test]
fn wrong_magic() {
    let s = Scratch::new("magic");
    let mut bytes = idx_images(1);
    bytes[0] = 0x12;
    let p = s.write("bad.idx.gz", &gz(&bytes));
    match read_idx(&p).unwrap_err() {
        DataError::BadMagic { path, found } => {
            assert_eq!(path, p);
            assert_eq!(found, 0x1200_0803);
        }
        other => panic!("{other:?}"),
    }
    // An unknown type byte.
    let mut bytes = idx_images(1);
    bytes[2] = 0x07;
    let p = s.write("dtype.idx", &bytes);
    assert!(matches!(read_idx(&p), Err(DataError::BadDtype { code: 0x07, .. })));
    // A valid IDX file of the wrong kind: labels given where images are expected.
    let p = s.write("labels-as-images", &idx_labels(5));
    let e = read_images(&p).unwrap_err();
    assert!(matches!(e, DataError::WrongKind { .. }));
    assert!(e.to_string().contains("expected images: u8 of rank 3, found u8 of rank 1"), "{e}");
}

#[test]
fn declared_size_differs_from_data() {
    let s = Scratch::new("size");
    let mut short = idx_images(3);
    short.truncate(short.len() - 1);
    let p = s.write("short-images.gz", &gz(&short));
    match read_images(&p).unwrap_err() {
        DataError::SizeMismatch { path, dims, elem_size, expected, found } => {
            assert_eq!(path, p);
            assert_eq!(dims, vec![3, 28, 28]);
            assert_eq!((elem_size, expected.as_str(), found), (1, "2352", 2351));
        }
        other => panic!("{other:?}"),
    }
    let mut long = idx_labels(4);
    long.push(0);
    let p = s.write("long-labels", &long);
    let e = read_idx(&p).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: declared dimensions [4] of 1-byte elements need 4 data bytes, found 5", p.display())
    );
    // A header cut inside its dimensions.
    let p = s.write("cut-header", &idx_images(1)[..9]);
    assert!(matches!(read_idx(&p), Err(DataError::TruncatedHeader { ndim: 3, expected: 16, found: 9, .. })));
}

#[test]
fn image_and_label_counts_differ() {
    let s = Scratch::new("count");
    let images = s.write("train-images-idx3-ubyte.gz", &gz(&idx_images(3)));
    let labels = s.write("train-labels-idx1-ubyte.gz", &gz(&idx_labels(2)));
    let e = read_labelled(&images, &labels).unwrap_err();
    match &e {
        DataError::CountMismatch { images_path, images: 3, labels_path, labels: 2 } => {
            assert_eq!(images_path, &images);
            assert_eq!(labels_path, &labels);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.to_string(), format!("{} holds 3 images but {} holds 2 labels", images.display(), labels.display()));
    // Through the directory loader as well.
    s.write("t10k-images-idx3-ubyte.gz", &gz(&idx_images(2)));
    s.write("t10k-labels-idx1-ubyte.gz", &gz(&idx_labels(2)));
    assert!(matches!(mnist_u8(&s.0), Err(DataError::CountMismatch { images: 3, labels: 2, .. })));
}

#[test]
fn label_outside_the_classes() {
    let s = Scratch::new("label");
    let images = s.write("i", &idx_images(3));
    let labels = s.write("l", &encode_idx_u8(&[3], &[1, 12, 3]));
    let li = read_labelled(&images, &labels).unwrap();
    let e = li.to_dataset::<f32>(nn_data::Normalisation::Unit, 10).unwrap_err();
    assert!(matches!(e, DataError::BadLabel { record: 1, classes: 10, ref value, .. } if value == "12"), "{e:?}");
}

#[test]
fn empty_files() {
    let s = Scratch::new("empty");
    let p = s.write("empty-images.gz", b"");
    assert!(matches!(read_idx(&p), Err(DataError::Empty { what: "the file is empty", .. })));
    let p = s.write("empty-inside.gz", &gz(b""));
    assert!(matches!(read_idx(&p), Err(DataError::Empty { .. })));
    let p = s.write("empty.csv", b"");
    let e = nn_data::csv::read_table(&p, &Default::default()).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: the file is empty", p.display()));
    let p = s.write("blank.csv", b"\n \n");
    assert!(matches!(nn_data::digits::<f32>(&p), Err(DataError::Empty { what: "no data rows", .. })));
    let p = s.write("boston-header-only.csv", b"0,13\n\"CRIM\"\n");
    assert!(matches!(nn_data::boston::<f32>(&p), Err(DataError::Empty { what: "no data rows", .. })));
}

/// The real Boston file with line `line` (1-based) replaced.
fn boston_with(s: &Scratch, line: usize, replacement: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(datasets().join("boston_house_prices.csv")).unwrap();
    let lines: Vec<&str> = text.lines().enumerate().map(|(i, l)| if i + 1 == line { replacement } else { l }).collect();
    s.write("boston.csv", (lines.join("\n") + "\n").as_bytes())
}

#[test]
fn ragged_csv_row_names_the_line() {
    let s = Scratch::new("ragged");
    let p = boston_with(&s, 40, "0.1,2,3");
    match nn_data::boston::<f64>(&p).unwrap_err() {
        DataError::RaggedRow { path, line, expected, found } => {
            assert_eq!(path, p);
            assert_eq!((line, expected, found), (40, 14, 3));
        }
        other => panic!("{other:?}"),
    }
    // Digits with a row one field short (gzipped).
    let p = digits_with(&s, "digits.csv.gz", 7, |pixels, _| pixels.to_string());
    let e = nn_data::digits::<f32>(&p).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: line 7: expected 65 fields, found 64", p.display()));
}

/// The real digits file with line `line` (1-based) rewritten by `edit(pixels, label)`,
/// written gzipped if `name` ends in `.gz`.
fn digits_with(s: &Scratch, name: &str, line: usize, edit: impl Fn(&str, &str) -> String) -> std::path::PathBuf {
    use std::io::Read;
    let raw = std::fs::read(datasets().join("digits.csv.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut text).unwrap();
    let mut rows: Vec<String> = text.lines().map(String::from).collect();
    let (pixels, label) = rows[line - 1].rsplit_once(',').unwrap();
    rows[line - 1] = edit(pixels, label);
    let bytes = (rows.join("\n") + "\n").into_bytes();
    s.write(name, &if name.ends_with(".gz") { gz(&bytes) } else { bytes })
}

#[test]
fn non_numeric_field_names_line_and_column() {
    let s = Scratch::new("nonnum");
    let p = boston_with(&s, 100, "0.1,0,2.5,0,0.5,6,70,4,three,300,15,390,5,22");
    match nn_data::boston::<f64>(&p).unwrap_err() {
        DataError::NotNumeric { path, line, column, field } => {
            assert_eq!(path, p);
            assert_eq!((line, column, field.as_str()), (100, 9, "three"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nan_and_infinite_values_are_refused() {
    let s = Scratch::new("nan");
    for (bad, column) in [("NaN", 1), ("inf", 5), ("-Infinity", 14), ("1e400", 2)] {
        let mut fields: Vec<String> = "0.1,0,2.5,0,0.5,6,70,4,1,300,15,390,5,22".split(',').map(String::from).collect();
        fields[column - 1] = bad.to_string();
        let p = boston_with(&s, 3, &fields.join(","));
        match nn_data::boston::<f32>(&p).unwrap_err() {
            DataError::NonFinite { line, column: c, field, .. } => {
                assert_eq!((line, c, field.as_str()), (3, column, bad));
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn boston_header_and_count_line_are_checked() {
    let s = Scratch::new("bostonhdr");
    let p = boston_with(&s, 1, "505,13,,,");
    let e = nn_data::boston::<f64>(&p).unwrap_err();
    assert!(matches!(e, DataError::BadHeader { line: 1, .. }), "{e:?}");
    assert!(e.to_string().contains("506 samples, as the table holds, found 505 samples declared"), "{e}");
    let p = boston_with(&s, 1, "CRIM,ZN");
    assert!(matches!(nn_data::boston::<f64>(&p), Err(DataError::BadHeader { line: 1, .. })));
    let p = boston_with(&s, 2, "a,b,c,d,e,f,g,h,i,j,k,l,m,n");
    assert!(matches!(nn_data::boston::<f64>(&p), Err(DataError::BadHeader { line: 2, .. })));
}

#[test]
fn digits_label_must_be_a_class() {
    let s = Scratch::new("digitlabel");
    let p = digits_with(&s, "digits.csv", 3, |pixels, _| format!("{pixels},10"));
    let e = nn_data::digits::<f32>(&p).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: line/record 3: label 10 is not a class in 0..10", p.display()));
    let p = digits_with(&s, "digits.csv", 3, |pixels, label| format!("{pixels},{label}.5"));
    assert!(matches!(nn_data::digits::<f32>(&p), Err(DataError::BadLabel { record: 3, .. })));
}
