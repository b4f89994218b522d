//! The per-epoch checkpoint of mnist and mnist-best, `--resume`, and the
//! flags of distributed runs as a binary without MPI sees them. (Runs under
//! `mpirun` are in `tests/mpi.rs`, built with the `mpi` feature.)

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-resume-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn xtask(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).envs(env.iter().copied()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `reproduce <experiment> -q --limit 3000 --out <dir> <more>`.
fn run(experiment: &str, dir: &Path, more: &[&str]) -> (i32, String, String) {
    let mut args = vec!["reproduce", experiment, "-q", "--limit", "3000", "--out"];
    args.push(dir.to_str().unwrap());
    args.extend_from_slice(more);
    xtask(&args, &[])
}

#[test]
fn a_resumed_run_ends_with_the_bits_of_an_unbroken_one() {
    let base = temp_dir("bits");
    for (experiment, batch) in [("mnist", "16"), ("mnist-best", "64")] {
        let unbroken = base.join(format!("{experiment}-unbroken"));
        let (code, out, err) = run(experiment, &unbroken, &["--epochs", "3", "--batch", batch, "--threads", "2"]);
        assert_eq!(code, 0, "{out}{err}");
        // the checkpoint sits beside the output folder
        assert!(base.join(format!("{experiment}-unbroken.checkpoint.safetensors")).is_file());

        // one epoch, then two more from its checkpoint, on one thread this time
        let broken = base.join(format!("{experiment}-broken"));
        let (code, out, err) = run(experiment, &broken, &["--epochs", "1", "--batch", batch, "--threads", "2"]);
        assert_eq!(code, 0, "{out}{err}");
        let (code, out, err) =
            run(experiment, &broken, &["--epochs", "3", "--batch", batch, "--resume", "--threads", "1"]);
        assert_eq!(code, 0, "{out}{err}");
        let model = |d: &Path| fs::read(d.join("model.safetensors")).unwrap();
        assert!(model(&broken) == model(&unbroken), "{experiment}: the resumed model differs");
        // the results hold all three epochs
        let results: serde_json::Value =
            serde_json::from_slice(&fs::read(broken.join("results.json")).unwrap()).unwrap();
        assert!(results.to_string().contains("\"epoch\":3"), "{experiment}");
    }
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn resuming_another_run_or_nothing_is_a_clear_error() {
    let base = temp_dir("other");
    let dir = base.join("mnist");
    let (code, _, err) = run("mnist", &dir, &["--epochs", "1", "--resume"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--resume: no checkpoint at") && err.contains("mnist.checkpoint.safetensors"), "{err}");

    let (code, out, err) = run("mnist", &dir, &["--epochs", "1", "--seed", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run("mnist", &dir, &["--epochs", "2", "--resume"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("holds the state of `mnist seed 5") && err.contains("not of `mnist seed 1"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // a checkpoint past the epochs asked for
    let (code, _, err) = run("mnist", &dir, &["--epochs", "1", "--seed", "5", "--resume"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run("mnist", &dir, &["--epochs", "2", "--seed", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run("mnist", &dir, &["--epochs", "1", "--seed", "5", "--resume"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("after epoch 2, past --epochs 1"), "{err}");

    // a damaged checkpoint names itself
    let cp = base.join("mnist.checkpoint.safetensors");
    let bytes = fs::read(&cp).unwrap();
    fs::write(&cp, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, err) = run("mnist", &dir, &["--epochs", "2", "--seed", "5", "--resume"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("mnist.checkpoint.safetensors") && err.contains("truncated"), "{err}");
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn distributed_flags_are_checked_before_anything_runs() {
    let (code, _, err) = xtask(&["reproduce", "boston", "--batch", "8"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--batch applies to mnist and mnist-best"), "{err}");
    let (code, _, err) = xtask(&["reproduce", "digits", "--resume"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--resume applies to mnist and mnist-best"), "{err}");
    let (code, _, err) = xtask(&["reproduce", "boston", "--mpi", "exact"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--mpi runs mnist and mnist-best, not boston"), "{err}");
    let (code, _, err) = xtask(&["reproduce", "mnist", "--mpi", "sideways"], &[]);
    assert_eq!(code, 2, "{err}");
    // started by mpirun without --mpi: every rank would write the same files
    let (code, _, err) = xtask(&["reproduce", "mnist", "--epochs", "1"], &[("OMPI_COMM_WORLD_SIZE", "2")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("started by mpirun as one of 2 ranks, but without --mpi"), "{err}");
    if cfg!(not(feature = "mpi")) {
        let (code, _, err) = xtask(&["reproduce", "mnist", "--mpi", "exact"], &[]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("built without MPI") && err.contains("--features mpi"), "{err}");
    }
}
