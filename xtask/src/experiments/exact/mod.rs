//! `reproduce <mnist|regression|boston|digits> --exact`: the tutorial's own
//! computation, digit for digit. The algorithm runs in f64 with the
//! tutorial's random stream (numpy's legacy `RandomState`,
//! [`nn_core::RandomState`]), every random call made in the tutorial's order,
//! and each line the tutorial printed is shown beside ours with the number of
//! significant digits on which they agree.
//!
//! The tutorials and how they seed:
//!
//! - Jihwan Jeong, "Build a Neural Network from Scratch Using Numpy"
//!   (<https://jihwan-jeong.github.io/machine%20learning/backpropagation/>,
//!   code at <https://github.com/jihwan-jeong/neuralnet-using-numpy>) —
//!   `mnist` and `regression`. `np.random.seed(1)`; each `FCLayer` draws
//!   W = randn(m_in, m_out) then b = randn(1, m_out); `fit` draws one
//!   `permutation` per epoch and re-indexes the already shuffled data with it.
//!   `toy_regression()` calls `np.random.seed(1)` itself before drawing x and
//!   the two noise vectors; the linear network is drawn and trained (300
//!   permutations) before the nonlinear one is drawn from the same stream.
//! - "Yet another explanation of backprop" (a numpy `NN` class citing Ritchie
//!   Vink's and Victor Zhou's posts) — `boston` and `digits`. `np.random.seed(1)`,
//!   then `train_test_split(..., test_size=.3, shuffle=True, random_state=42)`
//!   (its own `RandomState(42)`), W = randn(m_in, m_out)/√m_in per layer with
//!   zero biases, and `np.random.shuffle` of the training indices every epoch.
//!
//! Floating-point order follows numpy where it is known (see [`ops`]); the
//! exponential and logarithm are the C library's, which numpy's SIMD versions
//! match except in the last bit of a few arguments.

pub mod first;
pub mod jeong;
pub mod ops;

use nn_core::RandomState;
use nn_data::sklearn::{scale, train_test_split};
use nn_data::toy::toy_regression_numpy;
use nn_data::{Dataset, Normalisation};

use crate::cli::Experiment;
use crate::error::{Result, XtaskError};
use crate::experiments::common::Ctx;
use crate::report::{Band, Report, Row, TextBlock};

use first::{classes, classification_report, mae, mse, FirstNet, G};
use jeong::{Compounding, JeongLoss, JeongNet, LayerSpec, Phi};

/// The experiments that have an exact mode (the tutorials that seed their random numbers).
pub const EXACT: [Experiment; 4] = [Experiment::Mnist, Experiment::Regression, Experiment::Boston, Experiment::Digits];

/// The MNIST tutorial's printed log (its "Result" block), epoch 1 to 10.
pub const MNIST_PRINTED: [&str; 10] = [
    "Epoch 1/10\terror=1.20417\tTest accuracy: 0.807",
    "Epoch 2/10\terror=0.59282\tTest accuracy: 0.8504",
    "Epoch 3/10\terror=0.48660\tTest accuracy: 0.8795",
    "Epoch 4/10\terror=0.43013\tTest accuracy: 0.885",
    "Epoch 5/10\terror=0.38977\tTest accuracy: 0.9009",
    "Epoch 6/10\terror=0.36007\tTest accuracy: 0.901",
    "Epoch 7/10\terror=0.33777\tTest accuracy: 0.9059",
    "Epoch 8/10\terror=0.32317\tTest accuracy: 0.9078",
    "Epoch 9/10\terror=0.30777\tTest accuracy: 0.9169",
    "Epoch 10/10\terror=0.29622\tTest accuracy: 0.9194",
];

/// The first tutorial's printed Boston log: train loss every 10 epochs, then the test MAE.
pub const BOSTON_PRINTED: [&str; 4] = [
    "[10] train loss: 11.796707532482444",
    "[20] train loss: 9.700941500985953",
    "[30] train loss: 9.023612069639709",
    "2.505495393489851",
];

/// The first tutorial's printed digits log: train loss every 10 epochs, then the classification report.
pub const DIGITS_PRINTED: [&str; 5] = [
    "[10] train loss: 0.008308476136280957",
    "[20] train loss: 0.004984925198988307",
    "[30] train loss: 0.004102445263740696",
    "[40] train loss: 0.0029634369443098745",
    "[50] train loss: 0.0018708680417568045",
];

/// The classification report the first tutorial printed for digits.
pub const DIGITS_REPORT_PRINTED: &str = "              precision    recall  f1-score   support

           0       1.00      1.00      1.00        53
           1       0.96      0.98      0.97        50
           2       0.94      1.00      0.97        47
           3       0.96      0.96      0.96        54
           4       0.98      1.00      0.99        60
           5       0.94      0.97      0.96        66
           6       0.98      0.98      0.98        53
           7       1.00      0.98      0.99        55
           8       1.00      0.93      0.96        43
           9       0.98      0.93      0.96        59

    accuracy                           0.97       540
   macro avg       0.98      0.97      0.97       540
weighted avg       0.97      0.97      0.97       540
";

/// The regression tutorial prints no loss; these are the final `loss_hist` values its
/// code gives at `np.random.seed(1)` (numpy 2.4.6, x86-64), linear then nonlinear.
pub const REGRESSION_TUTORIAL_CODE: [&str; 2] = ["0.04554893997094162", "0.0025444721948738886"];

/// The tutorial column of a line the tutorial did not print (other epochs, other seed).
const NOT_PRINTED: &str = "—";

/// True when the run is the tutorial's own (its seed 1, its epochs, all data), so its printed lines apply.
fn as_printed(ctx: &Ctx) -> bool {
    ctx.comparable() && ctx.seed == 1
}

/// How far two printed lines agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// Character index of the first difference (`None`: identical).
    pub first_difference: Option<usize>,
    /// Significant digits (from the first non-zero digit) before the first difference.
    pub digits: usize,
}

/// Compares two printed lines character by character.
///
/// ```
/// use xtask::experiments::exact::agreement;
/// let a = agreement("loss: 2.505495393489851", "loss: 2.505495401");
/// assert_eq!((a.first_difference, a.digits), (Some(14), 7)); // "2.505495" agrees
/// assert_eq!(agreement("0.807", "0.807").first_difference, None);
/// ```
pub fn agreement(tutorial: &str, ours: &str) -> Agreement {
    let (t, o): (Vec<char>, Vec<char>) = (tutorial.chars().collect(), ours.chars().collect());
    let same = t.iter().zip(&o).take_while(|(a, b)| a == b).count();
    let first_difference = if same == t.len() && same == o.len() { None } else { Some(same) };
    // significant digits of the last number before the difference
    let start = t[..same].iter().rposition(|c| !(c.is_ascii_digit() || *c == '.')).map_or(0, |p| p + 1);
    let digits = t[start..same].iter().filter(|c| c.is_ascii_digit()).skip_while(|c| **c == '0').count();
    Agreement { first_difference, digits }
}

/// One printed line: the tutorial's and ours.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// What the line reports.
    pub label: String,
    /// As the tutorial printed it.
    pub tutorial: String,
    /// As we print it.
    pub ours: String,
    /// Our number on the line, for results.json.
    pub value: f64,
    /// The target: `None`, the line must be identical; `Some(d)`, its number must
    /// agree to at least d significant digits (the issue's target for the first
    /// tutorial's loss and MAE lines, which depend on the BLAS's summation order).
    pub min_digits: Option<usize>,
}

impl Line {
    fn row(&self) -> Row {
        let a = agreement(&self.tutorial, &self.ours);
        let target = self.min_digits.map_or("identical".to_string(), |d| format!("≥ {d} significant digits"));
        let verdict = match a.first_difference {
            None => "identical".to_string(),
            Some(_) => format!("agrees to {} significant digits (target: {target})", a.digits),
        };
        let cell = |s: &str| s.trim().replace('\t', "  ");
        let mut row = Row::with_text(&self.label, self.value, cell(&self.ours)).tutorial(cell(&self.tutorial));
        if self.tutorial == NOT_PRINTED {
            return row; // a run with other epochs or data than the tutorial's: nothing to compare
        }
        row.band = Some(Band { text: verdict, goal: None });
        row.in_band = Some(a.first_difference.is_none() || self.min_digits.is_some_and(|d| a.digits >= d));
        row
    }
}

/// The side-by-side log: each tutorial line, ours under it, and a caret under the first difference.
pub fn side_by_side(lines: &[Line]) -> String {
    let mut s = String::new();
    for l in lines {
        let (t, o) = (l.tutorial.replace('\t', "  "), l.ours.replace('\t', "  "));
        s += &format!("tutorial  {t}\nours      {o}\n");
        match agreement(&t, &o).first_difference {
            None => s += "          (identical)\n",
            Some(i) => s += &format!("          {}^ first difference\n", " ".repeat(i)),
        }
    }
    s
}

fn lines_block(title: &str, lines: &[Line]) -> TextBlock {
    TextBlock { title: title.into(), body: side_by_side(lines) }
}

/// Every weight and bias after SGD steps 1, 10, 100, 1000, … (written to results.json,
/// to compare with the tutorial's code step by step).
#[derive(Default)]
struct Trace {
    steps: usize,
    snapshots: serde_json::Map<String, serde_json::Value>,
}

impl Trace {
    /// Counts one step; keeps `parameters()` when the count is a power of ten.
    fn step(&mut self, parameters: impl FnOnce() -> Vec<f64>) {
        self.steps += 1;
        let mut p = 1;
        while p < self.steps {
            p *= 10;
        }
        if p == self.steps {
            self.snapshots.insert(self.steps.to_string(), serde_json::json!(parameters()));
        }
    }

    fn json(self) -> serde_json::Value {
        serde_json::Value::Object(self.snapshots)
    }
}

/// Runs `experiment` in exact mode into `ctx.out_dir` and returns its report.
pub fn run(experiment: Experiment, ctx: &Ctx) -> Result<Report> {
    if ctx.opts.limit.is_some() {
        return Err(XtaskError::Failed("--exact runs the tutorial on all its data; drop --limit".into()));
    }
    let seed = u32::try_from(ctx.seed)
        .map_err(|_| XtaskError::Failed(format!("--exact: numpy seeds are 32-bit, got --seed {}", ctx.seed)))?;
    match experiment {
        Experiment::Mnist => mnist(ctx, seed),
        Experiment::Regression => regression(ctx, seed),
        Experiment::Boston => boston(ctx, seed),
        Experiment::Digits => digits(ctx, seed),
        other => Err(XtaskError::Failed(format!(
            "--exact applies to mnist, regression, boston and digits (the tutorials that seed numpy), not {}",
            other.name()
        ))),
    }
}

fn report(ctx: &Ctx, name: &str, title: &str, seed: u32) -> Report {
    let mut r = ctx.report(&format!("{name}-exact"), title);
    r.update_rule.push(format!(
        "exact mode: f64, numpy's legacy RandomState seeded as np.random.seed({seed}), the tutorial's random calls in \
         its order, single-threaded"
    ));
    r
}

fn finish(mut r: Report, title: &str, lines: &[Line]) -> Report {
    r.rows.extend(lines.iter().map(Line::row));
    if lines.iter().any(|l| l.tutorial != NOT_PRINTED && l.tutorial != l.ours) {
        r.notes.push(
            "Where a line is not identical, the runs part in the last digits through the order of the sums inside \
             numpy's matrix products (its BLAS kernels); the tutorial's code rerun on another machine moves in the \
             same digits. README.md (\"Exact mode\") compares every weight of the tutorial's code and ours after \
             step 1, 10, 100, …; results.json holds ours (parameters_after_step)."
                .into(),
        );
    }
    r.blocks.insert(0, lines_block(title, lines));
    r
}

fn mnist(ctx: &Ctx, seed: u32) -> Result<Report> {
    let mut r =
        report(ctx, "mnist", "784-64-10 ReLU → softmax + cross-entropy, the MNIST tutorial's code in f64", seed);
    let mut rs = RandomState::new(seed);
    let data = nn_data::mnist::<f64>(ctx.data("mnist"), Normalisation::Centered)?;
    let (train, test) = (data.train, data.test);
    r.train_samples = train.len();
    r.update_rule.push(
        "per batch of 16: δ = softmax(U) − T; each layer from the last: δ_out = δWᵀ, W ← W − 0.005·Hᵀδ, \
         b ← b − 0.005·Σδ; error = Σ over batches of −Σ t ln(p + 1e-15) / N"
            .into(),
    );
    let spec = [(784, 64, Some(Phi::Relu)), (64, 10, None)];
    let mut net = JeongNet::new(&spec, JeongLoss::CrossEntropy, &mut rs);
    let mut order = Compounding::new(train.len());
    let mut lines = Vec::new();
    for e in 1..=ctx.epochs {
        let loss = net.epoch(&train.x, &train.y, &mut order, 0.005, 16, &mut rs, &mut |_| {});
        let acc = net.accuracy(&test.x, &test.y);
        let ours = format!("Epoch {e}/{}\terror={loss:.5}\tTest accuracy: {acc}", ctx.epochs);
        ctx.say(ours.replace('\t', "  "));
        let tutorial =
            MNIST_PRINTED.get(e - 1).filter(|_| as_printed(ctx)).map_or(NOT_PRINTED.into(), |s| s.to_string());
        lines.push(Line {
            label: format!("epoch {e}: error, test accuracy"),
            tutorial,
            ours,
            value: loss,
            min_digits: None,
        });
        r.details[format!("epoch_{e}")] = serde_json::json!({ "error": loss, "test_accuracy": acc });
    }
    Ok(finish(r, "The tutorial's printed log and ours", &lines))
}

fn regression(ctx: &Ctx, seed: u32) -> Result<Report> {
    let mut r = report(ctx, "regression", "toy regression 1-16-16-1, the MNIST tutorial's code in f64", seed);
    // toy_regression() re-seeds with 1 itself, whatever the seed before it
    let (ds, mut rs) = toy_regression_numpy(2000, 1);
    if seed != 1 {
        r.notes.push("toy_regression() calls np.random.seed(1) itself, so --seed does not change anything here".into());
    }
    r.train_samples = ds.len();
    r.update_rule.push(
        "per batch of 16: δ = (ŷ − t)/16; each layer from the last: δ_out = δWᵀ, W ← W − 0.001·Hᵀδ, b ← b − 0.001·Σδ; \
         loss per epoch Σ over batches of ½Σ(ŷ − t)²/N; 300 epochs; the linear network first, then the nonlinear one \
         from the same stream"
            .into(),
    );
    let mut lines = Vec::new();
    let nets: [(&str, Vec<LayerSpec>); 2] = [
        ("linear", vec![(1, 16, None), (16, 16, None), (16, 1, None)]),
        ("nonlinear", vec![(1, 16, Some(Phi::Relu)), (16, 16, Some(Phi::Sigmoid)), (16, 1, None)]),
    ];
    for (k, (name, spec)) in nets.iter().enumerate() {
        let mut net = JeongNet::new(spec, JeongLoss::Mse, &mut rs);
        let mut order = Compounding::new(ds.len());
        let mut trace = Trace::default();
        for _ in 0..ctx.epochs {
            net.epoch(&ds.x, &ds.y, &mut order, 0.001, 16, &mut rs, &mut |n| trace.step(|| n.parameters()));
        }
        r.details[format!("{name}_parameters_after_step")] = trace.json();
        let last = *net.loss_hist.last().unwrap_or(&f64::NAN);
        ctx.say(format!("{name}: final loss {last}"));
        let tutorial = if ctx.comparable() { REGRESSION_TUTORIAL_CODE[k].to_string() } else { NOT_PRINTED.into() };
        lines.push(Line {
            label: format!("final loss, {name} network"),
            tutorial,
            ours: format!("{last}"),
            value: last,
            min_digits: None,
        });
        r.details[*name] = serde_json::json!(net.loss_hist);
    }
    r.notes.push(
        "The tutorial prints no loss for this example; the tutorial column is what its own code gives at \
         np.random.seed(1) on the same data (numpy 2.4.6, x86-64)."
            .into(),
    );
    Ok(finish(r, "The tutorial's code and ours: final loss_hist", &lines))
}

/// The first tutorial's data: x (optionally scaled as a whole), y, then its split.
fn first_split(ds: Dataset<f64>, scaled: bool) -> Result<(Dataset<f64>, Dataset<f64>)> {
    let ds = if scaled { Dataset { x: scale(&ds.x)?, ..ds } } else { ds };
    Ok(train_test_split(&ds, 0.3, 42)?)
}

fn loss_line(e: usize, value: f64, printed: Option<&str>) -> Line {
    Line {
        label: format!("epoch {e}: train loss"),
        tutorial: printed.map_or(NOT_PRINTED.into(), str::to_string),
        ours: format!("[{e}] train loss: {value}"),
        value,
        min_digits: Some(6),
    }
}

fn train_first(
    ctx: &Ctx,
    net: &mut FirstNet,
    train: &Dataset<f64>,
    batch: usize,
    printed: &[&str],
    rs: &mut RandomState,
    report: &mut Report,
) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut trace = Trace::default();
    for e in 1..=ctx.epochs {
        net.epoch(&train.x, &train.y, batch, rs, &mut |n| trace.step(|| n.parameters()));
        if e % 10 == 0 {
            let loss = mse(&net.predict(&train.x), &train.y);
            let printed = printed.get(e / 10 - 1).filter(|_| as_printed(ctx)).copied();
            let line = loss_line(e, loss, printed);
            ctx.say(&line.ours);
            lines.push(line);
        }
    }
    report.details["parameters_after_step"] = trace.json();
    lines
}

fn boston(ctx: &Ctx, seed: u32) -> Result<Report> {
    let mut r = report(ctx, "boston", "Boston housing 13-10-1, the first tutorial's code in f64", seed);
    let mut rs = RandomState::new(seed);
    let (train, test) = first_split(nn_data::boston::<f64>(ctx.data("boston_house_prices.csv"))?, true)?;
    r.train_samples = train.len();
    r.update_rule.push(
        "preprocessing.scale on all 506 rows, then train_test_split(test_size=.3, random_state=42); batch 8 (⌊354/8⌋ \
         steps per epoch), δ = 2(ŷ − y), W ← W − 1e-3·aᵀδ, b ← b − 1e-3·mean δ"
            .into(),
    );
    let mut net = FirstNet::new(&[13, 10, 1], &[G::Relu, G::Identity], 1e-3, &mut rs);
    let mut lines = train_first(ctx, &mut net, &train, 8, &BOSTON_PRINTED[..3], &mut rs, &mut r);
    let m = mae(&net.predict(&test.x), &test.y);
    ctx.say(format!("{m}"));
    let tutorial = if as_printed(ctx) { BOSTON_PRINTED[3].into() } else { NOT_PRINTED.into() };
    lines.push(Line { label: "test MAE".into(), tutorial, ours: format!("{m}"), value: m, min_digits: Some(6) });
    r.notes.push(super::boston::B_CAVEAT.into());
    Ok(finish(r, "The tutorial's printed log and ours", &lines))
}

fn digits(ctx: &Ctx, seed: u32) -> Result<Report> {
    let mut r = report(ctx, "digits", "digits 64-15-10 ReLU/sigmoid, the first tutorial's code in f64", seed);
    let mut rs = RandomState::new(seed);
    let (train, test) = first_split(nn_data::digits::<f64>(ctx.data("digits.csv.gz"))?, false)?;
    r.train_samples = train.len();
    r.update_rule.push(
        "raw pixels 0–16, train_test_split(test_size=.3, random_state=42); batch 16 (⌊1257/16⌋ steps per epoch), \
         δ = 2(ŷ − y)·σ′(ŷ) (the tutorial's σ′ at the output), W ← W − 1e-3·aᵀδ, b ← b − 1e-3·mean δ"
            .into(),
    );
    let mut net = FirstNet::new(&[64, 15, 10], &[G::Relu, G::Sigmoid], 1e-3, &mut rs);
    let mut lines = train_first(ctx, &mut net, &train, 16, &DIGITS_PRINTED, &mut rs, &mut r);
    let (truth, predicted) = classes(&net.predict(&test.x), &test.y);
    let (ours, correct) = classification_report(&truth, &predicted, 10);
    let printed: Vec<&str> = DIGITS_REPORT_PRINTED.lines().collect();
    for (i, line) in ours.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let tutorial = printed.get(i).filter(|_| as_printed(ctx)).map_or(NOT_PRINTED.into(), |s| s.to_string());
        let label = format!("report: {}", line.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
        lines.push(Line { label, tutorial, ours: line.to_string(), value: f64::NAN, min_digits: None });
    }
    let acc = correct as f64 / truth.len() as f64;
    r.rows
        .push(Row::with_text("test accuracy", acc, format!("{acc:.4} = {correct}/{}", truth.len())).tutorial("0.9741"));
    Ok(finish(r, "The tutorial's printed log and classification report, and ours", &lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_counts_significant_digits_of_the_number_that_differs() {
        assert_eq!(agreement("[10] train loss: 11.79", "[10] train loss: 11.78").digits, 3);
        assert_eq!(agreement("x 0.0083", "x 0.0084").digits, 1); // the 8 agrees, leading zeros do not count
        assert_eq!(agreement("abc", "abd").first_difference, Some(2));
        assert_eq!(agreement("abc", "abcd").first_difference, Some(3));
    }

    #[test]
    fn the_report_of_perfect_predictions_has_ones_everywhere() {
        let truth = [0, 1, 1, 2];
        let (s, correct) = classification_report(&truth, &truth, 3);
        assert_eq!(correct, 4);
        assert!(s.contains("           1       1.00      1.00      1.00         2"), "{s}");
        assert!(s.contains("    accuracy                           1.00         4"), "{s}");
    }

    #[test]
    fn the_printed_digits_report_has_the_layout_we_print() {
        // Same truth/prediction counts as the tutorial's report would give the same text: here
        // we check only that our layout reproduces its header and blank lines.
        let (s, _) = classification_report(&[0], &[0], 1);
        let ours: Vec<&str> = s.lines().collect();
        let printed: Vec<&str> = DIGITS_REPORT_PRINTED.lines().collect();
        assert_eq!(ours[0], printed[0]);
        assert_eq!(ours[1], printed[1]);
    }
}
