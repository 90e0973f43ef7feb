//! Slot holds: a régulateur keeps a slot for a while (on the phone with the patient) and
//! nobody else may hold or book it meanwhile.
//!
//! A hold is one Redis key per slot, `hold:{slot_id}`, whose value is the holder's token id and
//! whose expiry is the hold's end: set with `SET NX PX`, so two régulateurs never both get it,
//! whichever API process they reach. Every other step is a Lua script (atomic in Redis):
//! release only by the owner, booking consumes the owner's hold, and the sweep of expired
//! holds. Each change that other régulateurs must see appends an event to the slot stream
//! ([`super::events`]) *in the same script*, so a change and its event are never apart.
//!
//! Two bookkeeping keys serve the events: the sorted set `holds` (announced holds by expiry,
//! in milliseconds of Redis's clock) and the hash `holds:meta` (the slot's description, to
//! write the `released` event of an expiry). A booking made without a hold takes a short
//! *silent* hold (no event, not in `holds`) for its duration, so a hold and a booking never
//! cross: see `slots::booking`.

use super::events::{EventKind, MAXLEN, SlotInfo, StreamId};
use super::{Cache, Error};
use std::time::Duration;

/// How long the silent hold of a booking made without a hold lasts at most: longer than a
/// request may take, so it outlives the booking even when the process dies in between.
pub const BOOKING_CLAIM: Duration = Duration::from_secs(35);

/// What trying to hold a slot did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldAttempt {
    /// The slot is now the caller's (not yet announced: see [`Cache::announce_hold`]).
    Acquired,
    /// The caller held it already; its hold now lasts the full duration again.
    Renewed,
    /// Someone else holds it.
    HeldByOther,
}

/// What a booking may do with a slot's hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookingClaim {
    /// Nobody held it; the caller now holds it silently until the booking is done.
    Silent,
    /// The caller holds it.
    Holder,
    /// Someone else holds it: the booking is refused.
    HeldByOther,
}

/// What releasing a hold did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    Released,
    NotHeld,
    HeldByOther,
}

/// KEYS: hold, holds; ARGV: owner, ttl ms, slot id, renew ("1": the caller's own hold is
/// extended, and its expiry in `holds` moved).
const ACQUIRE: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif cur == ARGV[1] then
  if ARGV[4] == '1' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[2]), ARGV[3])
  end
  return 2
end
return 0
";

/// KEYS: hold, holds, meta, stream; ARGV: owner, slot id, meta JSON, event JSON, maxlen,
/// kind (`held`).
const ANNOUNCE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + redis.call('PTTL', KEYS[1]), ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'kind', ARGV[6], 'data', ARGV[4])
";

/// KEYS: hold, holds, meta, stream; ARGV: owner, slot id, maxlen, kind (`released`).
const RELEASE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return 2 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
local meta = redis.call('HGET', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
if meta then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[4],
    'data', string.sub(meta, 1, -2) .. ',"reason":"released"}')
end
return 1
"#;

/// KEYS: hold, holds, meta; ARGV: owner, slot id. No event: the hold was never announced.
const DROP: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return 1
end
return 0
";

/// KEYS: hold, holds, meta, stream; ARGV: owner, slot id, maxlen, event JSON, kind
/// (`booked`).
const BOOKED: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
end
return redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[5], 'data', ARGV[4])
";

/// KEYS: holds, meta, stream; ARGV: maxlen, prefix of the hold keys, kind (`released`).
/// Announced holds whose
/// key is gone get their `released` event (reason `expired`); those renewed meanwhile are
/// rescheduled.
const SWEEP: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 200)
local n = 0
for _, slot in ipairs(due) do
  local pttl = redis.call('PTTL', ARGV[2] .. slot)
  if pttl > 0 then
    redis.call('ZADD', KEYS[1], now + pttl, slot)
  else
    redis.call('ZREM', KEYS[1], slot)
    local meta = redis.call('HGET', KEYS[2], slot)
    redis.call('HDEL', KEYS[2], slot)
    if meta then
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], '*', 'kind', ARGV[3],
        'data', string.sub(meta, 1, -2) .. ',"reason":"expired"}')
      n = n + 1
    end
  end
end
return n
"#;

/// How often a process looks for expired holds (their `released` events are that late at
/// most, plus the listeners' delivery).
pub const SWEEP_EVERY: Duration = Duration::from_millis(250);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Cache {
    fn hold_key(&self, slot_id: i64) -> String {
        self.key(&format!("hold:{slot_id}"))
    }

    fn eval(&self, script: &str, keys: &[String]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len()).arg(keys);
        cmd
    }

    /// Tries to hold `slot_id` for `owner` for [`Cache::hold_ttl`]; the caller's own hold is
    /// renewed. A new hold is not announced yet: check the slot is free, then call
    /// [`Cache::announce_hold`] (or [`Cache::drop_hold`]).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn try_hold(&self, slot_id: i64, owner: &str) -> Result<HoldAttempt, Error> {
        self.start_sweeper();
        let mut cmd = self.eval(ACQUIRE, &[self.hold_key(slot_id), self.key("holds")]);
        cmd.arg(owner)
            .arg(millis(self.hold_ttl))
            .arg(slot_id)
            .arg("1");
        match self.query::<i64>(&cmd).await? {
            1 => Ok(HoldAttempt::Acquired),
            2 => Ok(HoldAttempt::Renewed),
            0 => Ok(HoldAttempt::HeldByOther),
            _ => Err(Error::Unexpected("hold script")),
        }
    }

    /// Announces `owner`'s new hold: schedules its expiry event and appends `held` (with
    /// `event`, the JSON of the event's data) to the slot stream. `None` when the hold is no
    /// longer the owner's (it expired in between).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn announce_hold(
        &self,
        info: &SlotInfo,
        owner: &str,
        event: &str,
    ) -> Result<Option<StreamId>, Error> {
        let mut cmd = self.eval(
            ANNOUNCE,
            &[
                self.hold_key(info.slot_id),
                self.key("holds"),
                self.key("holds:meta"),
                self.stream_key(),
            ],
        );
        let meta = serde_json::to_string(info).map_err(|_| Error::Unexpected("slot info"))?;
        cmd.arg(owner)
            .arg(info.slot_id)
            .arg(meta)
            .arg(event)
            .arg(MAXLEN)
            .arg(EventKind::Held.as_str());
        let id: Option<String> = self.query(&cmd).await?;
        id.map(|s| s.parse().map_err(|_| Error::Unexpected("stream id")))
            .transpose()
    }

    /// Removes `owner`'s hold on `slot_id` without an event (a hold never announced, or the
    /// silent hold of a booking that failed).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`].
    pub async fn drop_hold(&self, slot_id: i64, owner: &str) -> Result<(), Error> {
        let mut cmd = self.eval(
            DROP,
            &[
                self.hold_key(slot_id),
                self.key("holds"),
                self.key("holds:meta"),
            ],
        );
        cmd.arg(owner).arg(slot_id);
        self.query::<i64>(&cmd).await.map(|_| ())
    }

    /// Releases `owner`'s hold on `slot_id` and appends `released` to the slot stream.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn release_hold(&self, slot_id: i64, owner: &str) -> Result<Release, Error> {
        let mut cmd = self.eval(
            RELEASE,
            &[
                self.hold_key(slot_id),
                self.key("holds"),
                self.key("holds:meta"),
                self.stream_key(),
            ],
        );
        cmd.arg(owner)
            .arg(slot_id)
            .arg(MAXLEN)
            .arg(EventKind::Released.as_str());
        match self.query::<i64>(&cmd).await? {
            1 => Ok(Release::Released),
            0 => Ok(Release::NotHeld),
            2 => Ok(Release::HeldByOther),
            _ => Err(Error::Unexpected("release script")),
        }
    }

    /// Before a booking by `owner`: its own hold lets it book; a slot nobody holds gets a
    /// silent hold for [`BOOKING_CLAIM`]; someone else's hold refuses it.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn claim_for_booking(
        &self,
        slot_id: i64,
        owner: &str,
    ) -> Result<BookingClaim, Error> {
        let mut cmd = self.eval(ACQUIRE, &[self.hold_key(slot_id), self.key("holds")]);
        cmd.arg(owner)
            .arg(millis(BOOKING_CLAIM))
            .arg(slot_id)
            .arg("0");
        match self.query::<i64>(&cmd).await? {
            1 => Ok(BookingClaim::Silent),
            2 => Ok(BookingClaim::Holder),
            0 => Ok(BookingClaim::HeldByOther),
            _ => Err(Error::Unexpected("hold script")),
        }
    }

    /// After a booking by `owner`: its hold (announced or silent) ends, and `booked` (with
    /// `event`, the JSON of the event's data) is appended to the slot stream.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn booked(&self, slot_id: i64, owner: &str, event: &str) -> Result<StreamId, Error> {
        let mut cmd = self.eval(
            BOOKED,
            &[
                self.hold_key(slot_id),
                self.key("holds"),
                self.key("holds:meta"),
                self.stream_key(),
            ],
        );
        cmd.arg(owner)
            .arg(slot_id)
            .arg(MAXLEN)
            .arg(event)
            .arg(EventKind::Booked.as_str());
        let id: String = self.query(&cmd).await?;
        id.parse().map_err(|_| Error::Unexpected("stream id"))
    }

    /// Whether slot `slot_id` carries an announced hold (a régulateur's), as opposed to the
    /// silent claim of a booking in progress, which is never announced.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`].
    pub async fn hold_announced(&self, slot_id: i64) -> Result<bool, Error> {
        let mut cmd = redis::cmd("HEXISTS");
        cmd.arg(self.key("holds:meta")).arg(slot_id);
        let n: i64 = self.query(&cmd).await?;
        Ok(n == 1)
    }

    /// The holder (token id) of each slot of `slot_ids`, in order.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`].
    pub async fn holders(&self, slot_ids: &[i64]) -> Result<Vec<Option<String>>, Error> {
        if slot_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = slot_ids.iter().map(|&s| self.hold_key(s)).collect();
        let mut cmd = redis::cmd("MGET");
        cmd.arg(keys);
        self.query(&cmd).await
    }

    /// One sweep of expired holds; returns how many `released` events it wrote.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`].
    pub async fn sweep_expired_holds(&self) -> Result<i64, Error> {
        let mut cmd = self.eval(
            SWEEP,
            &[self.key("holds"), self.key("holds:meta"), self.stream_key()],
        );
        cmd.arg(MAXLEN)
            .arg(self.key("hold:"))
            .arg(EventKind::Released.as_str());
        self.query(&cmd).await
    }

    /// Starts, once per process, the task that writes the `released` events of expired holds
    /// every [`SWEEP_EVERY`]. Every process that holds slots or serves listeners runs one;
    /// the script makes each expiry's event happen once.
    pub fn start_sweeper(&self) {
        let cache = self.clone();
        self.sweeper.call_once(move || {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(SWEEP_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = cache.sweep_expired_holds().await {
                        tracing::warn!(error = %e, "cannot sweep expired holds");
                    }
                }
            });
        });
    }
}
