//! The exact mode against the tutorials' printed logs: boston's four lines
//! to at least 6 significant digits, digits' classification report line for
//! line with 526 of 540 right, and the toy regression's final losses against
//! what the tutorial's own code gives. (mnist's exact run takes tens of
//! seconds even optimised; `cargo xtask reproduce mnist --exact` shows its
//! ten lines.)

use std::path::PathBuf;

use xtask::experiments::exact::agreement;
use xtask::{reproduce, Experiment, Report, RunOptions};

fn run(experiment: Experiment) -> Report {
    let out: PathBuf = std::env::temp_dir().join(format!("xtask-exact-{}-{}", experiment.name(), std::process::id()));
    let opts = RunOptions { exact: true, quiet: true, out: Some(out.clone()), ..Default::default() };
    let report = reproduce(experiment, &opts).unwrap();
    assert!(out.join("results.json").is_file());
    let _ = std::fs::remove_dir_all(&out);
    report
}

/// (tutorial, ours) of every row that has a tutorial figure.
fn pairs(r: &Report) -> Vec<(String, String)> {
    r.rows.iter().filter_map(|row| row.tutorial.clone().map(|t| (t, row.ours_text.clone()))).collect()
}

#[test]
fn boston_agrees_with_the_printed_log_to_at_least_six_digits() {
    let r = run(Experiment::Boston);
    let p = pairs(&r);
    assert_eq!(p.len(), 4);
    for (t, o) in &p {
        let a = agreement(t, o);
        assert!(a.first_difference.is_none() || a.digits >= 6, "{t} vs {o}: {a:?}");
    }
    assert!(p[3].1.starts_with("2.50549"), "MAE {}", p[3].1);
}

#[test]
fn digits_prints_the_tutorials_classification_report() {
    let r = run(Experiment::Digits);
    let report_rows: Vec<_> = r.rows.iter().filter(|row| row.metric.starts_with("report")).collect();
    assert_eq!(report_rows.len(), 14);
    for row in report_rows {
        assert_eq!(row.in_band, Some(true), "{} vs {:?}", row.ours_text, row.tutorial);
    }
    let acc = r.rows.iter().find(|row| row.metric == "test accuracy").unwrap();
    assert_eq!(acc.ours_text, "0.9741 = 526/540");
    for (t, o) in pairs(&r).iter().filter(|(t, _)| t.contains("train loss")) {
        assert!(agreement(t, o).digits >= 6 || t == o, "{t} vs {o}");
    }
}

#[test]
fn regression_ends_where_the_tutorials_code_ends() {
    let r = run(Experiment::Regression);
    let p = pairs(&r);
    assert_eq!(p.len(), 2);
    for (t, o) in &p {
        let a = agreement(t, o);
        assert!(a.first_difference.is_none() || a.digits >= 12, "{t} vs {o}: {a:?}");
    }
}

#[test]
fn exact_mode_refuses_unseeded_experiments_and_limits() {
    let out = std::env::temp_dir().join(format!("xtask-exact-refuse-{}", std::process::id()));
    let opts = RunOptions { exact: true, quiet: true, out: Some(out.clone()), ..Default::default() };
    let e = reproduce(Experiment::Xor, &opts).unwrap_err().to_string();
    assert!(e.contains("--exact applies to"), "{e}");
    let limited = RunOptions { limit: Some(10), ..opts };
    let e = reproduce(Experiment::Boston, &limited).unwrap_err().to_string();
    assert!(e.contains("--limit"), "{e}");
    let _ = std::fs::remove_dir_all(&out);
}
