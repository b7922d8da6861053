//! Inline SVG drawing for `report.html`: a trace as one `<path>` decimated for drawing only
//! (per pixel column the first, lowest, highest and last sample, in time order, so spikes
//! stay visible at any length), and feature scores as horizontal bars against the validation
//! threshold on a log scale.

use std::fmt::Write;

/// Escapes text for HTML/SVG content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The points drawn for `values` sampled at `t0_ms + k·dt_ms`, as (time, value): every finite
/// sample when there are at most `4·columns`, else per column of the time axis the first,
/// minimum, maximum and last finite sample in time order. `None` separates runs of finite
/// samples (a NaN breaks the line).
pub fn decimate(values: &[f64], columns: usize) -> Vec<Option<(usize, f64)>> {
    let n = values.len();
    let columns = columns.max(1);
    let mut out = Vec::new();
    if n <= 4 * columns {
        let mut prev_finite = false;
        for (k, &v) in values.iter().enumerate() {
            if v.is_finite() {
                out.push(Some((k, v)));
                prev_finite = true;
            } else if prev_finite {
                out.push(None);
                prev_finite = false;
            }
        }
        return out;
    }
    let mut prev_finite = false;
    for c in 0..columns {
        let lo = c * n / columns;
        let hi = ((c + 1) * n / columns).min(n);
        let mut picks: Vec<usize> = Vec::with_capacity(4);
        let mut first = None;
        let mut last = None;
        let mut min: Option<usize> = None;
        let mut max: Option<usize> = None;
        let mut broken = false;
        for (k, &v) in values.iter().enumerate().take(hi).skip(lo) {
            if !v.is_finite() {
                broken = true;
                continue;
            }
            first.get_or_insert(k);
            last = Some(k);
            if min.is_none_or(|m| v < values[m]) {
                min = Some(k);
            }
            if max.is_none_or(|m| v > values[m]) {
                max = Some(k);
            }
        }
        for k in [first, min, max, last].into_iter().flatten() {
            if !picks.contains(&k) {
                picks.push(k);
            }
        }
        picks.sort_unstable();
        if broken && prev_finite {
            out.push(None);
        }
        for k in &picks {
            out.push(Some((*k, values[*k])));
        }
        prev_finite = !picks.is_empty();
    }
    out
}

/// The `d` attribute of a path through `points` mapped by `x(k)`, `y(v)`; one decimal place.
pub fn path_data(
    points: &[Option<(usize, f64)>],
    x: impl Fn(usize) -> f64,
    y: impl Fn(f64) -> f64,
) -> String {
    let mut d = String::with_capacity(points.len() * 12);
    let mut pen_down = false;
    for p in points {
        match p {
            None => pen_down = false,
            Some((k, v)) => {
                let cmd = if pen_down { 'L' } else { 'M' };
                let _ = write!(d, "{cmd}{:.1} {:.1}", x(*k), y(*v));
                pen_down = true;
            }
        }
    }
    d
}

/// Round numbers for axis labels: the shortest of `{:.0}`, `{:.1}`, ... that shows `x`.
pub fn label(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.1}")
    } else if a >= 0.01 {
        format!("{x:.3}")
    } else {
        format!("{x:.2e}")
    }
}

/// One trace to plot.
#[derive(Clone, Debug)]
pub struct TracePlot<'a> {
    /// A unique key (`emodel/protocol/recording/lane`), written to `data-trace`.
    pub key: &'a str,
    pub title: &'a str,
    pub units: &'a str,
    pub t0_ms: f64,
    pub dt_ms: f64,
    pub values: &'a [f64],
    /// The features' stimulus window [ms], shaded behind the trace.
    pub window_ms: Option<(f64, f64)>,
}

/// Plot size [px].
const TRACE_W: f64 = 520.0;
const TRACE_H: f64 = 170.0;
const MARGIN_L: f64 = 56.0;
const MARGIN_R: f64 = 10.0;
const MARGIN_T: f64 = 20.0;
const MARGIN_B: f64 = 28.0;

/// An `<svg>` with the trace drawn as one `<path class="trace">`.
pub fn trace_svg(p: &TracePlot<'_>) -> String {
    let plot_w = TRACE_W - MARGIN_L - MARGIN_R;
    let plot_h = TRACE_H - MARGIN_T - MARGIN_B;
    let n = p.values.len();
    let t_end = p.t0_ms + n.saturating_sub(1) as f64 * p.dt_ms;
    let finite = p.values.iter().copied().filter(|v| v.is_finite());
    let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.05 * span
    } else {
        0.5 * lo.abs().max(1e-9)
    };
    let (ylo, yhi) = (lo - pad, hi + pad);
    let tspan = if t_end > p.t0_ms {
        t_end - p.t0_ms
    } else {
        1.0
    };
    let x = |k: usize| MARGIN_L + (k as f64 * p.dt_ms) / tspan * plot_w;
    let y = |v: f64| MARGIN_T + (yhi - v) / (yhi - ylo) * plot_h;
    let points = decimate(p.values, plot_w as usize);
    let d = path_data(&points, x, y);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"trace-plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{TRACE_W}\" \
         height=\"{TRACE_H}\" viewBox=\"0 0 {TRACE_W} {TRACE_H}\" role=\"img\">\
         <title>{title}</title>\
         <text x=\"{MARGIN_L}\" y=\"14\" class=\"ttl\">{title}</text>\
         <rect x=\"{MARGIN_L}\" y=\"{MARGIN_T}\" width=\"{plot_w}\" height=\"{plot_h}\" class=\"frame\"/>",
        title = escape(p.title),
    );
    let _ = write!(
        s,
        "<text x=\"{lx}\" y=\"{ty}\" class=\"ax\" text-anchor=\"end\">{hi_l}</text>\
         <text x=\"{lx}\" y=\"{by}\" class=\"ax\" text-anchor=\"end\">{lo_l}</text>\
         <text x=\"{lx}\" y=\"{my}\" class=\"ax\" text-anchor=\"end\">{units}</text>\
         <text x=\"{MARGIN_L}\" y=\"{tx}\" class=\"ax\">{t0} ms</text>\
         <text x=\"{rx}\" y=\"{tx}\" class=\"ax\" text-anchor=\"end\">{t1} ms</text>",
        lx = MARGIN_L - 4.0,
        ty = y(hi) + 4.0,
        by = y(lo) + 4.0,
        my = MARGIN_T + plot_h / 2.0 + 4.0,
        hi_l = label(hi),
        lo_l = label(lo),
        units = escape(p.units),
        tx = TRACE_H - 8.0,
        rx = MARGIN_L + plot_w,
        t0 = label(p.t0_ms),
        t1 = label(t_end),
    );
    if let Some((a, b)) = p.window_ms {
        // clipped to the plotted time span
        let xa = MARGIN_L + ((a - p.t0_ms) / tspan).clamp(0.0, 1.0) * plot_w;
        let xb = MARGIN_L + ((b - p.t0_ms) / tspan).clamp(0.0, 1.0) * plot_w;
        if xb > xa {
            let _ = write!(
                s,
                "<rect class=\"window\" x=\"{xa:.1}\" y=\"{MARGIN_T}\" width=\"{w:.1}\" \
                 height=\"{plot_h}\"><title>stimulus window {a} to {b} ms</title></rect>",
                w = xb - xa,
            );
        }
    }
    let _ = write!(
        s,
        "<path class=\"trace\" data-trace=\"{key}\" d=\"{d}\"/></svg>",
        key = escape(p.key),
    );
    s
}

/// One bar: a feature's weighted score, and whether it was computed on a trace.
#[derive(Clone, Debug)]
pub struct Bar<'a> {
    pub label: &'a str,
    pub score: f64,
    /// Why it scored without a trace, if so (drawn hatched).
    pub note: Option<&'a str>,
}

const BAR_H: f64 = 16.0;
const BAR_LABEL_W: f64 = 400.0;
const BAR_W: f64 = 300.0;
/// The largest score the scale shows (BluePyOpt's 250).
const SCALE_MAX: f64 = 250.0;

/// Position along the bar scale: log10(1 + score), 0 to 250.
fn bar_x(score: f64) -> f64 {
    let s = if score.is_nan() {
        SCALE_MAX
    } else {
        score.clamp(0.0, SCALE_MAX)
    };
    BAR_LABEL_W + (1.0 + s).log10() / (1.0 + SCALE_MAX).log10() * BAR_W
}

/// Horizontal bars of `bars` against the `threshold` line.
pub fn score_bars_svg(bars: &[Bar<'_>], threshold: f64) -> String {
    let height = MARGIN_T + bars.len() as f64 * (BAR_H + 3.0) + MARGIN_B + 14.0;
    let width = BAR_LABEL_W + BAR_W + 80.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"score-plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">\
         <title>feature scores</title>"
    );
    for (i, b) in bars.iter().enumerate() {
        let top = MARGIN_T + i as f64 * (BAR_H + 3.0);
        let w = bar_x(b.score) - BAR_LABEL_W;
        let class = if b.note.is_some() {
            "bar missing"
        } else if b.score < threshold {
            "bar pass"
        } else {
            "bar fail"
        };
        let tip = match b.note {
            Some(n) => format!("{}: {} ({n})", b.label, label(b.score)),
            None => format!("{}: {}", b.label, b.score),
        };
        let _ = write!(
            s,
            "<g><title>{tip}</title><text x=\"{lx}\" y=\"{ty}\" class=\"bl\" text-anchor=\"end\">{name}</text>\
             <rect class=\"{class}\" x=\"{BAR_LABEL_W}\" y=\"{top}\" width=\"{w:.1}\" height=\"{BAR_H}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\" class=\"bv\">{value}</text></g>",
            tip = escape(&tip),
            lx = BAR_LABEL_W - 6.0,
            ty = top + BAR_H - 4.0,
            name = escape(b.label),
            vx = BAR_LABEL_W + w + 4.0,
            value = escape(&label(b.score)),
        );
    }
    let bottom = MARGIN_T + bars.len() as f64 * (BAR_H + 3.0);
    for tick in [0.0, 1.0, 5.0, 25.0, 250.0] {
        let _ = write!(
            s,
            "<line class=\"tick\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{MARGIN_T}\" y2=\"{y2}\"/>\
             <text class=\"ax\" x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\">{tick}</text>",
            x = bar_x(tick),
            y2 = bottom + 3.0,
            ty = bottom + 15.0,
        );
    }
    let _ = write!(
        s,
        "<line class=\"threshold\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y1}\" y2=\"{bottom}\"/>\
         <text class=\"ax thr\" x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\">threshold {t}</text>\
         <text class=\"ax\" x=\"{sx:.1}\" y=\"{sy}\">weighted score (log scale)</text></svg>",
        x = bar_x(threshold),
        y1 = MARGIN_T - 4.0,
        ty = MARGIN_T - 7.0,
        t = label(threshold),
        sx = BAR_LABEL_W,
        sy = bottom + 30.0,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_every_spike_and_the_order() {
        // 100 000 samples at rest with three one-sample spikes
        let mut v = vec![-70.0; 100_000];
        for k in [12_345, 50_000, 99_998] {
            v[k] = 30.0;
        }
        v[77_777] = -90.0;
        let points = decimate(&v, 400);
        assert!(points.len() <= 4 * 400);
        let kept: Vec<usize> = points.iter().flatten().map(|p| p.0).collect();
        for k in [12_345, 50_000, 99_998, 77_777, 0, 99_999] {
            assert!(kept.contains(&k), "{k}");
        }
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn short_traces_are_drawn_whole_and_nan_breaks_the_line() {
        let v = [1.0, 2.0, f64::NAN, 4.0, 5.0];
        let p = decimate(&v, 100);
        assert_eq!(
            p,
            vec![
                Some((0, 1.0)),
                Some((1, 2.0)),
                None,
                Some((3, 4.0)),
                Some((4, 5.0))
            ]
        );
        let d = path_data(&p, |k| k as f64, |v| -v);
        assert_eq!(d, "M0.0 -1.0L1.0 -2.0M3.0 -4.0L4.0 -5.0");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
        let svg = trace_svg(&TracePlot {
            key: "m/<p>/soma.v/own",
            title: "<p> soma.v",
            units: "mV",
            t0_ms: 0.0,
            dt_ms: 0.1,
            values: &[-70.0, -60.0, -65.0],
            window_ms: Some((0.1, 0.15)),
        });
        assert_eq!(svg.matches("<rect class=\"window\"").count(), 1);
        assert!(!svg.contains("<p>"));
        assert_eq!(svg.matches("<path class=\"trace\"").count(), 1);
    }
}
