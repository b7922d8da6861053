//! `report.html`: one self-contained page (no network, no external script or style sheet; the
//! plots are inline SVG drawn by [`super::svg`]). One section per e-model: its scores as bars
//! against the validation threshold, what failed, and every recorded trace as one SVG `<path>`.
//!
//! A small inline script measures, once the page has loaded, every trace path
//! (`getTotalLength()` and `getBBox()`) and writes how many are drawn with a non-empty extent
//! into `#drawn-traces` — so a headless browser's DOM dump tells whether every trace shows.

use std::fmt::Write;

use crate::features::evaluate::Evaluation;
use crate::features::score::ValidationFunction;

use super::svg::{escape, label, score_bars_svg, trace_svg, Bar, TracePlot};

/// Lanes of an e-model whose feature scores the page draws; the others are summarised (every
/// lane's scores are in scores.json and features.csv), so the page stays small for a sweep of
/// thousands of lanes.
pub const DRAWN_LANES: usize = 20;

/// Failure lines listed per e-model at most; the count of the rest follows.
pub const LISTED_FAILURES: usize = 100;

/// What the page says about one e-model.
#[derive(Clone, Debug)]
pub struct Section<'a> {
    /// The e-model's key in the run.
    pub key: &'a str,
    pub package: &'a str,
    /// One per parameter set (none when nothing was evaluated).
    pub evaluations: Vec<&'a Evaluation>,
    pub traces: Vec<TracePlot<'a>>,
    /// Problems of the run for this e-model: failures, protocols skipped or failed.
    pub failures: Vec<String>,
}

/// The page's header.
#[derive(Clone, Debug, Default)]
pub struct Header<'a> {
    pub command: &'a [String],
    pub backend: &'a str,
    /// Failures not tied to an e-model.
    pub failures: Vec<String>,
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:16px 24px;color:#222;background:#fff}\
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:22px 0 4px;border-bottom:1px solid #ccc}\
h3{font-size:14px;margin:12px 0 4px}code{font-size:12px}.meta{font-size:13px;color:#444}\
.ok{color:#17702e;font-weight:600}.bad{color:#b3261e;font-weight:600}\
ul.fail{font-size:12px;color:#6b1b15;margin:2px 0;max-height:240px;overflow:auto}\
.traces{display:flex;flex-wrap:wrap;gap:6px}\
svg text{font-size:11px;fill:#333}svg .ttl{font-size:12px;font-weight:600}\
svg .frame{fill:#fafafa;stroke:#bbb;stroke-width:1}svg .window{fill:#fff3c4}\
svg path.trace{fill:none;stroke:#1f5fbf;stroke-width:1;stroke-linejoin:round}\
svg .bar.pass{fill:#4c9a5b}svg .bar.fail{fill:#d0553f}svg .bar.missing{fill:#9e9e9e}\
svg .bl{font-size:11px}svg .bv{font-size:10px;fill:#555}\
svg .tick{stroke:#ddd;stroke-width:1}svg .threshold{stroke:#b3261e;stroke-width:1.5;stroke-dasharray:4 3}\
svg .thr{fill:#b3261e}nav a{margin-right:10px;font-size:13px}";

/// Counts the trace paths drawn with a non-empty extent and a positive length.
const SCRIPT: &str = "window.addEventListener('load',function(){var n=0,paths=document.querySelectorAll('path.trace');\
for(var i=0;i<paths.length;i++){var p=paths[i],b=p.getBBox();if(p.getTotalLength()>0&&(b.width>0||b.height>0)){n++;}}\
document.getElementById('drawn-traces').textContent=String(n);\
document.getElementById('trace-paths').textContent=String(paths.length);});";

/// One paragraph on many lanes: how many, how many validated, and their total scores' range.
fn lanes_summary(evaluations: &[&Evaluation]) -> String {
    let mut totals: Vec<f64> = evaluations.iter().map(|e| e.scores.total).collect();
    totals.sort_by(f64::total_cmp);
    let validated = evaluations
        .iter()
        .filter(|e| e.validation.validated)
        .count();
    format!(
        "<p class=\"meta\">{n} lanes, {validated} validated; total score min {min:.4}, median \
         {median:.4}, max {max:.4}. The feature scores of the first {DRAWN_LANES} lanes follow; \
         every lane's are in scores.json and features.csv.</p>",
        n = evaluations.len(),
        min = totals[0],
        median = totals[totals.len() / 2],
        max = totals[totals.len() - 1],
    )
}

fn verdict(e: &Evaluation) -> String {
    let stat = e.validation.statistic.map_or("none".to_string(), label);
    format!(
        "<span class=\"{}\">{}</span> ({} {} vs threshold {})",
        if e.validation.validated { "ok" } else { "bad" },
        if e.validation.validated {
            "validated"
        } else {
            "not validated"
        },
        match e.validation.rule.function {
            ValidationFunction::MaxScore => "max score",
            ValidationFunction::MeanScore => "mean score",
        },
        stat,
        label(e.validation.rule.threshold)
    )
}

fn anchor(i: usize) -> String {
    format!("em-{i}")
}

/// The page.
pub fn to_string(header: &Header<'_>, sections: &[Section<'_>]) -> String {
    let total_traces: usize = sections.iter().map(|s| s.traces.len()).sum();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>emsweep report</title><style>{STYLE}</style></head><body>\
         <h1>emsweep report</h1><p class=\"meta\"><code>{cmd}</code> &middot; backend {backend} &middot; \
         {n} e-models &middot; {total_traces} traces \
         (<span id=\"drawn-traces\">not measured</span> drawn of \
         <span id=\"trace-paths\">?</span> paths)</p>",
        cmd = escape(&header.command.join(" ")),
        backend = escape(header.backend),
        n = sections.len(),
    );
    h.push_str("<nav>");
    for (i, s) in sections.iter().enumerate() {
        let mark = match s.evaluations.first() {
            Some(e) if e.validation.validated => " &#10003;",
            Some(_) => " &#10007;",
            None => "",
        };
        let _ = write!(h, "<a href=\"#{}\">{}{mark}</a>", anchor(i), escape(s.key));
    }
    h.push_str("</nav>");
    if !header.failures.is_empty() {
        h.push_str("<h3>Run failures</h3><ul class=\"fail\">");
        for f in &header.failures {
            let _ = write!(h, "<li>{}</li>", escape(f));
        }
        h.push_str("</ul>");
    }
    for (i, s) in sections.iter().enumerate() {
        let _ = write!(
            h,
            "<section id=\"{}\"><h2>{}</h2><p class=\"meta\">{}</p>",
            anchor(i),
            escape(s.key),
            escape(s.package)
        );
        if s.evaluations.len() > DRAWN_LANES {
            h.push_str(&lanes_summary(&s.evaluations));
        }
        for e in s.evaluations.iter().take(DRAWN_LANES) {
            let lane = e
                .lane
                .as_ref()
                .map_or(String::new(), |l| format!("lane {} &middot; ", escape(l)));
            let _ = write!(
                h,
                "<h3>Feature scores</h3><p class=\"meta\">{lane}{dialect} &middot; rule {rule:?} \
                 &middot; total {total} over {n} features &middot; {verdict}</p>",
                dialect = escape(&e.dialect),
                rule = e.scores.rule,
                total = format_args!("{:.4}", e.scores.total),
                n = e.scores.features.len(),
                verdict = verdict(e),
            );
            let notes: Vec<Option<String>> = e
                .notes
                .iter()
                .map(|n| n.as_ref().map(|n| n.to_string()))
                .collect();
            let bars: Vec<Bar<'_>> = e
                .scores
                .features
                .iter()
                .zip(&notes)
                .map(|(f, n)| Bar {
                    label: &f.name,
                    score: f.weighted,
                    note: n.as_deref(),
                })
                .collect();
            if bars.is_empty() {
                h.push_str("<p class=\"meta\">The package defines no features.</p>");
            } else {
                h.push_str(&score_bars_svg(&bars, e.validation.rule.threshold));
            }
        }
        let unscored: Vec<String> = s
            .evaluations
            .iter()
            .flat_map(|e| {
                e.failures()
                    .into_iter()
                    .map(|(name, note)| format!("{name}: 250 ({note})"))
            })
            .collect();
        if !s.failures.is_empty() || !unscored.is_empty() {
            let _ = write!(
                h,
                "<h3>Failures ({})</h3><ul class=\"fail\">",
                s.failures.len() + unscored.len()
            );
            let all = s.failures.len() + unscored.len();
            for f in s.failures.iter().chain(&unscored).take(LISTED_FAILURES) {
                let _ = write!(h, "<li>{}</li>", escape(f));
            }
            if all > LISTED_FAILURES {
                let _ = write!(
                    h,
                    "<li>&hellip; and {} more (run.json, scores.json)</li>",
                    all - LISTED_FAILURES
                );
            }
            h.push_str("</ul>");
        } else {
            h.push_str("<h3>Failures</h3><p class=\"meta\">none</p>");
        }
        let _ = write!(
            h,
            "<h3>Traces ({})</h3><div class=\"traces\">",
            s.traces.len()
        );
        for t in &s.traces {
            h.push_str(&trace_svg(t));
        }
        h.push_str("</div></section>");
    }
    let _ = writeln!(h, "<script>{SCRIPT}</script></body></html>");
    h
}
