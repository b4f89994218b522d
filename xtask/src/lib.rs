//! `cargo xtask`: the project's command line, as a library so that the
//! integration tests drive exactly the code the binary runs.
//!
//! - `cargo xtask reproduce <experiment>` retrains one of the tutorials'
//!   networks with the tutorial's own update rule, prints per-epoch progress
//!   and a table (metric · the tutorial's figure · ours · the band the
//!   tutorial's own code reaches over seeds), and writes `results.json`,
//!   `model.safetensors` and PNG plots into its output folder.
//! - `cargo xtask reproduce all` runs every experiment and writes `REPORT.md`.
//! - `cargo xtask gradcheck` compares analytic and finite-difference
//!   gradients (f64) for every activation × loss.
//! - `cargo xtask bench-report` prints the benchmark tables and target
//!   ratios from criterion's saved results.
//!
//! ```
//! use clap::Parser;
//! use xtask::{Cli, Command, Experiment};
//! let cli = Cli::try_parse_from(["xtask", "reproduce", "boston", "--seed", "7", "--epochs", "3"]).unwrap();
//! match cli.command {
//!     Command::Reproduce(args) => {
//!         assert_eq!(args.experiment, Experiment::Boston);
//!         assert_eq!((args.seed, args.epochs), (Some(7), Some(3)));
//!     }
//!     _ => unreachable!(),
//! }
//! // an unknown experiment is clap's error (exit code 2), not a panic
//! assert!(Cli::try_parse_from(["xtask", "reproduce", "cifar"]).is_err());
//! ```

#![forbid(unsafe_code)]

pub mod bench_report;
pub mod cli;
pub mod dist;
pub mod error;
pub mod experiments;
pub mod gradcheck;
pub mod mpi_report;
pub mod paths;
pub mod plot;
pub mod report;
pub mod run_dir;

pub use cli::{Cli, Command, Experiment, GradcheckArgs, ReproduceArgs};
pub use error::{Result, XtaskError};
pub use experiments::{reproduce, reproduce_all, RunOptions};
pub use report::{Band, Goal, Report, Row};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Reproduce(args) => {
            let mut opts = RunOptions::from_args(&args)?;
            let ranks = dist::start(&args)?;
            let result = (|| {
                if let Some(r) = &ranks {
                    dist::check_ranks_agree(r, &args, &opts.data_dir.join("mnist"))?;
                    opts.ranks = Some(r.clone());
                }
                if args.experiment == Experiment::All {
                    reproduce_all(&opts)?;
                } else {
                    reproduce(args.experiment, &opts)?;
                }
                Ok(())
            })();
            match (result, ranks) {
                (Err(e), Some(r)) if r.size() > 1 => {
                    // one line from the failing rank, then the whole job ends
                    eprintln!("error: rank {} of {} on {}: {e}", r.rank(), r.size(), r.host());
                    r.abort(1)
                }
                (result, _) => result,
            }
        }
        Command::Gradcheck(args) => gradcheck::run(&args),
        Command::BenchReport(args) => bench_report::run(&args),
        Command::MpiReport(args) => mpi_report::run(&args),
    }
}
