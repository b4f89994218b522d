//! # nn-core
//!
//! Neural networks from first principles, in code that reads like the math:
//! a hand-written blocked matrix multiply, dense layers, activations, losses,
//! optimizers and initialisers. No rayon, no file I/O: usable alone.
//!
//! Samples are rows. For layer l with weights Wˡ (mˡ⁻¹ × mˡ) and bias bˡ (1 × mˡ):
//!
//! - forward:  Uˡ = Hˡ⁻¹ Wˡ + 1 bˡ,  Hˡ = φ(Uˡ)
//! - backward: ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ,  ∂E/∂bˡ = 1ᵀ δˡ,  δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ φ′(Uˡ⁻¹)

pub mod activation;
pub mod dense;
pub mod error;
pub mod float;
pub mod gemm;
pub mod gradcheck;
pub mod init;
pub mod loss;
pub mod matrix;
pub mod network;
pub mod optim;

pub use activation::Activation;
pub use dense::Dense;
pub use error::ShapeError;
pub use float::Float;
pub use gemm::{gemm, Op};
pub use gradcheck::{check_gradients, GradCheckReport};
pub use init::Init;
pub use loss::{Loss, Reduction};
pub use matrix::{MatMut, MatRef, Matrix};
pub use network::{DenseGradients, Gradients, Network, NetworkBuilder, Workspace};
pub use optim::{Adam, Momentum, Optimizer, Sgd};
