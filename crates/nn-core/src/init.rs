//! Initialisers: how a layer's weights and biases are first drawn.
//!
//! All draws come from a caller-supplied RNG, so the same seed gives the same
//! network bit for bit. Normal deviates use the Box–Muller transform
//! z = √(−2 ln u₁) · cos(2π u₂), written here so that the sequence depends on
//! nothing but the RNG's stream.
//!
//! ```
//! use nn_core::Init;
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let w = Init::He.matrix::<f64, _>(784, 64, 784, 64, &mut rng);
//! let var = w.as_slice().iter().map(|x| x * x).sum::<f64>() / w.as_slice().len() as f64;
//! assert!((var - 2.0 / 784.0).abs() < 0.1 * 2.0 / 784.0); // He: Var = 2/n_in
//! assert_eq!(Init::Constant(0.5).matrix::<f32, _>(1, 2, 2, 2, &mut rng).as_slice(), &[0.5, 0.5]);
//! ```

use rand::Rng;

use crate::float::Float;
use crate::matrix::Matrix;

/// An initialisation policy. `n_in` and `n_out` are the layer's fan-in and fan-out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// N(0, 1): the tutorials' `np.random.randn`.
    StandardNormal,
    /// N(0, 1)/√n_in (Nielsen's improved weight initialisation).
    ScaledNormal,
    /// N(0, 1)·√(2/n_in) (He et al., for ReLU).
    He,
    /// N(0, 2/(n_in + n_out)) (Glorot & Bengio, normal form).
    Glorot,
    /// All zeros.
    Zeros,
    /// Every element the given value.
    Constant(f64),
    /// N(0, std²).
    Normal {
        /// Standard deviation.
        std: f64,
    },
}

/// One standard normal deviate by Box–Muller (uses two uniforms, returns the cosine branch).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]: ln is finite
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Init {
    /// The standard deviation this policy draws with (0 for the constant ones).
    pub fn std(&self, n_in: usize, n_out: usize) -> f64 {
        match *self {
            Init::StandardNormal => 1.0,
            Init::ScaledNormal => 1.0 / (n_in.max(1) as f64).sqrt(),
            Init::He => (2.0 / n_in.max(1) as f64).sqrt(),
            Init::Glorot => (2.0 / (n_in + n_out).max(1) as f64).sqrt(),
            Init::Normal { std } => std,
            Init::Zeros | Init::Constant(_) => 0.0,
        }
    }

    /// A `rows × cols` matrix drawn from this policy for a layer with fan-in
    /// `n_in` and fan-out `n_out`, in row-major order.
    pub fn matrix<T: Float, R: Rng + ?Sized>(
        &self,
        rows: usize,
        cols: usize,
        n_in: usize,
        n_out: usize,
        rng: &mut R,
    ) -> Matrix<T> {
        match *self {
            Init::Zeros => Matrix::zeros(rows, cols),
            Init::Constant(c) => Matrix::filled(rows, cols, T::from_f64(c)),
            _ => {
                let std = self.std(n_in, n_out);
                Matrix::from_fn(rows, cols, |_, _| T::from_f64(std * standard_normal(rng)))
            }
        }
    }
}
