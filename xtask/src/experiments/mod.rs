//! The experiments, one file each (the list is in ARCHITECTURE.md and
//! `cargo xtask reproduce --help`), the exact mode of the seeded tutorials
//! ([`exact`]), and what they share: the run options, the output folder, the
//! timer, the final print.

pub mod boston;
pub mod common;
pub mod digits;
pub mod exact;
pub mod mnist;
pub mod mnist_best;
pub mod nielsen;
pub mod regression;
pub mod train;
pub mod xor;

use std::path::PathBuf;
use std::time::Instant;

use crate::cli::{Experiment, ReproduceArgs};
use crate::error::{Result, XtaskError};
use crate::paths::{create_dir, default_data_dir, default_reproduce_dir};
use crate::report::{machine, write_report_md, write_run_report_md, Report};
use crate::run_dir::{Lock, RunDir};

/// Options shared by every experiment (the flags of `reproduce`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunOptions {
    /// Seed; `None`: the experiment's default.
    pub seed: Option<u64>,
    /// Epochs; `None`: the tutorial's.
    pub epochs: Option<usize>,
    /// Training threads; `None`: RAYON_NUM_THREADS or all cores.
    pub threads: Option<usize>,
    /// Folder of the datasets.
    pub data_dir: PathBuf,
    /// Output folder (for `all`: the parent of the per-experiment folders); `None`: target/reproduce/.
    pub out: Option<PathBuf>,
    /// No per-epoch progress.
    pub quiet: bool,
    /// Train on the first N training samples only.
    pub limit: Option<usize>,
    /// Run the tutorial's own computation (f64, numpy's random stream) instead of ours.
    pub exact: bool,
    /// mnist, mnist-best: rows per mini-batch instead of the recipe's.
    pub batch: Option<usize>,
    /// mnist, mnist-best: go on from the per-epoch checkpoint.
    pub resume: bool,
    /// The ranks of an MPI run (`--mpi`); `None`: one process.
    pub ranks: Option<crate::dist::Ranks>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            epochs: None,
            threads: None,
            data_dir: default_data_dir(),
            out: None,
            quiet: false,
            limit: None,
            exact: false,
            batch: None,
            resume: false,
            ranks: None,
        }
    }
}

impl RunOptions {
    /// Options from the parsed flags.
    pub fn from_args(args: &ReproduceArgs) -> Result<Self> {
        let recipe = matches!(args.experiment, Experiment::Mnist | Experiment::MnistBest) && !args.exact;
        for (given, flag) in [(args.batch.is_some(), "--batch"), (args.resume, "--resume")] {
            if given && !recipe {
                return Err(XtaskError::Failed(format!(
                    "{flag} applies to mnist and mnist-best (without --exact), not to {}{}",
                    args.experiment.name(),
                    if args.exact { " --exact" } else { "" }
                )));
            }
        }
        Ok(RunOptions {
            seed: args.seed,
            epochs: args.epochs.map(|e| e as usize),
            threads: args.threads.map(|t| t as usize),
            data_dir: args.data_dir.clone().unwrap_or_else(default_data_dir),
            out: args.out.clone(),
            quiet: args.quiet,
            limit: args.limit.map(|l| l as usize),
            exact: args.exact,
            batch: args.batch.map(|b| b as usize),
            resume: args.resume,
            ranks: None,
        })
    }

    /// True in one process, and on rank 0 of an MPI run: the run that prints and writes.
    pub fn is_root(&self) -> bool {
        self.ranks.as_ref().is_none_or(|r| r.is_root())
    }

    /// The folder an experiment writes into when run alone (`<name>-exact` for an exact run).
    pub fn out_dir(&self, experiment: Experiment) -> PathBuf {
        self.out.clone().unwrap_or_else(|| default_reproduce_dir().join(self.folder(experiment)))
    }

    /// The name of an experiment's output folder.
    fn folder(&self, experiment: Experiment) -> String {
        if self.exact {
            format!("{}-exact", experiment.name())
        } else {
            experiment.name().to_string()
        }
    }
}

/// Runs one experiment into `out_dir`: trains, prints the table, writes
/// results.json, the model, the plots and the run's own REPORT.md. Returns the report.
///
/// The folder is locked for the run and written as one unit (see
/// [`RunDir`]): the files go to a fresh hidden folder beside it, swapped in
/// when the run has finished, so a failed or killed run leaves the previous
/// results as they were. An output folder that cannot be written, or that
/// another run is writing, is an error before any training.
pub fn reproduce_into(experiment: Experiment, opts: &RunOptions, out_dir: PathBuf) -> Result<Report> {
    let start = Instant::now();
    let tutorial_epochs = match experiment {
        Experiment::Mnist => mnist::EPOCHS,
        Experiment::Nielsen => nielsen::EPOCHS,
        Experiment::Boston => boston::EPOCHS,
        Experiment::Digits => digits::EPOCHS,
        Experiment::Regression => regression::EPOCHS,
        Experiment::Xor => xor::EPOCHS,
        Experiment::MnistBest => mnist_best::EPOCHS,
        Experiment::All => {
            return Err(XtaskError::Failed("`all` is not a single experiment; use reproduce_all".into()));
        }
    };
    let run = |ctx: &common::Ctx| match experiment {
        e if opts.exact => exact::run(e, ctx),
        Experiment::Mnist => mnist::run(ctx),
        Experiment::Nielsen => nielsen::run(ctx),
        Experiment::Boston => boston::run(ctx),
        Experiment::Digits => digits::run(ctx),
        Experiment::Regression => regression::run(ctx),
        Experiment::Xor => xor::run(ctx),
        Experiment::MnistBest => mnist_best::run(ctx),
        Experiment::All => unreachable!("handled above"),
    };
    // mnist and mnist-best save their training state after every epoch, beside the output folder
    let checkpoint = matches!(experiment, Experiment::Mnist | Experiment::MnistBest) && !opts.exact;
    let checkpoint = checkpoint.then(|| common::Checkpointing {
        path: checkpoint_path(&out_dir),
        run: format!(
            "{} seed {}, batch {}, {}",
            experiment.name(),
            opts.seed.unwrap_or(common::DEFAULT_SEED),
            opts.batch.unwrap_or(if experiment == Experiment::Mnist { mnist::BATCH } else { mnist_best::BATCH }),
            opts.limit.map_or("all samples".to_string(), |n| format!("at most {n} samples"))
        ),
    });
    if !opts.is_root() {
        // another rank of an MPI run: trains its part, writes and prints nothing
        let mut ctx = common::Ctx::new(opts, &out_dir, tutorial_epochs);
        ctx.checkpoint = checkpoint;
        return run(&ctx);
    }
    let run_dir = RunDir::lock(&out_dir)?;
    let mut ctx = common::Ctx::new(opts, run_dir.staging(), tutorial_epochs);
    ctx.checkpoint = checkpoint;
    let mut report = run(&ctx)?;
    report.wall_seconds = start.elapsed().as_secs_f64();
    report.write_json(run_dir.staging())?;
    write_run_report_md(run_dir.staging(), &report, &machine())?;
    run_dir.commit()?;
    print!("{}", report.to_text(&out_dir));
    Ok(report)
}

/// Where the training state of a run into `out_dir` is saved after every
/// epoch: `<out_dir>.checkpoint.safetensors`, beside the folder (so that a
/// failed run, which leaves the folder as it was, keeps it).
pub fn checkpoint_path(out_dir: &std::path::Path) -> PathBuf {
    let mut name = out_dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "run".into());
    name.push(".checkpoint.safetensors");
    out_dir.with_file_name(name)
}

/// Runs one experiment into its default (or `--out`) folder.
pub fn reproduce(experiment: Experiment, opts: &RunOptions) -> Result<Report> {
    reproduce_into(experiment, opts, opts.out_dir(experiment))
}

/// Runs every experiment, each into `<base>/<name>/`, then (unless `--limit`)
/// the exact mode of mnist, regression, boston and digits into `<base>/<name>-exact/`, then writes
/// `<base>/REPORT.md` (base: `--out` or target/reproduce/).
pub fn reproduce_all(opts: &RunOptions) -> Result<Vec<Report>> {
    let base = opts.out.clone().unwrap_or_else(default_reproduce_dir);
    // A second `all` into the same folder is refused as a whole, not
    // experiment by experiment.
    let _lock = Lock::take(&base)?;
    create_dir(&base)?;
    let start = Instant::now();
    let mut reports = Vec::new();
    let default = RunOptions { exact: false, ..opts.clone() };
    for e in Experiment::EACH {
        reports.push(reproduce_into(e, &default, base.join(e.name()))?);
    }
    // The exact mode runs the tutorial on all its data: a --limit smoke run skips it.
    let exact_opts = RunOptions { exact: true, ..opts.clone() };
    for e in exact::EXACT.into_iter().filter(|_| opts.limit.is_none()) {
        reports.push(reproduce_into(e, &exact_opts, base.join(exact_opts.folder(e)))?);
    }
    let total = start.elapsed().as_secs_f64();
    let path = write_report_md(&base, &reports, &machine(), total)?;
    println!("\nwrote {} ({} experiments, {total:.1} s)", path.display(), reports.len());
    let misses: Vec<String> = reports
        .iter()
        .flat_map(|r| r.misses().into_iter().map(move |row| format!("{}: {}", r.experiment, row.metric)))
        .collect();
    if !misses.is_empty() {
        println!("outside the band: {}", misses.join("; "));
    }
    Ok(reports)
}
