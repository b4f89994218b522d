//! Evaluation metrics: accuracy, the confusion matrix, a per-class
//! precision / recall / F1 report like scikit-learn's
//! `classification_report`, and the regression errors MAE, MSE, RMSE, R².
//!
//! Predictions ŷ and targets t are matrices with one sample per row. For
//! classification, a row's class is its argmax, or, for a single output
//! column, 1 if the value is ≥ 0.5 and 0 otherwise ([`classes_of`]).
//!
//! ```
//! use nn_core::Matrix;
//! use nn_train::metrics;
//! let pred = Matrix::from_vec(3, 1, vec![2.5f32, 0.0, 2.0]).unwrap();
//! let t = Matrix::from_vec(3, 1, vec![3.0f32, -0.5, 2.0]).unwrap();
//! assert_eq!(metrics::mae(pred.view(), t.view()).unwrap(), 1.0 / 3.0); // (0.5 + 0.5 + 0) / 3
//! assert_eq!(metrics::mse(pred.view(), t.view()).unwrap(), 0.5 / 3.0);
//!
//! let report = metrics::classification_report(&[0, 1, 1], &[0, 1, 0], 2).unwrap();
//! assert_eq!(report.accuracy, 2.0 / 3.0);
//! assert_eq!(report.classes[0].recall, 0.5); // class 0: 2 samples, 1 found
//! assert_eq!(report.classes[1].precision, 0.5); // class 1: predicted twice, once right
//! ```

use std::fmt;

use nn_core::{Float, MatRef, ShapeError};

/// A number computed on an evaluation set after every epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "json", serde(rename_all = "snake_case"))]
pub enum Metric {
    /// The objective's value per sample (as the training loss is reported).
    Loss,
    /// Share of rows whose predicted class equals the target's class ([`accuracy`]).
    Accuracy,
    /// Mean absolute error over all elements ([`mae`]).
    Mae,
    /// Mean squared error over all elements ([`mse`]).
    Mse,
    /// √MSE ([`rmse`]).
    Rmse,
    /// Coefficient of determination, averaged over output columns ([`r2`]).
    R2,
}

impl Metric {
    /// The metric's name in histories and reports: `loss`, `accuracy`, `mae`, `mse`, `rmse`, `r2`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Loss => "loss",
            Metric::Accuracy => "accuracy",
            Metric::Mae => "mae",
            Metric::Mse => "mse",
            Metric::Rmse => "rmse",
            Metric::R2 => "r2",
        }
    }

    /// The metric named `name` (inverse of [`Metric::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [Metric::Loss, Metric::Accuracy, Metric::Mae, Metric::Mse, Metric::Rmse, Metric::R2]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// The metric of predictions `pred` against targets `target`. `Loss` needs
    /// the objective, so it is not computed here (returns `None`).
    pub fn compute<T: Float>(self, pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<Option<f64>, ShapeError> {
        Ok(Some(match self {
            Metric::Loss => return Ok(None),
            Metric::Accuracy => accuracy(pred, target)?,
            Metric::Mae => mae(pred, target)?,
            Metric::Mse => mse(pred, target)?,
            Metric::Rmse => rmse(pred, target)?,
            Metric::R2 => r2(pred, target)?,
        }))
    }
}

/// Writes [`Metric::name`].
impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn same_shape<T: Float>(what: &str, pred: &MatRef<'_, T>, target: &MatRef<'_, T>) -> Result<(), ShapeError> {
    if pred.rows() != target.rows() || pred.cols() != target.cols() {
        return Err(ShapeError::new(
            what,
            format!("targets shaped like the predictions, {}×{}", pred.rows(), pred.cols()),
            format!("targets of shape {}×{}", target.rows(), target.cols()),
        ));
    }
    Ok(())
}

/// The class of every row: the argmax (the first one on ties), or for a
/// single column, 1 if the value is ≥ 0.5 else 0.
///
/// ```
/// use nn_core::Matrix;
/// let p = Matrix::from_vec(2, 3, vec![0.1f32, 0.7, 0.2, 0.5, 0.2, 0.3]).unwrap();
/// assert_eq!(nn_train::metrics::classes_of(p.view()), vec![1, 0]);
/// let b = Matrix::from_vec(2, 1, vec![0.49f32, 0.5]).unwrap();
/// assert_eq!(nn_train::metrics::classes_of(b.view()), vec![0, 1]);
/// ```
pub fn classes_of<T: Float>(m: MatRef<'_, T>) -> Vec<usize> {
    (0..m.rows()).map(|i| class_of(m.row(i))).collect()
}

fn class_of<T: Float>(row: &[T]) -> usize {
    if row.len() == 1 {
        return usize::from(row[0] >= T::from_f64(0.5));
    }
    nn_core::argmax(row)
}

/// Accuracy = (1/n) Σᵢ [class(ŷᵢ) = class(tᵢ)] (see [`classes_of`]). 0 for no rows.
pub fn accuracy<T: Float>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<f64, ShapeError> {
    same_shape("accuracy", &pred, &target)?;
    let right = (0..pred.rows()).filter(|&i| class_of(pred.row(i)) == class_of(target.row(i))).count();
    Ok(ratio(right, pred.rows()))
}

/// Accuracy of class labels: (1/n) Σᵢ [predictedᵢ = labelᵢ]. 0 for no labels.
pub fn accuracy_of_labels(predicted: &[usize], labels: &[usize]) -> Result<f64, ShapeError> {
    same_len("accuracy_of_labels", predicted, labels)?;
    Ok(ratio(predicted.iter().zip(labels).filter(|(p, l)| p == l).count(), labels.len()))
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn same_len(what: &str, predicted: &[usize], labels: &[usize]) -> Result<(), ShapeError> {
    if predicted.len() != labels.len() {
        return Err(ShapeError::new(
            what,
            format!("as many predictions as labels ({})", labels.len()),
            format!("{} predictions", predicted.len()),
        ));
    }
    Ok(())
}

/// Sums over all elements of f(ŷ − t), in f64.
fn sum_of<T: Float>(pred: &MatRef<'_, T>, target: &MatRef<'_, T>, f: impl Fn(f64) -> f64) -> f64 {
    (0..pred.rows())
        .map(|i| pred.row(i).iter().zip(target.row(i)).map(|(&p, &t)| f(p.to_f64() - t.to_f64())).sum::<f64>())
        .sum()
}

fn elements<T: Float>(m: &MatRef<'_, T>) -> f64 {
    (m.rows() * m.cols()).max(1) as f64
}

/// MAE = (1/(n·m)) Σᵢⱼ |ŷᵢⱼ − tᵢⱼ|, over all n·m elements.
pub fn mae<T: Float>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<f64, ShapeError> {
    same_shape("mae", &pred, &target)?;
    Ok(sum_of(&pred, &target, f64::abs) / elements(&pred))
}

/// MSE = (1/(n·m)) Σᵢⱼ (ŷᵢⱼ − tᵢⱼ)², over all n·m elements.
pub fn mse<T: Float>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<f64, ShapeError> {
    same_shape("mse", &pred, &target)?;
    Ok(sum_of(&pred, &target, |d| d * d) / elements(&pred))
}

/// RMSE = √MSE. (For several output columns this is the root of the pooled
/// MSE, not scikit-learn's mean of per-column RMSEs.)
pub fn rmse<T: Float>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<f64, ShapeError> {
    Ok(mse(pred, target)?.sqrt())
}

/// R² = 1 − Σᵢ(tᵢ − ŷᵢ)² / Σᵢ(tᵢ − t̄)² per output column, averaged over the
/// columns (scikit-learn's `r2_score` with `uniform_average`). A column whose
/// targets are constant scores 1 if predicted exactly and 0 otherwise, as in
/// scikit-learn.
///
/// ```
/// use nn_core::Matrix;
/// let t = Matrix::from_vec(4, 1, vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
/// let p = Matrix::from_vec(4, 1, vec![1.0f64, 2.0, 3.0, 5.0]).unwrap();
/// // SS_res = 1, SS_tot = 5: R² = 0.8
/// assert!((nn_train::metrics::r2(p.view(), t.view()).unwrap() - 0.8).abs() < 1e-15);
/// ```
pub fn r2<T: Float>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<f64, ShapeError> {
    same_shape("r2", &pred, &target)?;
    let (n, m) = (pred.rows(), pred.cols());
    if n == 0 || m == 0 {
        return Ok(0.0);
    }
    let mut total = 0.0;
    for j in 0..m {
        let mean = (0..n).map(|i| target.get(i, j).to_f64()).sum::<f64>() / n as f64;
        let (mut ss_res, mut ss_tot) = (0.0, 0.0);
        for i in 0..n {
            let (t, p) = (target.get(i, j).to_f64(), pred.get(i, j).to_f64());
            ss_res += (t - p) * (t - p);
            ss_tot += (t - mean) * (t - mean);
        }
        total += if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else if ss_res == 0.0 {
            1.0
        } else {
            0.0
        };
    }
    Ok(total / m as f64)
}

/// Counts of (true class, predicted class) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct ConfusionMatrix {
    /// `counts[t][p]`: samples of true class t predicted as p (rows: truth, as in scikit-learn).
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.counts.len()
    }

    /// Samples whose true class is `c`.
    pub fn support(&self, c: usize) -> usize {
        self.counts[c].iter().sum()
    }

    /// Samples predicted as class `c`.
    pub fn predicted(&self, c: usize) -> usize {
        self.counts.iter().map(|row| row[c]).sum()
    }

    /// Correctly classified samples of class `c` (the diagonal).
    pub fn true_positives(&self, c: usize) -> usize {
        self.counts[c][c]
    }

    /// All samples.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }
}

impl fmt::Display for ConfusionMatrix {
    /// Rows are true classes, columns predicted classes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.counts.iter().flatten().map(|c| c.to_string().len()).max().unwrap_or(1).max(3);
        write!(f, "{:>6}", "t\\p")?;
        for c in 0..self.classes() {
            write!(f, " {c:>width$}")?;
        }
        writeln!(f)?;
        for (t, row) in self.counts.iter().enumerate() {
            write!(f, "{t:>6}")?;
            for v in row {
                write!(f, " {v:>width$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn check_labels(what: &str, predicted: &[usize], labels: &[usize], classes: usize) -> Result<(), ShapeError> {
    same_len(what, predicted, labels)?;
    if let Some((i, &c)) = predicted.iter().chain(labels).enumerate().find(|(_, &c)| c >= classes) {
        let (which, at) = if i < predicted.len() { ("prediction", i) } else { ("label", i - predicted.len()) };
        return Err(ShapeError::new(what, format!("classes below {classes}"), format!("{which} {at} is class {c}")));
    }
    Ok(())
}

/// The confusion matrix of `predicted` against true `labels`, over classes
/// `0..classes`. Errors if the lengths differ or a class is ≥ `classes`.
///
/// ```
/// let cm = nn_train::metrics::confusion_matrix(&[0, 1, 1, 2], &[0, 1, 2, 2], 3).unwrap();
/// assert_eq!(cm.counts, vec![vec![1, 0, 0], vec![0, 1, 0], vec![0, 1, 1]]);
/// ```
pub fn confusion_matrix(predicted: &[usize], labels: &[usize], classes: usize) -> Result<ConfusionMatrix, ShapeError> {
    check_labels("confusion_matrix", predicted, labels, classes)?;
    let mut counts = vec![vec![0; classes]; classes];
    for (&p, &t) in predicted.iter().zip(labels) {
        counts[t][p] += 1;
    }
    Ok(ConfusionMatrix { counts })
}

/// Precision, recall, F1 and support of one class (or an average).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct ClassScores {
    /// TP / (TP + FP); 0 if the class was never predicted.
    pub precision: f64,
    /// TP / (TP + FN); 0 if the class never occurs.
    pub recall: f64,
    /// 2·P·R / (P + R); 0 if P + R = 0.
    pub f1: f64,
    /// Number of samples whose true class this is (for averages: all samples).
    pub support: usize,
}

/// Per-class scores with the accuracy and the macro and weighted averages,
/// as scikit-learn's `classification_report` computes them (zero divisions
/// count as 0). `Display` prints the same table, two decimals.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct ClassificationReport {
    /// One entry per class 0..k.
    pub classes: Vec<ClassScores>,
    /// Share of correctly classified samples.
    pub accuracy: f64,
    /// Unweighted mean of the per-class scores.
    pub macro_avg: ClassScores,
    /// Mean of the per-class scores weighted by support.
    pub weighted_avg: ClassScores,
}

/// The classification report of `predicted` against true `labels` over
/// classes `0..classes`. Errors if the lengths differ or a class is ≥ `classes`.
pub fn classification_report(
    predicted: &[usize],
    labels: &[usize],
    classes: usize,
) -> Result<ClassificationReport, ShapeError> {
    let cm = confusion_matrix(predicted, labels, classes)?;
    Ok(ClassificationReport::from_confusion(&cm))
}

/// The classification report of network outputs `pred` against targets
/// `target` (one-hot rows, or one column of 0/1), classes as in [`classes_of`]:
/// as many classes as columns (two for a single column).
///
/// ```
/// use nn_core::Matrix;
/// let pred = Matrix::from_vec(3, 2, vec![0.9f32, 0.1, 0.3, 0.7, 0.6, 0.4]).unwrap();
/// let t = Matrix::from_vec(3, 2, vec![1.0f32, 0.0, 0.0, 1.0, 0.0, 1.0]).unwrap();
/// let r = nn_train::metrics::classification_report_of(pred.view(), t.view()).unwrap();
/// assert_eq!((r.classes[1].recall, r.classes[0].precision, r.accuracy), (0.5, 0.5, 2.0 / 3.0));
/// ```
pub fn classification_report_of<T: Float>(
    pred: MatRef<'_, T>,
    target: MatRef<'_, T>,
) -> Result<ClassificationReport, ShapeError> {
    same_shape("classification_report_of", &pred, &target)?;
    classification_report(&classes_of(pred), &classes_of(target), pred.cols().max(2))
}

impl ClassificationReport {
    /// The report of a confusion matrix.
    pub fn from_confusion(cm: &ConfusionMatrix) -> Self {
        let k = cm.classes();
        let classes: Vec<ClassScores> = (0..k)
            .map(|c| {
                let tp = cm.true_positives(c);
                let precision = ratio(tp, cm.predicted(c));
                let recall = ratio(tp, cm.support(c));
                let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
                ClassScores { precision, recall, f1, support: cm.support(c) }
            })
            .collect();
        let total = cm.total();
        let average = |weight: &dyn Fn(&ClassScores) -> f64, norm: f64| {
            let mean = |f: fn(&ClassScores) -> f64| {
                if norm == 0.0 {
                    0.0
                } else {
                    classes.iter().map(|s| weight(s) * f(s)).sum::<f64>() / norm
                }
            };
            ClassScores {
                precision: mean(|s| s.precision),
                recall: mean(|s| s.recall),
                f1: mean(|s| s.f1),
                support: total,
            }
        };
        let macro_avg = average(&|_| 1.0, k as f64);
        let weighted_avg = average(&|s| s.support as f64, total as f64);
        let accuracy = ratio((0..k).map(|c| cm.true_positives(c)).sum(), total);
        ClassificationReport { classes, accuracy, macro_avg, weighted_avg }
    }

    /// The table with `digits` decimals, laid out exactly as scikit-learn's
    /// `classification_report(y_true, y_pred, digits=digits)`.
    pub fn to_table(&self, digits: usize) -> String {
        let names: Vec<String> = (0..self.classes.len()).map(|c| c.to_string()).collect();
        let width = names.iter().map(String::len).chain([12, digits]).max().unwrap_or(12);
        let row = |name: &str, s: &ClassScores| {
            format!(
                "{name:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}\n",
                s.precision, s.recall, s.f1, s.support
            )
        };
        let mut out =
            format!("{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n", "", "precision", "recall", "f1-score", "support");
        for (name, s) in names.iter().zip(&self.classes) {
            out.push_str(&row(name, s));
        }
        out.push('\n');
        out.push_str(&format!(
            "{:>width$}  {:>9} {:>9} {:>9.digits$} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        ));
        out.push_str(&row("macro avg", &self.macro_avg));
        out.push_str(&row("weighted avg", &self.weighted_avg));
        out
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_table(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::Matrix;

    fn m(rows: usize, cols: usize, v: &[f64]) -> Matrix<f64> {
        Matrix::from_vec(rows, cols, v.to_vec()).unwrap()
    }

    #[test]
    fn regression_metrics_match_hand_computation() {
        // differences: 1, −2, 0, 3 → |·| sum 6, squares 14
        let p = m(2, 2, &[2.0, 0.0, 5.0, 7.0]);
        let t = m(2, 2, &[1.0, 2.0, 5.0, 4.0]);
        assert_eq!(mae(p.view(), t.view()).unwrap(), 1.5);
        assert_eq!(mse(p.view(), t.view()).unwrap(), 3.5);
        assert_eq!(rmse(p.view(), t.view()).unwrap(), 3.5f64.sqrt());
        // column 0: t = (1, 5), mean 3, SS_tot 8, SS_res 1 → 7/8; column 1: t = (2, 4), mean 3, SS_tot 2, SS_res 13 → −5.5
        assert_eq!(r2(p.view(), t.view()).unwrap(), (0.875 - 5.5) / 2.0);
        // constant targets: exact prediction scores 1, any error 0
        let c = m(2, 1, &[3.0, 3.0]);
        assert_eq!(r2(c.view(), c.view()).unwrap(), 1.0);
        assert_eq!(r2(m(2, 1, &[3.0, 4.0]).view(), c.view()).unwrap(), 0.0);
        let err = mse(p.view(), m(2, 1, &[0.0, 0.0]).view()).unwrap_err();
        assert!(err.to_string().contains("2×1"), "{err}");
    }

    #[test]
    fn accuracy_uses_argmax_or_a_half_threshold() {
        let p = m(3, 2, &[0.9, 0.1, 0.2, 0.8, 0.6, 0.4]);
        let t = m(3, 2, &[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        assert_eq!(accuracy(p.view(), t.view()).unwrap(), 2.0 / 3.0);
        let p1 = m(4, 1, &[0.2, 0.7, 0.5, 0.1]);
        let t1 = m(4, 1, &[0.0, 1.0, 0.0, 1.0]);
        assert_eq!(accuracy(p1.view(), t1.view()).unwrap(), 0.5);
        assert_eq!(accuracy_of_labels(&[1, 2, 3], &[1, 2, 0]).unwrap(), 2.0 / 3.0);
        assert!(accuracy_of_labels(&[1], &[1, 2]).is_err());
    }

    #[test]
    fn report_matches_scikit_learn() {
        // sklearn.metrics.classification_report([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], zero_division=0)
        // returns exactly this string (y_true first there; predicted first here).
        let r = classification_report(&[0, 0, 2, 2, 1], &[0, 1, 2, 2, 2], 3).unwrap();
        let expected = "              precision    recall  f1-score   support

           0       0.50      1.00      0.67         1
           1       0.00      0.00      0.00         1
           2       1.00      0.67      0.80         3

    accuracy                           0.60         5
   macro avg       0.50      0.56      0.49         5
weighted avg       0.70      0.60      0.61         5
";
        assert_eq!(r.to_string(), expected);
        assert_eq!(r.classes[2].recall, 2.0 / 3.0);
        assert_eq!(r.weighted_avg.precision, (0.5 + 0.0 + 3.0) / 5.0);
        assert_eq!(r.macro_avg.f1, (2.0 / 3.0 + 0.0 + 0.8) / 3.0);
        assert!(classification_report(&[0, 3], &[0, 1], 3)
            .unwrap_err()
            .to_string()
            .contains("prediction 1 is class 3"));
    }

    #[test]
    fn confusion_matrix_counts_truth_by_prediction() {
        let cm = confusion_matrix(&[0, 0, 2, 2, 1], &[0, 1, 2, 2, 2], 3).unwrap();
        assert_eq!(cm.counts, vec![vec![1, 0, 0], vec![1, 0, 0], vec![0, 1, 2]]);
        assert_eq!((cm.support(2), cm.predicted(0), cm.total()), (3, 2, 5));
        assert!(cm.to_string().lines().nth(3).unwrap().ends_with("  0   1   2"));
        assert!(confusion_matrix(&[0], &[5], 3).unwrap_err().to_string().contains("label 0 is class 5"));
    }

    #[test]
    fn metric_names_round_trip() {
        for m in [Metric::Loss, Metric::Accuracy, Metric::Mae, Metric::Mse, Metric::Rmse, Metric::R2] {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert_eq!(Metric::from_name("f1"), None);
    }
}
