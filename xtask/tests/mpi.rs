//! `reproduce mnist|mnist-best --mpi` under `mpirun` (Open MPI), with the
//! ranks on this machine: exact mode gives the one-process weights bit for
//! bit for 2 and 3 ranks × 1 and 2 threads; fast mode the same accuracy; a
//! killed rank ends the job with a message, and `--resume` finishes it with
//! the bits of an unbroken run; an error on one rank ends every rank; ranks
//! that disagree stop at the start. Every launch has a deadline: a job that
//! hangs fails the test instead of hanging it.
//!
//! Needs the `mpi` feature and `mpirun` on the PATH:
//! `cargo test -p xtask --features mpi --test mpi` (what `.ci/run` does).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-mpi-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets")
}

/// `mpirun` with the flags a container's root user needs, started.
fn mpirun(apps: &[(usize, Vec<String>)]) -> Child {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe"]);
    for (i, (np, args)) in apps.iter().enumerate() {
        if i > 0 {
            cmd.arg(":");
        }
        cmd.args(["-np", &np.to_string(), XTASK]).args(args);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("mpirun on the PATH (Open MPI)")
}

/// Waits for `child` at most `limit`; kills it (and fails) past that.
fn finish(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what}: still running after {limit:?} (a hang)\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `reproduce <experiment> -q --data-dir … --out <out>` and `more`.
fn args(experiment: &str, out: &Path, more: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["reproduce", experiment, "-q", "--data-dir"].map(String::from).into();
    a.push(data_dir().to_str().unwrap().into());
    a.push("--out".into());
    a.push(out.to_str().unwrap().into());
    a.extend(more.iter().map(|s| s.to_string()));
    a
}

/// One process, no MPI.
fn single(experiment: &str, out: &Path, more: &[&str]) {
    let o = Command::new(XTASK).args(args(experiment, out, more)).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

fn distributed(np: usize, experiment: &str, out: &Path, more: &[&str]) -> Output {
    let o = finish(mpirun(&[(np, args(experiment, out, more))]), Duration::from_secs(180), "mpirun");
    assert!(o.status.success(), "{}", text(&o));
    o
}

fn model(dir: &Path) -> Vec<u8> {
    fs::read(dir.join("model.safetensors")).unwrap()
}

fn final_accuracy(dir: &Path) -> f64 {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("results.json")).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let row = rows.iter().find(|r| r["metric"].as_str().unwrap().starts_with("test accuracy, epoch 2")).unwrap();
    row["ours"].as_f64().unwrap()
}

#[test]
fn exact_mode_equals_one_process_bit_for_bit() {
    let base = temp_dir("exact");
    // batch 128: 4 shards of 32, so 3 ranks own 2, 1 and 1 of them
    let common = ["--limit", "4000", "--epochs", "2", "--batch", "128"];
    let one = base.join("one");
    single("mnist", &one, &[&common[..], &["--threads", "1"]].concat());
    for (np, threads) in [(2, "1"), (2, "2"), (3, "1"), (3, "2")] {
        let dir = base.join(format!("np{np}-t{threads}"));
        let o = distributed(np, "mnist", &dir, &[&common[..], &["--mpi", "exact", "--threads", threads]].concat());
        assert!(model(&dir) == model(&one), "{np} ranks × {threads} threads: the weights differ");
        let t = text(&o);
        assert!(t.contains(&format!("{np} (exact)")) && t.contains("bytes sent per step"), "{t}");
        // only rank 0 writes and prints: one table
        assert_eq!(t.matches("wrote ").count(), 1, "{t}");
    }
    // Adam (mnist-best), its moments stepped on every rank
    let one = base.join("best-one");
    let best = ["--limit", "3000", "--epochs", "2"];
    single("mnist-best", &one, &best);
    let dir = base.join("best-np2");
    distributed(2, "mnist-best", &dir, &[&best[..], &["--mpi", "exact", "--threads", "1"]].concat());
    assert!(model(&dir) == model(&one), "mnist-best on 2 ranks: the weights differ");
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn fast_mode_reaches_the_same_accuracy() {
    let base = temp_dir("fast");
    let common = ["--limit", "6000", "--epochs", "2", "--batch", "128", "--threads", "1"];
    let one = base.join("one");
    single("mnist", &one, &common);
    let dir = base.join("fast");
    distributed(3, "mnist", &dir, &[&common[..], &["--mpi", "fast"]].concat());
    let (a, b) = (final_accuracy(&one), final_accuracy(&dir));
    assert!((a - b).abs() <= 0.01, "one process {a}, fast on 3 ranks {b}");
    // the ranks' sums are added in another order than the one-process tree
    assert!(model(&dir) != model(&one), "fast mode is not expected to give the same bits with 3 ranks");
    fs::remove_dir_all(&base).unwrap();
}

/// The pid of rank `rank` among the children of `launcher`.
fn rank_pid(launcher: u32, rank: usize) -> Option<u32> {
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat.rsplit(')').next().and_then(|s| s.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
        if parent != Some(launcher) {
            continue;
        }
        let env = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let wanted = format!("OMPI_COMM_WORLD_RANK={rank}");
        if env.split(|&b| b == 0).any(|kv| kv == wanted.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

#[test]
fn a_killed_rank_ends_the_job_and_resume_finishes_it_with_the_same_bits() {
    let base = temp_dir("kill");
    let dir = base.join("mnist");
    let checkpoint = base.join("mnist.checkpoint.safetensors");
    let common = ["--limit", "20000", "--threads", "1"];
    let child = mpirun(&[(2, args("mnist", &dir, &[&common[..], &["--mpi", "exact", "--epochs", "1000"]].concat()))]);
    let launcher = child.id();
    // wait for the first checkpoint, then kill rank 1
    let start = Instant::now();
    while !checkpoint.is_file() {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = rank_pid(launcher, 1).expect("rank 1 among mpirun's children");
    let rank0 = rank_pid(launcher, 0).expect("rank 0 among mpirun's children");
    let killed = Instant::now();
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let out = finish(child, Duration::from_secs(60), "the job after a rank was killed");
    let ended = killed.elapsed();
    assert!(!out.status.success(), "the job must fail: {}", text(&out));
    let t = text(&out);
    assert!(t.contains("rank 1") && t.contains("signal 9"), "mpirun names the lost rank: {t}");
    eprintln!("the job ended {ended:?} after rank 1 was killed");
    assert!(!dir.join("model.safetensors").exists(), "a killed run writes no results");
    // mpirun may return while rank 0 is still being torn down: wait for it
    let gone = Instant::now();
    while nn_train::atomic::process_alive(rank0) {
        assert!(gone.elapsed() < Duration::from_secs(30), "rank 0 still alive 30 s after the job ended");
        std::thread::sleep(Duration::from_millis(50));
    }

    // resume to one epoch past the checkpoint, and compare with an unbroken one-process run
    let state = nn_train::load_training_state::<f32>(&checkpoint).unwrap();
    let epochs = (state.history.epochs.len() + 1).to_string();
    distributed(2, "mnist", &dir, &[&common[..], &["--mpi", "exact", "--resume", "--epochs", &epochs]].concat());
    let unbroken = base.join("unbroken");
    single("mnist", &unbroken, &[&common[..], &["--epochs", &epochs]].concat());
    assert!(model(&dir) == model(&unbroken), "the resumed run's weights differ from the unbroken run's");
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn an_error_on_one_rank_ends_every_rank() {
    let base = temp_dir("error");
    let missing = base.join("no-data");
    let good = args("mnist", &base.join("a"), &["--mpi", "exact", "--epochs", "1"]);
    let mut bad = good.clone();
    let at = bad.iter().position(|a| a == "--data-dir").unwrap();
    bad[at + 1] = missing.to_str().unwrap().into();
    let out = finish(mpirun(&[(1, good), (1, bad)]), Duration::from_secs(60), "a job with a failing rank");
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("error: rank 1 of 2") && t.contains("no-data"), "{t}");
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn ranks_that_disagree_stop_at_the_start() {
    let base = temp_dir("disagree");
    let one = args("mnist", &base.join("a"), &["--mpi", "exact", "--epochs", "1"]);
    let mut other = one.clone();
    other.extend(["--seed".to_string(), "2".to_string()]);
    let out = finish(mpirun(&[(1, one.clone()), (1, other)]), Duration::from_secs(60), "ranks with other options");
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("the ranks disagree on the options"), "{t}");

    // the same options, other data: one byte changed in a copy of the data
    let copy = base.join("data");
    fs::create_dir_all(copy.join("mnist")).unwrap();
    for f in fs::read_dir(data_dir().join("mnist")).unwrap().flatten() {
        fs::copy(f.path(), copy.join("mnist").join(f.file_name())).unwrap();
    }
    let labels = copy.join("mnist/t10k-labels-idx1-ubyte.gz");
    let mut bytes = fs::read(&labels).unwrap();
    let last = bytes.len() - 9;
    bytes[last] ^= 1;
    fs::write(&labels, bytes).unwrap();
    let mut other = one.clone();
    let at = other.iter().position(|a| a == "--data-dir").unwrap();
    other[at + 1] = copy.to_str().unwrap().into();
    let out = finish(mpirun(&[(1, one), (1, other)]), Duration::from_secs(60), "ranks with other data");
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("the ranks disagree on the data files"), "{t}");
    fs::remove_dir_all(&base).unwrap();
}
