//! Per-token rate limit: a fixed window of one minute per token, counted in Redis so that every
//! API process shares the count.
//!
//! One script: `INCR` the token's counter, start its window (`PEXPIRE`) on the first request,
//! and answer the count with the window's remaining time, so the counter can never be left
//! without an expiry.

use super::{Cache, Error};
use std::time::Duration;

/// The window of [`Cache::count_request`].
pub const WINDOW: Duration = Duration::from_secs(60);

/// KEYS: counter; ARGV: window ms. Returns {count, remaining ms}.
const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {n, left}
";

impl Cache {
    /// The configured limit of requests per minute and token (0: none).
    pub fn rate_limit(&self) -> u32 {
        self.rate_limit
    }

    /// Counts one request of `bucket` (a token's fingerprint); `Some(wait)` when the bucket
    /// is over [`Cache::rate_limit`] in the current window, `wait` being the time until the
    /// window ends. Always `None` when there is no limit.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn count_request(&self, bucket: &str) -> Result<Option<Duration>, Error> {
        if self.rate_limit == 0 {
            return Ok(None);
        }
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(COUNT)
            .arg(1)
            .arg(self.key(&format!("rate:{bucket}")))
            .arg(u64::try_from(WINDOW.as_millis()).unwrap_or(60_000));
        let (count, left_ms): (i64, i64) = self.query(&cmd).await?;
        Ok((count > i64::from(self.rate_limit))
            .then(|| Duration::from_millis(u64::try_from(left_ms).unwrap_or(0))))
    }
}
