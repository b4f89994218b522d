//! The few array operations the tutorials' numpy code performs, in f64 and
//! in the order numpy performs them, on row-major `Matrix<f64>`:
//!
//! - a matrix product C = A B sums Σₖ aᵢₖ bₖⱼ over k in order, starting from 0;
//! - `x.sum()` over a contiguous array (and `np.mean`, `np.trace`) uses
//!   numpy's pairwise summation ([`pairwise_sum`]);
//! - `x.sum(axis=0)` adds row after row ([`column_sums`]).
//!
//! The exponential and logarithm are the C library's (`f64::exp`, `f64::ln`);
//! numpy's own are SIMD routines that can differ from it in the last bit.

use nn_core::Matrix;

/// A row-major matrix from its parts (the shape always matches the data here).
pub fn matrix(rows: usize, cols: usize, data: Vec<f64>) -> Matrix<f64> {
    Matrix::from_vec(rows, cols, data).expect("rows · cols values")
}

/// C = A B, each cᵢⱼ = Σₖ aᵢₖ bₖⱼ summed over k = 0, 1, … in order.
pub fn matmul(a: &Matrix<f64>, b: &Matrix<f64>) -> Matrix<f64> {
    let (n, m, p) = (a.rows(), a.cols(), b.cols());
    debug_assert_eq!(m, b.rows());
    let mut c = vec![0.0; n * p];
    for i in 0..n {
        let ci = &mut c[i * p..(i + 1) * p];
        for (k, &aik) in a.row(i).iter().enumerate() {
            ci.iter_mut().zip(b.row(k)).for_each(|(c, &bkj)| *c += aik * bkj);
        }
    }
    matrix(n, p, c)
}

/// C = Aᵀ B (A is n × m, B is n × p), each cₖⱼ = Σᵢ aᵢₖ bᵢⱼ over i in order.
pub fn matmul_tn(a: &Matrix<f64>, b: &Matrix<f64>) -> Matrix<f64> {
    let (n, m, p) = (a.rows(), a.cols(), b.cols());
    debug_assert_eq!(n, b.rows());
    let mut c = vec![0.0; m * p];
    for i in 0..n {
        let bi = b.row(i);
        for (k, &aik) in a.row(i).iter().enumerate() {
            c[k * p..(k + 1) * p].iter_mut().zip(bi).for_each(|(c, &bij)| *c += aik * bij);
        }
    }
    matrix(m, p, c)
}

/// C = A Bᵀ (A is n × m, B is p × m), each cᵢⱼ = Σₖ aᵢₖ bⱼₖ over k in order.
pub fn matmul_nt(a: &Matrix<f64>, b: &Matrix<f64>) -> Matrix<f64> {
    let (n, p) = (a.rows(), b.rows());
    debug_assert_eq!(a.cols(), b.cols());
    let c = (0..n)
        .flat_map(|i| (0..p).map(move |j| a.row(i).iter().zip(b.row(j)).fold(0.0, |s, (x, y)| s + x * y)))
        .collect();
    matrix(n, p, c)
}

/// Σ x as numpy sums a contiguous array: below 8 values one by one; up to 128
/// in eight interleaved partial sums combined as ((s₀+s₁)+(s₂+s₃))+((s₄+s₅)+(s₆+s₇)),
/// then the remainder; above 128, the two halves (split at a multiple of 8) recursively.
pub fn pairwise_sum(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 8 {
        return x.iter().fold(-0.0, |s, v| s + v);
    }
    if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&x[..8]);
        let full = n - n % 8;
        for block in x[8..full].chunks_exact(8) {
            r.iter_mut().zip(block).for_each(|(r, v)| *r += v);
        }
        let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        return x[full..].iter().fold(s, |s, v| s + v);
    }
    let half = n / 2;
    let half = half - half % 8;
    pairwise_sum(&x[..half]) + pairwise_sum(&x[half..])
}

/// `x.sum(axis=0)`: the column sums, adding row after row.
pub fn column_sums(x: &Matrix<f64>) -> Vec<f64> {
    let mut s = vec![0.0; x.cols()];
    for i in 0..x.rows() {
        s.iter_mut().zip(x.row(i)).for_each(|(s, v)| *s += v);
    }
    s
}

/// Element-wise w ← w − η g (`w -= lr * g`).
pub fn sgd_step(w: &mut Matrix<f64>, lr: f64, g: &[f64]) {
    w.as_mut_slice().iter_mut().zip(g).for_each(|(w, g)| *w -= lr * g);
}

/// The rows `idx` of `x`, in that order (`x[idx]`).
pub fn take_rows(x: &Matrix<f64>, idx: &[usize]) -> Matrix<f64> {
    let c = x.cols();
    matrix(idx.len(), c, idx.iter().flat_map(|&i| x.row(i).iter().copied()).collect())
}

/// Index of the first largest value of each row (`np.argmax(x, axis=1)`).
pub fn argmax_rows(x: &Matrix<f64>) -> Vec<usize> {
    (0..x.rows())
        .map(|i| x.row(i).iter().enumerate().fold(0, |best, (j, v)| if *v > x.row(i)[best] { j } else { best }))
        .collect()
}

/// The logistic function as the MNIST tutorial writes it for stability:
/// 1/(1 + e^(−u)) for u ≥ 0, e^u/(1 + e^u) otherwise.
pub fn sigmoid_stable(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        u.exp() / (1.0 + u.exp())
    }
}

/// Row-wise softmax as the MNIST tutorial computes it: e = exp(u − max u), e / Σe
/// (Σ over the row by [`pairwise_sum`]).
pub fn softmax_rows(u: &Matrix<f64>) -> Matrix<f64> {
    let mut out = Vec::with_capacity(u.rows() * u.cols());
    for i in 0..u.rows() {
        let row = u.row(i);
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        let e: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
        let s = pairwise_sum(&e);
        out.extend(e.iter().map(|e| e / s));
    }
    matrix(u.rows(), u.cols(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_agree_with_the_definition() {
        let a = matrix(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = matrix(3, 2, vec![7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
        assert_eq!(matmul(&a, &b).as_slice(), &[58.0, 64.0, 139.0, 154.0]);
        let at = matrix(3, 2, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(matmul_tn(&at, &b).as_slice(), &[58.0, 64.0, 139.0, 154.0]);
        let bt = matrix(2, 3, vec![7.0, 9.0, 11.0, 8.0, 10.0, 12.0]);
        assert_eq!(matmul_nt(&a, &bt).as_slice(), &[58.0, 64.0, 139.0, 154.0]);
    }

    #[test]
    fn pairwise_sum_groups_as_numpy_does() {
        // 1e16 + 1 + … loses the ones when added in order but not in numpy's groups.
        let mut x = vec![1.0; 16];
        x[0] = 1e16;
        assert_eq!(pairwise_sum(&x), 1e16 + 14.0); // s₀ = 1e16 + 1 rounds the 1 away, s₁…s₇ keep 2 each
        let seq = x.iter().fold(0.0, |s, v| s + v);
        assert_eq!(seq, 1e16);
        let many: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&many), 499_500.0);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_argmax_takes_the_first_maximum() {
        let u = matrix(2, 3, vec![1.0, 3.0, 3.0, -1.0, 0.0, -2.0]);
        let p = softmax_rows(&u);
        assert!((p.row(0).iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(argmax_rows(&p), vec![1, 1]);
        assert_eq!(sigmoid_stable(0.0), 0.5);
        assert!((sigmoid_stable(-40.0) - (-40f64).exp()).abs() < 1e-30);
    }
}
