//! The slot stream: every change of a slot's availability ([`EventKind`]: `held`,
//! `released`, `booked`, `freed`, `published`, `withdrawn`, `moved`, `swapped`,
//! `cabinet_changed`, and the proposals' `proposal`) appended to one Redis Stream,
//! `slot-events`, capped at about
//! [`MAXLEN`] entries. The entry id is the Server-Sent Events `id`.
//!
//! A stream rather than pub/sub alone: an entry stays readable after it is sent, so a listener
//! that reconnects with `Last-Event-ID` reads on from there and misses nothing, whichever API
//! process wrote the change or serves the listener.
//!
//! Each process reads the stream once ([`Hub`]: one `XREAD BLOCK` loop on its own connection,
//! fanned out to its listeners through a broadcast channel). A listener ([`EventFeed`]) first
//! reads the entries after its starting id with `XRANGE`, then takes the broadcast, skipping
//! what it has read; when it falls behind the broadcast, it reads the gap with `XRANGE` again.

use super::{Cache, Error};
use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// About how many entries the stream keeps (`XADD … MAXLEN ~`): a listener away for longer
/// than that many changes misses the oldest ones.
pub const MAXLEN: u64 = 100_000;

/// How long one `XREAD` waits for new entries before it asks again.
const BLOCK: Duration = Duration::from_millis(1000);
/// Entries read per round trip.
const BATCH: usize = 500;
/// Events appended per pipelined round trip.
const PIPELINE: usize = 500;
/// Events a listener may fall behind the hub before it catches up from the stream.
const BROADCAST: usize = 8192;

/// The id of a stream entry, `<milliseconds>-<sequence>`; ordered as Redis orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl Ord for StreamId {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.seq).cmp(&(other.ms, other.seq))
    }
}

impl PartialOrd for StreamId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Why a string is not a stream id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a stream id such as 1767225600000-0")]
pub struct StreamIdError;

impl FromStr for StreamId {
    type Err = StreamIdError;
    fn from_str(s: &str) -> Result<Self, StreamIdError> {
        let (ms, seq) = s.trim().split_once('-').ok_or(StreamIdError)?;
        Ok(Self {
            ms: ms.parse().map_err(|_| StreamIdError)?,
            seq: seq.parse().map_err(|_| StreamIdError)?,
        })
    }
}

/// The kind of an entry of the slot stream: its Redis field `kind` and its Server-Sent
/// Events name (`event:`), byte for byte [`EventKind::as_str`]. The only place these names
/// are spelt: the Lua scripts of `holds.rs` receive them as arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A régulateur holds the slot (`held_until`).
    Held,
    /// A hold ended without a booking (`reason`: `released` or `expired`).
    Released,
    /// The slot was booked (`booking_id`).
    Booked,
    /// A booking was cancelled; the slot is free again (`booking_id`).
    Freed,
    /// A new slot, from a garde plan's publication (`plan_id`).
    Published,
    /// A cabinet's name or position changed (`cabinet_id` only): slot boards reload. It
    /// carries no position, so `/slots/events` never passes it to a listener.
    CabinetChanged,
    /// A proposal to a GP changed state (issue 17: `proposal_id`, `batch`, `rpps`, `insee`,
    /// `state`; never the patient). No position: `/slots/events` never passes it on, only
    /// `/proposals/events` does, to the GP it is addressed to and CPAM staff of its commune.
    Proposal,
    /// The slot left the roster: its doctor was taken off the shift (issue 18:
    /// `withdrawal_id`, and `booking_id` when a booking on it is now flagged for the SAS).
    Withdrawn,
    /// A flagged booking moved to this slot, at the same cabinet and time, when a repair was
    /// published (`booking_id`, `from_slot_id`).
    Moved,
    /// The slot changed doctor in the bourse aux gardes (`offer_id`, `rpps`: the doctor now;
    /// `booking_id` when booked: the booking stands, with the new doctor).
    Swapped,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 10] = [
        EventKind::Held,
        EventKind::Released,
        EventKind::Booked,
        EventKind::Freed,
        EventKind::Published,
        EventKind::CabinetChanged,
        EventKind::Proposal,
        EventKind::Withdrawn,
        EventKind::Moved,
        EventKind::Swapped,
    ];

    /// The name on the stream and in Server-Sent Events.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Held => "held",
            EventKind::Released => "released",
            EventKind::Booked => "booked",
            EventKind::Freed => "freed",
            EventKind::Published => "published",
            EventKind::CabinetChanged => "cabinet_changed",
            EventKind::Proposal => "proposal",
            EventKind::Withdrawn => "withdrawn",
            EventKind::Moved => "moved",
            EventKind::Swapped => "swapped",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`EventKind`] (a newer process's kind, or a foreign entry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a slot event kind")]
pub struct EventKindError;

impl FromStr for EventKind {
    type Err = EventKindError;
    fn from_str(s: &str) -> Result<Self, EventKindError> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(EventKindError)
    }
}

/// Where and when a slot is: what every event about it carries (no patient data).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlotInfo {
    pub slot_id: i64,
    pub cabinet_id: String,
    /// The cabinet's position, for the listeners' area filter.
    pub lat: f64,
    pub lon: f64,
    /// RFC 3339 with the Europe/Paris offset.
    pub start: String,
    pub end: String,
}

/// One entry of the stream.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotEvent {
    pub id: StreamId,
    /// `None` for a kind this process does not know (written by a newer one): listeners and
    /// boards skip it, the cursor still moves past it.
    pub kind: Option<EventKind>,
    /// The event's data, JSON.
    pub data: String,
    /// The position the event is about (a cabinet's), when its data has one.
    pub position: Option<(f64, f64)>,
}

impl SlotEvent {
    fn new(id: StreamId, kind: &str, data: String) -> Self {
        let position = serde_json::from_str::<serde_json::Value>(&data)
            .ok()
            .and_then(|v| Some((v.get("lat")?.as_f64()?, v.get("lon")?.as_f64()?)));
        Self {
            id,
            kind: kind.parse().ok(),
            data,
            position,
        }
    }
}

fn text(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// The entries of an `XRANGE` answer (or of one stream of an `XREAD` answer).
fn entries(v: &redis::Value) -> Result<Vec<SlotEvent>, Error> {
    let bad = || Error::Unexpected("stream entries");
    let redis::Value::Array(items) = v else {
        return Err(bad());
    };
    items
        .iter()
        .map(|item| {
            let redis::Value::Array(pair) = item else {
                return Err(bad());
            };
            let [id, fields] = pair.as_slice() else {
                return Err(bad());
            };
            let id: StreamId = text(id).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let redis::Value::Array(fields) = fields else {
                return Err(bad());
            };
            let (mut kind, mut data) = (None, None);
            for kv in fields.chunks_exact(2) {
                match text(&kv[0]).as_deref() {
                    Some("kind") => kind = text(&kv[1]),
                    Some("data") => data = text(&kv[1]),
                    _ => {}
                }
            }
            Ok(SlotEvent::new(
                id,
                &kind.ok_or_else(bad)?,
                data.ok_or_else(bad)?,
            ))
        })
        .collect()
}

/// This process's reader of the stream.
#[derive(Debug)]
pub(super) struct Hub {
    tx: broadcast::Sender<Arc<SlotEvent>>,
}

impl Cache {
    pub(super) fn stream_key(&self) -> String {
        self.key("slot-events")
    }

    /// Appends an event of `kind` with `data` (JSON) to the stream; returns its id.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn append_event(&self, kind: EventKind, data: &str) -> Result<StreamId, Error> {
        let id: String = self.query(&self.xadd(kind, data)).await?;
        id.parse().map_err(|_| Error::Unexpected("stream id"))
    }

    /// The `XADD` of one event, the stream capped at about [`MAXLEN`] entries.
    fn xadd(&self, kind: EventKind, data: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.stream_key())
            .arg("MAXLEN")
            .arg("~")
            .arg(MAXLEN)
            .arg("*")
            .arg("kind")
            .arg(kind.as_str())
            .arg("data")
            .arg(data);
        cmd
    }

    /// Appends one event of `kind` per item of `data`, in order, in pipelined batches (a
    /// publication appends one per new slot).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`]; the batches before the failing one stay.
    pub async fn append_events(&self, kind: EventKind, data: &[String]) -> Result<(), Error> {
        for chunk in data.chunks(PIPELINE) {
            let mut pipe = redis::pipe();
            for d in chunk {
                pipe.add_command(self.xadd(kind, d)).ignore();
            }
            self.query_pipe(&pipe).await?;
        }
        Ok(())
    }

    /// The id of the stream's last entry (`0-0` when it is empty).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn last_event_id(&self) -> Result<StreamId, Error> {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(self.stream_key())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1);
        let v: redis::Value = self.query(&cmd).await?;
        Ok(entries(&v)?.first().map(|e| e.id).unwrap_or_default())
    }

    /// At most `count` entries after `after`, oldest first.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn events_after(
        &self,
        after: StreamId,
        count: usize,
    ) -> Result<Vec<SlotEvent>, Error> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.stream_key())
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(count);
        let v: redis::Value = self.query(&cmd).await?;
        entries(&v)
    }

    /// A feed of the events after `from` (by default, after the stream's last entry now),
    /// for one listener.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`].
    pub async fn subscribe(&self, from: Option<StreamId>) -> Result<EventFeed, Error> {
        self.start_sweeper();
        let hub = self.hub.get_or_try_init(|| self.start_hub()).await?;
        // Subscribed before reading the starting point: whatever the hub reads from now on
        // is in the broadcast or in the feed's first XRANGE, or both.
        let rx = hub.tx.subscribe();
        let cursor = match from {
            Some(id) => id,
            None => self.last_event_id().await?,
        };
        Ok(EventFeed {
            cache: self.clone(),
            rx,
            cursor,
            catching_up: true,
        })
    }

    async fn start_hub(&self) -> Result<Hub, Error> {
        let start = self.last_event_id().await?;
        let (tx, _) = broadcast::channel(BROADCAST);
        let hub = Hub { tx: tx.clone() };
        let cache = self.clone();
        tokio::spawn(async move { cache.read_stream(start, tx).await });
        Ok(hub)
    }

    /// The hub's loop: `XREAD BLOCK` on a connection of its own (a blocking read would stall
    /// the shared, multiplexed one), from `last` on, forever; reconnects after an error.
    async fn read_stream(self, mut last: StreamId, tx: broadcast::Sender<Arc<SlotEvent>>) {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(super::CONNECT_TIMEOUT)
            .set_response_timeout(BLOCK + super::COMMAND_TIMEOUT);
        let key = self.stream_key();
        loop {
            let mut conn = match self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to read the slot stream; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                let mut cmd = redis::cmd("XREAD");
                cmd.arg("COUNT")
                    .arg(BATCH)
                    .arg("BLOCK")
                    .arg(u64::try_from(BLOCK.as_millis()).unwrap_or(1000))
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(last.to_string());
                let answer: redis::RedisResult<redis::Value> = cmd.query_async(&mut conn).await;
                let events = match answer
                    .map_err(Error::Unavailable)
                    .and_then(|v| read_reply(&v))
                {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the slot stream; reconnecting");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break;
                    }
                };
                for e in events {
                    last = last.max(e.id);
                    // No receiver is fine: nobody listens in this process right now.
                    let _ = tx.send(Arc::new(e));
                }
            }
        }
    }
}

/// The entries of an `XREAD` answer on one stream (none after a timeout).
fn read_reply(v: &redis::Value) -> Result<Vec<SlotEvent>, Error> {
    match v {
        redis::Value::Nil => Ok(Vec::new()),
        redis::Value::Array(streams) => {
            let mut out = Vec::new();
            for s in streams {
                match s {
                    redis::Value::Array(pair) if pair.len() == 2 => {
                        out.extend(entries(&pair[1])?);
                    }
                    _ => return Err(Error::Unexpected("XREAD answer")),
                }
            }
            Ok(out)
        }
        redis::Value::Map(streams) => {
            let mut out = Vec::new();
            for (_, v) in streams {
                out.extend(entries(v)?);
            }
            Ok(out)
        }
        _ => Err(Error::Unexpected("XREAD answer")),
    }
}

/// The events of one listener, in stream order, each once.
#[derive(Debug)]
pub struct EventFeed {
    cache: Cache,
    rx: broadcast::Receiver<Arc<SlotEvent>>,
    /// The last event given (or the starting point).
    cursor: StreamId,
    /// Reading the stream itself (at the start, or after falling behind the broadcast).
    catching_up: bool,
}

impl EventFeed {
    /// The id of the last event given, or the starting point.
    pub fn cursor(&self) -> StreamId {
        self.cursor
    }

    /// The next events, waiting for at least one.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Timeout`], [`Error::Unexpected`] while catching up;
    /// the caller may call again (the cursor has not moved).
    pub async fn next(&mut self) -> Result<Vec<Arc<SlotEvent>>, Error> {
        loop {
            if self.catching_up {
                let batch = self.cache.events_after(self.cursor, BATCH).await?;
                if batch.len() < BATCH {
                    self.catching_up = false;
                }
                if let Some(last) = batch.last() {
                    self.cursor = last.id;
                    return Ok(batch.into_iter().map(Arc::new).collect());
                }
            }
            match self.rx.recv().await {
                Ok(e) if e.id > self.cursor => {
                    self.cursor = e.id;
                    let mut out = vec![e];
                    // Whatever else is already there, in one go.
                    while let Ok(e) = self.rx.try_recv() {
                        if e.id > self.cursor {
                            self.cursor = e.id;
                            out.push(e);
                        }
                    }
                    return Ok(out);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => self.catching_up = true,
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(Error::Unexpected("the slot stream reader stopped"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_parse_print_and_order_as_redis_does() {
        let a: StreamId = "1767225600000-0".parse().unwrap();
        let b: StreamId = "1767225600000-10".parse().unwrap();
        let c: StreamId = "1767225600001-2".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(b.to_string(), "1767225600000-10");
        assert!("12".parse::<StreamId>().is_err());
        assert!("x-1".parse::<StreamId>().is_err());
    }

    #[test]
    fn events_know_their_position() {
        let e = SlotEvent::new(
            StreamId::default(),
            "held",
            r#"{"slot_id":1,"lat":48.7,"lon":6.2}"#.into(),
        );
        assert_eq!(e.position, Some((48.7, 6.2)));
        assert_eq!(e.kind, Some(EventKind::Held));
        assert_eq!(
            SlotEvent::new(StreamId::default(), "later", "{}".into()).kind,
            None
        );
    }

    /// The names are the wire format (the stream's `kind`, the SSE `event:`, the clients of
    /// tests/api/holds.rs and examples/race.rs): they must never change.
    #[test]
    fn event_kinds_keep_their_wire_names() {
        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "held",
                "released",
                "booked",
                "freed",
                "published",
                "cabinet_changed",
                "proposal",
                "withdrawn",
                "moved",
                "swapped"
            ]
        );
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!("Held".parse::<EventKind>(), Err(EventKindError));
    }
}
