//! The sharded gradient of a batch equals the whole-batch gradient: to f32
//! rounding in general, exactly when the arithmetic is exact or the sums
//! are taken in the same order.

use nn_core::{
    Activation, Dense, Gradients, Init, Loss, MatRef, Matrix, Network, NetworkBuilder, Reduction, Workspace,
};
use nn_train::{DataParallel, Execution, ShardPlan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix<f32> {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

fn whole_batch(net: &Network<f32>, x: &Matrix<f32>, t: &Matrix<f32>, loss: &Loss) -> (f32, Gradients<f32>) {
    let (mut ws, mut g) = (Workspace::new(net, x.rows()), Gradients::zeros_like(net));
    let e = net.loss_and_gradients(x.view(), t.view(), loss, x.rows(), &mut ws, &mut g).unwrap();
    (e, g)
}

fn flat(g: &Gradients<f32>) -> Vec<f32> {
    g.slices().flatten().copied().collect()
}

fn sharded(
    net: &Network<f32>,
    x: MatRef<'_, f32>,
    t: MatRef<'_, f32>,
    loss: &Loss,
    shard: usize,
    execution: Execution,
) -> (f32, Vec<f32>) {
    let mut dp = DataParallel::new(net, x.rows(), shard, execution).unwrap();
    let e = dp.compute(net, x, t, loss).unwrap();
    (e, flat(dp.gradients()))
}

/// As [`sharded`], through the gather path: the shards copy their rows of
/// `x` (listed by `rows`) into their own buffers, and on several threads the
/// step forms ∂E/∂W⁰ from them and δ⁰ (`first_weights_into`).
fn gathered(
    net: &Network<f32>,
    x: &Matrix<f32>,
    t: &Matrix<f32>,
    rows: &[usize],
    loss: &Loss,
    shard: usize,
    execution: Execution,
) -> (f32, Vec<f32>) {
    let mut dp = DataParallel::new(net, rows.len(), shard, execution).unwrap();
    let e = dp.gather_and_compute(net, x, t, rows, loss).unwrap();
    (e, flat(dp.gradients()))
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

#[test]
fn sharded_gradients_equal_the_whole_batch_to_f32_rounding() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let net: Network<f32> = NetworkBuilder::new(9)
        .dense(12, Activation::Tanh)
        .dense(7, Activation::Relu)
        .dense(4, Activation::Softmax)
        .weights(Init::Glorot)
        .biases(Init::Normal { std: 0.1 })
        .build(&mut rng)
        .unwrap();
    let (x, labels) = (random(23, 9, &mut rng), (0..23).map(|_| rng.random_range(0..4)).collect::<Vec<usize>>());
    let t = Matrix::from_fn(23, 4, |i, j| if labels[i] == j { 1.0 } else { 0.0 });
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    let (e, g) = whole_batch(&net, &x, &t, &loss);
    let g = flat(&g);
    let scale = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3);
    for shard in [1, 2, 3, 5, 8, 22, 23] {
        for par in [Execution::Serial, Execution::Parallel] {
            let (es, gs) = pool(2).install(|| sharded(&net, x.view(), t.view(), &loss, shard, par));
            assert!((e - es).abs() <= 1e-6 * e.abs().max(1.0), "shard {shard}: E {e} vs {es}");
            let worst = g.iter().zip(&gs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst <= 1e-6 * scale, "shard {shard}: gradients differ by {worst} (scale {scale})");
        }
    }
    // one shard of the whole batch is the whole-batch computation itself
    let (es, gs) = sharded(&net, x.view(), t.view(), &loss, 23, Execution::Parallel);
    assert_eq!((es, gs), (e, g));
}

/// Identity layers, integer weights, inputs and targets, summed MSE: every
/// product and sum is an integer below 2²⁴, so f32 arithmetic is exact and
/// the order of summation cannot matter.
#[test]
fn sharded_gradients_equal_the_whole_batch_exactly_when_arithmetic_is_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut int = |r: usize, c: usize| Matrix::from_fn(r, c, |_, _| rng.random_range(-3i32..=3) as f32);
    let l1 = Dense::new(int(4, 3), int(1, 3), Activation::Identity).unwrap();
    let l2 = Dense::new(int(3, 2), int(1, 2), Activation::Identity).unwrap();
    let net = Network::new(vec![l1, l2]).unwrap();
    let (x, t) = (int(10, 4), int(10, 2));
    let loss = Loss::Mse(Reduction::Sum);
    let (e, g) = whole_batch(&net, &x, &t, &loss);
    let g = flat(&g);
    assert!(g.iter().any(|&v| v.abs() > 100.0), "a non-trivial gradient");
    for shard in 1..=10 {
        let (es, gs) = pool(4).install(|| sharded(&net, x.view(), t.view(), &loss, shard, Execution::Parallel));
        assert_eq!((es, &gs), (e, &g), "shard size {shard}");
    }
}

/// The parallel reduction adds in the same order as a serial pairwise tree
/// over shard index, so the two agree bit for bit on any data.
#[test]
fn parallel_reduction_equals_a_serial_pairwise_tree_bit_for_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let net: Network<f32> =
        NetworkBuilder::new(30).dense(40, Activation::Sigmoid).dense(3, Activation::Identity).build(&mut rng).unwrap();
    // 300 × 64 weights: large enough for the reduction to split the adds into parallel element ranges
    let wide: Network<f32> =
        NetworkBuilder::new(300).dense(64, Activation::Relu).dense(3, Activation::Identity).build(&mut rng).unwrap();
    // shards of 4 rows: 8 shards (a full tree); of 5 rows: 6 shards (an uneven one)
    for (net, shard) in [(&net, 4), (&wide, 4), (&net, 5), (&wide, 5)] {
        let (x, t) = (random(29, net.inputs(), &mut rng), random(29, 3, &mut rng));
        let loss = Loss::Mse(Reduction::Mean);
        let plan = ShardPlan::new(shard).unwrap();
        let k = plan.count(29);
        let mut parts: Vec<(f32, Gradients<f32>)> = (0..k)
            .map(|i| {
                let r = plan.range(29, i);
                let (mut ws, mut g) = (Workspace::new(net, shard), Gradients::zeros_like(net));
                let e = net
                    .loss_and_gradients(
                        x.rows_range(r.start, r.end),
                        t.rows_range(r.start, r.end),
                        &loss,
                        29,
                        &mut ws,
                        &mut g,
                    )
                    .unwrap();
                (e, g)
            })
            .collect();
        let mut step = 1;
        while step < k {
            for i in (0..k).step_by(2 * step) {
                if i + step < k {
                    let other = parts[i + step].1.clone();
                    parts[i].1.add_assign(&other);
                }
            }
            step *= 2;
        }
        let e_tree = parts.iter().fold(0.0f32, |s, p| s + p.0);
        let expected = (e_tree, flat(&parts[0].1));
        let rows: Vec<usize> = (0..29).collect();
        for threads in [1, 2, 3] {
            for execution in [Execution::Serial, Execution::Parallel] {
                let got = pool(threads).install(|| sharded(net, x.view(), t.view(), &loss, shard, execution));
                assert_eq!(got, expected, "shards of {shard}, {threads} threads, {execution:?}");
                let got = pool(threads).install(|| gathered(net, &x, &t, &rows, &loss, shard, execution));
                assert_eq!(got, expected, "gathered shards of {shard}, {threads} threads, {execution:?}");
            }
        }
    }
}

#[test]
fn bad_batches_are_errors_not_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let net: Network<f32> = NetworkBuilder::new(3).dense(2, Activation::Identity).build(&mut rng).unwrap();
    let loss = Loss::Mse(Reduction::Mean);
    let mut dp = DataParallel::new(&net, 8, 4, Execution::Serial).unwrap();
    let (x, t) = (random(9, 3, &mut rng), random(9, 2, &mut rng));
    let err = dp.compute(&net, x.view(), t.view(), &loss).unwrap_err();
    assert!(err.to_string().contains("1 to 8 rows"), "{err}");
    let err = dp.gather_and_compute(&net, &x, &t, &[0, 9], &loss).unwrap_err();
    assert!(err.to_string().contains("index 9 at position 1"), "{err}");
    let wide = random(4, 5, &mut rng);
    let err = dp.compute(&net, wide.view(), t.rows_range(0, 4), &loss).unwrap_err();
    assert!(err.to_string().contains("3 features per sample"), "{err}");
    assert!(DataParallel::new(&net, 8, 0, Execution::Serial).is_err());
}
