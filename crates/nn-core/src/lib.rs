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
//!
//! Learning XOR with nothing but this crate:
//!
//! ```
//! use nn_core::{Activation, Gradients, Init, Loss, Matrix, NetworkBuilder, Optimizer, Reduction, Sgd, Workspace};
//! use rand::SeedableRng;
//!
//! let x = Matrix::from_vec(4, 2, vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
//! let t = Matrix::from_vec(4, 1, vec![0.0f32, 1.0, 1.0, 0.0]).unwrap();
//! let mut rng = rand::rngs::StdRng::seed_from_u64(42);
//! let mut net = NetworkBuilder::new(2)
//!     .dense(4, Activation::Tanh)
//!     .dense(1, Activation::Sigmoid)
//!     .weights(Init::Glorot)
//!     .build::<f32, _>(&mut rng)
//!     .unwrap();
//! let loss = Loss::SigmoidBce(Reduction::Mean);
//! let mut sgd = Sgd::new(0.5);
//! let mut ws = Workspace::new(&net, 4);
//! let mut grads = Gradients::zeros_like(&net);
//! for _ in 0..2000 {
//!     net.loss_and_gradients(x.view(), t.view(), &loss, 4, &mut ws, &mut grads).unwrap();
//!     sgd.step(&mut net, &grads).unwrap();
//! }
//! let y = net.predict(x.view()).unwrap();
//! let rounded: Vec<f32> = y.as_slice().iter().map(|p| p.round()).collect();
//! assert_eq!(rounded, vec![0.0, 1.0, 1.0, 0.0]);
//! ```
//!
//! Unsafe code lives only in the gemm packing and kernels (and the optional
//! `matrixmultiply` back end), and in the calls of [`vector`]'s loops
//! compiled for AVX-512 or AVX2, made once the CPU is known to have them. Every unsafe operation sits in an `unsafe`
//! block with a `// SAFETY:` comment, also inside `unsafe fn`s, and the
//! safe API (`Matrix`, `MatRef`, `MatMut`, `gemm`) checks every size and
//! stride with overflow-checked arithmetic before any of it runs.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

/// The README's Rust examples, compiled and run as doc-tests, so that a
/// copy-paste of them works.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeExamples;

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
pub mod numpy_rng;
pub mod optim;
pub mod rows;
pub mod shuffle;
pub mod vector;

pub use activation::Activation;
pub use dense::Dense;
pub use error::ShapeError;
pub use float::{argmax, Float};
pub use gemm::{gemm, gemm_with, Backend, GemmError, Op};
pub use gradcheck::{check_gradients, GradCheckReport};
pub use init::Init;
pub use loss::{Loss, Objective, Reduction};
pub use matrix::{MatMut, MatRef, Matrix};
pub use network::{DenseGradients, Gradients, Network, NetworkBuilder, Workspace};
pub use numpy_rng::RandomState;
pub use optim::{Adam, ElementwiseStep, Momentum, Optimizer, OptimizerState, Sgd, TensorStep};
pub use rows::RowSource;
