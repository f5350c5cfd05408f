//! A small QMP client: QEMU's JSON monitor protocol over a unix socket.
//!
//! QEMU sends one JSON object per line: a greeting, then replies to our commands
//! (`return` or `error`, carrying the `id` we gave the command) and asynchronous
//! `event`s, interleaved. [`parse_message`] turns one line into a [`Message`]; it is a
//! pure function so it can be fuzzed and property-tested. [`QmpClient`] owns the
//! connection: a reader task routes replies to the waiting command by id and events to
//! [`QmpEvents`]. When the connection ends (QEMU exited, or sent something that is not
//! QMP) every waiting command fails with [`QmpError::Disconnected`] and the event
//! stream ends, so nothing waits forever on a QEMU that is gone.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Longest line accepted from QEMU. Replies nomuck asks for are a few KiB; a longer
/// line means the peer is not the QEMU we expect.
pub const MAX_LINE: usize = 1 << 20;

/// How long QEMU may take to greet and accept capabilities after we connect. QEMU
/// sends the greeting from its main loop, which can be busy during machine setup on a
/// loaded machine.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One message from QEMU.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `{"QMP": {"version": …, "capabilities": […]}}`, sent once on connect.
    Greeting { version: Value },
    /// `{"return": …, "id": …}`: a command succeeded.
    Return { id: Option<Value>, value: Value },
    /// `{"error": {"class": …, "desc": …}, "id": …}`: a command failed.
    Error {
        id: Option<Value>,
        class: String,
        desc: String,
    },
    /// `{"event": NAME, "data": …, "timestamp": …}`.
    Event(Event),
}

/// An asynchronous event from QEMU.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// The event's `data` member as sent (`null` when absent).
    pub data: Value,
}

/// The events the supervisor acts on; everything else is [`EventKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// Emulation stopped for good or (with `shutdown=pause`) paused in the `shutdown`
    /// state. `guest` is true when the guest asked for it (it powered itself off);
    /// `reason` is QEMU's `ShutdownCause`, e.g. `guest-shutdown`, `host-qmp-quit`,
    /// `host-signal`, `guest-panic`.
    Shutdown {
        guest: bool,
        reason: String,
    },
    /// The virtual power button was pressed (`system_powerdown`).
    Powerdown,
    /// The machine was reset; `guest: true` with reason `guest-reset` is a reboot from
    /// inside the guest.
    Reset {
        guest: bool,
        reason: String,
    },
    Stop,
    Resume,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("QMP message is not JSON: {0}")]
    Json(String),
    #[error("QMP message is not an object with a QMP, return, error or event member")]
    Shape,
    #[error("QMP message is longer than {MAX_LINE} bytes")]
    TooLong,
}

/// Parses one line from QEMU (without or with its trailing CRLF). Never panics:
/// whatever the bytes, the answer is a message or a [`ParseError`].
pub fn parse_message(line: &[u8]) -> Result<Message, ParseError> {
    if line.len() > MAX_LINE {
        return Err(ParseError::TooLong);
    }
    // serde_json bounds nesting depth itself, so hostile nesting is an error, not a
    // stack overflow.
    let value: Value = serde_json::from_slice(line).map_err(|e| ParseError::Json(e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(ParseError::Shape);
    };
    let id = obj.remove("id");
    if let Some(greeting) = obj.remove("QMP") {
        let version = greeting.get("version").cloned().unwrap_or(Value::Null);
        return Ok(Message::Greeting { version });
    }
    if let Some(value) = obj.remove("return") {
        return Ok(Message::Return { id, value });
    }
    if let Some(error) = obj.remove("error") {
        let field = |name: &str| {
            error
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        return Ok(Message::Error {
            id,
            class: field("class"),
            desc: field("desc"),
        });
    }
    if let Some(Value::String(name)) = obj.remove("event") {
        let data = obj.remove("data").unwrap_or(Value::Null);
        return Ok(Message::Event(Event {
            kind: event_kind(&name, &data),
            data,
        }));
    }
    Err(ParseError::Shape)
}

fn event_kind(name: &str, data: &Value) -> EventKind {
    let guest = data.get("guest").and_then(Value::as_bool).unwrap_or(false);
    let reason = || {
        data.get("reason")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned()
    };
    match name {
        "SHUTDOWN" => EventKind::Shutdown {
            guest,
            reason: reason(),
        },
        "RESET" => EventKind::Reset {
            guest,
            reason: reason(),
        },
        "POWERDOWN" => EventKind::Powerdown,
        "STOP" => EventKind::Stop,
        "RESUME" => EventKind::Resume,
        other => EventKind::Other(other.to_owned()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP handshake timed out after {0:?}")]
    Timeout(Duration),
    #[error("QMP protocol: {0}")]
    Protocol(String),
    /// The connection is closed: QEMU exited, closed the socket, or broke the protocol.
    #[error("QMP connection closed: {0}")]
    Disconnected(String),
    /// QEMU refused the command (`class` is e.g. `GenericError`, `CommandNotFound`).
    #[error("QMP command failed: {class}: {desc}")]
    Command { class: String, desc: String },
}

/// `query-status`'s reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub running: bool,
    /// QEMU's `RunState`: `running`, `paused`, `shutdown`, `prelaunch`, `io-error`,
    /// `internal-error`, `guest-panicked`, …
    pub status: String,
}

type Reply = Result<Value, QmpError>;

struct Pending {
    waiting: HashMap<u64, oneshot::Sender<Reply>>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

struct Inner {
    /// Whole request lines to the writer task. Handing a line over is atomic, so a
    /// command future dropped half-way (a caller's timeout) never leaves half a
    /// request on the socket.
    requests: mpsc::UnboundedSender<Vec<u8>>,
    pending: Arc<Mutex<Pending>>,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The tasks hold the socket's halves; stopping them closes the socket, which is
        // what a crashed nomuck looks like to QEMU (it then accepts the next client).
        self.reader.abort();
        self.writer.abort();
    }
}

/// A connected, capabilities-negotiated QMP session. Cheap to clone; the connection
/// closes when the last clone is dropped.
#[derive(Clone)]
pub struct QmpClient {
    inner: Arc<Inner>,
}

/// The asynchronous events of one QMP session, in order.
pub struct QmpEvents {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl QmpEvents {
    /// The next event; `None` once the connection has ended (QEMU is gone or the
    /// session broke) and every earlier event has been returned.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl QmpClient {
    /// Connects to QEMU's QMP socket, reads the greeting and enters command mode.
    pub async fn connect(socket: &Path) -> Result<(QmpClient, QmpEvents), QmpError> {
        let stream = UnixStream::connect(socket).await?;
        let (read, writer) = stream.into_split();
        let mut read = BufReader::new(read);
        let greeting = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_line(&mut read))
            .await
            .map_err(|_| QmpError::Timeout(HANDSHAKE_TIMEOUT))??;
        match parse_message(&greeting) {
            Ok(Message::Greeting { .. }) => {}
            Ok(other) => {
                return Err(QmpError::Protocol(format!(
                    "expected a greeting, got {other:?}"
                )));
            }
            Err(e) => return Err(QmpError::Protocol(e.to_string())),
        }
        let pending = Arc::new(Mutex::new(Pending {
            waiting: HashMap::new(),
            closed: None,
        }));
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(read, pending.clone(), tx));
        let (requests, lines) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(writer, lines));
        let client = QmpClient {
            inner: Arc::new(Inner {
                requests,
                pending,
                next_id: AtomicU64::new(1),
                reader,
                writer,
            }),
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, client.execute("qmp_capabilities", None))
            .await
            .map_err(|_| QmpError::Timeout(HANDSHAKE_TIMEOUT))??;
        Ok((client, QmpEvents { rx }))
    }

    /// Runs a command and returns its `return` value. Resolves when QEMU answers or the
    /// connection ends, whichever comes first.
    pub async fn execute(&self, command: &str, arguments: Option<Value>) -> Reply {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.inner.pending.lock().expect("pending lock");
            if let Some(why) = &pending.closed {
                return Err(QmpError::Disconnected(why.clone()));
            }
            pending.waiting.insert(id, tx);
        }
        let mut request = json!({ "execute": command, "id": id });
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        // A failed hand-over means the writer stopped; the reader then fails `rx`.
        let _ = self.inner.requests.send(line);
        rx.await
            .unwrap_or_else(|_| Err(QmpError::Disconnected("reader stopped".to_owned())))
    }

    pub async fn query_status(&self) -> Result<Status, QmpError> {
        let v = self.execute("query-status", None).await?;
        let status = v
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| QmpError::Protocol(format!("query-status returned {v}")))?;
        Ok(Status {
            running: v.get("running").and_then(Value::as_bool).unwrap_or(false),
            status: status.to_owned(),
        })
    }

    /// Presses the virtual power button (ACPI); the guest decides what to do.
    pub async fn system_powerdown(&self) -> Result<(), QmpError> {
        self.execute("system_powerdown", None).await.map(drop)
    }

    /// Hard reset, like the reset button.
    pub async fn system_reset(&self) -> Result<(), QmpError> {
        self.execute("system_reset", None).await.map(drop)
    }

    /// Pauses the vCPUs.
    pub async fn stop(&self) -> Result<(), QmpError> {
        self.execute("stop", None).await.map(drop)
    }

    /// Resumes paused vCPUs.
    pub async fn cont(&self) -> Result<(), QmpError> {
        self.execute("cont", None).await.map(drop)
    }

    /// Asks QEMU to exit now. QEMU may close the socket before its reply arrives;
    /// that counts as success too.
    pub async fn quit(&self) -> Result<(), QmpError> {
        match self.execute("quit", None).await {
            Ok(_) | Err(QmpError::Disconnected(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs a human monitor (HMP) command, for what QMP does not offer (e.g. `qemu-io`
    /// against a drive, `info …` for diagnostics), and returns its text output.
    pub async fn human_monitor_command(&self, command_line: &str) -> Result<String, QmpError> {
        let v = self
            .execute(
                "human-monitor-command",
                Some(json!({ "command-line": command_line })),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// True once the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.inner
            .pending
            .lock()
            .expect("pending lock")
            .closed
            .is_some()
    }
}

async fn write_loop(mut writer: OwnedWriteHalf, mut lines: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(line) = lines.recv().await {
        if let Err(e) = writer.write_all(&line).await {
            // Dropping the write half shuts the socket down for writing; QEMU then
            // closes its end and the reader fails every waiting command.
            tracing::debug!(error = %e, "QMP write failed");
            return;
        }
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes. EOF, even in the middle of a line,
/// means QEMU is gone.
async fn read_line(read: &mut BufReader<OwnedReadHalf>) -> Result<Vec<u8>, QmpError> {
    let mut line = Vec::new();
    let n = (&mut *read)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 || line.last() != Some(&b'\n') {
        if line.len() > MAX_LINE {
            return Err(QmpError::Protocol(ParseError::TooLong.to_string()));
        }
        return Err(QmpError::Disconnected("end of stream".to_owned()));
    }
    Ok(line)
}

async fn read_loop(
    mut read: BufReader<OwnedReadHalf>,
    pending: Arc<Mutex<Pending>>,
    events: mpsc::UnboundedSender<Event>,
) {
    let why = loop {
        let line = match read_line(&mut read).await {
            Ok(line) => line,
            Err(e) => break e.to_string(),
        };
        // A line that is not QMP ends the session: a reply we cannot parse would leave
        // its command waiting forever, so fail everything instead and let the caller
        // reconnect.
        let message = match parse_message(&line) {
            Ok(m) => m,
            Err(e) => break format!("protocol error: {e}"),
        };
        match message {
            Message::Event(event) => {
                // The receiver may be gone (nobody listens); events are then dropped.
                let _ = events.send(event);
            }
            Message::Return { id, value } => deliver(&pending, id, Ok(value)),
            Message::Error { id, class, desc } => {
                deliver(&pending, id, Err(QmpError::Command { class, desc }))
            }
            Message::Greeting { .. } => break "second greeting".to_owned(),
        }
    };
    tracing::debug!(reason = %why, "QMP connection ended");
    let waiting = {
        let mut p = pending.lock().expect("pending lock");
        p.closed = Some(why.clone());
        std::mem::take(&mut p.waiting)
    };
    for (_, tx) in waiting {
        let _ = tx.send(Err(QmpError::Disconnected(why.clone())));
    }
}

fn deliver(pending: &Mutex<Pending>, id: Option<Value>, reply: Reply) {
    let Some(id) = id.as_ref().and_then(Value::as_u64) else {
        tracing::warn!(?id, "QMP reply without a known id ignored");
        return;
    };
    let tx = pending.lock().expect("pending lock").waiting.remove(&id);
    match tx {
        Some(tx) => {
            let _ = tx.send(reply);
        }
        None => tracing::warn!(id, "QMP reply for no waiting command ignored"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_what_qemu_7_2_sends() {
        let g = br#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}"#;
        assert!(matches!(parse_message(g), Ok(Message::Greeting { .. })));
        let r = b"{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": 1}\r\n";
        assert_eq!(
            parse_message(r),
            Ok(Message::Return {
                id: Some(json!(1)),
                value: json!({"status": "running", "singlestep": false, "running": true}),
            })
        );
        let e = br#"{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": 7}"#;
        assert_eq!(
            parse_message(e),
            Ok(Message::Error {
                id: Some(json!(7)),
                class: "CommandNotFound".into(),
                desc: "The command nope has not been found".into(),
            })
        );
        let s = br#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#;
        let Ok(Message::Event(ev)) = parse_message(s) else {
            panic!("not an event")
        };
        assert_eq!(
            ev.kind,
            EventKind::Shutdown {
                guest: true,
                reason: "guest-shutdown".into()
            }
        );
        let r = br#"{"event": "RESET", "data": {"guest": true, "reason": "guest-reset"}}"#;
        let Ok(Message::Event(ev)) = parse_message(r) else {
            panic!("not an event")
        };
        assert_eq!(
            ev.kind,
            EventKind::Reset {
                guest: true,
                reason: "guest-reset".into()
            }
        );
        for (name, kind) in [
            ("POWERDOWN", EventKind::Powerdown),
            ("STOP", EventKind::Stop),
            ("RESUME", EventKind::Resume),
            ("BLOCK_IO_ERROR", EventKind::Other("BLOCK_IO_ERROR".into())),
        ] {
            let line = format!(r#"{{"event": "{name}"}}"#);
            let Ok(Message::Event(ev)) = parse_message(line.as_bytes()) else {
                panic!("{name} not an event")
            };
            assert_eq!(ev.kind, kind);
        }
    }

    #[test]
    fn refuses_what_is_not_qmp() {
        for bad in [
            &b""[..],
            b"null",
            b"[1,2]",
            b"{}",
            b"{\"event\": 5}",
            b"{\"retur",
            b"\xff\xfe",
        ] {
            assert!(parse_message(bad).is_err(), "{bad:?} accepted");
        }
        let deep = "[".repeat(10_000);
        assert!(matches!(
            parse_message(deep.as_bytes()),
            Err(ParseError::Json(_))
        ));
        let long = vec![b' '; MAX_LINE + 1];
        assert_eq!(parse_message(&long), Err(ParseError::TooLong));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_message(&bytes);
        }

        #[test]
        fn json_shaped_garbage_never_panics(s in r#"[{}\[\]":,a-zA-Z0-9 \-]{0,200}"#) {
            let _ = parse_message(s.as_bytes());
            let wrapped = format!(r#"{{"event":"SHUTDOWN","data":{s}}}"#);
            let _ = parse_message(wrapped.as_bytes());
        }
    }

    /// A fake QEMU: greets, accepts capabilities, then plays `script` for the first
    /// command it receives.
    async fn fake_qemu(script: &'static [u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
                .await
                .unwrap();
            let mut line = String::new();
            r.read_line(&mut line).await.unwrap();
            assert!(line.contains("qmp_capabilities"), "{line}");
            w.write_all(b"{\"return\": {}, \"id\": 1}\r\n")
                .await
                .unwrap();
            line.clear();
            r.read_line(&mut line).await.unwrap();
            w.write_all(script).await.unwrap();
            // Closing `w` (end of task) is QEMU going away.
        });
        (dir, path)
    }

    #[tokio::test]
    async fn events_and_replies_are_routed_then_eof_ends_both() {
        let (_dir, path) = fake_qemu(
            b"{\"event\": \"STOP\"}\r\n{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": 2}\r\n",
        )
        .await;
        let (client, mut events) = QmpClient::connect(&path).await.unwrap();
        let status = client.query_status().await.unwrap();
        assert_eq!(status.status, "paused");
        assert!(!status.running);
        assert_eq!(events.next().await.unwrap().kind, EventKind::Stop);
        assert!(
            events.next().await.is_none(),
            "EOF must end the event stream"
        );
        assert!(matches!(
            client.query_status().await,
            Err(QmpError::Disconnected(_))
        ));
        assert!(client.is_closed());
    }

    #[tokio::test]
    async fn garbage_from_qemu_fails_the_waiting_command() {
        let (_dir, path) = fake_qemu(b"this is not json\r\n{\"return\": {}, \"id\": 2}\r\n").await;
        let (client, _events) = QmpClient::connect(&path).await.unwrap();
        let err = client.execute("query-status", None).await.unwrap_err();
        assert!(
            matches!(&err, QmpError::Disconnected(why) if why.contains("protocol error")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn eof_mid_command_is_disconnected_not_a_hang() {
        let (_dir, path) = fake_qemu(b"{\"retu").await;
        let (client, _events) = QmpClient::connect(&path).await.unwrap();
        let err = tokio::time::timeout(Duration::from_secs(5), client.system_reset())
            .await
            .expect("must not hang")
            .unwrap_err();
        assert!(matches!(err, QmpError::Disconnected(_)), "{err}");
    }

    #[tokio::test]
    async fn command_errors_are_typed() {
        let (_dir, path) = fake_qemu(
            b"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}, \"id\": 2}\r\n",
        )
        .await;
        let (client, _events) = QmpClient::connect(&path).await.unwrap();
        let err = client.execute("nope", None).await.unwrap_err();
        assert!(
            matches!(&err, QmpError::Command { class, desc } if class == "CommandNotFound" && desc == "nope"),
            "{err}"
        );
    }
}
