//! The service's clock: the system's, shifted in tests. Deadlines (proposals expire by
//! themselves, issue 17) read it, so that a test moves time forward instead of waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Now, in Unix seconds, plus an offset only tests set. Cheap to clone; clones share the
/// offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.offset.load(Ordering::Relaxed)
    }

    /// Moves this clock, and every clone of it, `seconds` forward (tests).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_advance() {
        let c = Clock::system();
        let d = c.clone();
        let before = d.now();
        c.advance(86_400);
        assert!(d.now() >= before + 86_400);
        assert!(d.now() < before + 86_400 + 60);
    }
}
