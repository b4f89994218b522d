//! An optimizer's saved state resumes a run with the same bits, and a state
//! that does not fit is refused without changing anything.

use nn_core::{Activation, Adam, Gradients, Momentum, Network, NetworkBuilder, Optimizer, OptimizerState, Sgd};
use rand::SeedableRng;

fn net() -> Network<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    NetworkBuilder::new(3).dense(4, Activation::Tanh).dense(2, Activation::Identity).build(&mut rng).unwrap()
}

/// Gradients that change from step to step.
fn grads(step: usize) -> Gradients<f32> {
    let mut g = Gradients::zeros_like(&net());
    for (l, layer) in g.layers.iter_mut().enumerate() {
        for (i, w) in layer.weights.as_mut_slice().iter_mut().enumerate() {
            *w = ((i * 7 + l * 3 + step * 11) % 13) as f32 / 13.0 - 0.4;
        }
        layer.bias.fill(0.1 * step as f32);
    }
    g
}

fn bits(net: &Network<f32>) -> Vec<u32> {
    net.layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.bias().as_slice()))
        .map(|v| v.to_bits())
        .collect()
}

/// Runs 6 steps straight, and 3 steps, a save, a fresh optimizer restored, 3 more.
fn resumes_exactly<O: Optimizer<f32>>(make: impl Fn() -> O) {
    let (mut a, mut opt_a) = (net(), make());
    for s in 0..6 {
        opt_a.step(&mut a, &grads(s)).unwrap();
    }
    let (mut b, mut opt_b) = (net(), make());
    for s in 0..3 {
        opt_b.step(&mut b, &grads(s)).unwrap();
    }
    let saved = opt_b.state();
    let mut resumed = make();
    resumed.set_state(&b, saved).unwrap();
    for s in 3..6 {
        resumed.step(&mut b, &grads(s)).unwrap();
    }
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn adam_resumes_with_the_same_bits() {
    resumes_exactly(|| Adam::new(0.01));
    assert_eq!(
        {
            let (mut n, mut adam) = (net(), Adam::new(0.01));
            adam.step(&mut n, &grads(0)).unwrap();
            adam.state().steps
        },
        1
    );
}

#[test]
fn momentum_resumes_with_the_same_bits() {
    resumes_exactly(|| Momentum::new(0.01, 0.9).nesterov());
}

#[test]
fn a_fresh_adam_without_its_moments_would_differ() {
    // the check above can fail: without the state the weights differ
    let (mut a, mut opt_a) = (net(), Adam::new(0.01));
    let (mut b, mut opt_b) = (net(), Adam::new(0.01));
    for s in 0..4 {
        opt_a.step(&mut a, &grads(s)).unwrap();
        if s == 2 {
            opt_b = Adam::new(0.01);
        }
        opt_b.step(&mut b, &grads(s)).unwrap();
    }
    assert_ne!(bits(&a), bits(&b));
}

#[test]
fn a_state_that_does_not_fit_is_refused() {
    let n = net();
    let mut adam = Adam::<f32>::new(0.01);
    let mut m = n.clone();
    adam.step(&mut m, &grads(0)).unwrap();
    let good = adam.state();
    // another network's shapes
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let other: Network<f32> = NetworkBuilder::new(3).dense(5, Activation::Tanh).build(&mut rng).unwrap();
    let err = Adam::new(0.01).set_state(&other, good.clone()).unwrap_err();
    assert!(err.to_string().contains("optimizer state m"), "{err}");
    // another optimizer's tensors
    let err = Momentum::new(0.1, 0.9).set_state(&n, good.clone()).unwrap_err();
    assert!(err.to_string().contains("[velocity]"), "{err}");
    // SGD has no state to take
    assert!(Optimizer::<f32>::set_state(&mut Sgd::new(0.1), &n, good).is_err());
    assert!(Optimizer::<f32>::set_state(&mut Sgd::new(0.1), &n, OptimizerState::default()).is_ok());
    // a refused state changes nothing
    let before = adam.state();
    assert!(adam.set_state(&other, before.clone()).is_err());
    assert_eq!(adam.state(), before);
}
