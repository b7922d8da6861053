//! Resampling of a trace onto eFEL's uniform time grid, the first thing eFEL does to every trace.
//!
//! The grid starts at the first sample time and advances by repeated addition of the step (not by
//! multiplication), exactly as eFEL builds it, so that grid times and the indices features report
//! agree with eFEL's to the last bit. Its length is `ceil((t_last − t_first) / step)` points, plus
//! one more point (one step further) when the last of those still lies before `t_last`; that extra
//! point, which may lie beyond `t_last`, takes the last sample's value.

/// The resampled trace: grid times [ms] and linearly interpolated values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resampled {
    pub t_ms: Vec<f64>,
    pub y: Vec<f64>,
}

/// Resample `(t_ms, y)` onto the grid of spacing `step_ms`.
///
/// `t_ms` must be non-decreasing with at least two samples and `t_last > t_first`, `step_ms > 0`
/// (the caller checks). Returns `None` where eFEL's interpolation gives up: an interval of zero
/// length (two equal times) that a grid point would have to be interpolated in. eFEL then goes on
/// with the trace as given, and so does the caller.
pub(crate) fn resample(t_ms: &[f64], y: &[f64], step_ms: f64) -> Option<Resampled> {
    let n = t_ms.len();
    let first = t_ms[0];
    let last = t_ms[n - 1];
    let count = ((last - first) / step_ms).ceil() as usize;
    let mut grid = Vec::with_capacity(count + 1);
    let mut x = first;
    for _ in 0..count {
        grid.push(x);
        x += step_ms;
    }
    if grid.last().is_none_or(|&g| g < last) {
        grid.push(x);
    }

    let mut values = Vec::with_capacity(grid.len());
    let mut j = 0usize;
    for &x in &grid {
        // Move to the interval [t_j, t_{j+1}] holding x; past the end, stay on the last sample.
        while t_ms[j + 1] < x {
            j += 1;
            if j + 1 >= n {
                j = n - 1;
                break;
            }
        }
        if j == n - 1 {
            values.push(y[n - 1]);
            break;
        }
        let dx = t_ms[j + 1] - t_ms[j];
        if dx == 0.0 {
            return None;
        }
        let slope = (y[j + 1] - y[j]) / dx;
        values.push(y[j] + slope * (x - t_ms[j]));
    }
    grid.truncate(values.len());
    Some(Resampled {
        t_ms: grid,
        y: values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_accumulates_the_step_and_covers_the_last_sample() {
        let t = [0.0, 0.25, 0.5, 0.75, 1.0];
        let y = [0.0, 1.0, 2.0, 3.0, 4.0];
        let r = resample(&t, &y, 0.1).unwrap();
        // ceil(1.0 / 0.1) = 10 points 0, 0.1, ..., then one more because 0.1 * 9 (accumulated)
        // is below 1.0.
        assert_eq!(r.t_ms.len(), 11);
        let mut x = 0.0;
        for &g in &r.t_ms {
            assert_eq!(g, x);
            x += 0.1;
        }
        assert_eq!(r.y.len(), 11);
        assert!((r.y[3] - 1.2).abs() < 1e-12);
        // the extra point (accumulated 0.1 * 10, just below or at 1.0) interpolates to ~4
        assert!((r.y[10] - 4.0).abs() < 1e-12);
    }

    #[test]
    fn extra_point_beyond_the_end_takes_the_last_value() {
        let t = [0.0, 1.0, 2.0, 2.05];
        let y = [1.0, 2.0, 3.0, 7.0];
        let r = resample(&t, &y, 0.5).unwrap();
        // ceil(2.05 / 0.5) = 5 points 0..2.0, then 2.5 > 2.05 gets y_last
        assert_eq!(r.t_ms, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(r.y[5], 7.0);
        assert_eq!(r.y[4], 3.0);
    }

    #[test]
    fn zero_length_interval_at_a_grid_point_gives_up() {
        let t = [0.0, 0.0, 1.0];
        let y = [0.0, 5.0, 1.0];
        assert!(resample(&t, &y, 0.5).is_none());
        // repeated times elsewhere are stepped over
        let t = [0.0, 0.3, 0.3, 1.0];
        let y = [0.0, 3.0, 4.0, 11.0];
        let r = resample(&t, &y, 0.5).unwrap();
        assert_eq!(r.y.len(), 3);
        assert!((r.y[1] - (4.0 + 7.0 / 0.7 * 0.2)).abs() < 1e-12);
    }
}
