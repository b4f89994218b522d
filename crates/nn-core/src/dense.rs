//! `Dense`: one fully connected layer with its activation.
//!
//! Forward: Uˡ = Hˡ⁻¹ Wˡ + 1 bˡ, Hˡ = φ(Uˡ), with Wˡ of shape mˡ⁻¹ × mˡ and
//! bˡ of shape 1 × mˡ (samples are rows). Backward, given δˡ = ∂E/∂Uˡ:
//! ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ, ∂E/∂bˡ = 1ᵀ δˡ (column sums), and the delta passed
//! down is δˡ Wˡᵀ (the next layer multiplies it by its own φ′).
//!
//! ```
//! use nn_core::{Activation, Dense, Matrix};
//! let w = Matrix::from_vec(2, 1, vec![1.0f32, -1.0]).unwrap();
//! let b = Matrix::from_vec(1, 1, vec![0.5f32]).unwrap();
//! let layer = Dense::new(w, b, Activation::Relu).unwrap();
//! assert_eq!((layer.inputs(), layer.outputs()), (2, 1));
//! assert!(Dense::new(Matrix::<f32>::zeros(2, 3), Matrix::zeros(1, 2), Activation::Relu).is_err());
//! ```

use crate::activation::Activation;
use crate::error::ShapeError;
use crate::float::Float;
use crate::gemm::{gemm, Op};
use crate::matrix::{MatMut, MatRef, Matrix};

/// A fully connected layer: weights Wˡ (inputs × outputs), bias bˡ (1 × outputs), activation φ.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense<T> {
    /// Wˡ, shape mˡ⁻¹ × mˡ.
    pub weights: Matrix<T>,
    /// bˡ, shape 1 × mˡ.
    pub bias: Matrix<T>,
    /// φ.
    pub activation: Activation,
}

impl<T: Float> Dense<T> {
    /// A layer from its parameters; errors unless `bias` is 1 × `weights.cols()`.
    pub fn new(weights: Matrix<T>, bias: Matrix<T>, activation: Activation) -> Result<Self, ShapeError> {
        if bias.rows() != 1 || bias.cols() != weights.cols() {
            return Err(ShapeError::new(
                "Dense::new",
                format!("bias of shape 1×{} for weights {}×{}", weights.cols(), weights.rows(), weights.cols()),
                format!("bias of shape {}×{}", bias.rows(), bias.cols()),
            ));
        }
        Ok(Dense { weights, bias, activation })
    }

    /// mˡ⁻¹, the input width.
    pub fn inputs(&self) -> usize {
        self.weights.rows()
    }

    /// mˡ, the output width.
    pub fn outputs(&self) -> usize {
        self.weights.cols()
    }

    /// Uˡ = Hˡ⁻¹ Wˡ + 1 bˡ into `u`, then Hˡ = φ(Uˡ) into `h`.
    pub(crate) fn forward(&self, x: MatRef<'_, T>, mut u: MatMut<'_, T>, h: MatMut<'_, T>) -> Result<(), ShapeError> {
        for i in 0..u.rows() {
            u.row_mut(i).copy_from_slice(self.bias.as_slice());
        }
        gemm(T::ONE, x, Op::N, self.weights.view(), Op::N, T::ONE, u.reborrow())?;
        self.activation.forward(u.as_ref(), h);
        Ok(())
    }

    /// Given δˡ: ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ into `dw`, ∂E/∂bˡ = 1ᵀ δˡ into `db`, and,
    /// if asked, δˡ Wˡᵀ into `down` (∂E/∂Hˡ⁻¹).
    pub(crate) fn backward(
        &self,
        x: MatRef<'_, T>,
        delta: MatRef<'_, T>,
        dw: &mut Matrix<T>,
        db: &mut Matrix<T>,
        down: Option<MatMut<'_, T>>,
    ) -> Result<(), ShapeError> {
        gemm(T::ONE, x, Op::T, delta, Op::N, T::ZERO, dw.view_mut())?;
        let db = db.as_mut_slice();
        db.fill(T::ZERO);
        for i in 0..delta.rows() {
            db.iter_mut().zip(delta.row(i)).for_each(|(s, &d)| *s += d);
        }
        if let Some(down) = down {
            gemm(T::ONE, delta, Op::N, self.weights.view(), Op::T, T::ZERO, down)?;
        }
        Ok(())
    }
}
