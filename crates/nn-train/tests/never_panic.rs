//! Hostile input across the workspace, generated from fixed seeds in
//! bounded numbers: every public data parser and loader (nn-data), the
//! checkpoint loader with mutations that know the safetensors header, and
//! the public `Matrix` / view / `gemm` constructors with adversarial sizes
//! and strides. Each input must end in `Ok` or in a clear error — one line,
//! naming the file (or the operation) at fault, no Debug dump — never in a
//! panic. Accepted inputs are checked for consistency.
//!
//! Each suite prints its tally (`cargo test -p nn-train --test never_panic
//! -- --nocapture`): inputs tried, how many were refused, and how many of
//! those refusals were clear (the test fails unless all were).

use std::cell::Cell;
use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};

use nn_core::gemm::{gemm_naive, gemm_with, Backend};
use nn_core::{Activation, MatMut, MatRef, Matrix, NetworkBuilder, Op};
use nn_data::csv::{parse_table, read_csv, read_table, CsvOptions, Target};
use nn_data::file::decode_bytes;
use nn_data::idx::{encode_idx_u8, parse_idx, read_idx};
use nn_data::mnist::{mnist_u8, read_images, read_labelled, read_labels};
use nn_train::checkpoint::{from_safetensors_bytes, to_safetensors_bytes};
use nn_train::load_safetensors;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rand::SeedableRng;

/// Inputs tried, refused, and refused with a clear message.
#[derive(Default)]
struct Tally {
    tried: Cell<usize>,
    refused: Cell<usize>,
    clear: Cell<usize>,
    unclear: std::cell::RefCell<Vec<String>>,
}

impl Tally {
    /// Records one outcome; `must_name` is what a clear message contains
    /// (the file name, or the operation).
    fn record<T, E: Display>(&self, r: &Result<T, E>, must_name: &str) {
        self.tried.set(self.tried.get() + 1);
        if let Err(e) = r {
            self.refused.set(self.refused.get() + 1);
            let msg = e.to_string();
            let clear = !msg.trim().is_empty()
                && msg.lines().count() == 1
                && msg.contains(must_name)
                && !msg.contains("Os {")
                && !msg.contains("Custom {")
                && !msg.contains("kind: ");
            if clear {
                self.clear.set(self.clear.get() + 1);
            } else {
                self.unclear.borrow_mut().push(msg);
            }
        }
    }

    fn report(&self, suite: &str) {
        let (t, r, c) = (self.tried.get(), self.refused.get(), self.clear.get());
        eprintln!("never_panic {suite}: {t} inputs tried, {r} refused, {c} of them with a clear error");
        let unclear = self.unclear.borrow();
        assert!(unclear.is_empty(), "{suite}: unclear errors: {:?}", &unclear[..unclear.len().min(5)]);
        assert!(r > 0, "{suite}: no input was refused; the generator is too tame");
    }
}

/// Runs `cases` inputs of `strategy` through `f`, from a fixed seed; a panic fails the test.
fn run<S: Strategy>(cases: u32, strategy: S, f: impl Fn(S::Value)) {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    runner
        .run(&strategy, |v| {
            f(v);
            Ok(())
        })
        .unwrap();
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nn-train-never-panic-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// How the bytes reach the loader: as they are, gzipped, or gzipped and cut.
#[derive(Clone, Copy, Debug)]
enum Wrap {
    Plain,
    Gz,
    GzCut(usize),
    GzTwice,
}

fn wrap(bytes: &[u8], w: Wrap) -> Vec<u8> {
    match w {
        Wrap::Plain => bytes.to_vec(),
        Wrap::Gz => gz(bytes),
        Wrap::GzCut(at) => {
            let g = gz(bytes);
            g[..at.min(g.len())].to_vec()
        }
        // Two members, split in the middle.
        Wrap::GzTwice => [gz(&bytes[..bytes.len() / 2]), gz(&bytes[bytes.len() / 2..])].concat(),
    }
}

fn wrap_strategy() -> impl Strategy<Value = Wrap> {
    prop_oneof![Just(Wrap::Plain), Just(Wrap::Gz), (0usize..64).prop_map(Wrap::GzCut), Just(Wrap::GzTwice)]
}

/// IDX bytes: a plausible header (any type byte, 0–4 dimensions) over data of
/// about the declared length, or random bytes.
fn idx_bytes() -> impl Strategy<Value = Vec<u8>> {
    let plausible = (
        prop::sample::select(vec![0x08u8, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0x10]),
        proptest::collection::vec(prop_oneof![0u32..5, Just(u32::MAX), Just(1 << 31)], 0..5),
        -3i64..3,
        any::<u8>(),
    )
        .prop_map(|(dtype, dims, delta, fill)| {
            let declared = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d))).unwrap_or(200).min(200);
            let len = (declared as i64 + delta).clamp(0, 300) as usize;
            let mut b = encode_idx_u8(&dims, &vec![fill; len]);
            b[2] = dtype;
            b
        });
    prop_oneof![plausible, proptest::collection::vec(any::<u8>(), 0..64)]
}

#[test]
fn idx_loaders_never_panic() {
    let dir = scratch("idx");
    let tally = Tally::default();
    let n = Cell::new(0usize);
    run(384, (idx_bytes(), wrap_strategy()), |(bytes, w)| {
        let name = format!("case{}-idx3-ubyte{}", n.get(), if matches!(w, Wrap::Plain) { "" } else { ".gz" });
        n.set(n.get() + 1);
        let path = dir.join(&name);
        std::fs::write(&path, wrap(&bytes, w)).unwrap();
        let r = read_idx(&path);
        if let Ok(a) = &r {
            assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
        }
        tally.record(&r, &name);
        tally.record(&read_images(&path), &name);
        tally.record(&read_labels(&path), &name);
        tally.record(&parse_idx(bytes.clone(), Path::new("mem.idx")), "mem.idx");
        tally.record(&decode_bytes(&wrap(&bytes, w), Path::new("mem.gz"), 1 << 16), "mem.gz");
        std::fs::remove_file(&path).unwrap();
    });
    tally.report("IDX (read_idx, read_images, read_labels, parse_idx, decode_bytes)");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mnist_folders_never_panic() {
    let dir = scratch("mnist");
    let tally = Tally::default();
    // Image and label counts, label values and image sizes that may disagree.
    let strategy = (0u32..4, 0u32..4, 1u32..4, 0u8..12, any::<bool>(), wrap_strategy());
    run(96, strategy, |(images, labels, side, top_label, swap, w)| {
        let img = encode_idx_u8(&[images, side, side], &vec![9u8; (images * side * side) as usize]);
        let lab = encode_idx_u8(&[labels], &(0..labels).map(|i| (i as u8 * 5) % (top_label + 1)).collect::<Vec<_>>());
        let (img, lab) = if swap { (lab, img) } else { (img, lab) };
        for set in ["train", "t10k"] {
            std::fs::write(dir.join(format!("{set}-images-idx3-ubyte.gz")), wrap(&img, w)).unwrap();
            std::fs::write(dir.join(format!("{set}-labels-idx1-ubyte.gz")), wrap(&lab, w)).unwrap();
        }
        let (ip, lp) = (dir.join("train-images-idx3-ubyte.gz"), dir.join("train-labels-idx1-ubyte.gz"));
        tally.record(&read_labelled(&ip, &lp), "-idx");
        tally.record(&mnist_u8(&dir), "-idx");
        tally.record(&nn_data::mnist::<f32>(&dir, nn_data::Normalisation::Unit), "-idx");
    });
    tally.report("MNIST folders (read_labelled, mnist_u8, mnist)");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// CSV-like text: numbers (some beyond f32, some not numbers), separators,
/// quotes, blank lines, CR LF; or random bytes.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        4 => (-1000i32..1000).prop_map(|v| v.to_string()),
        1 => Just("1e39".to_string()),
        1 => Just("-1e39".to_string()),
        1 => Just("1e400".to_string()),
        1 => Just("nan".to_string()),
        1 => "[a-z\"]{0,3}",
        1 => Just(String::new()),
    ];
    let line = proptest::collection::vec(field, 0..5).prop_map(|f| f.join(","));
    let text = (proptest::collection::vec(line, 0..8), any::<bool>())
        .prop_map(|(lines, crlf)| lines.join(if crlf { "\r\n" } else { "\n" }).into_bytes());
    prop_oneof![4 => text, 1 => proptest::collection::vec(any::<u8>(), 0..64)]
}

#[test]
fn csv_loaders_never_panic() {
    let dir = scratch("csv");
    let tally = Tally::default();
    let n = Cell::new(0usize);
    let strategy = (csv_bytes(), wrap_strategy(), any::<bool>(), 0usize..2, 0usize..4);
    run(384, strategy, |(bytes, w, header, skip_lines, target)| {
        let name = format!("case{}.csv{}", n.get(), if matches!(w, Wrap::Plain) { "" } else { ".gz" });
        n.set(n.get() + 1);
        let path = dir.join(&name);
        std::fs::write(&path, wrap(&bytes, w)).unwrap();
        let opts = CsvOptions { header, skip_lines, max_bytes: 4096, ..CsvOptions::default() };
        let target = [Target::Last, Target::None, Target::Index(2), Target::Name("a".into())][target].clone();
        let table = read_table(&path, &opts);
        if let Ok(t) = &table {
            assert_eq!(t.values.len(), t.rows * t.cols);
            assert!(t.values.iter().all(|v| v.is_finite()));
        }
        tally.record(&table, &name);
        let f32s = read_csv::<f32>(&path, &opts, &target);
        if let Ok(ds) = &f32s {
            assert!(ds.x.all_finite() && ds.y.all_finite());
        }
        tally.record(&f32s, &name);
        tally.record(&read_csv::<f64>(&path, &opts, &target), &name);
        tally.record(&nn_data::boston::<f32>(&path), &name);
        tally.record(&nn_data::digits::<f32>(&path), &name);
        tally.record(&parse_table(&bytes, Path::new("mem.csv"), &opts), "mem.csv");
        std::fs::remove_file(&path).unwrap();
    });
    tally.report("CSV (read_table, read_csv f32/f64, boston, digits, parse_table)");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One change to a valid checkpoint, made knowing its layout: the 8-byte
/// header length, the JSON header (tensors' dtype, shape, offsets; the
/// metadata), and the data.
#[derive(Clone, Debug)]
enum Mutation {
    Dtype(usize, String),
    Shape(usize, Vec<usize>),
    Offsets(usize, usize, usize),
    Meta(&'static str, String),
    DropKey(usize),
    ExtraTensor,
    HeaderLen(u64),
    Truncate(usize),
    DataByte(usize, u8),
    DataNan(usize),
    Trailing(usize),
    RawByte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let big = prop_oneof![0usize..40, Just(usize::MAX), Just(1 << 40), Just(u32::MAX as usize)];
    let width = prop_oneof!["[0-9]{1,3}", Just("0".to_string()), Just("18446744073709551615".to_string())];
    let arch = proptest::collection::vec(width, 0..4).prop_map(|w| w.join(","));
    let act = prop::sample::select(vec![
        "relu",
        "softmax",
        "leaky_relu:0.1",
        "leaky_relu:NaN",
        "leaky_relu:inf",
        "leaky_relu:-1e400",
        "leaky_relu:",
        "gelu",
        "",
    ]);
    let acts = proptest::collection::vec(act, 0..4).prop_map(|a| a.join(","));
    prop_oneof![
        (0usize..4, prop::sample::select(vec!["F16", "BF16", "I64", "U8", "BOOL", "F64", "F32", "X"]))
            .prop_map(|(i, d)| Mutation::Dtype(i, d.to_string())),
        (0usize..4, proptest::collection::vec(big.clone(), 0..4)).prop_map(|(i, s)| Mutation::Shape(i, s)),
        (0usize..4, big.clone(), big.clone()).prop_map(|(i, a, b)| Mutation::Offsets(i, a, b)),
        arch.prop_map(|a| Mutation::Meta("architecture", a)),
        acts.prop_map(|a| Mutation::Meta("activations", a)),
        "[a-z-]{0,12}".prop_map(|f| Mutation::Meta("format", f)),
        (0usize..5).prop_map(Mutation::DropKey),
        Just(Mutation::ExtraTensor),
        prop_oneof![0u64..200, Just(u64::MAX), Just(1 << 62)].prop_map(Mutation::HeaderLen),
        (0usize..400).prop_map(Mutation::Truncate),
        (0usize..200, any::<u8>()).prop_map(|(i, b)| Mutation::DataByte(i, b)),
        (0usize..50).prop_map(Mutation::DataNan),
        (1usize..9).prop_map(Mutation::Trailing),
        (0usize..400, any::<u8>()).prop_map(|(i, b)| Mutation::RawByte(i, b)),
    ]
}

/// Applies `m` to the safetensors `file` (a file whose header an earlier
/// mutation made unreadable only gets its bytes changed).
fn mutate(file: &[u8], m: &Mutation) -> Vec<u8> {
    let n = file.get(..8).map_or(usize::MAX, |b| u64::from_le_bytes(b.try_into().unwrap()) as usize);
    let parsed = file.get(8..8usize.saturating_add(n)).and_then(|h| serde_json::from_slice(h).ok());
    let Some(mut header): Option<serde_json::Map<String, serde_json::Value>> = parsed else {
        let mut out = file.to_vec();
        if let (Mutation::RawByte(i, b), false) = (m, out.is_empty()) {
            let at = i % out.len();
            out[at] = *b;
        }
        return out;
    };
    let mut data = file[8 + n..].to_vec();
    let mut tensors: Vec<String> = header.keys().filter(|k| *k != "__metadata__").cloned().collect();
    tensors.sort();
    let tensor = |i: usize| tensors.get(i % tensors.len().max(1)).cloned().unwrap_or_default();
    let mut len_field = None;
    match m {
        Mutation::Dtype(i, d) => set(&mut header, &tensor(*i), "dtype", d.clone().into()),
        Mutation::Shape(i, s) => set(&mut header, &tensor(*i), "shape", serde_json::json!(s)),
        Mutation::Offsets(i, a, b) => set(&mut header, &tensor(*i), "data_offsets", serde_json::json!([a, b])),
        Mutation::Meta(k, v) => {
            if let Some(meta) = header.get_mut("__metadata__").and_then(|x| x.as_object_mut()) {
                meta.insert(k.to_string(), v.clone().into());
            }
        }
        Mutation::DropKey(i) => {
            let key = if *i == 4 { "__metadata__".to_string() } else { tensor(*i) };
            header.remove(&key);
        }
        Mutation::ExtraTensor => {
            let end = data.len();
            data.extend_from_slice(&[0; 8]);
            header.insert(
                "layers.9.weight".into(),
                serde_json::json!({"dtype": "F32", "shape": [1, 2], "data_offsets": [end, end + 8]}),
            );
        }
        Mutation::HeaderLen(l) => len_field = Some(*l),
        Mutation::Truncate(_) | Mutation::RawByte(..) => {}
        Mutation::DataByte(i, b) => {
            if !data.is_empty() {
                let at = i % data.len();
                data[at] = *b;
            }
        }
        Mutation::DataNan(i) => {
            if data.len() >= 4 {
                let at = (i * 4) % (data.len() - 3);
                data[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
            }
        }
        Mutation::Trailing(k) => data.extend(std::iter::repeat_n(0u8, *k)),
    }
    let mut text = serde_json::to_string(&header).unwrap();
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut out = len_field.unwrap_or(text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&data);
    match m {
        Mutation::Truncate(k) => out.truncate(k % (out.len() + 1)),
        Mutation::RawByte(i, b) => {
            let at = i % out.len();
            out[at] = *b;
        }
        _ => {}
    }
    out
}

/// Sets `field` of tensor `name`'s entry, if the header has it as an object.
fn set(header: &mut serde_json::Map<String, serde_json::Value>, name: &str, field: &str, v: serde_json::Value) {
    if let Some(entry) = header.get_mut(name).and_then(|x| x.as_object_mut()) {
        entry.insert(field.to_string(), v);
    }
}

#[test]
fn the_checkpoint_loader_never_panics_on_header_aware_mutations() {
    let net = NetworkBuilder::new(4)
        .dense(3, Activation::LeakyRelu(0.1))
        .dense(2, Activation::Softmax)
        .build::<f32, _>(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7))
        .unwrap();
    let good = to_safetensors_bytes(&net);
    let dir = scratch("ckpt");
    let tally = Tally::default();
    let n = Cell::new(0usize);
    run(512, proptest::collection::vec(mutation(), 1..4), |ms| {
        let bytes = ms.iter().fold(good.clone(), |b, m| mutate(&b, m));
        let origin = Path::new("model.safetensors");
        let r32 = from_safetensors_bytes::<f32>(&bytes, origin);
        if let Ok(loaded) = &r32 {
            assert!(loaded.layers().iter().all(|l| l.weights().all_finite() && l.bias().all_finite()));
        }
        tally.record(&r32, "model.safetensors");
        tally.record(&from_safetensors_bytes::<f64>(&bytes, origin), "model.safetensors");
        // One in eight through a real file, as the CLI loads it.
        if n.get().is_multiple_of(8) {
            let path = dir.join(format!("m{}.safetensors", n.get()));
            std::fs::write(&path, &bytes).unwrap();
            tally.record(&load_safetensors::<f32>(&path), "safetensors");
            std::fs::remove_file(&path).unwrap();
        }
        n.set(n.get() + 1);
    });
    tally.report("checkpoints (from_safetensors_bytes f32/f64, load_safetensors)");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sizes and strides that overflow or nearly do, mixed with small ones.
fn adversarial() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..6,
        1 => Just(usize::MAX),
        1 => Just(usize::MAX / 2 + 1),
        1 => Just(1usize << 63),
        1 => Just(1usize << 32),
        1 => Just(isize::MAX as usize),
        1 => Just(usize::MAX / 3),
    ]
}

#[test]
fn matrix_and_gemm_constructors_never_panic() {
    let tally = Tally::default();
    let dims = (adversarial(), adversarial(), adversarial(), adversarial());
    let strategy = (dims, adversarial(), adversarial(), adversarial(), 0usize..40, 0usize..40, 0usize..40, 0u8..4);
    run(1024, strategy, |((m, k, n, extra), sa, sb, sc, la, lb, lc, ops)| {
        // Owned constructors: overflowing products are errors (no wrap, no
        // abort). Only sizes whose product overflows, or is small, reach the
        // allocator (a product that fits is a real request for memory).
        for (rows, cols) in [(m, n), (extra, m), (k, extra)] {
            if rows.checked_mul(cols).is_none_or(|p| p < 1 << 16) {
                let zeros = Matrix::<f64>::try_zeros(rows, cols);
                if let Ok(z) = &zeros {
                    assert_eq!(z.as_slice().len(), rows * cols);
                }
                tally.record(&zeros, "Matrix::zeros");
            }
        }
        tally.record(&Matrix::<f32>::from_vec(m, n, vec![0.0; la]), "Matrix::from_vec");
        // Views over short slices with adversarial shapes and strides, then gemm.
        let (a_data, b_data) = ((0..la).map(|i| i as f32 * 0.5).collect::<Vec<_>>(), vec![1.5f32; lb]);
        let mut c_data = vec![0.25f32; lc];
        let (op_a, op_b) = (if ops & 1 == 0 { Op::N } else { Op::T }, if ops & 2 == 0 { Op::N } else { Op::T });
        let (ar, ac) = if op_a == Op::N { (m, k) } else { (k, m) };
        let (br, bc) = if op_b == Op::N { (k, n) } else { (n, k) };
        let a = MatRef::new(&a_data, ar, ac, sa);
        let b = MatRef::new(&b_data, br, bc, sb);
        tally.record(&a, "MatRef::new");
        tally.record(&b, "MatRef::new");
        let expected = MatMut::new(&mut c_data.clone(), m, n, sc).is_ok();
        let c = MatMut::new(&mut c_data, m, n, sc);
        tally.record(&c, "MatMut::new");
        if let (Ok(a), Ok(b), true) = (a, b, expected) {
            let mut want_data = vec![0.25f32; lc];
            let want = MatMut::new(&mut want_data, m, n, sc).unwrap();
            gemm_naive(2.0, a, op_a, b, op_b, 0.5, want).unwrap();
            for backend in Backend::available() {
                let mut got_data = vec![0.25f32; lc];
                let got = MatMut::new(&mut got_data, m, n, sc).unwrap();
                let r = gemm_with(backend, 2.0, a, op_a, b, op_b, 0.5, got);
                tally.record(&r, "gemm");
                assert!(r.is_ok(), "{backend}: {r:?}");
                for (g, w) in got_data.iter().zip(&want_data) {
                    assert!((g - w).abs() <= 1e-3 * w.abs().max(1.0), "{backend}: {g} vs {w}");
                }
            }
            // A mismatched C is refused by name.
            let mut wrong = vec![0.0f32; 4];
            let c_wrong = MatMut::new(&mut wrong, m.saturating_add(1).min(2), n.saturating_add(1).min(2), 2).unwrap();
            if (c_wrong.rows(), c_wrong.cols()) != (m, n) {
                tally.record(&nn_core::gemm(1.0, a, op_a, b, op_b, 0.0, c_wrong), "gemm");
            }
        }
    });
    tally.report("Matrix / MatRef / MatMut / gemm constructors");
}
