//! XOR with nn-core alone: a 2-4-1 network (tanh, then a sigmoid output
//! fused with binary cross-entropy), full-batch gradient descent.
//!
//! Run with `cargo run -p nn-core --example xor`.

use nn_core::{Activation, Gradients, Init, Loss, Matrix, NetworkBuilder, Optimizer, Reduction, Sgd, Workspace};
use rand::SeedableRng;

fn main() -> Result<(), nn_core::ShapeError> {
    let x = Matrix::from_vec(4, 2, vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])?;
    let t = Matrix::from_vec(4, 1, vec![0.0f32, 1.0, 1.0, 0.0])?;

    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut net = NetworkBuilder::new(2)
        .dense(4, Activation::Tanh)
        .dense(1, Activation::Sigmoid)
        .weights(Init::Glorot)
        .biases(Init::Zeros)
        .build::<f32, _>(&mut rng)
        .unwrap();

    let loss = Loss::SigmoidBce(Reduction::Mean);
    let mut optimizer = Sgd::new(0.5);
    let mut ws = Workspace::new(&net, 4);
    let mut grads = Gradients::zeros_like(&net);
    for epoch in 0..=3000 {
        let e = net.loss_and_gradients(x.view(), t.view(), &loss, 4, &mut ws, &mut grads)?;
        optimizer.step(&mut net, &grads)?;
        if epoch % 1000 == 0 {
            println!("epoch {epoch:>4}: loss {e:.5}");
        }
    }

    let y = net.predict(x.view())?;
    for i in 0..4 {
        println!("{} XOR {} -> {:.3}", x.get(i, 0), x.get(i, 1), y.get(i, 0));
    }
    Ok(())
}
