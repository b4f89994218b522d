//! `gemm` against the naive triple loop, on every back end this CPU runs.
//!
//! Each case draws m, k, n (including 0, 1, odd sizes and sizes that are not
//! multiples of any tile), op(A), op(B) ∈ {N, T}, α, β (β = 0 with C full of
//! NaN), and padded row strides for A, B and C. The reference is
//! `gemm_naive` in f64 on the same inputs; the error allowed for element
//! (i, j) is (k + 2)·ε·(|α|·Σₚ|a_ip||b_pj| + |β||c_ij|) · 2 in the tested
//! type's ε. The padding of C between rows must come out untouched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nn_core::gemm::{gemm_naive, gemm_with, Backend, GemmError};
use nn_core::{gemm, Float, MatMut, MatRef, Matrix, Op};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Counts this thread's allocations, to show that a repeated call allocates nothing.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised
// thread-local Cell, which does not allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// One gemm problem.
#[derive(Clone, Debug)]
struct Case {
    m: usize,
    k: usize,
    n: usize,
    op_a: Op,
    op_b: Op,
    /// Extra elements between rows of the stored A, B and C.
    pad: [usize; 3],
    alpha: f64,
    beta: f64,
    seed: u64,
}

/// Stored operands (row-major with padded rows) and the result.
struct Problem<T> {
    a: Vec<T>,
    b: Vec<T>,
    c: Vec<T>,
    /// Stored shapes (rows, cols, row stride) of A, B, C.
    shapes: [(usize, usize, usize); 3],
}

fn stored(rows: usize, cols: usize, op: Op) -> (usize, usize) {
    match op {
        Op::N => (rows, cols),
        Op::T => (cols, rows),
    }
}

impl Case {
    fn problem<T: Float>(&self) -> Problem<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let (ar, ac) = stored(self.m, self.k, self.op_a);
        let (br, bc) = stored(self.k, self.n, self.op_b);
        let shapes = [(ar, ac, ac + self.pad[0]), (br, bc, bc + self.pad[1]), (self.m, self.n, self.n + self.pad[2])];
        let mut fill = |(rows, _, stride): (usize, usize, usize)| -> Vec<T> {
            (0..rows * stride).map(|_| T::from_f64(rng.random_range(-1.0..1.0))).collect()
        };
        let a = fill(shapes[0]);
        let b = fill(shapes[1]);
        let mut c = fill(shapes[2]);
        if self.beta == 0.0 {
            // β = 0 must overwrite C without reading it.
            c.iter_mut().for_each(|x| *x = T::from_f64(f64::NAN));
        }
        Problem { a, b, c, shapes }
    }
}

fn view<T: Float>(data: &[T], (rows, cols, stride): (usize, usize, usize)) -> MatRef<'_, T> {
    MatRef::new(data, rows, cols, stride).expect("test view")
}

fn view_mut<T: Float>(data: &mut [T], (rows, cols, stride): (usize, usize, usize)) -> MatMut<'_, T> {
    MatMut::new(data, rows, cols, stride).expect("test view")
}

fn to_f64<T: Float>(x: &[T]) -> Vec<f64> {
    x.iter().map(|v| v.to_f64()).collect()
}

/// Runs `case` on `backend` in type T and compares with the f64 naive loop.
fn check<T: Float>(case: &Case, backend: Backend) -> Result<(), TestCaseError> {
    let p = case.problem::<T>();
    let (a64, b64, c64) = (to_f64(&p.a), to_f64(&p.b), to_f64(&p.c));

    let mut ours = p.c.clone();
    gemm_with(
        backend,
        T::from_f64(case.alpha),
        view(&p.a, p.shapes[0]),
        case.op_a,
        view(&p.b, p.shapes[1]),
        case.op_b,
        T::from_f64(case.beta),
        view_mut(&mut ours, p.shapes[2]),
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;

    // Reference: naive loop in f64 on the same values; and the error scale
    // |α|·|op(A)|·|op(B)| + |β|·|C| from the same loop on absolute values.
    let mut reference = c64.clone();
    let mut scale = c64.iter().map(|x| x.abs()).collect::<Vec<_>>();
    let (abs_a, abs_b) = (a64.iter().map(|x| x.abs()).collect::<Vec<_>>(), b64.iter().map(|x| x.abs()).collect());
    let abs_b: Vec<f64> = abs_b;
    gemm_naive(
        case.alpha,
        view(&a64, p.shapes[0]),
        case.op_a,
        view(&b64, p.shapes[1]),
        case.op_b,
        case.beta,
        view_mut(&mut reference, p.shapes[2]),
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    gemm_naive(
        case.alpha.abs(),
        view(&abs_a, p.shapes[0]),
        case.op_a,
        view(&abs_b, p.shapes[1]),
        case.op_b,
        case.beta.abs(),
        view_mut(&mut scale, p.shapes[2]),
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;

    let eps = T::EPSILON.to_f64();
    let (rows, cols, stride) = p.shapes[2];
    for i in 0..rows {
        for j in 0..stride {
            let at = i * stride + j;
            let got = ours[at].to_f64();
            if j >= cols {
                // Padding between rows: untouched, bit for bit (NaN stays NaN).
                prop_assert!(
                    got.to_bits() == c64[at].to_bits() || (got.is_nan() && c64[at].is_nan()),
                    "{backend}: padding ({i}, {j}) changed from {} to {got}",
                    c64[at]
                );
                continue;
            }
            let want = reference[at];
            let tol = 2.0 * (case.k as f64 + 2.0) * eps * scale[at] + f64::MIN_POSITIVE;
            prop_assert!(
                (got - want).abs() <= tol,
                "{backend} {}: C({i}, {j}) = {got}, naive {want}, |diff| {} > {tol}",
                T::NAME,
                (got - want).abs()
            );
        }
    }
    Ok(())
}

fn check_all_backends(case: &Case) -> Result<(), TestCaseError> {
    let backends = Backend::available();
    prop_assert!(backends.contains(&Backend::Portable));
    for &backend in &backends {
        check::<f32>(case, backend)?;
        check::<f64>(case, backend)?;
    }
    Ok(())
}

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => 0usize..=1,
        4 => 2usize..=20,
        2 => 21usize..=70,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::N), Just(Op::T)]
}

fn coefficient() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), -2.0f64..2.0]
}

fn case_with(
    m: impl Strategy<Value = usize>,
    k: impl Strategy<Value = usize>,
    n: impl Strategy<Value = usize>,
) -> impl Strategy<Value = Case> {
    (m, k, n, op(), op(), [0usize..=3, 0usize..=3, 0usize..=3], -2.0f64..2.0, coefficient(), any::<u64>())
        .prop_map(|(m, k, n, op_a, op_b, pad, alpha, beta, seed)| Case { m, k, n, op_a, op_b, pad, alpha, beta, seed })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn small_shapes_match_the_naive_loop(case in case_with(dim(), dim(), dim())) {
        check_all_backends(&case)?;
    }

    /// The training shapes' neighbourhood: m around 16, k and n up to a few hundred.
    #[test]
    fn training_like_shapes_match_the_naive_loop(
        case in case_with(prop_oneof![Just(16usize), 1usize..=64], 1usize..=300, prop_oneof![Just(10usize), Just(64), 1usize..=200])
    ) {
        check_all_backends(&case)?;
    }
}

fn fixed(m: usize, k: usize, n: usize, op_a: Op, op_b: Op, beta: f64) -> Case {
    Case { m, k, n, op_a, op_b, pad: [1, 2, 3], alpha: 0.75, beta, seed: (m * 31 + k * 7 + n) as u64 }
}

fn assert_case(case: Case) {
    if let Err(e) = check_all_backends(&case) {
        panic!("{case:?}: {e}");
    }
}

/// m past the row block (MC) and k past the depth block (KC), with A packed
/// (n large) and read in place (n small), in all four op combinations.
#[test]
fn blocks_in_m_and_k_are_stitched_correctly() {
    for (op_a, op_b) in [(Op::N, Op::N), (Op::T, Op::N), (Op::N, Op::T), (Op::T, Op::T)] {
        assert_case(fixed(301, 530, 37, op_a, op_b, 0.5));
        assert_case(fixed(157, 300, 203, op_a, op_b, 0.0));
    }
}

/// n past the column block (NC) of every kernel.
#[test]
fn blocks_in_n_are_stitched_correctly() {
    assert_case(fixed(7, 270, 4103, Op::N, Op::T, 1.0));
}

/// The shapes of the mnist model (784-64-10 at batch 16, and the forward
/// product at batch 256, whose 64-column B is read in place however many
/// rows A has), as the layers call them.
#[test]
fn training_shapes_match_the_naive_loop() {
    for (m, k, n, op_a, op_b) in [
        (16, 784, 64, Op::N, Op::N),
        (256, 784, 64, Op::N, Op::N),
        (784, 16, 64, Op::T, Op::N),
        (16, 64, 784, Op::N, Op::T),
        (16, 64, 10, Op::N, Op::N),
        (64, 16, 10, Op::T, Op::N),
        (16, 10, 64, Op::N, Op::T),
    ] {
        assert_case(Case { pad: [0, 0, 0], ..fixed(m, k, n, op_a, op_b, 0.0) });
    }
}

#[test]
fn k_zero_scales_c_by_beta() {
    for backend in Backend::available() {
        let a = Matrix::<f32>::zeros(3, 0);
        let b = Matrix::<f32>::zeros(0, 2);
        let mut c = Matrix::from_vec(3, 2, vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        gemm_with(backend, 9.0, a.view(), Op::N, b.view(), Op::N, 0.5, c.view_mut()).unwrap();
        assert_eq!(c.as_slice(), &[0.5, 1.0, 1.5, 2.0, 2.5, 3.0], "{backend}");
        c.fill(f32::NAN);
        gemm_with(backend, 9.0, a.view(), Op::N, b.view(), Op::N, 0.0, c.view_mut()).unwrap();
        assert_eq!(c.as_slice(), &[0.0; 6], "{backend}");
    }
}

#[test]
fn shape_mismatches_are_errors() {
    let a = Matrix::<f64>::zeros(4, 3);
    let b = Matrix::<f64>::zeros(4, 5);
    let mut c = Matrix::<f64>::zeros(4, 5);
    // op(A) = A is 4×3 but op(B) = B has 4 rows: inner dimensions disagree.
    let err = gemm(1.0, a.view(), Op::N, b.view(), Op::N, 0.0, c.view_mut()).unwrap_err();
    assert!(err.to_string().contains("op(B) = 4×5"), "{err}");
    // Aᵀ·B is 3×5, C is 4×5.
    let err = gemm(1.0, a.view(), Op::T, b.view(), Op::N, 0.0, c.view_mut()).unwrap_err();
    assert!(err.to_string().contains("C of shape 4×5"), "{err}");
    for backend in Backend::available() {
        let err = gemm_with(backend, 1.0, a.view(), Op::N, b.view(), Op::T, 0.0, c.view_mut()).unwrap_err();
        assert!(matches!(err, GemmError::Shape(_)), "{backend}: {err}");
    }
}

#[test]
fn unavailable_backends_are_errors() {
    let a = Matrix::<f32>::zeros(2, 2);
    let mut c = Matrix::<f32>::zeros(2, 2);
    for &backend in Backend::ALL {
        let result = gemm_with(backend, 1.0, a.view(), Op::N, a.view(), Op::N, 0.0, c.view_mut());
        assert_eq!(result.is_ok(), backend.is_available(), "{backend}");
        if !backend.is_available() {
            assert_eq!(result, Err(GemmError::Unavailable(backend)));
        }
    }
    assert!(Backend::Auto.is_available());
    assert_ne!(Backend::Auto.resolve(), Backend::Auto);
}

/// The tests above run every back end this CPU has; say plainly, on the
/// terminal even when the test harness captures output, which kernels they
/// could not run here (compiled, but not exercised).
#[test]
fn kernels_this_cpu_cannot_run_are_named() {
    use std::io::Write as _;
    for &backend in Backend::ALL {
        if !backend.is_available() {
            let _ = writeln!(
                std::io::stderr(),
                "NOTE: the {backend} gemm kernel could not be tested: this CPU lacks its instructions"
            );
        }
    }
    assert!(Backend::available().contains(&Backend::Auto.resolve()));
}

/// After a first call, calls of the same or smaller sizes allocate nothing (our kernels).
#[test]
fn repeated_calls_do_not_allocate() {
    let a = Matrix::from_fn(16, 784, |i, j| ((i * 7 + j) % 13) as f32 - 6.0);
    let w = Matrix::from_fn(784, 64, |i, j| ((i + 3 * j) % 11) as f32 - 5.0);
    let mut u = Matrix::<f32>::zeros(16, 64);
    let mut dw = Matrix::<f32>::zeros(784, 64);
    let mut dx = Matrix::<f32>::zeros(16, 784);
    // Our kernels only: the peers (features `matrixmultiply`, `gemm-crate`) allocate their own buffers.
    let ours = [Backend::Portable, Backend::Avx2, Backend::Avx512];
    for backend in Backend::available().into_iter().filter(|b| ours.contains(b)) {
        let run = |u: &mut Matrix<f32>, dw: &mut Matrix<f32>, dx: &mut Matrix<f32>| {
            gemm_with(backend, 1.0, a.view(), Op::N, w.view(), Op::N, 0.0, u.view_mut()).unwrap();
            gemm_with(backend, 1.0, a.view(), Op::T, u.view(), Op::N, 0.0, dw.view_mut()).unwrap();
            gemm_with(backend, 1.0, u.view(), Op::N, w.view(), Op::T, 0.0, dx.view_mut()).unwrap();
        };
        run(&mut u, &mut dw, &mut dx);
        let before = ALLOCATIONS.with(Cell::get);
        run(&mut u, &mut dw, &mut dx);
        assert_eq!(ALLOCATIONS.with(Cell::get), before, "{backend} allocated on a repeated call");
    }
}

/// Several threads calling gemm at once each get their own packing buffers.
#[test]
fn concurrent_calls_agree_with_serial_ones() {
    let shapes = [(16, 784, 64), (33, 100, 17), (784, 16, 64), (5, 300, 200)];
    let cases: Vec<Case> = shapes.iter().map(|&(m, k, n)| fixed(m, k, n, Op::N, Op::N, 0.0)).collect();
    std::thread::scope(|s| {
        for case in &cases {
            s.spawn(move || {
                for _ in 0..3 {
                    assert_case(case.clone());
                }
            });
        }
    });
}

/// Each element of C is the same dot product whichever row tile computes
/// it: the first rows of C for m = 7, 8, 9, 13, 16 and 19 (short last tiles
/// evened out with the one before) have the bits of the same rows computed
/// within a larger product (m = 24: four full tiles of 6 rows, two of 12), on
/// every back end, with A read
/// in place (n small) and packed (n large), f32 and f64.
#[test]
fn row_tiling_does_not_change_the_bits() {
    fn rows_agree<T: Float>(backend: Backend, n: usize) {
        let (big, k) = (24, 300);
        let a = Matrix::<T>::from_fn(big, k, |i, p| T::from_f64(((i * 37 + p * 11) % 29) as f64 / 29.0 - 0.5));
        let b = Matrix::<T>::from_fn(k, n, |p, j| T::from_f64(((p * 13 + j * 5) % 31) as f64 / 31.0 - 0.5));
        let mut whole = Matrix::<T>::zeros(big, n);
        gemm_with(backend, T::ONE, a.view(), Op::N, b.view(), Op::N, T::ZERO, whole.view_mut()).unwrap();
        for m in [7, 8, 9, 13, 16, 19] {
            let mut part = Matrix::<T>::zeros(m, n);
            let a_rows = a.rows_range(0, m);
            gemm_with(backend, T::ONE, a_rows, Op::N, b.view(), Op::N, T::ZERO, part.view_mut()).unwrap();
            let differ = (0..m * n).filter(|&e| part.as_slice()[e] != whole.as_slice()[e]).count();
            assert_eq!(differ, 0, "{backend:?}, m = {m}, n = {n}: elements whose bits differ");
        }
    }
    for backend in Backend::available() {
        for n in [64, 300] {
            rows_agree::<f32>(backend, n);
            rows_agree::<f64>(backend, n);
        }
    }
}

/// Each element of C gets the same bits whichever column tile holds it: a
/// full tile (n = 80: one or more whole tiles of 16 or 64 columns) or an
/// edge tile (the same columns as a product of 1 or 3 columns), for any α
/// and β: the vector kernels store their edge tiles rounding as they store
/// full ones. Our kernels, f32 and f64.
#[test]
fn column_tiling_does_not_change_the_bits() {
    fn columns_agree<T: Float>(backend: Backend, alpha: f64, beta: f64) {
        let (m, k, n) = (7, 40, 80);
        let v = |x: usize, d: usize| T::from_f64((x % d) as f64 / d as f64 - 0.4);
        let a = Matrix::<T>::from_fn(m, k, |i, p| v(i * 37 + p * 11, 29));
        let b = Matrix::<T>::from_fn(k, n, |p, j| v(p * 13 + j * 5, 31));
        let c0 = Matrix::<T>::from_fn(m, n, |i, j| v(i * 7 + j * 3, 17));
        let (alpha, beta) = (T::from_f64(alpha), T::from_f64(beta));
        let mut whole = c0.clone();
        gemm_with(backend, alpha, a.view(), Op::N, b.view(), Op::N, beta, whole.view_mut()).unwrap();
        for (j0, w) in [(0, 1), (5, 3), (63, 1), (77, 3)] {
            let cols = |x: &Matrix<T>| Matrix::<T>::from_fn(x.rows(), w, |i, j| x.get(i, j0 + j));
            let mut part = cols(&c0);
            gemm_with(backend, alpha, a.view(), Op::N, cols(&b).view(), Op::N, beta, part.view_mut()).unwrap();
            let differ = (0..m * w).filter(|&e| part.as_slice()[e] != cols(&whole).as_slice()[e]).count();
            assert_eq!(differ, 0, "{backend:?}, α {alpha:?}, β {beta:?}, columns {j0}..{}", j0 + w);
        }
    }
    let ours = [Backend::Portable, Backend::Avx2, Backend::Avx512];
    for backend in Backend::available().into_iter().filter(|b| ours.contains(b)) {
        for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (0.7, 0.0), (0.7, 1.0), (1.0, 0.3), (0.7, 0.3), (-1.3, 0.9)] {
            columns_agree::<f32>(backend, alpha, beta);
            columns_agree::<f64>(backend, alpha, beta);
        }
    }
}
