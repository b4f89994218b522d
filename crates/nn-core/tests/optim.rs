//! Each optimizer's update against a step computed by hand on a one-weight,
//! one-bias network; and the element-wise form of each step, applied in
//! pieces, against the whole step, bit for bit.

use nn_core::{
    Activation, Adam, Dense, ElementwiseStep, Gradients, Matrix, Momentum, Network, NetworkBuilder, Optimizer, Sgd,
    TensorStep,
};
use rand::SeedableRng;

fn net(w: f64, b: f64) -> Network<f64> {
    Network::new(vec![Dense::new(Matrix::filled(1, 1, w), Matrix::filled(1, 1, b), Activation::Identity).unwrap()])
        .unwrap()
}

fn grads(gw: f64, gb: f64) -> Gradients<f64> {
    let mut g = Gradients::zeros_like(&net(0.0, 0.0));
    g.layers[0].weights.fill(gw);
    g.layers[0].bias.fill(gb);
    g
}

fn params(net: &Network<f64>) -> (f64, f64) {
    (net.layers()[0].weights().get(0, 0), net.layers()[0].bias().get(0, 0))
}

fn close(a: (f64, f64), b: (f64, f64)) {
    assert!((a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12, "{a:?} != {b:?}");
}

#[test]
fn sgd_plain_and_with_nielsen_l2() {
    let mut n = net(2.0, 1.0);
    let g = grads(0.5, -1.0);
    Sgd::new(0.1).step(&mut n, &g).unwrap();
    close(params(&n), (2.0 - 0.05, 1.0 + 0.1));
    // λ = 0.1, n = 50 000, η = 3.0: W ← (1 − 3·0.1/50 000)·W − 3·∇; bias undecayed.
    let mut n = net(2.0, 1.0);
    Sgd::new(3.0).with_l2(0.1, 50_000).step(&mut n, &g).unwrap();
    close(params(&n), ((1.0 - 3.0 * 0.1 / 50_000.0) * 2.0 - 1.5, 1.0 + 3.0));
}

#[test]
fn momentum_two_steps() {
    // v₁ = g₁ = 1, θ₁ = 1 − 0.1·1 = 0.9; v₂ = 0.9·1 + 2 = 2.9, θ₂ = 0.9 − 0.29 = 0.61.
    let mut n = net(1.0, 1.0);
    let mut opt = Momentum::new(0.1, 0.9);
    opt.step(&mut n, &grads(1.0, 1.0)).unwrap();
    close(params(&n), (0.9, 0.9));
    opt.step(&mut n, &grads(2.0, 2.0)).unwrap();
    close(params(&n), (0.61, 0.61));
}

#[test]
fn nesterov_two_steps() {
    // step 1: v = 1, θ ← 1 − 0.1·(1 + 0.9·1) = 0.81
    // step 2: v = 0.9 + 2 = 2.9, θ ← 0.81 − 0.1·(2 + 0.9·2.9) = 0.81 − 0.461 = 0.349
    let mut n = net(1.0, 1.0);
    let mut opt = Momentum::new(0.1, 0.9).nesterov();
    opt.step(&mut n, &grads(1.0, 1.0)).unwrap();
    close(params(&n), (0.81, 0.81));
    opt.step(&mut n, &grads(2.0, 2.0)).unwrap();
    close(params(&n), (0.349, 0.349));
}

#[test]
fn momentum_weight_decay_touches_weights_only() {
    // g_w = 1 + 0.5·2 = 2 → w = 2 − 0.1·2 = 1.8; b = 1 − 0.1·1 = 0.9
    let mut n = net(2.0, 1.0);
    Momentum::new(0.1, 0.9).weight_decay(0.5).step(&mut n, &grads(1.0, 1.0)).unwrap();
    close(params(&n), (1.8, 0.9));
}

#[test]
fn adam_two_steps() {
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let mut n = net(1.0, -1.0);
    let mut opt = Adam::new(lr);
    opt.step(&mut n, &grads(0.5, -2.0)).unwrap();
    // t = 1: m̂ = g, v̂ = g², step = lr·g/(|g| + ε)
    let s = |g: f64| lr * g / (g.abs() + eps);
    close(params(&n), (1.0 - s(0.5), -1.0 - s(-2.0)));
    let before = params(&n);
    opt.step(&mut n, &grads(1.0, 1.0)).unwrap();
    let by_hand = |g1: f64, g2: f64| {
        let m = b1 * (1.0 - b1) * g1 + (1.0 - b1) * g2;
        let v = b2 * (1.0 - b2) * g1 * g1 + (1.0 - b2) * g2 * g2;
        let (mh, vh) = (m / (1.0 - b1 * b1), v / (1.0 - b2 * b2));
        lr * mh / (vh.sqrt() + eps)
    };
    close(params(&n), (before.0 - by_hand(0.5, 1.0), before.1 - by_hand(-2.0, 1.0)));
    assert_eq!(opt.steps(), 2);
}

#[test]
fn adamw_decays_weights_before_the_step() {
    // W ← W − lr·wd·W = 2 − 0.01·0.1·2 = 1.998, then the Adam step lr·g/(|g|+ε)
    let mut n = net(2.0, 1.0);
    Adam::adamw(0.01, 0.1).step(&mut n, &grads(0.5, 0.5)).unwrap();
    let s = 0.01 * 0.5 / (0.5 + 1e-8);
    close(params(&n), (1.998 - s, 1.0 - s));
}

#[test]
fn adam_follows_the_textbook_form_over_many_steps() {
    // m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), θ ← θ − η·m̂/(√v̂ + ε), written out
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let (mut n, mut opt) = (net(2.0, 1.0), Adam::new(lr));
    let (mut theta, mut m, mut v) = ([2.0f64, 1.0], [0.0f64; 2], [0.0f64; 2]);
    for t in 1..=200 {
        let g = [(t as f64 * 0.37).sin(), (t as f64 * 0.11).cos() * 1e-3];
        opt.step(&mut n, &grads(g[0], g[1])).unwrap();
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let (m_hat, v_hat) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
            theta[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        close(params(&n), (theta[0], theta[1]));
    }
}

#[test]
fn adam_with_l2_adds_decay_to_the_gradient() {
    // g = 0.5 + 0.1·2 = 0.7; first step = lr·g/(|g|+ε) ≈ lr, whatever g's size
    let mut n = net(2.0, 1.0);
    Adam::new(0.01).weight_decay(0.1).step(&mut n, &grads(0.5, 0.5)).unwrap();
    close(params(&n), (2.0 - 0.01 * 0.7 / (0.7 + 1e-8), 1.0 - 0.01 * 0.5 / (0.5 + 1e-8)));
}

#[test]
fn a_step_with_gradients_of_another_network_is_an_error() {
    let mut n = net(1.0, 1.0);
    let other = Network::new(vec![Dense::new(Matrix::zeros(2, 1), Matrix::zeros(1, 1), Activation::Identity).unwrap()])
        .unwrap();
    let g = Gradients::zeros_like(&other);
    assert!(Optimizer::<f64>::step(&mut Sgd::new(0.1), &mut n, &g).is_err());
    assert!(Adam::new(0.1).step(&mut n, &g).is_err());
    assert_eq!(params(&n), (1.0, 1.0));
}

/// A 5-4-3 network, and gradients for it that change from step to step.
fn net_and_grads(step: usize) -> (Network<f32>, Gradients<f32>) {
    let net = NetworkBuilder::new(5)
        .dense(4, Activation::Tanh)
        .dense(3, Activation::Identity)
        .build::<f32, _>(&mut rand_chacha::ChaCha8Rng::seed_from_u64(11))
        .unwrap();
    let mut g = Gradients::zeros_like(&net);
    for (l, layer) in g.layers.iter_mut().enumerate() {
        for (i, x) in layer.weights.as_mut_slice().iter_mut().chain(layer.bias.as_mut_slice()).enumerate() {
            *x = ((i * 7 + l * 3 + step * 5) % 11) as f32 / 11.0 - 0.45;
        }
    }
    (net, g)
}

/// Applies a `TensorStep` in pieces cut at every third element, last piece
/// first, each piece in runs of two elements.
fn apply_in_pieces(t: TensorStep<'_, f32>, g: &Gradients<f32>) {
    let grad = if t.is_weight() { g.layers[t.layer()].weights.as_slice() } else { g.layers[t.layer()].bias.as_slice() };
    let mut pieces = Vec::new();
    let mut rest = t;
    while rest.len() > 3 {
        let (a, b) = rest.split_at(3);
        pieces.push(a);
        rest = b;
    }
    pieces.push(rest);
    for mut piece in pieces.into_iter().rev() {
        let start = piece.offset();
        let end = start + piece.len();
        for run in grad[start..end].chunks(2) {
            piece.apply(run).unwrap();
        }
        assert!(piece.is_empty());
    }
}

fn elementwise_matches_step(mut whole: impl Optimizer<f32>, mut pieces: impl Optimizer<f32>) {
    let (mut a, _) = net_and_grads(0);
    let mut b = a.clone();
    for step in 0..3 {
        let (_, g) = net_and_grads(step);
        whole.step(&mut a, &g).unwrap();
        let mut tensors = 0;
        let applied = pieces
            .step_elementwise(&mut b, &mut |t| {
                tensors += 1;
                apply_in_pieces(t, &g);
                Ok(())
            })
            .unwrap();
        assert_eq!(applied, ElementwiseStep::Taken);
        assert_eq!(tensors, 4, "weights and bias of two layers");
        for (la, lb) in a.layers().iter().zip(b.layers()) {
            let bits = |m: &Matrix<f32>| m.as_slice().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(la.weights()), bits(lb.weights()), "weights after step {step}");
            assert_eq!(bits(la.bias()), bits(lb.bias()), "bias after step {step}");
        }
    }
    let (start, _) = net_and_grads(0);
    assert_ne!(a.layers()[0].weights(), start.layers()[0].weights(), "the steps changed the weights");
}

#[test]
fn elementwise_steps_in_pieces_equal_whole_steps() {
    elementwise_matches_step(Sgd::new(0.3).with_l2(5.0, 100), Sgd::new(0.3).with_l2(5.0, 100));
    elementwise_matches_step(Momentum::new(0.1, 0.9).weight_decay(0.01), Momentum::new(0.1, 0.9).weight_decay(0.01));
    elementwise_matches_step(Momentum::new(0.1, 0.9).nesterov(), Momentum::new(0.1, 0.9).nesterov());
    elementwise_matches_step(Adam::new(0.01).weight_decay(0.1), Adam::new(0.01).weight_decay(0.1));
    elementwise_matches_step(Adam::adamw(0.01, 0.1), Adam::adamw(0.01, 0.1));
}

/// An optimizer of its own, without an element-wise form.
struct Halve;

impl Optimizer<f64> for Halve {
    fn step(&mut self, net: &mut Network<f64>, _: &Gradients<f64>) -> Result<(), nn_core::ShapeError> {
        net.parameters_mut().for_each(|(w, _)| w.iter_mut().for_each(|w| *w /= 2.0));
        Ok(())
    }
    fn learning_rate(&self) -> f64 {
        1.0
    }
    fn set_learning_rate(&mut self, _: f64) {}
}

#[test]
fn optimizers_without_an_elementwise_form_say_so() {
    let mut n = net(1.0, 1.0);
    let mut called = false;
    let refused = Halve.step_elementwise(&mut n, &mut |_| {
        called = true;
        Ok(())
    });
    assert_eq!(refused.unwrap(), ElementwiseStep::Unsupported);
    assert!(!called);
    assert_eq!(params(&n), (1.0, 1.0));
}

#[test]
fn elementwise_step_checks_the_state_against_the_network() {
    let mut opt = Momentum::<f32>::new(0.1, 0.9);
    let (mut n, g) = net_and_grads(0);
    opt.step(&mut n, &g).unwrap();
    // velocity shaped for the 5-4-3 network; a 1-1 network is refused
    let layer = Dense::new(Matrix::filled(1, 1, 1.0f32), Matrix::filled(1, 1, 1.0), Activation::Identity).unwrap();
    let mut other = Network::new(vec![layer]).unwrap();
    assert!(opt.step_elementwise(&mut other, &mut |_| panic!("no tensor for a refused step")).is_err());
    assert_eq!(other.layers()[0].weights().get(0, 0), 1.0);
}

#[test]
fn a_gradient_longer_than_the_piece_is_an_error_and_changes_nothing() {
    let (mut n, _) = net_and_grads(0);
    let before = n.clone();
    let err = Sgd::new(0.1)
        .step_elementwise(&mut n, &mut |t| {
            let (mut first, _) = t.split_at(2);
            first.apply(&[1.0; 3])
        })
        .unwrap_err();
    assert!(err.to_string().contains("layer 0 weights"), "{err}");
    assert!(err.to_string().contains("at most 2 gradient values"), "{err}");
    assert_eq!(n, before);
}

#[test]
fn non_finite_hyperparameters_are_refused_before_any_change() {
    let (mut n, g) = net_and_grads(0);
    let before = n.clone();
    for (name, err) in [
        ("learning rate", Sgd::new(f64::NAN).step(&mut n, &g)),
        ("l2", Sgd::new(0.1).with_l2(f64::INFINITY, 1).step(&mut n, &g)),
        ("bias divisor", Sgd::new(0.1).with_bias_mean(0).step(&mut n, &g)),
        ("momentum", Momentum::new(0.1, f64::NAN).step(&mut n, &g)),
        ("eps", Adam::new(0.1).eps(0.0).step(&mut n, &g)),
        ("beta2", Adam::new(0.1).betas(0.9, f64::NAN).step(&mut n, &g)),
    ] {
        let err = err.unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    }
    assert_eq!(n, before);
}

#[test]
fn sgd_with_a_bias_mean_divides_only_the_bias_step() {
    let mut n = net(1.0, 1.0);
    let mut g = Gradients::zeros_like(&n);
    g.layers[0].weights.fill(8.0);
    g.layers[0].bias.fill(8.0);
    Sgd::new(0.1).with_bias_mean(8).step(&mut n, &g).unwrap();
    let (w, b) = params(&n);
    assert_eq!(w, 1.0 - 0.1 * 8.0);
    assert_eq!(b, 1.0 - (0.1 / 8.0) * 8.0);
}
