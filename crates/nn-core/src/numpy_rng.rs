//! numpy's legacy random stream, bit for bit: [`RandomState`] is
//! `numpy.random.RandomState` (the generator behind `np.random.seed`,
//! `np.random.randn`, `np.random.normal`, `np.random.random_sample`,
//! `np.random.permutation` and `np.random.shuffle`), so that a tutorial
//! written with numpy can be rerun here with its own random numbers.
//!
//! - **MT19937** (Matsumoto & Nishimura, 1998): 624 words of state;
//!   `seed(s)` sets `mt[0] = s` and `mt[i] = 1812433253·(mt[i−1] ⊕ (mt[i−1] ≫ 30)) + i` (mod 2³²),
//!   exactly as `np.random.seed(int)` does.
//! - **Uniform doubles** (`random_sample`): two words a, b give
//!   ((a ≫ 5)·2²⁶ + (b ≫ 6)) / 2⁵³ ∈ [0, 1).
//! - **Normal deviates** (`randn`, `normal`): the polar method of Marsaglia.
//!   Draw x₁ = 2u₁ − 1, x₂ = 2u₂ − 1 until 0 < r² = x₁² + x₂² < 1; then
//!   f = √(−2 ln r² / r²) and the pair is (f·x₂, f·x₁): f·x₂ is returned, f·x₁
//!   is kept and returned by the next call (even across other kinds of draws,
//!   until the generator is re-seeded). `normal(μ, σ) = μ + σ·z`.
//! - **Bounded integers** (`shuffle`, `permutation`): a draw in 0..=max takes
//!   words masked to the smallest all-ones mask ≥ max and rejects those above max.
//! - **Shuffle** (Fisher–Yates as numpy writes it): for i = n−1 down to 1,
//!   swap `x[i]` with `x[j]`, j uniform in 0..=i.
//!
//! ```
//! use nn_core::numpy_rng::RandomState;
//! // np.random.seed(1); np.random.random_sample() == 0.417022004702574
//! let mut rs = RandomState::new(1);
//! assert_eq!(rs.random_sample(), 0.417022004702574);
//! // np.random.seed(1); np.random.randn() == 1.6243453636632417
//! rs.seed(1);
//! assert_eq!(rs.randn(), 1.6243453636632417);
//! ```

/// Words of MT19937 state.
const N: usize = 624;
/// MT19937's middle offset.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// numpy's legacy `RandomState`: MT19937 plus the cached second normal deviate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandomState {
    mt: [u32; N],
    pos: usize,
    /// The second deviate of the last polar pair, if not yet returned.
    gauss: Option<u64>,
}

impl RandomState {
    /// A generator seeded as `np.random.seed(seed)` / `np.random.RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut rs = RandomState { mt: [0; N], pos: N, gauss: None };
        rs.seed(seed);
        rs
    }

    /// Re-seeds as `np.random.seed(seed)` does (also drops a cached normal deviate).
    pub fn seed(&mut self, seed: u32) {
        self.mt[0] = seed;
        for i in 1..N {
            let prev = self.mt[i - 1];
            self.mt[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.pos = N;
        self.gauss = None;
    }

    /// Refills the 624 words (the "twist").
    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.mt[i] & UPPER_MASK) | (self.mt[(i + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.mt[i] = self.mt[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next 32-bit word (tempered MT19937 output).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.twist();
        }
        let mut y = self.mt[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Two words as one 64-bit integer, the first in the high half.
    fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        (hi << 32) | u64::from(self.next_u32())
    }

    /// `np.random.random_sample()`: ((a ≫ 5)·2²⁶ + (b ≫ 6)) / 2⁵³, in [0, 1).
    pub fn random_sample(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `np.random.randn()`: one standard normal deviate by the polar method
    /// (returns the cached second value of the last pair if there is one).
    pub fn randn(&mut self) -> f64 {
        if let Some(bits) = self.gauss.take() {
            return f64::from_bits(bits);
        }
        let (x1, x2, r2) = loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                break (x1, x2, r2);
            }
        };
        let f = (-2.0 * r2.ln() / r2).sqrt();
        self.gauss = Some((f * x1).to_bits());
        f * x2
    }

    /// `np.random.randn(n)` (or `randn(r, c)` read row-major): `n` deviates in order.
    pub fn randn_vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.randn()).collect()
    }

    /// `np.random.normal(loc, scale)`: loc + scale·z.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.randn()
    }

    /// A uniform integer in 0..=max (numpy's legacy masked rejection: 32-bit
    /// words while max fits in 32 bits, 64-bit words above).
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `np.random.shuffle(x)` for a 1-D array: for i = n−1 down to 1, swap
    /// `x[i]` and `x[j]` with j uniform in 0..=i.
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.random_interval(i as u64) as usize;
            x.swap(i, j);
        }
    }

    /// `np.random.permutation(n)`: 0..n shuffled.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_implementation() {
        // The 10 000th output of init_genrand(5489) is 4123659995 (C++11 std::mt19937).
        let mut rs = RandomState::new(5489);
        let last = (0..10_000).map(|_| rs.next_u32()).last();
        assert_eq!(last, Some(4_123_659_995));
    }

    #[test]
    fn reseeding_restarts_the_stream_and_drops_the_cached_deviate() {
        let mut rs = RandomState::new(3);
        let first = rs.randn();
        let _cached = rs.randn();
        let _ = rs.randn(); // leaves the second of a new pair cached
        rs.seed(3);
        assert_eq!(rs.randn().to_bits(), first.to_bits());
    }

    #[test]
    fn bounded_draws_stay_in_range_and_shuffles_are_permutations() {
        let mut rs = RandomState::new(11);
        for max in [0u64, 1, 2, 7, 1000, u64::from(u32::MAX), 1 << 40] {
            assert!((0..50).all(|_| rs.random_interval(max) <= max));
        }
        let mut p = rs.permutation(1000);
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }
}
