//! `RandomState` against numpy itself: every value of
//! `tests/fixtures/numpy_random_state.txt` (written by
//! `xtask/fixtures/numpy_reference.py` from numpy's legacy `RandomState`)
//! must come out bit for bit.

use nn_core::RandomState;

const FIXTURE: &str = include_str!("fixtures/numpy_random_state.txt");

/// The values of the fixture line `name: v1 v2 …`.
fn values(name: &str) -> Vec<&'static str> {
    let prefix = format!("{name}: ");
    let line = FIXTURE.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no fixture line {name:?}"));
    line[prefix.len()..].split(' ').collect()
}

fn floats(name: &str) -> Vec<f64> {
    values(name).iter().map(|v| v.parse().unwrap()).collect()
}

fn ints(name: &str) -> Vec<u64> {
    values(name).iter().map(|v| v.parse().unwrap()).collect()
}

/// Same bits, element by element (so that −0.0 ≠ 0.0 and the first mismatch is named).
fn assert_bits(ours: &[f64], numpy: &[f64], what: &str) {
    assert_eq!(ours.len(), numpy.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(numpy).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{what}[{i}]: ours {a:e}, numpy {b:e}");
    }
}

const SEEDS: [u32; 5] = [0, 1, 42, 5489, u32::MAX];

#[test]
fn raw_words_match_numpy_for_every_seed() {
    for seed in SEEDS {
        let numpy = ints(&format!("raw_u32 seed={seed}"));
        let mut rs = RandomState::new(seed);
        let ours: Vec<u64> = numpy.iter().map(|_| u64::from(rs.next_u32())).collect();
        assert_eq!(ours, numpy, "seed {seed}");
    }
}

#[test]
fn random_sample_and_randn_match_numpy_for_every_seed() {
    for seed in SEEDS {
        let numpy = floats(&format!("random_sample seed={seed}"));
        let mut rs = RandomState::new(seed);
        let ours: Vec<f64> = numpy.iter().map(|_| rs.random_sample()).collect();
        assert_bits(&ours, &numpy, &format!("random_sample seed={seed}"));

        let numpy = floats(&format!("randn seed={seed}"));
        let ours = RandomState::new(seed).randn_vec(numpy.len());
        assert_bits(&ours, &numpy, &format!("randn seed={seed}"));
    }
}

#[test]
fn the_cached_deviate_survives_a_permutation() {
    let mut rs = RandomState::new(1);
    let a = rs.randn_vec(3);
    let p: Vec<u64> = rs.permutation(10).into_iter().map(|i| i as u64).collect();
    let b = rs.randn_vec(8);
    assert_bits(&a, &floats("mixed seed=1 randn(3)"), "randn(3)");
    assert_eq!(p, ints("mixed seed=1 permutation(10)"));
    assert_bits(&b, &floats("mixed seed=1 randn(4,2)"), "randn(4, 2)");
}

#[test]
fn normal_and_scaled_draws_match_numpy() {
    let mut rs = RandomState::new(7);
    let ours: Vec<f64> = (0..9).map(|_| rs.normal(0.35, 0.5)).collect();
    assert_bits(&ours, &floats("normal seed=7 loc=0.35 scale=0.5"), "normal");
    let mut rs = RandomState::new(1);
    let ours: Vec<f64> = rs.randn_vec(130).into_iter().map(|z| z / 13f64.sqrt()).collect();
    assert_bits(&ours, &floats("randn(13,10)/sqrt(13) seed=1"), "randn(13, 10)/√13");
}

#[test]
fn permutations_and_shuffles_match_numpy() {
    for (seed, n) in [(1u32, 10usize), (1, 2000), (3, 1), (3, 2), (42, 506)] {
        let ours: Vec<u64> = RandomState::new(seed).permutation(n).into_iter().map(|i| i as u64).collect();
        assert_eq!(ours, ints(&format!("permutation seed={seed} n={n}")), "seed {seed}, n {n}");
    }
    // np.random.permutation(inds) of the previous permutation: the order compounds.
    let mut rs = RandomState::new(1);
    let mut inds: Vec<u64> = (0..12).collect();
    for epoch in 1..=3 {
        let p = rs.permutation(inds.len());
        inds = p.iter().map(|&i| inds[i]).collect();
        assert_eq!(inds, ints(&format!("compounding seed=1 epoch={epoch}")), "epoch {epoch}");
    }
    let mut rs = RandomState::new(5);
    let mut idx: Vec<u64> = (0..20).collect();
    rs.shuffle(&mut idx);
    rs.shuffle(&mut idx);
    assert_eq!(idx, ints("shuffle twice seed=5 n=20"));
}
