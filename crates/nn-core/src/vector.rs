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
//! The widest width in use can be capped when nn-core is compiled:
//! `NN_CORE_MAX_SIMD=avx2` (or `baseline`) in the environment of the build
//! makes every loop here, and `gemm`'s automatic kernel, use at most AVX2
//! (or the baseline and the portable kernel), as on a CPU without AVX-512.
//! That measures the code an AVX2 machine runs on an AVX-512 one; the
//! explicit `gemm` back ends stay available. Unset, or `avx512`, changes
//! nothing; any other value stops the build.
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

/// Whether two strings are equal, in a `const` context.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The widest width this build may use: `NN_CORE_MAX_SIMD` at compile time
/// (see the module docs), AVX-512 when it is unset.
pub const MAX_WIDTH: Width = match option_env!("NN_CORE_MAX_SIMD") {
    None => Width::Avx512,
    Some(v) if same(v, "avx512") => Width::Avx512,
    Some(v) if same(v, "avx2") => Width::Avx2,
    Some(v) if same(v, "baseline") => Width::Baseline,
    Some(_) => panic!("NN_CORE_MAX_SIMD must be avx512, avx2 or baseline"),
};

impl Width {
    /// The widest this CPU runs (detected once), at most [`MAX_WIDTH`]:
    /// the width the loops of this module use.
    pub fn detected() -> Width {
        static DETECTED: std::sync::OnceLock<Width> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(|| Width::cpu().min(MAX_WIDTH))
    }

    /// The widest this CPU runs, whatever [`MAX_WIDTH`] says (detected once).
    fn cpu() -> Width {
        static CPU: std::sync::OnceLock<Width> = std::sync::OnceLock::new();
        *CPU.get_or_init(Width::detect)
    }

    /// The narrower of two widths.
    pub fn min(self, other: Width) -> Width {
        let rank = |w: Width| match w {
            Width::Baseline => 0,
            Width::Avx2 => 1,
            Width::Avx512 => 2,
        };
        if rank(other) < rank(self) {
            other
        } else {
            self
        }
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

    /// Whether this CPU can run loops compiled for this width (whatever
    /// [`MAX_WIDTH`] says: the `_at` functions may still be asked for it).
    pub fn available(self) -> bool {
        self.min(Width::cpu()) == self
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

widest! {
    /// `out[i] = (bytes[i] − offset) / divisor` in `T`'s arithmetic, over the
    /// shorter of the two: bytes (pixels, say) as numbers, 16 lanes at a time
    /// where the CPU has AVX-512. A table look-up per byte gives the same
    /// values only where this formula reproduces the table; check that once.
    ///
    /// ```
    /// let mut out = [0.0f32; 3];
    /// nn_core::vector::bytes_scaled(&mut out, &[0, 51, 255], 0.0, 255.0);
    /// assert_eq!(out, [0.0, 0.2, 1.0]);
    /// ```
    pub fn bytes_scaled / bytes_scaled_at<T: Float>(out: &mut [T], bytes: &[u8], offset: T, divisor: T) => bytes_scaled_body
}

#[inline(always)]
fn bytes_scaled_body<T: Float>(out: &mut [T], bytes: &[u8], offset: T, divisor: T) {
    out.iter_mut().zip(bytes).for_each(|(o, &b)| *o = (T::from_f64(f64::from(b)) - offset) / divisor);
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
    use crate::gemm::Backend;

    #[test]
    fn the_build_cap_bounds_the_loops_and_gemm() {
        assert_eq!(Width::Avx512.min(Width::Avx2), Width::Avx2);
        assert_eq!(Width::Baseline.min(Width::Avx512), Width::Baseline);
        assert_eq!(Width::Avx2.min(Width::Avx2), Width::Avx2);
        // the loops use the CPU's widest width, capped by the build
        assert_eq!(Width::detected(), Width::cpu().min(MAX_WIDTH));
        // and gemm's automatic choice is the widest kernel the CPU and the cap allow
        let want = if MAX_WIDTH == Width::Avx512 && Backend::Avx512.is_available() {
            Backend::Avx512
        } else if MAX_WIDTH != Width::Baseline && Backend::Avx2.is_available() {
            Backend::Avx2
        } else {
            Backend::Portable
        };
        assert_eq!(Backend::Auto.resolve(), want, "built with NN_CORE_MAX_SIMD={:?}", option_env!("NN_CORE_MAX_SIMD"));
        // a capped width can still be asked for explicitly where the CPU has it
        assert!(Width::Baseline.available());
        assert_eq!(Width::Avx512.available(), Width::cpu() == Width::Avx512);
    }

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

    #[test]
    fn bytes_scale_alike_at_every_width() {
        let bytes: Vec<u8> = (0..1037).map(|i| (i * 7919 % 256) as u8).collect();
        for (offset, divisor) in [(127.5f32, 255.0), (0.0, 255.0), (0.0, 1.0), (3.25, -7.0)] {
            let mut reference = vec![0.0f32; bytes.len()];
            bytes_scaled_at(Width::Baseline, &mut reference, &bytes, offset, divisor);
            for (r, &b) in reference.iter().zip(&bytes) {
                assert_eq!(r.to_bits(), ((f32::from(b) - offset) / divisor).to_bits());
            }
            for width in [Width::Avx512, Width::Avx2] {
                if !width.available() {
                    eprintln!("NOT RUN: this CPU lacks {width:?}; only the baseline loop was checked");
                    continue;
                }
                let mut out = vec![0.0f32; bytes.len()];
                bytes_scaled_at(width, &mut out, &bytes, offset, divisor);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&reference), "{width:?}");
            }
        }
    }
}
