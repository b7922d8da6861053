//! `exp` for `f32` over [`WIDTH`] values at once, in straight-line code the compiler vectorises.
//!
//! The `f32` argument is widened to `f64` (exactly), reduced to `x = k·ln 2 + r` with `|r| ≤ ln 2 / 2`
//! (`k` rounded to nearest with the 1.5·2⁵² shift, whose bits then hold `k`), `eʳ` comes from its
//! Taylor polynomial of degree 8 (evaluated by Estrin's scheme), `2ᵏ` is made from its bits, and
//! the `f64` product is rounded once to `f32`. The `f64` error (truncation below 3e-10 relative)
//! is far below half an `f32` ulp (6e-8), so the result is the correctly rounded `eˣ` except
//! where `eˣ` lies within about 3e-10 relative of a rounding boundary (then it may be the other
//! neighbour: 1 ulp).
//! Arguments above 89 give +∞ (e⁸⁹ > `f32::MAX`), below −104 give 0 (e⁻¹⁰⁴ is less than half
//! the smallest subnormal), NaN gives NaN; subnormal results are rounded from the `f64` value.

/// Values per call.
pub const WIDTH: usize = 8;

const LOG2_E: f64 = std::f64::consts::LOG2_E;
const LN_2: f64 = std::f64::consts::LN_2;
/// 1.5·2⁵²: adding it rounds a small `f64` to an integer held in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// `eˣ` for each of `x`, as described in the module docs.
#[inline(always)]
pub fn exp_f32(x: [f32; WIDTH]) -> [f32; WIDTH] {
    // one simple loop per stage, without branches, so that each becomes vector code
    // (`clamp` keeps NaN)
    let xc: [f64; WIDTH] = x.map(|v| (v as f64).clamp(-104.0, 89.0));
    let shifted: [f64; WIDTH] = xc.map(|v| v * LOG2_E + SHIFT);
    let mut r = [0.0f64; WIDTH];
    for k in 0..WIDTH {
        r[k] = xc[k] - (shifted[k] - SHIFT) * LN_2;
    }
    // Taylor polynomial of degree 8 (coefficients 1/n!), by Estrin's scheme: short dependency
    // chains, so that neighbouring blocks overlap
    const C: [f64; 9] = [
        1.0,
        1.0,
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
    ];
    let mut p = [0.0f64; WIDTH];
    for k in 0..WIDTH {
        let x = r[k];
        let x2 = x * x;
        let x4 = x2 * x2;
        let q01 = C[0] + C[1] * x;
        let q23 = C[2] + C[3] * x;
        let q45 = C[4] + C[5] * x;
        let q67 = C[6] + C[7] * x;
        let q03 = q01 + q23 * x2;
        let q47 = q45 + q67 * x2;
        p[k] = q03 + (q47 + C[8] * x4) * x4;
    }
    let mut out = [0.0f32; WIDTH];
    for k in 0..WIDTH {
        // k (|k| ≤ 151) is the difference of the shifted value's bits from the shift's bits
        let k_int = shifted[k].to_bits().wrapping_sub(SHIFT.to_bits());
        let scale = f64::from_bits(k_int.wrapping_add(1023) << 52);
        out[k] = (p[k] * scale) as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in ulps between two finite f32 of the same sign (or both zero).
    fn ulps(a: f32, b: f32) -> u64 {
        let key = |x: f32| {
            let b = x.to_bits() as i64;
            if b < 0 {
                i64::MIN - b
            } else {
                b
            }
        };
        (key(a) - key(b)).unsigned_abs()
    }

    /// The reference: f64 `exp` (error < 1 f64 ulp) rounded to f32.
    fn reference(x: f32) -> f32 {
        (x as f64).exp() as f32
    }

    /// Checks every value; returns the worst distance and how many were correctly rounded.
    fn check(xs: &[f32]) -> (u64, usize) {
        let mut worst = 0;
        let mut exact = 0;
        for c in xs.chunks(WIDTH) {
            let mut a = [0.0f32; WIDTH];
            a[..c.len()].copy_from_slice(c);
            let got = exp_f32(a);
            for (i, &x) in c.iter().enumerate() {
                let want = reference(x);
                if want.is_nan() {
                    assert!(got[i].is_nan(), "exp({x}) = {} (want NaN)", got[i]);
                    continue;
                }
                if want.is_infinite() || got[i].is_infinite() {
                    assert_eq!(got[i], want, "exp({x})");
                    continue;
                }
                let d = ulps(got[i], want);
                assert!(d <= 1, "exp({x}) = {} vs {want}: {d} ulp", got[i]);
                worst = worst.max(d);
                exact += (d == 0) as usize;
            }
        }
        (worst, exact)
    }

    #[test]
    fn special_values() {
        let xs = [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1.0,
            -1.0,
            88.72283,
            88.72284,
            89.0,
            1000.0,
            f32::MAX,
            -87.33654,
            -87.33655,
            -103.27893,
            -103.972_08,
            -103.972_09,
            -104.0,
            -1000.0,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-30,
            -1e-30,
        ];
        check(&xs);
        let got = exp_f32([
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            1000.0,
            -1000.0,
            f32::NAN,
            1.0,
            -0.0,
        ]);
        assert_eq!(got[0], f32::INFINITY);
        assert_eq!(got[1], 0.0);
        assert_eq!(got[2], 1.0);
        assert_eq!(got[3], f32::INFINITY);
        assert_eq!(got[4], 0.0);
        assert!(got[5].is_nan());
        assert_eq!(got[7], 1.0);
    }

    /// Every f32 between −110 and 90 with a stride, and a dense sweep around 0: within 1 ulp
    /// of the correctly rounded value (0 ulp almost everywhere).
    #[test]
    fn whole_range_within_one_ulp() {
        let lo = -110.0f32;
        let hi = 90.0f32;
        let mut xs = Vec::new();
        // walk the bit patterns of negative then positive numbers
        let mut b = lo.to_bits();
        while b > 0x8000_0000 {
            xs.push(f32::from_bits(b));
            b -= 97;
        }
        let mut b = 0u32;
        while f32::from_bits(b) < hi {
            xs.push(f32::from_bits(b));
            b += 97;
        }
        assert!(xs.len() > 20_000_000);
        let (worst, exact) = check(&xs);
        assert!(worst <= 1);
        // nearly all correctly rounded
        assert!(
            exact as f64 >= 0.9999 * xs.len() as f64,
            "{exact} of {}",
            xs.len()
        );
    }
}
