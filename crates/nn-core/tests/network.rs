//! Network-level behaviour: shape errors, workspace reuse, the tutorial's
//! backpropagation equations on a hand-sized example.

use nn_core::{Activation, Dense, Gradients, Loss, Matrix, Network, Reduction, Workspace};

fn tiny() -> Network<f64> {
    // 2 → 2 (relu) → 1 (identity)
    let l1 = Dense::new(
        Matrix::from_vec(2, 2, vec![1.0, -1.0, 0.5, 2.0]).unwrap(),
        Matrix::from_vec(1, 2, vec![0.0, 0.1]).unwrap(),
        Activation::Relu,
    )
    .unwrap();
    let l2 =
        Dense::new(Matrix::from_vec(2, 1, vec![2.0, -3.0]).unwrap(), Matrix::filled(1, 1, 0.5), Activation::Identity)
            .unwrap();
    Network::new(vec![l1, l2]).unwrap()
}

#[test]
fn backprop_by_hand() {
    let net = tiny();
    let x = Matrix::from_vec(1, 2, vec![1.0, 2.0]).unwrap();
    let t = Matrix::filled(1, 1, 0.0);
    // U¹ = [1·1 + 2·0.5 + 0, 1·(−1) + 2·2 + 0.1] = [2, 3.1], H¹ = relu = [2, 3.1]
    // U² = 2·2 − 3·3.1 + 0.5 = −4.8; E = (−4.8)² = 23.04 (sum)
    // δ² = 2(−4.8) = −9.6; ∂E/∂W² = H¹ᵀ δ² = [−19.2, −29.76]; ∂E/∂b² = −9.6
    // δ¹ = (δ² W²ᵀ) ⊙ relu′(U¹) = [−19.2, 28.8]; ∂E/∂W¹ = xᵀ δ¹
    let mut ws = Workspace::new(&net, 1);
    let mut g = Gradients::zeros_like(&net);
    let e = net.loss_and_gradients(x.view(), t.view(), &Loss::Mse(Reduction::Sum), 1, &mut ws, &mut g).unwrap();
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-12);
    assert!((e - 23.04).abs() < 1e-12);
    assert!(close(g.layers[1].weights.as_slice(), &[-19.2, -29.76]));
    assert!(close(g.layers[1].bias.as_slice(), &[-9.6]));
    assert!(close(g.layers[0].bias.as_slice(), &[-19.2, 28.8]));
    assert!(close(g.layers[0].weights.as_slice(), &[-19.2, 28.8, -38.4, 57.6]));
}

#[test]
fn wrong_input_width_is_an_error_naming_both_widths() {
    let net = tiny();
    let err = net.predict(Matrix::zeros(3, 5).view()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains('2') && msg.contains('5'), "{msg}");
    let mut ws = Workspace::new(&net, 3);
    let mut g = Gradients::zeros_like(&net);
    let bad_t = Matrix::zeros(3, 4);
    assert!(net
        .loss_and_gradients(Matrix::zeros(3, 2).view(), bad_t.view(), &Loss::Mse(Reduction::Mean), 3, &mut ws, &mut g)
        .is_err());
}

#[test]
fn inconsistent_layers_are_refused() {
    let l1 = Dense::new(Matrix::<f32>::zeros(2, 3), Matrix::zeros(1, 3), Activation::Relu).unwrap();
    let l2 = Dense::new(Matrix::<f32>::zeros(4, 1), Matrix::zeros(1, 1), Activation::Relu).unwrap();
    let err = Network::new(vec![l1, l2]).unwrap_err();
    assert!(err.to_string().contains("3 inputs"), "{err}");
}

#[test]
fn smaller_batches_reuse_the_workspace_and_agree_with_predict() {
    let net = tiny();
    let x = Matrix::from_fn(8, 2, |i, j| (i as f64) * 0.25 - j as f64);
    let mut ws = Workspace::new(&net, 8);
    let full = net.forward(x.view(), &mut ws).unwrap().to_matrix();
    let ptr = ws.activation(0).as_slice().as_ptr();
    let part = net.forward(x.rows_range(2, 5), &mut ws).unwrap().to_matrix();
    assert_eq!(ws.activation(0).as_slice().as_ptr(), ptr, "buffers were reallocated");
    assert_eq!(part.as_slice(), &full.as_slice()[2..5]);
    assert_eq!(net.predict(x.view()).unwrap(), full);
}

/// An objective that does not compute δᴸ for a range of rows (the default).
struct WholeRowsOnly;

impl nn_core::Objective<f64> for WholeRowsOnly {
    fn output_delta(
        &self,
        net: &Network<f64>,
        targets: nn_core::MatRef<'_, f64>,
        ws: &mut Workspace<f64>,
        divisor: usize,
    ) -> Result<f64, nn_core::ShapeError> {
        Loss::Mse(Reduction::Mean).output_delta(net, targets, ws, divisor)
    }
    fn reduction(&self) -> Reduction {
        Reduction::Mean
    }
}

#[test]
fn a_pair_of_shards_in_one_pass_has_the_bits_of_two_and_refuses_what_it_cannot_do() {
    let net = tiny();
    let x = Matrix::from_fn(9, 2, |i, j| ((i * 7 + j * 3) % 11) as f64 / 4.0 - 1.0);
    let t = Matrix::from_fn(9, 1, |i, _| (i % 3) as f64 - 1.0);
    let loss = Loss::Mse(Reduction::Mean);
    let mut ws = Workspace::new(&net, 9);
    for split in [0, 1, 5, 9] {
        let mut two = Gradients::zeros_like(&net);
        let e0 = net.loss_and_gradients(x.rows_range(0, split), t.rows_range(0, split), &loss, 9, &mut ws, &mut two);
        let e1 =
            net.add_loss_and_gradients(x.rows_range(split, 9), t.rows_range(split, 9), &loss, 9, &mut ws, &mut two);
        let mut one = Gradients::zeros_like(&net);
        let pair = net.loss_and_gradients_of_pair(x.view(), t.view(), split, &loss, 9, &mut ws, &mut one).unwrap();
        assert_eq!(pair, (e0.unwrap(), e1.unwrap()), "split {split}");
        assert_eq!(one, two, "split {split}");
    }
    let mut g = Gradients::zeros_like(&net);
    let err = net.loss_and_gradients_of_pair(x.view(), t.view(), 10, &loss, 9, &mut ws, &mut g).unwrap_err();
    assert!(err.to_string().contains("split 10"), "{err}");
    let err = net.loss_and_gradients_of_pair(x.view(), t.view(), 4, &WholeRowsOnly, 9, &mut ws, &mut g).unwrap_err();
    assert!(err.to_string().contains("splits rows"), "{err}");
}
