//! `reproduce mnist|mnist-best --mpi exact|fast`: the run as one rank of an
//! MPI job started by `mpirun`.
//!
//! Every rank loads the same data from `--data-dir`, builds the same network
//! from the same seed and trains with nn-train's collective step (see
//! `nn_train::collective`); rank 0 alone prints and writes (the table, the
//! results, the plots, the model and the per-epoch checkpoint). At the start
//! the ranks compare a hash of the binary, of the options that shape the
//! run, and of the data files, and refuse to train if any rank differs. A
//! rank whose own work fails ends the whole job (`MPI_Abort`), so no rank
//! waits for it forever; `mpirun` then exits non-zero.
//!
//! MPI needs the `mpi` feature (`cargo build --release -p xtask --features
//! mpi`, with Open MPI and libclang installed); without it `--mpi` is an
//! error that says how to build it.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use nn_train::collective::{check_agreement, Collective, Combine};

use crate::cli::{Experiment, ReproduceArgs};
use crate::error::{Result, XtaskError};

/// The ranks of a distributed run, as the experiments see them.
#[derive(Clone)]
pub struct Ranks {
    /// What the trainer combines gradients with.
    pub collective: Arc<dyn Collective<f32>>,
    #[cfg(feature = "mpi")]
    mpi: Arc<nn_train::mpi::MpiCollective>,
}

impl std::fmt::Debug for Ranks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rank {} of {} ({})", self.rank(), self.size(), self.collective.combine().name())
    }
}

impl PartialEq for Ranks {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.collective, &other.collective)
    }
}

impl Ranks {
    /// This rank.
    pub fn rank(&self) -> usize {
        self.collective.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.collective.ranks()
    }

    /// True on rank 0, the one that prints and writes.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Ends every rank of the job with exit code `code`.
    pub fn abort(&self, code: i32) -> ! {
        #[cfg(feature = "mpi")]
        self.mpi.abort(code);
        #[cfg(not(feature = "mpi"))]
        std::process::exit(code)
    }

    /// The machine this rank runs on.
    pub fn host(&self) -> String {
        #[cfg(feature = "mpi")]
        return self.mpi.host().to_string();
        #[cfg(not(feature = "mpi"))]
        String::from("this machine")
    }
}

/// The number of ranks the launcher started, from its environment
/// (Open MPI's `OMPI_COMM_WORLD_SIZE`, or the PMI variables of MPICH and
/// Slurm), if this process was started by one.
pub fn launcher_ranks() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Joins the MPI job if `--mpi` asks for it. Errors, before anything is
/// loaded, if `--mpi` is given to an experiment that cannot run distributed,
/// with `--exact`, or to a binary built without MPI; and if `mpirun`
/// started several copies without `--mpi` (each would train alone and all
/// would write the same files).
pub fn start(args: &ReproduceArgs) -> Result<Option<Ranks>> {
    let Some(mode) = args.mpi else {
        if let Some(n) = launcher_ranks().filter(|&n| n > 1) {
            return Err(XtaskError::Failed(format!(
                "started by mpirun as one of {n} ranks, but without --mpi: add `--mpi exact` or `--mpi fast` \
                 (otherwise every rank would train alone and write the same files)"
            )));
        }
        return Ok(None);
    };
    if !matches!(args.experiment, Experiment::Mnist | Experiment::MnistBest) {
        return Err(XtaskError::Failed(format!("--mpi runs mnist and mnist-best, not {}", args.experiment.name())));
    }
    if args.exact {
        return Err(XtaskError::Failed("--mpi and --exact do not go together: the exact mode is one process".into()));
    }
    join(mode.combine())
}

#[cfg(feature = "mpi")]
fn join(combine: Combine) -> Result<Option<Ranks>> {
    let mpi = Arc::new(
        nn_train::mpi::MpiCollective::init(combine)
            .map_err(|e| XtaskError::Failed(format!("cannot start MPI: {e}")))?,
    );
    let collective: Arc<dyn Collective<f32>> = mpi.clone();
    Ok(Some(Ranks { collective, mpi }))
}

#[cfg(not(feature = "mpi"))]
fn join(_combine: Combine) -> Result<Option<Ranks>> {
    Err(XtaskError::Failed(
        "this xtask was built without MPI: run `mpirun -np 2 cargo xtask-mpi reproduce …`, or build it with \
         `cargo build --release -p xtask --features mpi` and start target/release/xtask under mpirun (it needs \
         Open MPI and libclang: apt-get install openmpi-bin libopenmpi-dev libclang-dev)"
            .into(),
    ))
}

/// Checks, across the ranks, that they run the same binary, with the same
/// options (paths aside), on the same data files (their bytes, whatever
/// `--data-dir` each rank was given).
pub fn check_ranks_agree(ranks: &Ranks, args: &ReproduceArgs, data_files: &Path) -> Result<()> {
    let c = &*ranks.collective;
    let fail = |e: nn_train::collective::CollectiveError| XtaskError::Failed(e.0);
    check_agreement(c, binary_hash(), "the program (each machine must run the same xtask binary)").map_err(fail)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let options = (args.experiment.name(), args.seed, args.epochs, args.limit, args.mpi.map(|m| m.combine().name()));
    format!("{options:?} batch {:?} resume {}", args.batch, args.resume).hash(&mut h);
    check_agreement(c, h.finish(), "the options (seed, epochs, limit, --mpi, --batch, --resume)").map_err(fail)?;
    let data = folder_hash(data_files)?;
    check_agreement(c, data, &format!("the data files in {} (each rank's --data-dir)", data_files.display()))
        .map_err(fail)?;
    Ok(())
}

/// A hash of this executable's bytes.
fn binary_hash() -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match std::env::current_exe().and_then(std::fs::read) {
        Ok(bytes) => bytes.hash(&mut h),
        Err(_) => env!("CARGO_PKG_VERSION").hash(&mut h),
    }
    h.finish()
}

/// A hash of the names and bytes of the regular files in `dir` (sorted by name).
fn folder_hash(dir: &Path) -> Result<u64> {
    let io = |e: std::io::Error| XtaskError::Io { path: dir.to_path_buf(), source: e };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        f.file_name().hash(&mut h);
        let mut file = std::fs::File::open(&f).map_err(|e| XtaskError::Io { path: f.clone(), source: e })?;
        loop {
            let n = file.read(&mut buf).map_err(|e| XtaskError::Io { path: f.clone(), source: e })?;
            if n == 0 {
                break;
            }
            buf[..n].hash(&mut h);
        }
    }
    Ok(h.finish())
}
