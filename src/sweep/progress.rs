//! Progress on stderr while a sweep runs: an indicatif bar on a terminal (lanes done, lanes per
//! second, compartment-steps per second, time left), plain lines when stderr is not a terminal,
//! nothing when not asked.

use std::io::IsTerminal;
use std::time::Instant;

use crate::sweep::execute::ExecStats;

/// Progress on stderr: a bar on a terminal, plain lines otherwise, nothing when not asked.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
    total: usize,
    done: usize,
    /// Lanes finished before this invocation (not in the rates).
    resumed: usize,
    started: Instant,
}

impl Progress {
    pub fn new(show: bool, total: usize) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (show && terminal).then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} lanes, {per_sec}, {eta} left {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        Progress {
            bar,
            lines: show && !terminal,
            total,
            done: 0,
            resumed: 0,
            started: Instant::now(),
        }
    }

    /// Counts `lanes` an earlier invocation of the run finished.
    pub fn skip(&mut self, lanes: usize) {
        self.done += lanes;
        self.resumed += lanes;
        if let Some(b) = &self.bar {
            b.inc(lanes as u64);
            b.reset_eta();
        } else if self.lines {
            eprintln!(
                "{}/{} lanes finished by an earlier run",
                self.done, self.total
            );
        }
    }

    pub fn advance(&mut self, lanes: usize, stats: &ExecStats) {
        self.done += lanes;
        let s = self.started.elapsed().as_secs_f64().max(1e-9);
        let msg = format!(
            "{} batches, {:.3e} compartment-steps/s",
            stats.batches,
            stats.compartment_steps / s
        );
        if let Some(b) = &self.bar {
            b.set_message(msg);
            b.inc(lanes as u64);
        } else if self.lines {
            eprintln!(
                "{}/{} lanes in {s:.1} s ({:.1} lanes/s), {msg}",
                self.done,
                self.total,
                (self.done - self.resumed) as f64 / s
            );
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
