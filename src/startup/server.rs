//! The HTTP/1.1 accept loop, with the bounds `axum::serve` does not set (issue 15, "Bounded
//! resources"):
//!
//! - a **header read timeout**: a connection that has not sent a whole request head within
//!   `header_read` is closed (hyper's own timer, which starts when the connection is accepted);
//!   a slow-loris client holds a socket for seconds, not forever;
//! - an **idle timeout**: a keep-alive connection on which no byte moved for `idle` is closed
//!   (event streams send a comment every 15 s, so a live stream is never idle);
//! - a **connection cap**, in total and per peer address: beyond it a new connection is closed
//!   at once, so one client cannot take the process to its file-descriptor limit, and
//!   `/healthz` keeps answering others;
//! - **TCP keep-alive** probes on every socket, so a peer that vanished without a FIN (a
//!   cut cable, a dead NAT entry) is detected by the kernel and its event stream ends.
//!
//! The limits come from [`ConnectionLimits`] (flags `--header-read-timeout-seconds`,
//! `--idle-timeout-seconds`, `--max-connections`, `--max-connections-per-ip`).

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bounds on connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest wait for a whole request head, from the connection's start.
    pub header_read: Duration,
    /// Longest time a connection may stay without moving a byte.
    pub idle: Duration,
    /// Most open connections in all.
    pub max_connections: usize,
    /// Most open connections from one peer address (0: no per-address cap, e.g. behind a
    /// reverse proxy, where every connection comes from the proxy).
    pub max_per_ip: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            max_connections: 4096,
            max_per_ip: 256,
        }
    }
}

/// Open connections per peer address; a [`PeerSlot`] gives its place back when dropped.
#[derive(Default)]
struct PerPeer(Mutex<HashMap<IpAddr, usize>>);

struct PeerSlot {
    peers: Arc<PerPeer>,
    ip: IpAddr,
}

impl PerPeer {
    fn try_take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut open = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_default();
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self
            .peers
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Milliseconds since `epoch` at the last byte read or written.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.epoch.elapsed();
        now.saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A socket that records when bytes last moved.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Completes once `activity` has been still for `idle`.
async fn idle_out(activity: &Activity, idle: Duration) {
    loop {
        let quiet = activity.idle_for();
        if quiet >= idle {
            return;
        }
        tokio::time::sleep(idle - quiet).await;
    }
}

/// Errors of `accept` that concern one connection only (the peer reset it before we took it):
/// the loop goes on at once. Others (out of file descriptors) get a short pause.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Turns on TCP keep-alive probes: a peer gone without a FIN is found within about a minute.
fn keep_alive_probes(stream: &TcpStream) {
    let probes = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10));
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    let probes = probes.with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&probes) {
        tracing::debug!(error = %e, "cannot set TCP keep-alive on a connection");
    }
}

/// Counters the accept loop keeps, for `/metrics` and the logs.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections closed at once because a cap was reached, since start.
    pub refused: AtomicU64,
}

/// Serves `router` on `listener` within `limits` until `stop` completes, then stops accepting
/// and lets open connections finish their requests for at most `grace`. With `tls`, each
/// connection first completes a TLS handshake (within the header read timeout, on its own
/// task, so a slow handshake holds nobody else); a verified client certificate's subject is
/// put on each of its requests as a [`crate::api::auth::ClientIdentity`].
///
/// # Errors
/// Never today: accept errors are logged and retried. Kept fallible for the TLS listener.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let peers = Arc::new(PerPeer::default());
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; pausing 50 ms");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some((permit, slot)) = admit(&total, &peers, peer.ip(), limits) else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        keep_alive_probes(&stream);
        let activity = Arc::new(Activity::new());
        let tracked = Tracked {
            inner: stream,
            activity: Arc::clone(&activity),
        };
        let router = router.clone();
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        let stats = Arc::clone(&stats);
        stats.open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _held = (permit, slot);
            let served = async {
                match tls {
                    None => {
                        let service = TowerToHyperService::new(router);
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(tracked), service))
                            .await
                    }
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(limits.header_read, acceptor.accept(tracked));
                        let stream = match handshake.await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake refused");
                                return Ok(());
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake too slow; closed");
                                return Ok(());
                            }
                        };
                        let identity = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .and_then(super::tls::identity_of);
                        let service = TowerToHyperService::new(
                            tower::ServiceBuilder::new()
                                .map_request(move |mut request: axum::extract::Request<_>| {
                                    if let Some(identity) = &identity {
                                        request.extensions_mut().insert(identity.clone());
                                    }
                                    request
                                })
                                .service(router),
                        );
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                }
            };
            tokio::select! {
                served = served => if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                () = idle_out(&activity, limits.idle) => {
                    tracing::debug!("closing an idle connection");
                }
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining open requests");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still open after {grace:?}; dropping them");
    }
    Ok(())
}

/// A place for a new connection from `ip`, or `None` when a cap is reached.
fn admit(
    total: &Arc<Semaphore>,
    peers: &Arc<PerPeer>,
    ip: IpAddr,
    limits: ConnectionLimits,
) -> Option<(OwnedSemaphorePermit, PeerSlot)> {
    let permit = Arc::clone(total).try_acquire_owned().ok()?;
    let slot = peers.try_take(ip, limits.max_per_ip)?;
    Some((permit, slot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_peer_cap_counts_open_connections_and_gives_places_back() {
        let peers = Arc::new(PerPeer::default());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = peers.try_take(a, 2).unwrap();
        let _second = peers.try_take(a, 2).unwrap();
        assert!(peers.try_take(a, 2).is_none(), "a third from one peer");
        assert!(
            peers.try_take(b, 2).is_some(),
            "another peer is not affected"
        );
        drop(first);
        assert!(peers.try_take(a, 2).is_some(), "a place came back");
        assert!(peers.try_take(a, 0).is_some(), "0: no cap");
    }
}
