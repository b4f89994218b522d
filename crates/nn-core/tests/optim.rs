//! Each optimizer's update against a step computed by hand on a one-weight,
//! one-bias network.

use nn_core::{Activation, Adam, Dense, Gradients, Matrix, Momentum, Network, Optimizer, Sgd};

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
    (net.layers()[0].weights.get(0, 0), net.layers()[0].bias.get(0, 0))
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
