//! `f64` `exp` as NEURON gets it on glibc, called without glibc's `errno` wrapper.
//!
//! On glibc, `exp` is a small wrapper that calls the CPU-specific implementation (chosen by
//! glibc at load time) and then sets `errno` on overflow or underflow. glibc still exports that
//! implementation as `__exp_finite` (symbol version `GLIBC_2.15`); calling it directly gives the
//! same bits as `exp` for every argument and skips the wrapper. It is looked up once at run
//! time and used only after it agrees with `f64::exp` bit for bit on a set of arguments
//! (special values included); anywhere else `f64::exp` is used.

use std::sync::OnceLock;

/// The `exp` the kernels call for `f64`.
pub type ExpFn = unsafe extern "C" fn(f64) -> f64;

static EXP: OnceLock<Option<ExpFn>> = OnceLock::new();

/// glibc's `exp` implementation without the wrapper, if found and checked.
#[inline]
pub fn unwrapped() -> Option<ExpFn> {
    *EXP.get_or_init(lookup)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn lookup() -> Option<ExpFn> {
    use std::ffi::{c_char, c_void};
    extern "C" {
        fn dlvsym(
            handle: *mut c_void,
            symbol: *const c_char,
            version: *const c_char,
        ) -> *mut c_void;
    }
    // SAFETY: RTLD_DEFAULT (null) searches the loaded objects; the names are NUL-terminated.
    let p = unsafe {
        dlvsym(
            std::ptr::null_mut(),
            c"__exp_finite".as_ptr(),
            c"GLIBC_2.15".as_ptr(),
        )
    };
    if p.is_null() {
        return None;
    }
    // SAFETY: glibc's `__exp_finite` has the C signature `double (double)`.
    let f: ExpFn = unsafe { std::mem::transmute::<*mut c_void, ExpFn>(p) };
    agrees(f).then_some(f)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn lookup() -> Option<ExpFn> {
    None
}

/// Whether `f` gives `f64::exp`'s bits on special values and a sweep of arguments.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn agrees(f: ExpFn) -> bool {
    let special = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        709.78,
        709.79,
        -708.4,
        -745.1,
        -745.2,
        1e-300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
    ];
    let sweep = (0..4000).map(|k| -750.0 + k as f64 * 0.36533);
    special.into_iter().chain(sweep).all(|x| {
        // SAFETY: `f` is `double (double)`
        let got = unsafe { f(x) };
        got.to_bits() == std::hint::black_box(x).exp().to_bits()
    }) && {
        // SAFETY: as above
        unsafe { f(f64::NAN) }.is_nan()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where glibc provides it, the unwrapped `exp` gives `exp`'s bits on a dense sweep of the
    /// whole finite range (and the kernels use it).
    #[test]
    fn unwrapped_exp_is_exp() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        let f = unwrapped().expect("glibc exports __exp_finite@GLIBC_2.15 and it agrees with exp");
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        let Some(f) = unwrapped() else {
            return;
        };
        let mut x = -760.0f64;
        let mut n = 0;
        while x < 720.0 {
            // SAFETY: `double (double)`
            let got = unsafe { f(x) };
            assert_eq!(
                got.to_bits(),
                std::hint::black_box(x).exp().to_bits(),
                "exp({x})"
            );
            x += 1.0e-4 + (n % 7) as f64 * 1.3e-5;
            n += 1;
        }
        assert!(n > 5_000_000);
    }
}
