//! The one shuffle of the workspace: seeded, per epoch, thread-count free.
//!
//! Epoch e visits the samples in the order of a Fisher–Yates shuffle (for i
//! from n − 1 down to 1, swap i with j uniform in 0..=i) drawn from
//! `ChaCha8Rng::seed_from_u64(seed)` on stream e, so an epoch's order
//! depends on (seed, e) alone: not on how many epochs ran before, nor on any
//! thread count. nn-data's mini-batches and nn-train's epoch loop both call
//! [`epoch_order`].
//!
//! ```
//! let (mut a, mut b) = (vec![0; 10], vec![0; 10]);
//! nn_core::shuffle::epoch_order(&mut a, 42, 1);
//! nn_core::shuffle::epoch_order(&mut b, 42, 1);
//! assert_eq!(a, b);
//! nn_core::shuffle::epoch_order(&mut b, 42, 2);
//! assert_ne!(a, b);
//! b.sort();
//! assert_eq!(b, (0..10).collect::<Vec<_>>());
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `ChaCha8Rng::seed_from_u64(seed)` on stream `stream`.
pub fn seeded_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Shuffles `items` in place by Fisher–Yates: for i = n−1 down to 1, swap
/// item i with item j drawn uniformly from 0..=i.
pub fn fisher_yates<E, R: Rng + ?Sized>(items: &mut [E], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// Writes epoch `epoch`'s visiting order of `order.len()` samples into
/// `order`: the identity permutation shuffled by [`fisher_yates`] with
/// [`seeded_rng`]`(seed, epoch)`. No allocation.
pub fn epoch_order(order: &mut [usize], seed: u64, epoch: u64) {
    order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
    fisher_yates(order, &mut seeded_rng(seed, epoch));
}
