//! Writing a file so that a crash never leaves half of it behind: the bytes go
//! to a temporary file in the same directory, which is flushed to disk and
//! then renamed over the destination (a rename within one file system is
//! atomic).
//!
//! A process killed while writing leaves its temporary behind
//! (`.{name}.tmp-{pid}`); the next write to the same destination removes
//! those whose process is gone, so they do not pile up.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through `path`'s sibling `.{name}.tmp-{pid}` and
/// a rename, after removing the stale temporaries of `path` left by
/// processes that no longer run.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    remove_stale_temporaries(path);
    let tmp = temp_path(path, std::process::id());
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.tmp-")
}

fn temp_path(path: &Path, pid: u32) -> PathBuf {
    path.with_file_name(format!("{}{pid}", temp_prefix(path)))
}

/// True unless this system can tell that no process `pid` runs: on Linux,
/// `/proc/{pid}` is missing or a zombie's; elsewhere every process counts as running (so
/// nothing of another process is ever removed there).
pub fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        // a zombie (state Z: ended, not yet reaped, e.g. a killed child whose
        // parent is gone in a container without an init that reaps) is gone too
        match std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) {
            Ok(stat) => !matches!(stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()), Some("Z" | "X")),
            Err(_) => false,
        }
    } else {
        true
    }
}

/// Removes `path`'s temporaries `.{name}.tmp-{pid}` whose process is gone.
fn remove_stale_temporaries(path: &Path) {
    let prefix = temp_prefix(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = std::env::temp_dir().join(format!("nn-train-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.txt");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
        // a missing directory is an error, not a panic
        assert!(write_atomic(&dir.join("no/such/dir/x"), b"x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn stale_temporaries_of_killed_writers_are_removed() {
        let dir = std::env::temp_dir().join(format!("nn-train-atomic-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        // A pid above the kernel's maximum (2²²) never runs: a killed writer's leftover.
        let dead = temp_path(&path, 4_194_305);
        std::fs::write(&dead, b"partial").unwrap();
        // A live process's temporary (this test's parent, the harness) is left alone,
        // and so is another file's.
        let live = temp_path(&path, 1);
        std::fs::write(&live, b"in progress").unwrap();
        let other = temp_path(&dir.join("other.bin"), 4_194_305);
        std::fs::write(&other, b"x").unwrap();
        write_atomic(&path, b"weights").unwrap();
        assert!(!dead.exists(), "the stale temporary is still there");
        assert!(live.exists() && other.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
