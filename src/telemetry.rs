//! What durations look like wherever they leave the process: logs, printed summaries and the
//! `summary.json` files of `cpts match`, `cpts garde` and the jobs. No I/O here.

use std::time::Duration;

/// A duration in milliseconds, rounded to 0.1 ms: the one form for logs and reports.
///
/// A raw `as_secs_f64() * 1e3` prints up to 17 digits, which neither helps a reader nor keeps
/// the logs free of long digit runs (the log test refuses anything NIR-shaped).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(cpts::telemetry::ms(Duration::from_micros(12_345)), 12.3);
/// assert_eq!(cpts::telemetry::ms(Duration::from_nanos(1)), 0.0);
/// ```
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_rounded_to_a_tenth() {
        // 1/3 s = 333.333… ms; 0.051 ms is nearer 0.1 than 0.
        assert_eq!(ms(Duration::from_secs(1) / 3), 333.3);
        assert_eq!(ms(Duration::from_micros(51)), 0.1);
        assert_eq!(ms(Duration::from_micros(49)), 0.0);
        assert_eq!(ms(Duration::from_secs(2)), 2000.0);
        let long = ms(Duration::from_nanos(123_456_789_123)).to_string();
        assert_eq!(long, "123456.8");
    }
}
