//! Element-wise loops compiled for the CPU's widest vector unit.
//!
//! The crate is compiled for baseline x86-64 (SSE2, four f32 lanes), so a
//! plain loop over a gradient adds four numbers per instruction even on a
//! CPU with AVX-512. The functions here run their loop inside a copy
//! compiled with AVX-512 (or AVX2 + FMA) enabled when the CPU has it,
//! chosen at run time, so the compiler vectorises it 16 (or 8) lanes wide.
//!
//! The bits do not change: each lane performs the same IEEE operation
//! (add, multiply, divide, square root, each correctly rounded) as the
//! scalar loop, and Rust never fuses a multiply and an add on its own, so
//! every width gives the same result, element for element (tested for
//! every width this CPU has). [`add`] and [`add_assign`] are the sums of
//! the data-parallel trainer; the optimizers' update rules run the same way.
//!
//! ```
//! let (a, b) = (vec![0.1f32; 1000], vec![0.2f32; 1000]);
//! let mut out = vec![0.0; 1000];
//! nn_core::vector::add(&mut out, &a, &b);
//! assert!(out.iter().all(|&v| v == 0.1f32 + 0.2f32));
//! ```

use crate::float::Float;

/// The vector widths the loops of this module are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// AVX-512 (F, VL, DQ, BW) with AVX2 and FMA: 16 f32 lanes.
    Avx512,
    /// AVX2 with FMA: 8 f32 lanes.
    Avx2,
    /// What the crate is compiled for (SSE2 on x86-64).
    Baseline,
}

impl Width {
    /// The widest this CPU runs (detected once).
    pub fn detected() -> Width {
        static DETECTED: std::sync::OnceLock<Width> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(Width::detect)
    }

    fn detect() -> Width {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Width::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Width::Avx2;
            }
        }
        Width::Baseline
    }

    /// Whether this CPU can run loops compiled for this width.
    pub fn available(self) -> bool {
        matches!((self, Width::detected()), (Width::Baseline, _) | (_, Width::Avx512) | (Width::Avx2, Width::Avx2))
    }
}

/// Defines `$name(args)`, which runs the `#[inline(always)]` function
/// `$body(args)` compiled for the widest width this CPU has, and
/// `$name_at(width, args)`, for a given width (the baseline if the CPU
/// lacks it).
macro_rules! widest {
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $at:ident <$T:ident: Float>($($a:ident: $t:ty),* $(,)?) => $body:path) => {
        $(#[$doc])*
        $vis fn $name<$T: Float>($($a: $t),*) {
            $at($crate::vector::Width::detected(), $($a),*)
        }

        /// As the function without `_at`, compiled for `width`.
        #[allow(dead_code)]
        $vis fn $at<$T: Float>(width: $crate::vector::Width, $($a: $t),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
                fn avx512<$T: Float>($($a: $t),*) {
                    $body($($a),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<$T: Float>($($a: $t),*) {
                    $body($($a),*)
                }
                if width.available() {
                    match width {
                        // SAFETY: `available` checked that the CPU has every feature `avx512` enables.
                        $crate::vector::Width::Avx512 => return unsafe { avx512($($a),*) },
                        // SAFETY: as above, for `avx2`.
                        $crate::vector::Width::Avx2 => return unsafe { avx2($($a),*) },
                        $crate::vector::Width::Baseline => {}
                    }
                }
            }
            let _ = width;
            $body($($a),*)
        }
    };
}
pub(crate) use widest;

widest! {
    /// `out[i] = a[i] + b[i]` over the shortest of the three.
    pub fn add / add_at<T: Float>(out: &mut [T], a: &[T], b: &[T]) => add_body
}

widest! {
    /// `a[i] += b[i]` over the shorter of the two.
    pub fn add_assign / add_assign_at<T: Float>(a: &mut [T], b: &[T]) => add_assign_body
}

#[inline(always)]
fn add_body<T: Float>(out: &mut [T], a: &[T], b: &[T]) {
    out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = x + y);
}

#[inline(always)]
fn add_assign_body<T: Float>(a: &mut [T], b: &[T]) {
    a.iter_mut().zip(b).for_each(|(x, &y)| *x += y);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_gives_the_same_bits() {
        let n = 1037;
        let a: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 997.0 - 0.3).collect();
        let b: Vec<f32> = (0..n).map(|i| ((i * 104_729) % 1000) as f32 / 991.0 + 1e-3).collect();
        let mut reference = vec![0.0f32; n];
        add_at(Width::Baseline, &mut reference, &a, &b);
        for width in [Width::Avx512, Width::Avx2] {
            if !width.available() {
                eprintln!("NOT RUN: this CPU lacks {width:?}; only the baseline loop was checked");
                continue;
            }
            let mut out = vec![0.0f32; n];
            add_at(width, &mut out, &a, &b);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&out), bits(&reference), "{width:?}");
            let mut acc = a.clone();
            add_assign_at(width, &mut acc, &b);
            assert_eq!(bits(&acc), bits(&reference), "{width:?}");
        }
    }
}
