//! A run's output folder, written as one unit.
//!
//! An experiment writes into a fresh hidden sibling of its output folder,
//! `.{name}.staging-{pid}`; only when it has finished is that folder renamed
//! into place (the previous results moved aside to `.{name}.old-{pid}`
//! first). Files in the previous folder that the new run did not write (the
//! user's own) are then moved into the new one, and the old folder removed.
//! So the output folder holds either the previous run's results or the new
//! run's, never a mix, and a killed run leaves only hidden folders that the
//! next run over the same folder tidies up: a staging folder is removed, an
//! old folder is either restored (the swap was cut between its two renames)
//! or merged as above.
//!
//! A lock file `.{name}.lock` beside the folder, holding the pid of the run,
//! refuses a second concurrent run on the same folder; a lock whose process
//! is gone is taken over. Creating it is also the check, before any
//! training, that the folder can be written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use nn_train::atomic::process_alive;

use crate::error::{Result, XtaskError};

/// An output folder locked for this run, with the staging folder the run
/// writes into. Dropping it without [`RunDir::commit`] removes the staging
/// folder (a failed run changes nothing) and the lock.
#[derive(Debug)]
pub struct RunDir {
    out: PathBuf,
    staging: PathBuf,
    // Released after `Drop for RunDir` has removed the staging folder.
    _lock: Lock,
    committed: bool,
}

/// The lock file `.{name}.lock` beside a folder, held by this process;
/// removed when dropped.
#[derive(Debug)]
pub struct Lock(PathBuf);

impl Lock {
    /// Locks the folder `out` (which need not exist; its parent is created):
    /// errors with a sentence naming the other process if a running one holds
    /// it, and takes over a lock whose process is gone.
    pub fn take(out: &Path) -> Result<Lock> {
        let (parent, name) = split(out)?;
        if let Some(file) = parent.ancestors().find(|a| a.exists()).filter(|a| !a.is_dir()) {
            return Err(XtaskError::Failed(format!(
                "cannot write results into {}: {} is not a folder",
                out.display(),
                file.display()
            )));
        }
        fs::create_dir_all(&parent).map_err(|e| io_err(&parent, "create the output folder's parent", e))?;
        let lock = parent.join(format!(".{name}.lock"));
        take_lock(&lock, out)?;
        Ok(Lock(lock))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn io_err(path: &Path, what: &str, source: std::io::Error) -> XtaskError {
    XtaskError::Failed(format!("cannot {what} {}: {source}", path.display()))
}

/// `out`'s parent (the current folder for a bare name) and file name.
fn split(out: &Path) -> Result<(PathBuf, String)> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n != "." && n != "..")
        .ok_or_else(|| XtaskError::Failed(format!("{}: an output folder needs a name", out.display())))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// The names of `dir`'s entries that start with `prefix`.
fn siblings(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(prefix)))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// A temporary left by an atomic write (`.x.tmp…`): never carried over.
fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp")
}

/// Moves every entry of `from` that `to` does not have (except stale
/// temporaries) into `to`.
fn carry_over(from: &Path, to: &Path) -> Result<()> {
    let entries = fs::read_dir(from).map_err(|e| io_err(from, "read", e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(is_temporary) || to.join(&name).exists() {
            continue;
        }
        fs::rename(entry.path(), to.join(&name)).map_err(|e| io_err(&entry.path(), "move", e))?;
    }
    Ok(())
}

impl RunDir {
    /// Locks `out` for this run, tidies what killed runs left beside it, and
    /// creates the staging folder. Errors, before anything is trained, if
    /// `out` is not a folder, cannot be written, or another run holds it.
    pub fn lock(out: &Path) -> Result<RunDir> {
        if out.exists() && !out.is_dir() {
            return Err(XtaskError::Failed(format!(
                "cannot write results into {}: it exists and is not a folder",
                out.display()
            )));
        }
        let lock = Lock::take(out)?;
        let (parent, name) = split(out)?;
        let mut dir = RunDir {
            out: out.to_path_buf(),
            staging: parent.join(format!(".{name}.staging-{}", std::process::id())),
            _lock: lock,
            committed: false,
        };
        // From here on, Drop releases the lock on every error.
        dir.tidy(&parent, &name)?;
        fs::create_dir(&dir.staging).map_err(|e| io_err(&dir.staging, "create", e))?;
        // The folder must be writable: fail now, not after training.
        let probe = dir.staging.join(".write-test");
        fs::write(&probe, b"").and_then(|()| fs::remove_file(&probe)).map_err(|e| io_err(out, "write into", e))?;
        Ok(dir)
    }

    /// Removes stale staging folders and restores or merges stale old ones.
    fn tidy(&mut self, parent: &Path, name: &str) -> Result<()> {
        for staging in siblings(parent, &format!(".{name}.staging-")) {
            fs::remove_dir_all(&staging).map_err(|e| io_err(&staging, "remove the stale folder", e))?;
        }
        for old in siblings(parent, &format!(".{name}.old-")) {
            if self.out.exists() {
                carry_over(&old, &self.out)?;
                fs::remove_dir_all(&old).map_err(|e| io_err(&old, "remove the stale folder", e))?;
            } else {
                fs::rename(&old, &self.out).map_err(|e| io_err(&old, "restore", e))?;
            }
        }
        Ok(())
    }

    /// The folder the run writes into.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// The output folder.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Swaps the staging folder in as the output folder, keeping the files
    /// of the previous folder that the run did not write.
    pub fn commit(mut self) -> Result<()> {
        let (parent, name) = split(&self.out)?;
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had_old = self.out.exists();
        if had_old {
            fs::rename(&self.out, &old).map_err(|e| io_err(&self.out, "move aside", e))?;
        }
        if let Err(e) = fs::rename(&self.staging, &self.out) {
            if had_old {
                let _ = fs::rename(&old, &self.out);
            }
            return Err(io_err(&self.out, "move the results into", e));
        }
        self.committed = true;
        if had_old {
            carry_over(&old, &self.out)?;
            fs::remove_dir_all(&old).map_err(|e| io_err(&old, "remove", e))?;
        }
        Ok(())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Creates `lock` holding this process's pid, taking over a lock whose
/// process is gone; errors if a running process holds it.
fn take_lock(lock: &Path, out: &Path) -> Result<()> {
    for _ in 0..2 {
        match fs::OpenOptions::new().write(true).create_new(true).open(lock) {
            Ok(mut f) => {
                return f
                    .write_all(std::process::id().to_string().as_bytes())
                    .map_err(|e| io_err(lock, "write the lock file", e));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = nn_data::file::read_regular(lock, 64)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.trim().parse::<u32>().ok());
                match holder {
                    Some(pid) if pid != std::process::id() && process_alive(pid) => {
                        return Err(XtaskError::Failed(format!(
                            "another run (process {pid}) is writing into {}; wait for it to finish, \
                             or remove {} if no such run is going on",
                            out.display(),
                            lock.display()
                        )));
                    }
                    // The holder is gone (or the file is unreadable garbage): take over.
                    _ => {
                        let _ = fs::remove_file(lock);
                    }
                }
            }
            Err(e) => return Err(io_err(out, "write into the output folder of", e)),
        }
    }
    Err(XtaskError::Failed(format!("cannot take the lock {} for {}", lock.display(), out.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-rundir-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_run_replaces_its_folder_whole_and_keeps_the_users_files() {
        let base = scratch("swap");
        let out = base.join("boston");
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("loss.png"), "seed 1").unwrap();
        fs::write(out.join("model.safetensors"), "seed 1").unwrap();
        fs::write(out.join("notes.txt"), "mine").unwrap();
        let run = RunDir::lock(&out).unwrap();
        fs::write(run.staging().join("loss.png"), "seed 2").unwrap();
        // Until the commit, the folder still holds the previous run only.
        assert_eq!(fs::read_to_string(out.join("loss.png")).unwrap(), "seed 1");
        run.commit().unwrap();
        assert_eq!(names(&out), ["loss.png", "model.safetensors", "notes.txt"]);
        assert_eq!(fs::read_to_string(out.join("loss.png")).unwrap(), "seed 2");
        assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
        assert_eq!(names(&base), ["boston"], "no lock, staging or old folder left");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_failed_run_changes_nothing() {
        let base = scratch("fail");
        let out = base.join("xor");
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("loss.png"), "seed 1").unwrap();
        let run = RunDir::lock(&out).unwrap();
        fs::write(run.staging().join("loss.png"), "half").unwrap();
        drop(run);
        assert_eq!(names(&base), ["xor"]);
        assert_eq!(fs::read_to_string(out.join("loss.png")).unwrap(), "seed 1");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_second_concurrent_run_is_refused() {
        let base = scratch("lock");
        let out = base.join("digits");
        let first = RunDir::lock(&out).unwrap();
        // A lock held by a running process (pid 1): refused with a clear sentence.
        fs::write(base.join(".digits.lock"), "1").unwrap();
        let e = RunDir::lock(&out).unwrap_err().to_string();
        assert!(e.starts_with("another run (process 1) is writing into"), "{e}");
        assert!(e.contains(".digits.lock"), "{e}");
        drop(first);
        fs::remove_dir_all(&base).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn what_a_killed_run_left_is_tidied_by_the_next() {
        let base = scratch("stale");
        let out = base.join("mnist");
        // A killed run: a lock of a pid that cannot run, a staging folder with a
        // half-written temporary, and a swap cut between its two renames.
        fs::write(base.join(".mnist.lock"), "4194305").unwrap();
        fs::create_dir_all(base.join(".mnist.staging-4194305")).unwrap();
        fs::write(base.join(".mnist.staging-4194305/.model.safetensors.tmp-4194305"), "partial").unwrap();
        fs::create_dir_all(base.join(".mnist.old-4194305")).unwrap();
        fs::write(base.join(".mnist.old-4194305/results.json"), "seed 1").unwrap();
        let run = RunDir::lock(&out).unwrap();
        // The previous results are back in place before the new run writes anything.
        assert_eq!(fs::read_to_string(out.join("results.json")).unwrap(), "seed 1");
        fs::write(run.staging().join("results.json"), "seed 2").unwrap();
        run.commit().unwrap();
        assert_eq!(names(&base), ["mnist"]);
        assert_eq!(fs::read_to_string(out.join("results.json")).unwrap(), "seed 2");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn an_unusable_folder_fails_before_the_run() {
        let base = scratch("unusable");
        let file = base.join("a-file");
        fs::write(&file, "x").unwrap();
        let e = RunDir::lock(&file).unwrap_err().to_string();
        assert!(e.contains("exists and is not a folder"), "{e}");
        let e = RunDir::lock(&file.join("out")).unwrap_err().to_string();
        assert!(e.starts_with("cannot write results into") && e.ends_with("a-file is not a folder"), "{e}");
        assert_eq!(e.lines().count(), 1);
        fs::remove_dir_all(&base).unwrap();
    }
}
