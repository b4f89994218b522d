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

/// One element-wise activation: φ and the backward rule g ⊙ φ′, side by side.
trait Elementwise<T: Float>: Copy {
    /// h = φ(u).
    fn phi(self, u: T) -> T;
    /// g·φ′(u), given u and h = φ(u) (each rule reads whichever is cheaper).
    fn grad(self, g: T, u: T, h: T) -> T;
}

/// φ(u) = u, φ′ = 1.
#[derive(Clone, Copy)]
struct Identity;
impl<T: Float> Elementwise<T> for Identity {
    fn phi(self, u: T) -> T {
        u
    }
    fn grad(self, g: T, _u: T, _h: T) -> T {
        g
    }
}

/// φ(u) = max(0, u), φ′(u) = 1 if u > 0 else 0.
#[derive(Clone, Copy)]
struct Relu;
impl<T: Float> Elementwise<T> for Relu {
    fn phi(self, u: T) -> T {
        u.max(T::ZERO)
    }
    fn grad(self, g: T, u: T, _h: T) -> T {
        if u <= T::ZERO {
            T::ZERO
        } else {
            g
        }
    }
}

/// φ(u) = u if u > 0 else a·u, φ′(u) = 1 if u > 0 else a.
#[derive(Clone, Copy)]
struct LeakyRelu<T>(T);
impl<T: Float> Elementwise<T> for LeakyRelu<T> {
    fn phi(self, u: T) -> T {
        if u > T::ZERO {
            u
        } else {
            self.0 * u
        }
    }
    fn grad(self, g: T, u: T, _h: T) -> T {
        if u <= T::ZERO {
            g * self.0
        } else {
            g
        }
    }
}

/// φ(u) = σ(u), φ′(u) = σ(u)(1 − σ(u)) = h(1 − h).
#[derive(Clone, Copy)]
struct Sigmoid;
impl<T: Float> Elementwise<T> for Sigmoid {
    fn phi(self, u: T) -> T {
        sigmoid(u)
    }
    fn grad(self, g: T, _u: T, h: T) -> T {
        g * (h * (T::ONE - h))
    }
}

/// φ(u) = tanh u, φ′(u) = 1 − tanh² u = 1 − h².
#[derive(Clone, Copy)]
struct Tanh;
impl<T: Float> Elementwise<T> for Tanh {
    fn phi(self, u: T) -> T {
        u.tanh()
    }
    fn grad(self, g: T, _u: T, h: T) -> T {
        g * (T::ONE - h * h)
    }
}

/// H = φ(U), element by element.
fn forward_rows<T: Float, E: Elementwise<T>>(e: E, u: MatRef<'_, T>, mut h: MatMut<'_, T>) {
    for i in 0..u.rows() {
        h.row_mut(i).iter_mut().zip(u.row(i)).for_each(|(y, &x)| *y = e.phi(x));
    }
}

/// G ← G ⊙ φ′(U), element by element.
fn backward_rows<T: Float, E: Elementwise<T>>(e: E, u: MatRef<'_, T>, h: MatRef<'_, T>, mut g: MatMut<'_, T>) {
    for i in 0..u.rows() {
        let (ur, hr) = (u.row(i), h.row(i));
        g.row_mut(i).iter_mut().zip(ur.iter().zip(hr)).for_each(|(d, (&x, &y))| *d = e.grad(*d, x, y));
    }
}

/// Softmax's backward rule: with ∂hᵢ/∂uⱼ = hᵢ(δᵢⱼ − hⱼ), g ← h ⊙ (g − (g·h)), row by row.
fn softmax_backward_rows<T: Float>(h: MatRef<'_, T>, mut g: MatMut<'_, T>) {
    for i in 0..h.rows() {
        let (hr, gr) = (h.row(i), g.row_mut(i));
        let dot: T = gr.iter().zip(hr).map(|(&d, &s)| d * s).sum();
        gr.iter_mut().zip(hr).for_each(|(d, &s)| *d = s * (*d - dot));
    }
}

impl Activation {
    /// H = φ(U). `u` and `h` must have the same shape (the network's
    /// workspace guarantees it; a mismatch is a programming error and panics).
    pub fn forward<T: Float>(&self, u: MatRef<'_, T>, h: MatMut<'_, T>) {
        assert_same_shape("Activation::forward", u.rows(), u.cols(), h.rows(), h.cols());
        match *self {
            Activation::Identity => forward_rows(Identity, u, h),
            Activation::Relu => forward_rows(Relu, u, h),
            Activation::LeakyRelu(a) => forward_rows(LeakyRelu(T::from_f64(a)), u, h),
            Activation::Sigmoid => forward_rows(Sigmoid, u, h),
            Activation::Tanh => forward_rows(Tanh, u, h),
            Activation::Softmax => softmax_rows(u, h),
        }
    }

    /// g ← g ⊙ φ′(U): turns ∂E/∂H into ∂E/∂U. `h` must hold φ(U) from the
    /// forward pass (sigmoid, tanh and softmax read their derivative from it).
    pub fn backward<T: Float>(&self, u: MatRef<'_, T>, h: MatRef<'_, T>, g: MatMut<'_, T>) {
        assert_same_shape("Activation::backward", u.rows(), u.cols(), g.rows(), g.cols());
        assert_same_shape("Activation::backward", h.rows(), h.cols(), g.rows(), g.cols());
        match *self {
            Activation::Identity => {}
            Activation::Relu => backward_rows(Relu, u, h, g),
            Activation::LeakyRelu(a) => backward_rows(LeakyRelu(T::from_f64(a)), u, h, g),
            Activation::Sigmoid => backward_rows(Sigmoid, u, h, g),
            Activation::Tanh => backward_rows(Tanh, u, h, g),
            Activation::Softmax => softmax_backward_rows(h, g),
        }
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
