//! Progress reporting on stderr: an indicatif bar per epoch (batches done,
//! running loss, samples/s) when stderr is a terminal, one plain line per
//! epoch otherwise, nothing at all on request.
//!
//! The bar is redrawn at most ten times a second, so the cost per batch is
//! one clock read; in the plain and silent modes nothing is formatted until
//! the epoch ends.
//!
//! ```
//! use nn_train::{progress::epoch_line, EpochRecord, Metric, MetricValue};
//! let r = EpochRecord {
//!     epoch: 3,
//!     train_loss: 0.25,
//!     samples: 6000,
//!     seconds: 2.0,
//!     samples_per_sec: 3000.0,
//!     eval_seconds: 0.1,
//!     eval: vec![MetricValue { set: "test".into(), metric: Metric::Accuracy, value: 0.9125 }],
//!     ..EpochRecord::default()
//! };
//! assert_eq!(epoch_line(&r, 10), "epoch  3/10  loss 0.25000  test accuracy 0.9125  2.00 s  3000 samples/s");
//! ```

use std::io::IsTerminal;
use std::time::Instant;

#[cfg(feature = "progress-bar")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::history::EpochRecord;

/// How a training run reports its progress (always on stderr).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// A bar if stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always the indicatif bar (hidden by indicatif itself if stderr is not a terminal).
    Bar,
    /// One line per epoch ([`epoch_line`]).
    Plain,
    /// Nothing.
    Silent,
}

/// The one-line summary of an epoch: number, loss, every evaluation, time, throughput.
pub fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let width = epochs.to_string().len();
    let mut line = format!("epoch {:>width$}/{epochs}  loss {:.5}", r.epoch, r.train_loss);
    for v in &r.eval {
        line.push_str(&format!("  {} {} {:.4}", v.set, v.metric, v.value));
    }
    line.push_str(&format!("  {:.2} s  {:.0} samples/s", r.seconds, r.samples_per_sec));
    line
}

/// The reporter a training run drives: `start_epoch`, `batch` after every batch, `end_epoch`.
pub(crate) struct Reporter {
    mode: Progress,
    epochs: usize,
    #[cfg(feature = "progress-bar")]
    bar: Option<ProgressBar>,
    started: Instant,
    last_draw: Instant,
}

#[cfg(feature = "progress-bar")]
const REDRAW: std::time::Duration = std::time::Duration::from_millis(100);

impl Reporter {
    pub(crate) fn new(mode: Progress, epochs: usize) -> Self {
        let mode = match mode {
            Progress::Auto if std::io::stderr().is_terminal() => Progress::Bar,
            Progress::Auto => Progress::Plain,
            // without the `progress-bar` feature, a bar is plain lines
            #[cfg(not(feature = "progress-bar"))]
            Progress::Bar => Progress::Plain,
            m => m,
        };
        let now = Instant::now();
        Reporter {
            mode,
            epochs,
            #[cfg(feature = "progress-bar")]
            bar: None,
            started: now,
            last_draw: now,
        }
    }

    pub(crate) fn start_epoch(&mut self, epoch: usize, batches: usize) {
        self.started = Instant::now();
        self.last_draw = self.started;
        #[cfg(not(feature = "progress-bar"))]
        let _ = (epoch, batches);
        #[cfg(feature = "progress-bar")]
        if self.mode == Progress::Bar {
            let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} batches  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(Some(batches as u64), ProgressDrawTarget::stderr())
                .with_style(style)
                .with_prefix(format!("{epoch}/{}", self.epochs));
            self.bar = Some(bar);
        }
    }

    /// After `done` batches of the epoch, `samples` samples, with `loss_sum` the
    /// per-sample loss summed so far.
    #[inline]
    pub(crate) fn batch(&mut self, done: usize, samples: usize, loss_sum: f64) {
        #[cfg(feature = "progress-bar")]
        self.draw(done, samples, loss_sum);
        #[cfg(not(feature = "progress-bar"))]
        let _ = (done, samples, loss_sum);
    }

    /// Redraws the bar, at most every [`REDRAW`].
    #[cfg(feature = "progress-bar")]
    fn draw(&mut self, done: usize, samples: usize, loss_sum: f64) {
        let Some(bar) = &self.bar else { return };
        let now = Instant::now();
        if now.duration_since(self.last_draw) < REDRAW {
            return;
        }
        self.last_draw = now;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-9);
        bar.set_position(done as u64);
        bar.set_message(format!(
            "loss {:.5}  {:.0} samples/s",
            loss_sum / samples.max(1) as f64,
            samples as f64 / secs
        ));
    }

    pub(crate) fn end_epoch(&mut self, record: &EpochRecord) {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if matches!(self.mode, Progress::Bar | Progress::Plain) {
            eprintln!("{}", epoch_line(record, self.epochs));
        }
    }

    /// Clears a bar left by an epoch that ended in an error.
    pub(crate) fn abandon(&mut self) {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "progress-bar")]
    fn silent_and_plain_never_build_a_bar() {
        for mode in [Progress::Silent, Progress::Plain] {
            let mut r = Reporter::new(mode, 2);
            r.start_epoch(1, 10);
            r.batch(1, 10, 5.0);
            assert!(r.bar.is_none());
            assert_eq!(r.mode, mode);
        }
        let mut r = Reporter::new(Progress::Bar, 2);
        r.start_epoch(1, 10);
        assert_eq!(r.bar.as_ref().and_then(ProgressBar::length), Some(10));
        r.abandon();
        assert!(r.bar.is_none());
    }

    #[test]
    #[cfg(not(feature = "progress-bar"))]
    fn without_the_bar_feature_a_bar_is_plain_lines() {
        assert_eq!(Reporter::new(Progress::Bar, 2).mode, Progress::Plain);
    }
}
