//! The results of an experiment: the table (metric · the tutorial's figure ·
//! ours · the band the tutorial's own code reaches over seeds · whether ours
//! is inside it), the update rule in words, notes, text blocks, plots and
//! wall time; printed to the terminal, written as `results.json`, and, for
//! `reproduce all`, gathered into `REPORT.md` with the machine it ran on.
//!
//! ```
//! use xtask::{Goal, Report, Row};
//! let mut r = Report::new("mnist", "784-64-10");
//! r.rows.push(Row::new("test accuracy, epoch 10", 0.9213, 4).tutorial("0.9194").band("0.911–0.928", Goal::Between(0.911, 0.928)));
//! r.rows.push(Row::new("test accuracy, epoch 1", 0.79, 4).band("0.795–0.809", Goal::Between(0.795, 0.809)));
//! assert_eq!(r.rows[0].in_band, Some(true));
//! assert_eq!(r.misses().len(), 1);
//! assert!(r.table_markdown().contains("| test accuracy, epoch 10 | 0.9194 | 0.9213 | 0.911–0.928 | ✓ |"));
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Result, XtaskError};
use crate::paths::write_atomic;

/// What "inside the band" means for one row.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// lo ≤ ours ≤ hi.
    Between(f64, f64),
    /// ours ≥ the value.
    AtLeast(f64),
    /// ours ≤ the value.
    AtMost(f64),
}

impl Goal {
    /// True if `x` meets the goal (NaN never does).
    pub fn contains(&self, x: f64) -> bool {
        match *self {
            Goal::Between(lo, hi) => x >= lo && x <= hi,
            Goal::AtLeast(lo) => x >= lo,
            Goal::AtMost(hi) => x <= hi,
        }
    }
}

/// The band of the tutorial's own code, as text, and the goal it sets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Band {
    /// For the table, e.g. `0.911–0.928 (3 seeds)`.
    pub text: String,
    /// The check applied to our value; `None` for a band shown for information.
    pub goal: Option<Goal>,
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// What is measured, e.g. `test accuracy, epoch 10`.
    pub metric: String,
    /// The tutorial's printed figure, if it printed one.
    pub tutorial: Option<String>,
    /// Our value.
    pub ours: f64,
    /// Our value as shown.
    pub ours_text: String,
    /// The band of the tutorial's own code.
    pub band: Option<Band>,
    /// Whether `ours` meets the band's goal (`None`: nothing to meet).
    pub in_band: Option<bool>,
}

impl Row {
    /// A row showing `ours` with `decimals` decimals.
    pub fn new(metric: impl Into<String>, ours: f64, decimals: usize) -> Self {
        Row {
            metric: metric.into(),
            tutorial: None,
            ours,
            ours_text: format!("{ours:.decimals$}"),
            band: None,
            in_band: None,
        }
    }

    /// A row whose value is shown as `text` (e.g. `14/20`).
    pub fn with_text(metric: impl Into<String>, ours: f64, text: impl Into<String>) -> Self {
        Row { ours_text: text.into(), ..Row::new(metric, ours, 0) }
    }

    /// The tutorial's printed figure.
    pub fn tutorial(mut self, figure: impl Into<String>) -> Self {
        self.tutorial = Some(figure.into());
        self
    }

    /// The band of the tutorial's code, and the goal our value is checked against.
    pub fn band(mut self, text: impl Into<String>, goal: Goal) -> Self {
        self.in_band = Some(goal.contains(self.ours));
        self.band = Some(Band { text: text.into(), goal: Some(goal) });
        self
    }

    /// A band shown for information only (no check).
    pub fn band_info(mut self, text: impl Into<String>) -> Self {
        self.band = Some(Band { text: text.into(), goal: None });
        self
    }

    fn cells(&self) -> [String; 5] {
        [
            self.metric.clone(),
            self.tutorial.clone().unwrap_or_else(|| "—".into()),
            self.ours_text.clone(),
            self.band.as_ref().map_or_else(|| "—".into(), |b| b.text.clone()),
            match (self.in_band, &self.band) {
                (Some(true), _) => "✓".into(),
                (Some(false), _) => "✗ outside".into(),
                // a band shown for information: the value is reported, not checked against it
                (None, Some(_)) => "reported".into(),
                (None, None) => String::new(),
            },
        ]
    }
}

/// A plot written by an experiment, relative to its output folder.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlotRef {
    /// File name inside the experiment's folder.
    pub file: String,
    /// What it shows.
    pub caption: String,
}

/// A preformatted block, e.g. a per-class precision/recall/F1 report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextBlock {
    /// Heading.
    pub title: String,
    /// Preformatted text.
    pub body: String,
}

/// Everything an experiment reports.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Command-line name, e.g. `mnist`.
    pub experiment: String,
    /// One line: the model and how it is trained.
    pub title: String,
    /// The seed used.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// Training samples used (less than the data set under `--limit`).
    pub train_samples: usize,
    /// How the loss reduction and learning rate give the tutorial's exact update rule.
    pub update_rule: Vec<String>,
    /// The table.
    pub rows: Vec<Row>,
    /// Remarks printed under the table.
    pub notes: Vec<String>,
    /// Preformatted blocks (classification reports, per-seed outputs).
    pub blocks: Vec<TextBlock>,
    /// Plots written.
    pub plots: Vec<PlotRef>,
    /// Other files written (model, history), relative to the output folder.
    pub files: Vec<String>,
    /// Wall time of the whole experiment, seconds (loading, training, evaluation, plots).
    pub wall_seconds: f64,
    /// Per-epoch histories and anything else worth keeping, as JSON.
    pub details: serde_json::Value,
}

impl Report {
    /// An empty report for `experiment`.
    pub fn new(experiment: impl Into<String>, title: impl Into<String>) -> Self {
        Report {
            experiment: experiment.into(),
            title: title.into(),
            seed: 0,
            epochs: 0,
            train_samples: 0,
            update_rule: Vec::new(),
            rows: Vec::new(),
            notes: Vec::new(),
            blocks: Vec::new(),
            plots: Vec::new(),
            files: Vec::new(),
            wall_seconds: 0.0,
            details: serde_json::Value::Null,
        }
    }

    /// Rows whose value misses the band's goal.
    pub fn misses(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.in_band == Some(false)).collect()
    }

    const HEADER: [&'static str; 5] = ["metric", "tutorial", "ours", "band of the tutorial's code", "in band"];

    /// The table as aligned plain text.
    pub fn table_text(&self) -> String {
        let cells: Vec<[String; 5]> = self.rows.iter().map(Row::cells).collect();
        let mut width = Self::HEADER.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: &[String]| {
            let mut s = String::new();
            for (i, (c, w)) in cols.iter().zip(width).enumerate() {
                let pad = w - c.chars().count();
                // numbers right-aligned, text left-aligned
                if i == 1 || i == 2 {
                    let _ = write!(s, "{}{}", " ".repeat(pad), c);
                } else {
                    let _ = write!(s, "{}{}", c, " ".repeat(pad));
                }
                if i + 1 < cols.len() {
                    s.push_str("  ");
                }
            }
            s.trim_end().to_string()
        };
        let mut out = line(&Self::HEADER.map(String::from));
        out.push('\n');
        out.push_str(&"─".repeat(width.iter().sum::<usize>() + 2 * (width.len() - 1)));
        out.push('\n');
        for row in &cells {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }

    /// The table in Markdown.
    pub fn table_markdown(&self) -> String {
        let mut out = format!("| {} |\n|---|---:|---:|---|---|\n", Self::HEADER.join(" | "));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.cells().map(|c| c.replace('|', "\\|")).join(" | "));
        }
        out
    }

    /// Everything after training, as printed on the terminal (the header,
    /// name and title, was printed before training).
    pub fn to_text(&self, out_dir: &Path) -> String {
        let mut s = String::from("\n");
        for line in &self.update_rule {
            let _ = writeln!(s, "   {line}");
        }
        s.push('\n');
        s.push_str(&self.table_text());
        for note in &self.notes {
            let _ = writeln!(s, "note: {note}");
        }
        for b in &self.blocks {
            let _ = writeln!(s, "\n{}\n{}", b.title, b.body.trim_end());
        }
        let files: Vec<&str> =
            self.files.iter().map(String::as_str).chain(self.plots.iter().map(|p| p.file.as_str())).collect();
        let _ = writeln!(s, "\nwrote {} (results.json, REPORT.md, {})", out_dir.display(), files.join(", "));
        let _ = writeln!(s, "wall time {:.1} s", self.wall_seconds);
        s
    }

    /// This experiment's section of REPORT.md; plots are linked as `<plot_dir>/<file>`.
    pub fn markdown_section(&self, plot_dir: &str) -> String {
        let mut s = format!("## `{}` — {}\n\n", self.experiment, self.title);
        for line in &self.update_rule {
            let _ = writeln!(s, "- {line}");
        }
        let _ = writeln!(
            s,
            "- seed {}, {} epochs, {} training samples, wall time {:.1} s\n",
            self.seed, self.epochs, self.train_samples, self.wall_seconds
        );
        s.push_str(&self.table_markdown());
        s.push('\n');
        for note in &self.notes {
            let _ = writeln!(s, "> {note}\n");
        }
        for b in &self.blocks {
            let _ = writeln!(s, "**{}**\n\n```text\n{}\n```\n", b.title, b.body.trim_end());
        }
        for p in &self.plots {
            let _ = writeln!(s, "![{}]({}/{})\n", p.caption, plot_dir, p.file);
        }
        s
    }

    /// Writes `results.json` into `dir` (temporary file, then rename).
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("results.json");
        let json = serde_json::to_vec_pretty(self).map_err(|source| XtaskError::Json { path: path.clone(), source })?;
        write_atomic(&path, &json)?;
        Ok(path)
    }
}

/// The machine a report describes (the one description, for REPORT.md and
/// the benchmark tables): CPU model and family, logical cores, OS, and the
/// gemm kernel nn-core picks on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo (or `unknown CPU`).
    pub cpu_model: String,
    /// `cpu family` and `model` from /proc/cpuinfo, e.g. `family 26, model 2`
    /// (AMD family 25 is Zen 3 and Zen 4, 26 is Zen 5), or empty.
    pub family: String,
    /// Logical CPUs the process may use.
    pub logical_cores: usize,
    /// Operating system and architecture.
    pub os: String,
    /// The gemm kernel `Backend::Auto` resolves to here (`Avx512`, `Avx2` or `Portable`).
    pub gemm_kernel: String,
}

impl Machine {
    /// One line: `AMD EPYC (family 26, model 2), 2 cores, linux x86_64, gemm kernel Avx512`.
    pub fn describe(&self) -> String {
        let family = if self.family.is_empty() { String::new() } else { format!(" ({})", self.family) };
        format!(
            "{}{family}, {} cores, {}, gemm kernel {}",
            self.cpu_model, self.logical_cores, self.os, self.gemm_kernel
        )
    }
}

/// Writes REPORT.md into `dir` for one experiment run on its own: the
/// machine, then the experiment's section (update rule, table, notes,
/// plots linked beside the file) as `reproduce all` writes it.
pub fn write_run_report_md(dir: &Path, report: &Report, machine: &Machine) -> Result<PathBuf> {
    let mut s = format!("# Reproduction: `{}`\n\n", report.experiment);
    let _ = writeln!(
        s,
        "Written by `cargo xtask reproduce {}`. Machine: {}.\n",
        report.experiment.strip_suffix("-exact").map_or(report.experiment.clone(), |e| format!("{e} --exact")),
        machine.describe()
    );
    s.push_str(&report.markdown_section("."));
    let path = dir.join("REPORT.md");
    write_atomic(&path, s.as_bytes())?;
    Ok(path)
}

/// Reads the CPU model and family from /proc/cpuinfo, the usable cores and
/// the gemm kernel in force.
pub fn machine() -> Machine {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let family = match (field("cpu family"), field("model")) {
        (Some(f), Some(m)) => format!("family {f}, model {m}"),
        _ => String::new(),
    };
    Machine {
        cpu_model: field("model name").unwrap_or_else(|| "unknown CPU".into()),
        family,
        logical_cores: std::thread::available_parallelism().map_or(1, usize::from),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        gemm_kernel: format!("{:?}", nn_core::Backend::Auto.resolve()),
    }
}

/// Writes REPORT.md into `dir`: the machine, a summary of every experiment's
/// checks and wall time, then every section with its table and plots (linked
/// relative to `dir`, where each experiment has its own folder).
pub fn write_report_md(dir: &Path, reports: &[Report], machine: &Machine, total_seconds: f64) -> Result<PathBuf> {
    let mut s = String::from("# Reproductions\n\n");
    s.push_str(
        "Every experiment, run by `cargo xtask reproduce all`. Each table of a default run shows the \
         tutorial's printed figure, ours, and the band the tutorial's own code reaches over seeds; each \
         `-exact` table shows a line the tutorial printed beside the same line of our exact mode (f64, \
         numpy's random stream, the tutorial's random calls in its order) and how far they agree.\n\n\
         The tutorials: Jihwan Jeong, \"Build a Neural Network from Scratch Using Numpy\" \
         (<https://jihwan-jeong.github.io/machine%20learning/backpropagation/>) for `mnist` and `regression`; \
         \"Yet another explanation of backprop\" (a numpy `NN` class after Ritchie Vink's and Victor Zhou's posts) \
         for `boston` and `digits`; \"Musings over Backpropagation\" (after Michael Nielsen's `network2`, \
         <http://neuralnetworksanddeeplearning.com/chap3.html>) for `nielsen`; Nikolas Achatz, \"Back Propagation \
         in Neural Networks\" for `xor`.\n\n",
    );
    let _ = writeln!(s, "Machine: {}. Total wall time {:.1} s.\n", machine.describe(), total_seconds);
    s.push_str("| experiment | checks in band (exact: lines on target) | wall time (s) |\n|---|---:|---:|\n");
    for r in reports {
        let checked = r.rows.iter().filter(|row| row.in_band.is_some()).count();
        let ok = r.rows.iter().filter(|row| row.in_band == Some(true)).count();
        let _ = writeln!(s, "| [`{0}`](#{0}) | {ok}/{checked} | {1:.1} |", r.experiment, r.wall_seconds);
    }
    s.push('\n');
    for r in reports {
        let _ = writeln!(s, "<a id=\"{}\"></a>\n", r.experiment);
        s.push_str(&r.markdown_section(&r.experiment));
    }
    let path = dir.join("REPORT.md");
    write_atomic(&path, s.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_check_their_bounds() {
        assert!(Goal::Between(1.0, 2.0).contains(1.0));
        assert!(!Goal::Between(1.0, 2.0).contains(2.01));
        assert!(Goal::AtLeast(0.93).contains(0.95));
        assert!(!Goal::AtMost(0.005).contains(0.006));
        assert!(!Goal::AtLeast(0.0).contains(f64::NAN));
    }

    #[test]
    fn the_text_table_is_aligned() {
        let mut r = Report::new("x", "t");
        r.rows.push(Row::new("a", 1.0, 2).tutorial("1.5").band("0–2", Goal::Between(0.0, 2.0)));
        r.rows.push(Row::new("longer metric", 10.0, 1).band_info("info"));
        let t = r.table_text();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[2].starts_with("a            "), "{t}");
        assert!(lines[2].ends_with("✓"), "{t}");
        // the numbers end in the same column
        let end = |l: &str, pat: &str| l[..l.find(pat).unwrap()].chars().count() + pat.len();
        assert_eq!(end(lines[2], "1.00"), end(lines[3], "10.0"));
    }

    #[test]
    fn json_holds_the_rows() {
        let dir = std::env::temp_dir().join(format!("xtask-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Report::new("boston", "13-10-1");
        r.rows.push(Row::new("test MAE", 2.5, 3).band("2.33–2.91", Goal::Between(2.33, 2.91)));
        let p = r.write_json(&dir).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(v["rows"][0]["ours"], 2.5);
        assert_eq!(v["rows"][0]["in_band"], true);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
