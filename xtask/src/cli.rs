//! The command line, parsed by clap: `reproduce <experiment>` with its flags,
//! and `gradcheck`. A bad flag or an unknown experiment is clap's one-line
//! error and exit code 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::bench_report::BenchReportArgs;
pub use crate::mpi_report::MpiReportArgs;

/// backprop-rs tasks: reproduce the tutorials' experiments, check gradients.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
pub struct Cli {
    /// The task to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The tasks.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Retrain a tutorial's network with the tutorial's update rule; print the
    /// table (tutorial's figure · ours · band of the tutorial's own code) and
    /// write results.json, model.safetensors and plots.
    Reproduce(ReproduceArgs),
    /// Compare analytic and finite-difference gradients (f64) for every
    /// activation × loss on a small random network.
    Gradcheck(GradcheckArgs),
    /// Print the benchmark tables and target ratios (Markdown) from criterion's saved results
    /// (run `cargo bench -p benches` first).
    BenchReport(BenchReportArgs),
    /// Measure mnist epochs as 1 process and as several MPI processes (exact and fast) on this machine, fit
    /// the cost model and print the README's tables (needs `--features mpi` and mpirun).
    MpiReport(MpiReportArgs),
}

/// Flags of `reproduce`.
#[derive(Debug, Clone, Args)]
pub struct ReproduceArgs {
    /// Which experiment to run.
    #[arg(value_enum)]
    pub experiment: Experiment,
    /// Seed of every random choice (initial weights, shuffles, splits); default: the experiment's own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of epochs instead of the tutorial's.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub epochs: Option<u64>,
    /// Worker threads for training (default: RAYON_NUM_THREADS or all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: Option<u64>,
    /// Folder holding the datasets [default: datasets/ in the workspace root].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output folder [default: target/reproduce/<name>/ in the workspace root; for `all`, the parent of the
    /// per-experiment folders and of REPORT.md]. Existing files other than ours are left alone. A run's files
    /// appear together when it has finished (a failed run leaves the folder as it was), and a second run into
    /// the same folder while one is going on is refused.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print no per-epoch progress, only the header and the final table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Train on the first N training samples only (a quick smoke run; the numbers then mean little).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// mnist, regression, boston, digits: run the tutorial's own computation instead (f64, numpy's
    /// legacy random stream seeded as the tutorial seeds it, its random calls in its order) and
    /// print its printed log beside ours, line by line, with the first differing digit.
    #[arg(long)]
    pub exact: bool,
    /// mnist, mnist-best: run as one rank of an MPI job (start every rank with `mpirun -np N
    /// target/release/xtask reproduce … --mpi exact`; needs the binary built with `--features mpi`).
    /// exact: the weights of the one-process run, bit for bit; fast: one MPI_Allreduce per step, the
    /// same accuracy, the last bits differ.
    #[arg(long, value_enum, value_name = "MODE")]
    pub mpi: Option<MpiMode>,
    /// mnist, mnist-best: go on from the checkpoint written after every epoch
    /// (`<out>.checkpoint.safetensors`, beside the output folder), with the same bits as an unbroken run.
    #[arg(long)]
    pub resume: bool,
    /// mnist, mnist-best: rows per mini-batch instead of the recipe's (16, 64); the bands then do not apply.
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: Option<u64>,
}

/// How the ranks of an MPI run combine their gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MpiMode {
    /// Gather every shard's gradient and sum them in the one-process order: bit-identical to one process.
    Exact,
    /// One MPI_Allreduce of the ranks' sums per step: less traffic, the last bits differ.
    Fast,
}

impl MpiMode {
    /// The trainer's setting.
    pub fn combine(self) -> nn_train::Combine {
        match self {
            MpiMode::Exact => nn_train::Combine::Exact,
            MpiMode::Fast => nn_train::Combine::Fast,
        }
    }
}

/// Flags of `gradcheck`.
#[derive(Debug, Clone, Args)]
pub struct GradcheckArgs {
    /// Seed of the random network and data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Finite-difference step ε.
    #[arg(long, default_value_t = 1e-5)]
    pub eps: f64,
    /// Largest acceptable relative error; a larger one makes the command fail.
    #[arg(long, default_value_t = 1e-6)]
    pub tolerance: f64,
}

/// The experiments (one line each in `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Experiment {
    /// Jihwan Jeong, "Build a Neural Network from Scratch Using Numpy"
    /// (https://jihwan-jeong.github.io/machine%20learning/backpropagation/): 784-64-10 ReLU, softmax+CE summed, SGD lr 0.005, batch 16, 10 epochs (seed 1: test accuracy 0.9211; the tutorial printed 0.9194)
    Mnist,
    /// "Musings over Backpropagation", after Nielsen's network2
    /// (http://neuralnetworksanddeeplearning.com/chap3.html): 784-30-10
    /// sigmoid, cross-entropy, L2 λ=0.1, η=3.0, batch 10, 30 epochs (seed 1: test accuracy 0.9316 at epoch 30;
    /// the tutorial's code run here 0.941, and 0.937–0.949 over epochs 26–30)
    Nielsen,
    /// "Yet another explanation of backprop" (numpy NN class): Boston housing 13-10-1 ReLU, MSE 2(ŷ−y), SGD lr 1e-3,
    /// batch 8, 30 epochs (seed 1: test MAE 2.782 k$; the tutorial printed 2.505, its code gives 2.33–2.91 over seeds)
    Boston,
    /// "Yet another explanation of backprop": digits 64-15-10 ReLU/sigmoid, its faithful (σ′(σ(z))) and correct-math
    /// runs, and a sound one (seed 1: 0.9444, 0.1185 and 0.9778; the tutorial printed 0.97)
    Digits,
    /// Jihwan Jeong's toy regression (its toy_regression() data): 1-16-16-1, nonlinear and linear, MSE ½Σ/N, 300 epochs
    /// (seed 1: final E 0.0017 and 0.0465)
    Regression,
    /// Nikolas Achatz, "Back Propagation in Neural Networks": XOR 2-2-1 sigmoid, BCE, one sample per step, 50 000
    /// epochs: success over 20 seeds (seeds 1–20: 14/20), and a 2-4-1 setting that solves 20/20
    Xor,
    /// Beyond the tutorials: a recipe (He init, wider net, Adam, larger batches) reaching ≥ 98 % MNIST test accuracy
    /// (seed 1: 0.9839)
    MnistBest,
    /// Every experiment above, then the --exact runs of mnist, regression, boston and digits, then REPORT.md
    All,
}

impl Experiment {
    /// Every single experiment, in the order `all` runs them.
    pub const EACH: [Experiment; 7] = [
        Experiment::Mnist,
        Experiment::Nielsen,
        Experiment::Boston,
        Experiment::Digits,
        Experiment::Regression,
        Experiment::Xor,
        Experiment::MnistBest,
    ];

    /// The name on the command line, also the output folder's name.
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Mnist => "mnist",
            Experiment::Nielsen => "nielsen",
            Experiment::Boston => "boston",
            Experiment::Digits => "digits",
            Experiment::Regression => "regression",
            Experiment::Xor => "xor",
            Experiment::MnistBest => "mnist-best",
            Experiment::All => "all",
        }
    }
}
