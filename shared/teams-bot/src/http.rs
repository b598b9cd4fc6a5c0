//! The HTTP server: an accept loop capped at [`Limits::max_connections`], and per connection hyper's HTTP/1 with a
//! watchdog for the [`Limits`]' time limits.

use super::Limits;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

/// How often at most the "connection limit reached" warning is logged.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);
/// How long a connection must have been idle before a new one may displace it at the limit: one just accepted
/// or just answered may have its next request on the way, not yet read.
const DISPLACE_IDLE_AFTER: Duration = Duration::from_secs(1);
/// How often a connection waiting for a slot looks again for an idle one to displace.
const DISPLACE_RETRY: Duration = Duration::from_millis(250);

/// Serves `router` on `listener` until `shutdown`, then drains (see [`super::Devserver::run_until`]).
pub(super) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    // Every connection holds a receiver: `true` asks it to finish; all of them gone means all are closed.
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let open = Arc::new(Mutex::new(Open::default()));
    let mut warned: Option<Instant> = None;
    'accept: loop {
        let (stream, peer) = loop {
            tokio::select! {
                () = &mut shutdown => break 'accept,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => break accepted,
                    Err(error) if is_connection_error(&error) => {}
                    Err(error) => {
                        // Out of file descriptors, say: give connections time to close (as hyper and axum do).
                        tracing::error!(%error, "accept failed; retrying in 1 s");
                        tokio::select! {
                            () = &mut shutdown => break 'accept,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                },
            }
        };
        // A slot: a free one, or one a displaced idle connection gives back; else wait, looking again.
        let slot = loop {
            if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
                break slot;
            }
            if !displace_idlest(&open) && warned.is_none_or(|at| at.elapsed() >= FULL_WARNING_EVERY) {
                warned = Some(Instant::now());
                tracing::warn!(
                    max_connections = max,
                    "connection limit reached: new connections wait for one to close or go idle"
                );
            }
            tokio::select! {
                () = &mut shutdown => break 'accept,
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => break slot,
                    Err(_) => break 'accept,
                },
                () = tokio::time::sleep(DISPLACE_RETRY) => {}
            }
        };
        let watchdog = Arc::new(Watchdog::new(limits));
        let registered = Registered::new(&open, &watchdog);
        let stopping = stopping.clone();
        let router = router.clone();
        tokio::spawn(async move {
            connection(stream, peer, router, watchdog, stopping).await;
            drop(registered);
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(stopping);
    stop.closed().await;
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The connections being served, so that one idle can be displaced at the limit.
#[derive(Debug, Default)]
struct Open {
    next: u64,
    watchdogs: HashMap<u64, Arc<Watchdog>>,
}

/// A connection's place in [`Open`], given up when dropped.
#[derive(Debug)]
struct Registered {
    id: u64,
    open: Arc<Mutex<Open>>,
}

impl Registered {
    fn new(open: &Arc<Mutex<Open>>, watchdog: &Arc<Watchdog>) -> Self {
        let mut all = lock(open);
        let id = all.next;
        all.next += 1;
        all.watchdogs.insert(id, Arc::clone(watchdog));
        Self {
            id,
            open: Arc::clone(open),
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.open).watchdogs.remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Closes the connection idle the longest, if one has been for [`DISPLACE_IDLE_AFTER`]; whether one was.
fn displace_idlest(open: &Mutex<Open>) -> bool {
    let all = lock(open);
    let idlest = all
        .watchdogs
        .values()
        .filter_map(|watchdog| watchdog.idle_since().map(|since| (since, watchdog)))
        .filter(|(since, _)| since.elapsed() >= DISPLACE_IDLE_AFTER)
        .min_by_key(|(since, _)| *since);
    idlest.is_some_and(|(_, watchdog)| watchdog.displace_if_idle())
}

/// Serves one connection until the client closes it, a time limit passes, it is displaced, or the server
/// stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    watchdog: Arc<Watchdog>,
    mut stopping: watch::Receiver<bool>,
) {
    let limits = watchdog.limits;
    let io = TokioIo::new(Watched {
        stream,
        watchdog: Arc::clone(&watchdog),
    });
    let router = TowerToHyperService::new(router);
    let on_request = Arc::clone(&watchdog);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let watchdog = Arc::clone(&on_request);
        let has_body = !request.body().is_end_stream();
        watchdog.head_read(has_body);
        let mut request = request.map(|body| WatchedBody {
            body,
            watchdog: Arc::clone(&watchdog),
            reading: has_body,
        });
        // What `into_make_service_with_connect_info` would insert: the admin routes check the client's address.
        request.extensions_mut().insert(ConnectInfo(peer));
        let answer = router.call(request);
        async move {
            let answer = answer.await;
            watchdog.answered();
            answer
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // A backstop only: hyper starts this when it begins waiting for a head, so the watchdog always acts first.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle.saturating_add(limits.header_read));
    let mut served = std::pin::pin!(http.serve_connection(io, service));
    let mut draining = false;
    loop {
        tokio::select! {
            ended = served.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                break;
            }
            () = watchdog.expired() => {
                tracing::debug!(%peer, "connection closed: idle, or past its header or body read limit");
                break;
            }
            _ = stopping.changed(), if !draining => {
                draining = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is, and so which time limit applies to it.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for a request since `since` (opened, or answered the last one); `first_byte` once a byte came.
    Waiting {
        since: Instant,
        first_byte: Option<Instant>,
    },
    /// A request's head came at `since`; its body is on its way.
    Body { since: Instant },
    /// The request is whole and the routes are on it: no limit here.
    Handling,
    /// Idle when the server was full: to be closed at once.
    Displaced,
}

/// One connection's time limits: told where the connection is, [`Watchdog::expired`] completes when the
/// limit of that phase passes.
#[derive(Debug)]
struct Watchdog {
    limits: Limits,
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Watchdog {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                first_byte: None,
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        lock(&self.phase)
    }

    /// Since when the connection waits for a request of which nothing came yet.
    fn idle_since(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Waiting {
                since,
                first_byte: None,
            } => Some(since),
            _ => None,
        }
    }

    /// Closes the connection if it is still idle; whether it was.
    fn displace_if_idle(&self) -> bool {
        let mut phase = self.phase();
        if !matches!(*phase, Phase::Waiting { first_byte: None, .. }) {
            return false;
        }
        *phase = Phase::Displaced;
        drop(phase);
        self.changed.notify_one();
        true
    }

    /// Moves to `phase`, unless displaced.
    fn set(&self, phase: Phase) {
        let mut current = self.phase();
        if !matches!(*current, Phase::Displaced) {
            *current = phase;
        }
        drop(current);
        self.changed.notify_one();
    }

    /// Bytes came from the client: a waiting connection's request has begun.
    fn bytes_read(&self) {
        let mut phase = self.phase();
        if let Phase::Waiting {
            first_byte: first @ None,
            ..
        } = &mut *phase
        {
            *first = Some(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A request's head is complete.
    fn head_read(&self, has_body: bool) {
        self.set(if has_body {
            Phase::Body { since: Instant::now() }
        } else {
            Phase::Handling
        });
    }

    /// The request's body was read to its end, or dropped unread.
    fn body_read(&self) {
        let mut phase = self.phase();
        if matches!(*phase, Phase::Body { .. }) {
            *phase = Phase::Handling;
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// The answer is on its way: the connection waits for the next request.
    fn answered(&self) {
        self.set(Phase::Waiting {
            since: Instant::now(),
            first_byte: None,
        });
    }

    fn deadline(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Waiting {
                since,
                first_byte: None,
            } => since.checked_add(self.limits.idle),
            Phase::Waiting {
                first_byte: Some(first),
                ..
            } => first.checked_add(self.limits.header_read),
            Phase::Body { since } => since.checked_add(self.limits.body_read),
            Phase::Handling => None,
            Phase::Displaced => Some(Instant::now()),
        }
    }

    /// Completes once the current phase's limit has passed.
    async fn expired(&self) {
        loop {
            let changed = self.changed.notified();
            match self.deadline() {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// The client's socket, telling the watchdog when bytes come.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    watchdog: Arc<Watchdog>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watchdog.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A request's body, telling the watchdog when it has all been read (or was dropped unread).
#[derive(Debug)]
struct WatchedBody {
    body: Incoming,
    watchdog: Arc<Watchdog>,
    reading: bool,
}

impl WatchedBody {
    fn done(&mut self) {
        if std::mem::take(&mut self.reading) {
            self.watchdog.body_read();
        }
    }
}

impl hyper::body::Body for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || self.body.is_end_stream() {
            self.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.done();
    }
}
