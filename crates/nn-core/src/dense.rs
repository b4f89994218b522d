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
//! assert!(Dense::new(Matrix::<f32>::zeros(2, 0), Matrix::zeros(1, 0), Activation::Relu).is_err());
//! assert!(Dense::new(Matrix::<f32>::zeros(2, 1), Matrix::zeros(1, 1), Activation::LeakyRelu(f64::NAN)).is_err());
//! ```

use crate::activation::Activation;
use crate::error::ShapeError;
use crate::float::Float;
use crate::gemm::{gemm, Op};
use crate::matrix::{MatMut, MatRef, Matrix};

/// A fully connected layer: weights Wˡ (inputs × outputs), bias bˡ (1 × outputs), activation φ.
///
/// The fields are private so that their invariants hold: both widths are at
/// least 1, the bias is 1 × the weights' columns, and an activation's
/// parameter is finite. Values change through [`Dense::parameters_mut`];
/// shapes never do.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense<T> {
    /// Wˡ, shape mˡ⁻¹ × mˡ.
    weights: Matrix<T>,
    /// bˡ, shape 1 × mˡ.
    bias: Matrix<T>,
    /// φ.
    activation: Activation,
}

/// Checks a layer of `n_in` inputs, `n_out` outputs and `activation`.
pub(crate) fn check_layer(context: &str, n_in: usize, n_out: usize, activation: &Activation) -> Result<(), ShapeError> {
    if n_in == 0 || n_out == 0 {
        return Err(ShapeError::new(
            context,
            "a layer at least 1 wide, with at least 1 input",
            format!("{n_in} inputs × {n_out} outputs"),
        ));
    }
    if let Activation::LeakyRelu(a) = activation {
        if !a.is_finite() {
            return Err(ShapeError::new(context, "a finite leaky_relu slope", format!("slope {a}")));
        }
    }
    Ok(())
}

impl<T: Float> Dense<T> {
    /// A layer from its parameters; errors unless `bias` is 1 × `weights.cols()`,
    /// both widths are at least 1 and the activation's parameter is finite.
    pub fn new(weights: Matrix<T>, bias: Matrix<T>, activation: Activation) -> Result<Self, ShapeError> {
        check_layer("Dense::new", weights.rows(), weights.cols(), &activation)?;
        if bias.rows() != 1 || bias.cols() != weights.cols() {
            return Err(ShapeError::new(
                "Dense::new",
                format!("bias of shape 1×{} for weights {}×{}", weights.cols(), weights.rows(), weights.cols()),
                format!("bias of shape {}×{}", bias.rows(), bias.cols()),
            ));
        }
        Ok(Dense { weights, bias, activation })
    }

    /// Wˡ, shape mˡ⁻¹ × mˡ.
    pub fn weights(&self) -> &Matrix<T> {
        &self.weights
    }

    /// bˡ, shape 1 × mˡ.
    pub fn bias(&self) -> &Matrix<T> {
        &self.bias
    }

    /// φ.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// (Wˡ, bˡ) as flat row-major slices, to change their values.
    pub fn parameters_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.weights.as_mut_slice(), self.bias.as_mut_slice())
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

    /// ∂E/∂Wˡ = Hˡ⁻¹ᵀ δˡ into `dw` (if given) and ∂E/∂bˡ = 1ᵀ δˡ into `db`,
    /// written, or with `add` added to what they hold.
    pub(crate) fn weight_gradients(
        &self,
        x: MatRef<'_, T>,
        delta: MatRef<'_, T>,
        dw: Option<&mut Matrix<T>>,
        db: &mut Matrix<T>,
        add: bool,
    ) -> Result<(), ShapeError> {
        // with `add`, each element becomes g + (what β = 0 would write), one rounding
        // (exactly so for x.rows() ≤ SINGLE_PASS_K)
        if let Some(dw) = dw {
            gemm(T::ONE, x, Op::T, delta, Op::N, if add { T::ONE } else { T::ZERO }, dw.view_mut())?;
        }
        let db = db.as_mut_slice();
        if add {
            // 1ᵀδ summed from zero, as below, then added: g + (the new sum), one rounding
            const CHUNK: usize = 64;
            for (c0, part) in db.chunks_mut(CHUNK).enumerate().map(|(i, p)| (i * CHUNK, p)) {
                let mut sum = [T::ZERO; CHUNK];
                let sum = &mut sum[..part.len()];
                for i in 0..delta.rows() {
                    sum.iter_mut().zip(&delta.row(i)[c0..]).for_each(|(s, &d)| *s += d);
                }
                part.iter_mut().zip(sum.iter()).for_each(|(g, &s)| *g += s);
            }
        } else {
            db.fill(T::ZERO);
            for i in 0..delta.rows() {
                db.iter_mut().zip(delta.row(i)).for_each(|(s, &d)| *s += d);
            }
        }
        Ok(())
    }

    /// δˡ Wˡᵀ into `down` (∂E/∂Hˡ⁻¹): row by row, so the bits of a row do not
    /// depend on the other rows of `delta`.
    pub(crate) fn propagate(&self, delta: MatRef<'_, T>, down: MatMut<'_, T>) -> Result<(), ShapeError> {
        gemm(T::ONE, delta, Op::N, self.weights.view(), Op::T, T::ZERO, down)
    }
}
