//! What the experiments share: the run context (seed, epochs, output folder,
//! progress), the first tutorial's optimizer step, evaluation helpers and
//! the small statistics the tables need.

use std::path::{Path, PathBuf};

use nn_core::{Float, Matrix, Network};
use nn_data::Dataset;

use crate::error::Result;
use crate::experiments::RunOptions;
use crate::plot::{draw_chart, draw_confusion, Chart, Span};
use crate::report::{PlotRef, Report};

/// The seed every experiment uses unless `--seed` says otherwise.
pub const DEFAULT_SEED: u64 = 1;

/// One experiment's run: the options resolved against the experiment's defaults.
#[derive(Clone, Debug)]
pub struct Ctx<'a> {
    /// The command-line options.
    pub opts: &'a RunOptions,
    /// Where files go.
    pub out_dir: PathBuf,
    /// The seed in effect.
    pub seed: u64,
    /// The epochs in effect.
    pub epochs: usize,
    /// The tutorial's number of epochs (bands hold only for it).
    pub tutorial_epochs: usize,
    /// mnist, mnist-best: where the training state goes after every epoch.
    pub checkpoint: Option<Checkpointing>,
}

/// The training state saved after every epoch, for `--resume`.
#[derive(Clone, Debug)]
pub struct Checkpointing {
    /// The file.
    pub path: PathBuf,
    /// What run it belongs to (experiment, seed, limit, batch): a state of
    /// another run is refused.
    pub run: String,
}

impl<'a> Ctx<'a> {
    /// Resolves `--seed` and `--epochs` against the experiment's defaults.
    pub fn new(opts: &'a RunOptions, out_dir: &Path, tutorial_epochs: usize) -> Self {
        Ctx {
            opts,
            out_dir: out_dir.to_path_buf(),
            seed: opts.seed.unwrap_or(DEFAULT_SEED),
            epochs: opts.epochs.unwrap_or(tutorial_epochs),
            tutorial_epochs,
            checkpoint: None,
        }
    }

    /// True in one process and on rank 0 of an MPI run: the run that prints and writes.
    pub fn is_root(&self) -> bool {
        self.opts.is_root()
    }

    /// The mini-batch size: `--batch`, or the recipe's `default`.
    pub fn batch(&self, default: usize) -> usize {
        self.opts.batch.unwrap_or(default)
    }

    /// The `n` seeds of a sweep: `--seed` and the ones after it, wrapping
    /// past `u64::MAX` to 0 (so `--seed 18446744073709551596` sweeps 20 seeds
    /// instead of overflowing, or of sweeping none).
    pub fn seeds(&self, n: u64) -> impl Iterator<Item = u64> {
        let first = self.seed;
        (0..n).map(move |k| first.wrapping_add(k))
    }

    /// "seeds A–B" for the sweep of `n` seeds (B wraps like [`Ctx::seeds`]).
    pub fn seed_span(&self, n: u64) -> String {
        format!("seeds {}–{}", self.seed, self.seed.wrapping_add(n.saturating_sub(1)))
    }

    /// True when the run uses the tutorial's epochs and all the data, so the
    /// tutorial's bands apply.
    pub fn comparable(&self) -> bool {
        self.epochs == self.tutorial_epochs && self.opts.limit.is_none() && self.opts.batch.is_none()
    }

    /// True when this run trains at least `epoch` epochs (so a figure of the
    /// tutorial's at that epoch has a point of ours beside it).
    pub fn reached(&self, epoch: usize) -> bool {
        epoch <= self.epochs
    }

    /// Marks for a plot at the figures the tutorial printed, (epoch, value,
    /// the value as printed), keeping those at epochs this run reached.
    pub fn marks(&self, printed: &[(usize, f64, &str)]) -> Vec<(f64, f64, String)> {
        printed.iter().filter(|p| self.reached(p.0)).map(|&(e, v, t)| (e as f64, v, t.to_string())).collect()
    }

    /// The bands of the tutorial's code for a plot, (epoch, low, high),
    /// keeping those at epochs this run reached.
    pub fn spans(&self, bands: &[(usize, f64, f64)]) -> Vec<Span> {
        bands.iter().filter(|b| self.reached(b.0)).map(|&(e, lo, hi)| Span::at(e as f64, lo, hi)).collect()
    }

    /// A data file's path under `--data-dir`.
    pub fn data(&self, name: &str) -> PathBuf {
        self.opts.data_dir.join(name)
    }

    /// The first `--limit` samples of `ds` (all of them without the flag).
    pub fn limit<T: Float>(&self, ds: Dataset<T>) -> Result<Dataset<T>> {
        match self.opts.limit {
            Some(n) if n < ds.len() => Ok(ds.into_split(n)?.0),
            _ => Ok(ds),
        }
    }

    /// The first `--limit` samples of an image set kept as bytes.
    pub fn limit_pixels<T: Float>(&self, set: nn_data::PixelSet<T>) -> Result<nn_data::PixelSet<T>> {
        match self.opts.limit {
            Some(n) if n < set.len() => Ok(set.into_split(n)?.0),
            _ => Ok(set),
        }
    }

    /// Prints a line unless `--quiet`.
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.opts.quiet && self.is_root() {
            println!("{}", line.as_ref());
        }
    }

    /// Starts a report with the run's seed and epochs filled in, and prints
    /// the run's header (name, title, seed, epochs).
    pub fn report(&self, name: &str, title: &str) -> Report {
        let mut r = Report::new(name, title);
        r.seed = self.seed;
        r.epochs = self.epochs;
        // The one header of the run (also under --quiet: it names what the table is about).
        if self.is_root() {
            println!("== {name} — {title}");
            println!("   seed {}, {} epochs{}{}", self.seed, self.epochs, self.limit_note(), self.ranks_note());
        }
        r
    }

    fn ranks_note(&self) -> String {
        let batch = self.opts.batch.map_or(String::new(), |b| format!(", batch {b} (--batch)"));
        let ranks =
            self.opts.ranks.as_ref().map_or(String::new(), |r| {
                format!(", {} MPI ranks ({} combine)", r.size(), r.collective.combine().name())
            });
        batch + &ranks
    }

    fn limit_note(&self) -> String {
        self.opts.limit.map_or(String::new(), |n| format!(", at most {n} samples per set (--limit)"))
    }

    /// Draws `chart` into the output folder and lists it in the report.
    pub fn plot(&self, report: &mut Report, file: &str, caption: &str, chart: &Chart) -> Result<()> {
        if !self.is_root() {
            return Ok(());
        }
        draw_chart(&self.out_dir.join(file), chart)?;
        report.plots.push(PlotRef { file: file.into(), caption: caption.into() });
        Ok(())
    }

    /// Saves `net` as `file` (safetensors) in the output folder and lists it;
    /// `preprocessing` (how raw inputs become the network's inputs) and any
    /// `extra` pairs go into the file's metadata, so that the model can be
    /// used without reading this code.
    pub fn save_model(
        &self,
        report: &mut Report,
        net: &Network<f32>,
        file: &str,
        preprocessing: &str,
        extra: &[(&str, &str)],
    ) -> Result<()> {
        if !self.is_root() {
            return Ok(());
        }
        let mut meta = vec![("preprocessing", preprocessing)];
        meta.extend_from_slice(extra);
        nn_train::save_safetensors_with(net, self.out_dir.join(file), &meta)?;
        report.files.push(file.into());
        Ok(())
    }

    /// Draws a confusion-matrix heat map and lists it in the report.
    pub fn confusion(&self, report: &mut Report, file: &str, caption: &str, counts: &[Vec<usize>]) -> Result<()> {
        if !self.is_root() {
            return Ok(());
        }
        draw_confusion(&self.out_dir.join(file), caption, counts)?;
        report.plots.push(PlotRef { file: file.into(), caption: caption.into() });
        Ok(())
    }
}

/// Numbers as one comma-separated metadata value (shortest round-trip form).
pub fn joined(values: &[f64]) -> String {
    values.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}

/// Predicted classes (argmax of each output row) of `net` on `x`.
pub fn predict_classes<T: Float>(net: &Network<T>, x: &Matrix<T>) -> Result<Vec<usize>> {
    Ok(nn_data::argmax_rows(&net.predict(x.view())?))
}

/// Mean, population standard deviation, minimum and maximum.
pub fn summary(xs: &[f64]) -> (f64, f64, f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, sd, min, max)
}

/// `mean ± sd (min–max)` with `d` decimals.
pub fn summary_text(xs: &[f64], d: usize) -> String {
    let (mean, sd, min, max) = summary(xs);
    format!("{mean:.d$} ± {sd:.d$} ({min:.d$}–{max:.d$})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sweeps_wrap_and_are_never_empty() {
        let opts = RunOptions { seed: Some(18_446_744_073_709_551_596), ..Default::default() };
        let ctx = Ctx::new(&opts, Path::new("."), 1);
        // u64::MAX − 19: `seed..seed + 20` overflowed (a panic, or an empty sweep).
        let seeds: Vec<u64> = ctx.seeds(20).collect();
        assert_eq!(seeds.len(), 20);
        assert_eq!((seeds[0], seeds[19]), (u64::MAX - 19, u64::MAX));
        let opts = RunOptions { seed: Some(u64::MAX), ..Default::default() };
        let ctx = Ctx::new(&opts, Path::new("."), 1);
        assert_eq!(ctx.seeds(3).collect::<Vec<_>>(), [u64::MAX, 0, 1]);
        assert_eq!(ctx.seed_span(3), format!("seeds {}–1", u64::MAX));
    }

    #[test]
    fn statistics() {
        assert_eq!(summary(&[1.0, 3.0]), (2.0, 1.0, 1.0, 3.0));
        assert_eq!(summary_text(&[1.0, 3.0], 1), "2.0 ± 1.0 (1.0–3.0)");
    }
}
