//! Progress on stderr for any step longer than a second.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// A step of a command: silent for its first second, then a spinner or a bar on stderr.
pub struct Step {
    bar: ProgressBar,
    started: Instant,
}

impl Step {
    /// Starts a step named `name`.
    pub fn start(name: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:12} [{bar:30}] {percent:>3}% {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(name.to_owned());
        // Steps without progress reports still get a spinner after a second.
        let late = bar.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            if !late.is_finished() {
                late.set_draw_target(ProgressDrawTarget::stderr());
                late.enable_steady_tick(Duration::from_millis(200));
            }
        });
        Self {
            bar,
            started: Instant::now(),
        }
    }

    /// Reports `fraction` (0–1) of `stage` done.
    pub fn update(&self, stage: &str, fraction: f64) {
        self.bar.set_message(stage.to_owned());
        self.bar
            .set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
    }

    /// Ends the step and returns its duration.
    pub fn finish(self) -> Duration {
        self.bar.finish_and_clear();
        self.started.elapsed()
    }
}
