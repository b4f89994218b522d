//! Activations φ and their derivatives φ′, each backward rule beside its
//! forward rule.
//!
//! A layer computes Hˡ = φ(Uˡ) element-wise (softmax row-wise), and
//! backpropagation multiplies the incoming gradient by φ′(Uˡ):
//! δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ φ′(Uˡ).
//!
//! ```
//! use nn_core::{Activation, Matrix};
//! let u = Matrix::from_vec(1, 3, vec![-1.0f64, 0.0, 2.0]).unwrap();
//! let mut h = Matrix::zeros(1, 3);
//! Activation::Relu.forward(u.view(), h.view_mut());
//! assert_eq!(h.as_slice(), &[0.0, 0.0, 2.0]);
//! // φ′ of the sigmoid at 0 is σ(0)(1 − σ(0)) = 0.25
//! let mut g = Matrix::filled(1, 3, 1.0f64);
//! Activation::Sigmoid.forward(u.view(), h.view_mut());
//! Activation::Sigmoid.backward(u.view(), h.view(), g.view_mut());
//! assert_eq!(g.get(0, 1), 0.25);
//! ```

use crate::float::Float;
use crate::matrix::{MatMut, MatRef};

/// An activation function φ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// φ(u) = u, φ′(u) = 1.
    Identity,
    /// φ(u) = max(0, u), φ′(u) = 1 if u > 0 else 0.
    Relu,
    /// φ(u) = u if u > 0 else a·u, φ′(u) = 1 if u > 0 else a (a is the negative slope).
    LeakyRelu(f64),
    /// φ(u) = σ(u) = 1 / (1 + e⁻ᵘ), φ′(u) = σ(u)(1 − σ(u)).
    Sigmoid,
    /// φ(u) = tanh u, φ′(u) = 1 − tanh² u.
    Tanh,
    /// Row-wise softmax: hᵢ = e^{uᵢ − max u} / Σⱼ e^{uⱼ − max u}. Its Jacobian is
    /// ∂hᵢ/∂uⱼ = hᵢ(δᵢⱼ − hⱼ), so backward maps g to h ⊙ (g − (g·h)).
    Softmax,
}

/// The logistic sigmoid σ(x) = 1 / (1 + e⁻ˣ), computed without overflow:
/// for x < 0 it uses σ(x) = eˣ / (1 + eˣ).
///
/// ```
/// use nn_core::activation::sigmoid;
/// assert_eq!(sigmoid(0.0f64), 0.5);
/// assert_eq!(sigmoid(-1000.0f32), 0.0);
/// assert_eq!(sigmoid(1000.0f32), 1.0);
/// ```
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// softplus(x) = ln(1 + eˣ), computed without overflow as max(x, 0) + ln(1 + e^{−|x|}).
#[inline]
pub fn softplus<T: Float>(x: T) -> T {
    x.max(T::ZERO) + (T::ONE + (-x.abs()).exp()).ln()
}

/// Row-wise stable softmax of `u` into `h` (same shape): subtracts each row's
/// maximum before exponentiating, so large inputs never overflow.
pub fn softmax_rows<T: Float>(u: MatRef<'_, T>, mut h: MatMut<'_, T>) {
    assert_same_shape("softmax", u.rows(), u.cols(), h.rows(), h.cols());
    for i in 0..u.rows() {
        let ur = u.row(i);
        let hr = h.row_mut(i);
        let max = ur.iter().fold(T::from_f64(f64::NEG_INFINITY), |m, &x| m.max(x));
        let mut sum = T::ZERO;
        for (y, &x) in hr.iter_mut().zip(ur) {
            *y = (x - max).exp();
            sum += *y;
        }
        let inv = T::ONE / sum;
        hr.iter_mut().for_each(|y| *y *= inv);
    }
}

fn assert_same_shape(what: &str, r1: usize, c1: usize, r2: usize, c2: usize) {
    assert!(r1 == r2 && c1 == c2, "{what}: shapes {r1}×{c1} and {r2}×{c2} differ");
}

impl Activation {
    /// H = φ(U). `u` and `h` must have the same shape (the network's
    /// workspace guarantees it; a mismatch is a programming error and panics).
    pub fn forward<T: Float>(&self, u: MatRef<'_, T>, mut h: MatMut<'_, T>) {
        assert_same_shape("Activation::forward", u.rows(), u.cols(), h.rows(), h.cols());
        if let Activation::Softmax = self {
            return softmax_rows(u, h);
        }
        for i in 0..u.rows() {
            let ur = u.row(i);
            let hr = h.row_mut(i);
            match *self {
                Activation::Identity => hr.copy_from_slice(ur),
                Activation::Relu => hr.iter_mut().zip(ur).for_each(|(y, &x)| *y = x.max(T::ZERO)),
                Activation::LeakyRelu(a) => {
                    let a = T::from_f64(a);
                    hr.iter_mut().zip(ur).for_each(|(y, &x)| *y = if x > T::ZERO { x } else { a * x })
                }
                Activation::Sigmoid => hr.iter_mut().zip(ur).for_each(|(y, &x)| *y = sigmoid(x)),
                Activation::Tanh => hr.iter_mut().zip(ur).for_each(|(y, &x)| *y = x.tanh()),
                Activation::Softmax => unreachable!("handled above"),
            }
        }
    }

    /// g ← g ⊙ φ′(U): turns ∂E/∂H into ∂E/∂U. `h` must hold φ(U) from the
    /// forward pass (sigmoid, tanh and softmax read their derivative from it).
    pub fn backward<T: Float>(&self, u: MatRef<'_, T>, h: MatRef<'_, T>, mut g: MatMut<'_, T>) {
        assert_same_shape("Activation::backward", u.rows(), u.cols(), g.rows(), g.cols());
        assert_same_shape("Activation::backward", h.rows(), h.cols(), g.rows(), g.cols());
        for i in 0..u.rows() {
            let ur = u.row(i);
            let hr = h.row(i);
            let gr = g.row_mut(i);
            match *self {
                Activation::Identity => {}
                Activation::Relu => gr.iter_mut().zip(ur).for_each(|(d, &x)| {
                    if x <= T::ZERO {
                        *d = T::ZERO
                    }
                }),
                Activation::LeakyRelu(a) => {
                    let a = T::from_f64(a);
                    gr.iter_mut().zip(ur).for_each(|(d, &x)| {
                        if x <= T::ZERO {
                            *d *= a
                        }
                    })
                }
                Activation::Sigmoid => gr.iter_mut().zip(hr).for_each(|(d, &s)| *d *= s * (T::ONE - s)),
                Activation::Tanh => gr.iter_mut().zip(hr).for_each(|(d, &t)| *d *= T::ONE - t * t),
                Activation::Softmax => {
                    let dot: T = gr.iter().zip(hr).map(|(&d, &s)| d * s).sum();
                    gr.iter_mut().zip(hr).for_each(|(d, &s)| *d = s * (*d - dot));
                }
            }
        }
    }

    /// φ′(u) for one element-wise activation at one point (`None` for softmax,
    /// whose derivative is a Jacobian, not a number).
    pub fn derivative<T: Float>(&self, u: T) -> Option<T> {
        Some(match *self {
            Activation::Identity => T::ONE,
            Activation::Relu => {
                if u > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            Activation::LeakyRelu(a) => {
                if u > T::ZERO {
                    T::ONE
                } else {
                    T::from_f64(a)
                }
            }
            Activation::Sigmoid => {
                let s = sigmoid(u);
                s * (T::ONE - s)
            }
            Activation::Tanh => {
                let t = u.tanh();
                T::ONE - t * t
            }
            Activation::Softmax => return None,
        })
    }

    /// A stable textual name, used in checkpoints and reports:
    /// `identity`, `relu`, `leaky_relu:0.01`, `sigmoid`, `tanh`, `softmax`.
    pub fn name(&self) -> String {
        match self {
            Activation::Identity => "identity".into(),
            Activation::Relu => "relu".into(),
            Activation::LeakyRelu(a) => format!("leaky_relu:{a}"),
            Activation::Sigmoid => "sigmoid".into(),
            Activation::Tanh => "tanh".into(),
            Activation::Softmax => "softmax".into(),
        }
    }

    /// Parses a name written by [`Activation::name`].
    ///
    /// ```
    /// use nn_core::Activation;
    /// assert_eq!(Activation::from_name("leaky_relu:0.1"), Some(Activation::LeakyRelu(0.1)));
    /// assert_eq!(Activation::from_name(&Activation::Tanh.name()), Some(Activation::Tanh));
    /// assert_eq!(Activation::from_name("swish"), None);
    /// ```
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "identity" => Activation::Identity,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            _ => {
                let a = s.strip_prefix("leaky_relu:")?.parse::<f64>().ok()?;
                Activation::LeakyRelu(a)
            }
        })
    }
}
