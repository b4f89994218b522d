//! Where things are: the workspace root (found from `CARGO_MANIFEST_DIR` or
//! the current directory), the default data and output folders, and atomic
//! file writes (a temporary file renamed into place).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Result, XtaskError};

/// The workspace root: the nearest ancestor of `CARGO_MANIFEST_DIR` (as set
/// by `cargo run`, else as compiled in) or of the current directory whose
/// `Cargo.toml` declares `[workspace]`; the current directory if none does.
pub fn workspace_root() -> PathBuf {
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        starts.push(PathBuf::from(dir));
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    starts.push(cwd.clone());
    for start in starts {
        if let Some(root) = start.ancestors().find(|d| is_workspace_root(d)) {
            return root.to_path_buf();
        }
    }
    cwd
}

fn is_workspace_root(dir: &Path) -> bool {
    fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|s| s.lines().any(|l| l.trim() == "[workspace]"))
}

/// `datasets/` in the workspace root.
pub fn default_data_dir() -> PathBuf {
    workspace_root().join("datasets")
}

/// `target/reproduce/` in the workspace root.
pub fn default_reproduce_dir() -> PathBuf {
    workspace_root().join("target").join("reproduce")
}

/// Creates `dir` and its parents (nothing already there is touched).
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| XtaskError::Io { path: dir.to_path_buf(), source })
}

/// A hidden temporary name next to `path` that keeps its extension
/// (plotters picks the image format from it): `dir/.name.tmp.ext`.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), format!(".{e}")),
        None => (name.clone(), String::new()),
    };
    path.with_file_name(format!(".{stem}.tmp{}{ext}", std::process::id()))
}

/// Moves a finished temporary file to its final name.
pub fn commit_temp(tmp: &Path, path: &Path) -> Result<()> {
    fs::rename(tmp, path).map_err(|source| {
        let _ = fs::remove_file(tmp);
        XtaskError::Io { path: path.to_path_buf(), source }
    })
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// crash never leaves a half-written file ([`nn_train::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    nn_train::write_atomic(path, bytes).map_err(|source| XtaskError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_holds_the_workspace_manifest_and_the_datasets() {
        let root = workspace_root();
        assert!(is_workspace_root(&root), "{}", root.display());
        assert!(default_data_dir().join("mnist").is_dir());
    }

    #[test]
    fn temp_names_keep_the_extension() {
        let t = temp_path(Path::new("/a/b/loss.png"));
        assert_eq!(t.parent(), Some(Path::new("/a/b")));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".loss.tmp") && name.ends_with(".png"), "{name}");
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("xtask-paths-{}", std::process::id()));
        create_dir(&dir).unwrap();
        let p = dir.join("r.json");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"22").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"22");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
