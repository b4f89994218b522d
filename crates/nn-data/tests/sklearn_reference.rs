//! nn-data's scikit-learn and tutorial reproductions against the libraries
//! themselves: `tests/fixtures/sklearn_reference.txt` is written by
//! `xtask/fixtures/numpy_reference.py` from scikit-learn's `train_test_split`
//! and `preprocessing.scale` and the tutorial's numpy `toy_regression()`.

mod common;

use nn_core::Matrix;
use nn_data::sklearn::{scale, train_test_split_indices};
use nn_data::toy::toy_regression_numpy;

const FIXTURE: &str = include_str!("fixtures/sklearn_reference.txt");

fn values<T: std::str::FromStr>(name: &str) -> Vec<T> {
    let prefix = format!("{name}: ");
    let line = FIXTURE.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no fixture line {name:?}"));
    line[prefix.len()..].split(' ').map(|v| v.parse().ok().expect("a number")).collect()
}

/// FNV-1a over the little-endian bytes of every value (the script's `fnv`).
fn fnv(xs: &[f64]) -> u64 {
    xs.iter()
        .flat_map(|x| x.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn the_split_is_sklearns() {
    for n in [506usize, 1797, 10] {
        let (train, test) = train_test_split_indices(n, 0.3, 42).unwrap();
        let name = format!("train_test_split n={n} test_size=0.3 random_state=42");
        assert_eq!(train, values::<usize>(&format!("{name} train")), "n = {n}");
        assert_eq!(test, values::<usize>(&format!("{name} test")), "n = {n}");
    }
}

#[test]
fn bad_split_sizes_are_errors() {
    assert!(train_test_split_indices(10, 0.0, 42).is_err());
    assert!(train_test_split_indices(10, 1.0, 42).is_err());
    assert!(train_test_split_indices(10, f64::NAN, 42).is_err());
    assert!(train_test_split_indices(1, 0.5, 42).is_err());
}

#[test]
fn scale_is_sklearns_on_boston_and_on_a_constant_column() {
    let ds = nn_data::boston::<f64>(common::datasets().join("boston_house_prices.csv")).unwrap();
    let z = scale(&ds.x).unwrap();
    assert_eq!(bits(z.row(0)), bits(&values::<f64>("scale boston row 0")));
    assert_eq!(bits(z.row(505)), bits(&values::<f64>("scale boston row 505")));
    assert_eq!(fnv(z.as_slice()), values::<u64>("scale boston fnv")[0]);

    let small = Matrix::from_vec(4, 3, vec![1.0, 2.0, 5.0, 3.0, 2.0, -1.0, 0.1, 2.0, 7.25, 4.0, 2.0, 0.0]).unwrap();
    assert_eq!(bits(scale(&small).unwrap().as_slice()), bits(&values::<f64>("scale small 4x3")));
    assert!(scale(&Matrix::<f64>::zeros(0, 3)).is_err());
}

#[test]
fn the_toy_regression_is_the_tutorials_bit_for_bit() {
    let (ds, _) = toy_regression_numpy(2000, 1);
    assert_eq!(bits(&ds.x.as_slice()[..8]), bits(&values::<f64>("toy_regression x head")));
    assert_eq!(bits(&ds.y.as_slice()[..8]), bits(&values::<f64>("toy_regression y head")));
    assert_eq!(fnv(ds.x.as_slice()), values::<u64>("toy_regression x fnv")[0]);
    // numpy's exp (SIMD) and the C library's differ in the last bit for a few arguments;
    // with the C library's exp, which `f64::exp` is, numpy's formula gives our y bit for bit.
    assert_eq!(fnv(ds.y.as_slice()), values::<u64>("toy_regression y fnv with the C library's exp")[0]);
}
