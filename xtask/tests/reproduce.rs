//! Runs every experiment through the same code path as `cargo xtask
//! reproduce all`, with one epoch and a few hundred samples, and checks what
//! lands on disk: results.json, the model, valid PNG plots and REPORT.md.
//! Also checks the command line's behaviour on bad input (exit codes, one
//! clean line, no panic).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::{reproduce, reproduce_all, Experiment, RunOptions};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-it-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Checks a PNG end to end: signature, every chunk's CRC, IHDR first and
/// IEND last, and that the zlib-compressed image data inflates to exactly
/// the size the header implies. Returns (width, height).
fn check_png(path: &Path) -> (u32, u32) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}: PNG signature", path.display());
    let mut at = 8;
    let mut chunks = Vec::new();
    let mut idat = Vec::new();
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(bytes[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(crc, crc32(&bytes[at + 4..at + 8 + len]), "{}: CRC of chunk {:?}", path.display(), kind);
        if kind == b"IDAT" {
            idat.extend_from_slice(data);
        }
        chunks.push((kind.to_vec(), data.to_vec()));
        at += 12 + len;
    }
    assert_eq!(chunks.first().map(|c| c.0.as_slice()), Some(&b"IHDR"[..]), "{}", path.display());
    assert_eq!(chunks.last().map(|c| c.0.as_slice()), Some(&b"IEND"[..]), "{}", path.display());
    let ihdr = &chunks[0].1;
    let width = u32::from_be_bytes(ihdr[0..4].try_into().unwrap());
    let height = u32::from_be_bytes(ihdr[4..8].try_into().unwrap());
    let (depth, color, interlace) = (ihdr[8], ihdr[9], ihdr[12]);
    assert_eq!(interlace, 0, "{}: not interlaced", path.display());
    let channels = match color {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        other => panic!("{}: unexpected colour type {other}", path.display()),
    };
    assert!(width >= 100 && height >= 100, "{}: {width}×{height}", path.display());
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let row = 1 + (width as usize * channels * depth as usize).div_ceil(8);
    assert_eq!(raw.len(), row * height as usize, "{}: image data size", path.display());
    // not a blank canvas: some pixel differs from the first one
    let first = &raw[1..1 + channels];
    assert!(raw.chunks(row).any(|r| r[1..].chunks(channels).any(|px| px != first)), "{}: blank", path.display());
    (width, height)
}

#[test]
fn every_experiment_writes_results_model_plots_and_the_report() {
    let out = temp_dir("all");
    let mine = out.join("mnist").join("notes.txt");
    fs::create_dir_all(mine.parent().unwrap()).unwrap();
    fs::write(&mine, "the user's file").unwrap();
    let opts =
        RunOptions { epochs: Some(1), limit: Some(400), out: Some(out.clone()), quiet: true, ..Default::default() };
    let reports = reproduce_all(&opts).unwrap();
    assert_eq!(reports.len(), Experiment::EACH.len());

    for (r, e) in reports.iter().zip(Experiment::EACH) {
        let dir = out.join(e.name());
        let json: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("results.json")).unwrap()).unwrap();
        assert_eq!(json["experiment"], e.name());
        assert_eq!(json["epochs"], 1, "{}", e.name());
        let rows = json["rows"].as_array().unwrap();
        assert!(!rows.is_empty(), "{}: table rows", e.name());
        assert!(rows.iter().all(|row| row["ours"].as_f64().is_some_and(f64::is_finite)), "{}: {rows:?}", e.name());
        assert!(!r.update_rule.is_empty(), "{}: the update rule is stated", e.name());
        let model = fs::metadata(dir.join("model.safetensors")).unwrap();
        assert!(model.len() > 100, "{}: model.safetensors", e.name());
        let plots = json["plots"].as_array().unwrap();
        assert!(!plots.is_empty(), "{}: plots", e.name());
        for p in plots {
            check_png(&dir.join(p["file"].as_str().unwrap()));
        }
        // each folder has its own short REPORT.md: its table and its plots, linked beside it
        let own = fs::read_to_string(dir.join("REPORT.md")).unwrap();
        assert!(own.contains(&format!("## `{}`", e.name())) && own.contains("| metric |"), "{}: {own}", e.name());
        for p in &r.plots {
            assert!(own.contains(&format!("](./{})", p.file)), "{}: REPORT.md embeds {}", e.name(), p.file);
        }
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{}: temporary files left: {leftovers:?}", e.name());
    }
    assert_eq!(fs::read_to_string(&mine).unwrap(), "the user's file");

    let md = fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(md.contains("Machine: ") && md.contains(" cores, ") && md.contains("gemm kernel"), "{md}");
    for r in &reports {
        assert!(md.contains(&format!("## `{}`", r.experiment)));
        for p in &r.plots {
            assert!(md.contains(&format!("]({}/{})", r.experiment, p.file)), "REPORT.md embeds {}", p.file);
        }
    }
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn the_same_seed_gives_the_same_results() {
    let run = |name: &str| {
        let out = temp_dir(name);
        let opts =
            RunOptions { epochs: Some(2), out: Some(out.clone()), quiet: true, seed: Some(5), ..Default::default() };
        let r = reproduce(Experiment::Boston, &opts).unwrap();
        let model = fs::read(out.join("model.safetensors")).unwrap();
        fs::remove_dir_all(&out).unwrap();
        (r.rows.iter().map(|row| row.ours).collect::<Vec<_>>(), model)
    };
    assert_eq!(run("seed-a"), run("seed-b"));
}

#[test]
fn a_missing_dataset_is_an_error_naming_the_file() {
    let empty = temp_dir("nodata");
    let opts = RunOptions { data_dir: empty.clone(), out: Some(empty.join("out")), quiet: true, ..Default::default() };
    for e in [Experiment::Mnist, Experiment::Boston, Experiment::Digits] {
        let err = reproduce(e, &opts).unwrap_err().to_string();
        assert!(err.contains(&empty.display().to_string()), "{}: {err}", e.name());
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    fs::remove_dir_all(&empty).unwrap();
}

fn xtask(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn the_command_line_fails_cleanly() {
    let (code, _, err) = xtask(&["reproduce", "cifar"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: invalid value 'cifar'"), "{err}");

    let (code, _, err) = xtask(&["reproduce", "mnist", "--epochs", "0"]);
    assert_eq!(code, 2, "{err}");

    let (code, _, err) = xtask(&["reproduce", "mnist", "--no-such-flag"]);
    assert_eq!(code, 2, "{err}");

    let empty = temp_dir("cli");
    let out = empty.join("out");
    let (code, stdout, err) = xtask(&[
        "reproduce",
        "digits",
        "--quiet",
        "--data-dir",
        empty.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("digits.csv.gz"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    fs::remove_dir_all(&empty).unwrap();

    let (code, help, _) = xtask(&["reproduce", "--help"]);
    assert_eq!(code, 0);
    for e in Experiment::EACH {
        assert!(help.contains(&format!("- {}:", e.name())), "--help explains {}", e.name());
    }
}

#[test]
fn the_largest_seeds_wrap_instead_of_panicking_or_sweeping_nothing() {
    let out = temp_dir("bigseed");
    for e in ["xor", "regression"] {
        let dir = out.join(e);
        let (code, stdout, err) = xtask(&[
            "reproduce",
            e,
            "--quiet",
            "--epochs",
            "1",
            "--seed",
            "18446744073709551596",
            "--out",
            dir.to_str().unwrap(),
        ]);
        // xor used to panic (seed + 20 overflows); regression printed an empty
        // sweep as "-0.00 ± -0.00 (inf–-inf)".
        assert_eq!(code, 0, "{e}: {stdout}{err}");
        assert!(!stdout.contains("inf") && !stdout.contains("NaN"), "{e}: {stdout}");
        assert!(stdout.contains("18446744073709551596"), "{e}: {stdout}");
    }
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_unusable_or_busy_output_folder_fails_before_training() {
    let base = temp_dir("badout");
    let file = base.join("a-file");
    fs::write(&file, "x").unwrap();
    for out in [file.clone(), file.join("sub")] {
        let (code, stdout, err) = xtask(&["reproduce", "mnist", "--quiet", "--out", out.to_str().unwrap()]);
        assert_eq!(code, 1, "{stdout}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: cannot "), "{err}");
        // Refused before loading or training anything: nothing was printed.
        assert!(stdout.is_empty(), "{stdout}");
    }
    // A folder another live run holds (pid 1 always runs): refused, and left alone.
    let busy = base.join("busy");
    fs::create_dir_all(&busy).unwrap();
    fs::write(busy.join("results.json"), "theirs").unwrap();
    fs::write(base.join(".busy.lock"), "1").unwrap();
    let (code, stdout, err) = xtask(&["reproduce", "xor", "--quiet", "--out", busy.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(err.starts_with("error: another run (process 1) is writing into"), "{err}");
    assert_eq!(fs::read_to_string(busy.join("results.json")).unwrap(), "theirs");
    // `all` locks its whole folder: nothing in it is written while another run holds it.
    let opts = RunOptions { out: Some(busy.clone()), quiet: true, epochs: Some(1), ..Default::default() };
    let e = reproduce_all(&opts).unwrap_err().to_string();
    assert!(e.starts_with("another run (process 1) is writing into"), "{e}");
    assert_eq!(fs::read_dir(&busy).unwrap().count(), 1);
    fs::remove_dir_all(&base).unwrap();
}
