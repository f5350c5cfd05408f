//! What becomes of request bytes a handler did not read.
//!
//! A handler may answer before reading the request body: a refusal (403, 413, a wrong
//! region) decided from the head alone. Left to itself, hyper then guesses: when the
//! handler drops an unread body, it reads whatever bytes are already buffered *as that
//! body*, even when the request said `Expect: 100-continue` and the client, never told
//! to continue, skipped the body (botocore does) and sent its next request instead.
//! The tail of that next request was then parsed as a request of its own, and a
//! request the client never sent was executed. Whether the drain or the response came
//! first also decided whether the connection was closed with or without a
//! `Connection: close` header.
//!
//! So the edge decides instead, in one place, for every response:
//! - a body read to its end needs nothing;
//! - a small unread rest of a body the client is known to be sending (no
//!   `Expect: 100-continue`, or the handler already asked for it) is read and discarded,
//!   and the connection stays open;
//! - anything else is answered with `Connection: close` and the connection is closed
//!   after the response, so no unread byte is ever parsed as a request. The socket
//!   then lingers ([`Lingering`]) so that a client still sending its body reads the
//!   response instead of a reset.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, header};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Largest unread body rest the edge reads and discards to keep a connection open.
const DRAIN_LIMIT: u64 = 64 * 1024;
/// How long the edge waits for that rest before closing instead.
const DRAIN_WAIT: Duration = Duration::from_secs(1);
/// How long a closing socket keeps reading (and discarding) what the client still sends.
const LINGER: Duration = Duration::from_secs(2);

/// Where the request body is when the response is ready.
enum Slot {
    /// Still owned by the handler (or by something it handed the body to).
    Held,
    /// Read to its end.
    Finished,
    /// Dropped before its end; kept here instead, so hyper does not drain it.
    Unread { body: Incoming, polled: bool },
}

/// The request body as the handler sees it. Dropping it before its end parks the
/// hyper body in the shared slot rather than dropping it.
pub(crate) struct WatchedBody {
    inner: Option<Incoming>,
    polled: bool,
    finished: bool,
    slot: Arc<Mutex<Slot>>,
}

/// The edge's side of a [`WatchedBody`].
pub(crate) struct BodyWatch {
    slot: Arc<Mutex<Slot>>,
    expect_continue: bool,
}

/// Wrap `body` unless there is nothing to read (no body, or `Content-Length: 0`).
pub(crate) fn watch(
    body: Incoming,
    headers: &http::HeaderMap,
) -> (nomuck_http::Body, Option<BodyWatch>) {
    let to_boxed = |b: Incoming| {
        b.map_err(|e| Box::new(e) as nomuck_http::BodyError)
            .boxed_unsync()
    };
    if body.is_end_stream() {
        return (to_boxed(body), None);
    }
    let slot = Arc::new(Mutex::new(Slot::Held));
    let expect_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let watched = WatchedBody {
        inner: Some(body),
        polled: false,
        finished: false,
        slot: slot.clone(),
    };
    let body = watched
        .map_err(|e| Box::new(e) as nomuck_http::BodyError)
        .boxed_unsync();
    (
        body,
        Some(BodyWatch {
            slot,
            expect_continue,
        }),
    )
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        this.polled = true;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = ready!(Pin::new(inner).poll_frame(cx));
        if polled.is_none() {
            this.finished = true;
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        let state = if self.finished || body.is_end_stream() {
            Slot::Finished
        } else {
            Slot::Unread {
                body,
                polled: self.polled,
            }
        };
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }
}

impl BodyWatch {
    /// Settle the request body before `response` goes out: nothing to do, drain a
    /// small rest, or mark the response (and `linger`, the connection) as closing.
    pub(crate) async fn settle(self, response: &mut nomuck_http::Response, linger: &AtomicBool) {
        let slot = std::mem::replace(
            &mut *self.slot.lock().unwrap_or_else(|p| p.into_inner()),
            Slot::Finished,
        );
        let drained = match slot {
            Slot::Finished => true,
            Slot::Held => false,
            Slot::Unread { body, polled } => {
                // Only a client that was not asked to wait is surely sending the body.
                let sending = polled || !self.expect_continue;
                let small = body.size_hint().exact().is_some_and(|n| n <= DRAIN_LIMIT);
                sending && small && drain(body).await
            }
        };
        if !drained {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            linger.store(true, Ordering::Relaxed);
        }
    }
}

/// Read `body` to its end and discard it; false if it fails or takes too long.
async fn drain(mut body: Incoming) -> bool {
    let read = async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_WAIT, read)
        .await
        .unwrap_or(false)
}

/// A TCP stream whose shutdown, once `linger` is set, keeps reading and discarding
/// what the peer sends for a short while after sending FIN. Closing a socket with
/// unread bytes makes the kernel answer with a reset, which can destroy a response
/// the client has not read yet: exactly the early refusals that close connections.
pub(crate) struct Lingering {
    stream: TcpStream,
    linger: Arc<AtomicBool>,
    state: LingerState,
}

enum LingerState {
    Open,
    Draining(Pin<Box<tokio::time::Sleep>>),
    Done,
}

impl Lingering {
    pub(crate) fn new(stream: TcpStream, linger: Arc<AtomicBool>) -> Self {
        Self {
            stream,
            linger,
            state: LingerState::Open,
        }
    }

    /// Look at the first bytes without consuming them.
    pub(crate) async fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.peek(buf).await
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                LingerState::Open => {
                    ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
                    this.state = if this.linger.load(Ordering::Relaxed) {
                        LingerState::Draining(Box::pin(tokio::time::sleep(LINGER)))
                    } else {
                        LingerState::Done
                    };
                }
                LingerState::Draining(deadline) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.state = LingerState::Done;
                        continue;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match ready!(Pin::new(&mut this.stream).poll_read(cx, &mut buf)) {
                        // Discarded; keep reading until the peer closes.
                        Ok(()) if !buf.filled().is_empty() => {}
                        // The peer closed (or failed): nothing more can arrive.
                        _ => this.state = LingerState::Done,
                    }
                }
                LingerState::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}
