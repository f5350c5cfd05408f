//! The load loop: one task per connection pulls tickets from a shared
//! counter until the deadline, the op budget or an interrupt stops it, and
//! keeps its own statistics (merged once at the end, so nothing on the hot
//! path is shared but one atomic add, and a second one when sampling).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use md5::{Digest, Md5};

use crate::client::{self, Conn, Target, encode_query_value, xml_text};
use crate::hist::Latency;

/// Extra random bytes in the payload pool: each key's body starts at its own
/// offset in it, so objects differ (and `--verify` catches mixed-up keys)
/// while every body is a zero-copy slice of one buffer.
const POOL_SLACK: usize = 4093;
/// Error bodies are kept only this long.
const ERROR_BODY_LIMIT: usize = 2048;
/// How many error descriptions the report shows verbatim.
pub const MAX_SAMPLES: usize = 5;
/// ListObjectsV2 pages are small XML documents; a cap keeps a broken server
/// from exhausting memory.
const LIST_BODY_LIMIT: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Put = 0,
    Get = 1,
    Delete = 2,
    List = 3,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [OpKind::Put, OpKind::Get, OpKind::Delete, OpKind::List];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Get => "get",
            OpKind::Delete => "delete",
            OpKind::List => "list",
        }
    }
}

/// splitmix64: tiny, fast, and good enough to pick keys and fill payloads.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What every phase shares.
pub struct Env {
    pub target: Arc<Target>,
    /// Key prefix of this run, ending in `/`.
    pub prefix: String,
    pub size: usize,
    pool: Bytes,
    pub verify: bool,
    pub timeout: Duration,
    /// Set by Ctrl-C.
    pub interrupted: Arc<AtomicBool>,
    /// `x-amz-server-side-encryption` sent with every PUT.
    pub sse: Option<HeaderValue>,
    /// GETs read a range this long at a random offset instead of the object.
    pub range: Option<u64>,
    ranges_drawn: AtomicU64,
}

impl Env {
    pub fn new(
        target: Arc<Target>,
        prefix: String,
        size: usize,
        verify: bool,
        timeout: Duration,
        seed: u64,
    ) -> Self {
        let mut rng = Rng::new(seed);
        let mut pool = vec![0u8; size + POOL_SLACK];
        for chunk in pool.chunks_mut(8) {
            let r = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        Self {
            target,
            prefix,
            size,
            pool: Bytes::from(pool),
            verify,
            timeout,
            interrupted: Arc::new(AtomicBool::new(false)),
            sse: None,
            range: None,
            ranges_drawn: AtomicU64::new(seed),
        }
    }

    /// The `Range` header of the next ranged GET and its length: a
    /// pseudo-random offset, so reads do not all hit one cached spot.
    fn next_range(&self, len: u64) -> (HeaderValue, u64) {
        let len = len.min(self.size as u64).max(1);
        let n = self.ranges_drawn.fetch_add(1, Ordering::Relaxed);
        let span = self.size as u64 - len + 1;
        let start = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % span;
        let value = format!("bytes={start}-{}", start + len - 1);
        (
            HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("bytes=0-0")),
            len,
        )
    }

    /// The body of object `idx`: a slice of the shared pool, never a copy.
    pub fn payload(&self, idx: u64) -> Bytes {
        let off = (idx.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % POOL_SLACK;
        self.pool.slice(off..off + self.size)
    }

    pub fn key(&self, idx: u64) -> String {
        // Zero-padded so listing order is numeric order.
        format!("{}{idx:010}", self.prefix)
    }

    fn object_path(&self, idx: u64) -> String {
        format!("/{}/{}", self.target.bucket, self.key(idx))
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// PUT a new key per ticket.
    Put,
    /// GET random keys of `0..objects`.
    Get { objects: u64 },
    /// GET (with probability `get_ratio`) or overwrite random keys of `0..objects`.
    Mixed { objects: u64, get_ratio: f64 },
    /// DELETE one key per ticket.
    Delete,
    /// Page through the prefix again and again; a ticket is one page.
    List { page_size: u32, expect_keys: u64 },
}

pub struct Phase {
    pub plan: Plan,
    pub max_ops: u64,
    pub duration: Option<Duration>,
    /// Setup and measurement stop on Ctrl-C; cleanup does not.
    pub honor_interrupt: bool,
    /// Counts successful operations as they complete, for a sampler.
    pub progress: Option<Arc<AtomicU64>>,
}

#[derive(Debug, Clone)]
pub struct Failure {
    /// Grouping key: `"404 NoSuchKey"`, `"transport"`, `"timeout"`, `"bad body"`.
    pub kind: String,
    pub detail: String,
}

impl Failure {
    fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            detail: detail.into(),
        }
    }

    fn transport(what: &str, e: impl std::fmt::Display) -> Self {
        Self::new("transport", format!("{what}: {e}"))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub ok: [u64; 4],
    pub errors: [u64; 4],
    pub latency: [Latency; 4],
    pub bytes: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub samples: Vec<String>,
    /// Complete listings (list workload).
    pub listings: u64,
    pub listing_latency: Latency,
    pub keys_listed: u64,
}

impl Stats {
    pub fn merge(&mut self, o: Stats) {
        for i in 0..4 {
            self.ok[i] += o.ok[i];
            self.errors[i] += o.errors[i];
            self.latency[i].merge(&o.latency[i]);
        }
        self.bytes += o.bytes;
        for (k, v) in o.error_kinds {
            *self.error_kinds.entry(k).or_default() += v;
        }
        for s in o.samples {
            if self.samples.len() < MAX_SAMPLES {
                self.samples.push(s);
            }
        }
        self.listings += o.listings;
        self.listing_latency.merge(&o.listing_latency);
        self.keys_listed += o.keys_listed;
    }

    pub fn total_ok(&self) -> u64 {
        self.ok.iter().sum()
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    fn fail(&mut self, kind: OpKind, f: Failure) {
        self.errors[kind as usize] += 1;
        *self.error_kinds.entry(f.kind).or_default() += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(f.detail);
        }
    }
}

#[derive(Default)]
struct ListState {
    token: Option<String>,
    started: Option<Instant>,
    keys: u64,
}

struct Shared {
    env: Arc<Env>,
    plan: Plan,
    max_ops: u64,
    deadline: Option<Instant>,
    honor_interrupt: bool,
    tickets: AtomicU64,
    progress: Option<Arc<AtomicU64>>,
}

/// Runs one phase on `conns` (one task each) and hands them back.
pub async fn run_phase(
    env: &Arc<Env>,
    phase: Phase,
    conns: Vec<Conn>,
    seed: u64,
) -> (Stats, Duration, Vec<Conn>) {
    let start = Instant::now();
    let shared = Arc::new(Shared {
        env: env.clone(),
        plan: phase.plan,
        max_ops: phase.max_ops,
        deadline: phase.duration.map(|d| start + d),
        honor_interrupt: phase.honor_interrupt,
        tickets: AtomicU64::new(0),
        progress: phase.progress,
    });
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let shared = shared.clone();
            let seed = seed ^ (i as u64).wrapping_mul(0xA076_1D64_78BD_642F);
            tokio::spawn(worker(shared, conn, seed))
        })
        .collect();
    let mut stats = Stats::default();
    let mut conns = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok((s, c)) => {
                stats.merge(s);
                conns.push(c);
            }
            Err(e) => stats.fail(OpKind::Put, Failure::new("panic", e.to_string())),
        }
    }
    (stats, start.elapsed(), conns)
}

async fn worker(shared: Arc<Shared>, mut conn: Conn, seed: u64) -> (Stats, Conn) {
    let env = &*shared.env;
    let mut rng = Rng::new(seed);
    let mut st = Stats::default();
    let mut list = ListState::default();
    loop {
        if shared.honor_interrupt && env.interrupted.load(Ordering::Relaxed) {
            break;
        }
        if shared.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let ticket = shared.tickets.fetch_add(1, Ordering::Relaxed);
        if ticket >= shared.max_ops {
            break;
        }
        let (kind, idx) = match shared.plan {
            Plan::Put => (OpKind::Put, ticket),
            Plan::Delete => (OpKind::Delete, ticket),
            Plan::Get { objects } => (OpKind::Get, rng.below(objects)),
            Plan::Mixed { objects, get_ratio } => {
                let kind = if rng.unit() < get_ratio {
                    OpKind::Get
                } else {
                    OpKind::Put
                };
                (kind, rng.below(objects))
            }
            Plan::List { .. } => (OpKind::List, 0),
        };
        let t0 = Instant::now();
        let op = execute(env, &shared.plan, &mut conn, kind, idx, &mut list, &mut st);
        match tokio::time::timeout(env.timeout, op).await {
            Ok(Ok(bytes)) => {
                if let Some(p) = &shared.progress {
                    p.fetch_add(1, Ordering::Relaxed);
                }
                st.ok[kind as usize] += 1;
                st.latency[kind as usize].record(t0.elapsed());
                st.bytes += bytes;
            }
            Ok(Err(f)) => {
                if f.kind == "transport" {
                    conn.reset();
                }
                st.fail(kind, f);
            }
            Err(_) => {
                // The connection may still carry the slow response.
                conn.reset();
                list = ListState::default();
                let f = Failure::new(
                    "timeout",
                    format!("{} timed out after {:?}", kind.name(), env.timeout),
                );
                st.fail(kind, f);
            }
        }
    }
    (st, conn)
}

/// One request; returns the payload bytes moved on success.
async fn execute(
    env: &Env,
    plan: &Plan,
    conn: &mut Conn,
    kind: OpKind,
    idx: u64,
    list: &mut ListState,
    st: &mut Stats,
) -> Result<u64, Failure> {
    match kind {
        OpKind::Put => {
            let path = env.object_path(idx);
            let body = env.payload(idx);
            let len = body.len() as u64;
            let sse: Vec<(HeaderName, HeaderValue)> = env
                .sse
                .iter()
                .map(|v| {
                    (
                        HeaderName::from_static("x-amz-server-side-encryption"),
                        v.clone(),
                    )
                })
                .collect();
            let (status, resp) = send(conn, Method::PUT, &path, body, &sse).await?;
            expect_status(status, &[StatusCode::OK], "PUT", &path, resp).await?;
            Ok(len)
        }
        OpKind::Get => {
            let path = env.object_path(idx);
            if let Some(want) = env.range {
                let (range, len) = env.next_range(want);
                let headers = [(http::header::RANGE, range)];
                let (status, resp) = send(conn, Method::GET, &path, Bytes::new(), &headers).await?;
                if status != StatusCode::PARTIAL_CONTENT {
                    return Err(http_failure(status, "GET", &path, resp).await);
                }
                let (got, _) = client::drain(resp, None)
                    .await
                    .map_err(|e| Failure::transport("GET body", e))?;
                if got != len {
                    return Err(Failure::new(
                        "bad body",
                        format!("GET {path} range: {got} bytes, expected {len}"),
                    ));
                }
                return Ok(got);
            }
            let (status, resp) = send(conn, Method::GET, &path, Bytes::new(), &[]).await?;
            if status != StatusCode::OK {
                return Err(http_failure(status, "GET", &path, resp).await);
            }
            let expect = env.payload(idx);
            let (len, same) = client::drain(resp, env.verify.then_some(&expect[..]))
                .await
                .map_err(|e| Failure::transport("GET body", e))?;
            if len != env.size as u64 {
                return Err(Failure::new(
                    "bad body",
                    format!("GET {path}: {len} bytes, expected {}", env.size),
                ));
            }
            if !same {
                return Err(Failure::new(
                    "bad body",
                    format!("GET {path}: content differs from what was written"),
                ));
            }
            Ok(len)
        }
        OpKind::Delete => {
            let path = env.object_path(idx);
            let (status, resp) = send(conn, Method::DELETE, &path, Bytes::new(), &[]).await?;
            expect_status(
                status,
                &[StatusCode::NO_CONTENT, StatusCode::OK],
                "DELETE",
                &path,
                resp,
            )
            .await?;
            Ok(0)
        }
        OpKind::List => {
            let Plan::List {
                page_size,
                expect_keys,
            } = *plan
            else {
                return Err(Failure::new("bug", "list op outside the list plan"));
            };
            list_page(env, conn, page_size, expect_keys, list, st).await
        }
    }
}

async fn list_page(
    env: &Env,
    conn: &mut Conn,
    page_size: u32,
    expect_keys: u64,
    list: &mut ListState,
    st: &mut Stats,
) -> Result<u64, Failure> {
    let mut path = format!(
        "/{}?list-type=2&max-keys={page_size}&prefix={}",
        env.target.bucket,
        encode_query_value(&env.prefix)
    );
    if let Some(t) = &list.token {
        path.push_str("&continuation-token=");
        path.push_str(&encode_query_value(t));
    }
    let started = *list.started.get_or_insert_with(Instant::now);
    let result = async {
        let (status, resp) = send(conn, Method::GET, &path, Bytes::new(), &[]).await?;
        if status != StatusCode::OK {
            return Err(http_failure(status, "LIST", &path, resp).await);
        }
        let body = client::collect(resp, LIST_BODY_LIMIT)
            .await
            .map_err(|e| Failure::transport("LIST body", e))?;
        let xml = String::from_utf8_lossy(&body);
        let keys = xml.matches("<Key>").count() as u64;
        let truncated = xml_text(&xml, "IsTruncated").is_some_and(|v| v.trim() == "true");
        let token = xml_text(&xml, "NextContinuationToken").map(|t| t.into_owned());
        Ok((body.len() as u64, keys, truncated, token))
    }
    .await;
    let (len, keys, truncated, token) = match result {
        Ok(r) => r,
        Err(f) => {
            *list = ListState::default();
            return Err(f);
        }
    };
    list.keys += keys;
    st.keys_listed += keys;
    if truncated {
        if token.is_none() {
            *list = ListState::default();
            return Err(Failure::new(
                "bad listing",
                "truncated page without NextContinuationToken",
            ));
        }
        list.token = token;
        return Ok(len);
    }
    let total = list.keys;
    *list = ListState::default();
    if total != expect_keys {
        return Err(Failure::new(
            "bad listing",
            format!("a full listing returned {total} keys, expected {expect_keys}"),
        ));
    }
    st.listings += 1;
    st.listing_latency.record(started.elapsed());
    Ok(len)
}

async fn send(
    conn: &mut Conn,
    method: Method,
    path: &str,
    body: Bytes,
    headers: &[(HeaderName, HeaderValue)],
) -> Result<(StatusCode, hyper::body::Incoming), Failure> {
    let what = method.clone();
    conn.send(method, path, body, headers)
        .await
        .map_err(|e| Failure::transport(what.as_str(), e))
}

/// Reads (and discards) a success body, or turns any other status into a failure.
async fn expect_status(
    status: StatusCode,
    ok: &[StatusCode],
    method: &str,
    path: &str,
    resp: hyper::body::Incoming,
) -> Result<(), Failure> {
    if ok.contains(&status) {
        client::drain(resp, None)
            .await
            .map_err(|e| Failure::transport(method, e))?;
        Ok(())
    } else {
        Err(http_failure(status, method, path, resp).await)
    }
}

async fn http_failure(
    status: StatusCode,
    method: &str,
    path: &str,
    resp: hyper::body::Incoming,
) -> Failure {
    // Read the whole body so the connection stays usable.
    let body = match client::collect(resp, ERROR_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return Failure::transport(method, e),
    };
    let text = String::from_utf8_lossy(&body);
    let code = xml_text(&text, "Code").map(|c| c.into_owned());
    let kind = match &code {
        Some(c) => format!("{} {c}", status.as_u16()),
        None => status.as_u16().to_string(),
    };
    let body_line: String = text.chars().filter(|&c| c != '\n' && c != '\r').collect();
    Failure::new(kind, format!("{method} {path} -> {status}: {body_line}"))
}

/// Outcome of removing the run's objects.
#[derive(Debug, Default)]
pub struct Cleanup {
    pub failed: u64,
    pub samples: Vec<String>,
}

/// Deletes keys `0..count` of the run, 1,000 per DeleteObjects request, or
/// one by one when the server lacks DeleteObjects.
pub async fn cleanup(env: &Arc<Env>, mut conns: Vec<Conn>, count: u64) -> (Cleanup, Vec<Conn>) {
    let mut out = Cleanup::default();
    if count == 0 || conns.is_empty() {
        return (out, conns);
    }
    const BATCH: u64 = 1000;
    let batches = count.div_ceil(BATCH);
    // Probe with the first batch to learn whether DeleteObjects works.
    let first = delete_batch(env, &mut conns[0], 0, BATCH.min(count)).await;
    match first {
        Ok(failed) => out.failed += failed,
        Err(f) => {
            // Fall back to single DELETEs for everything.
            let phase = Phase {
                plan: Plan::Delete,
                max_ops: count,
                duration: None,
                honor_interrupt: false,
                progress: None,
            };
            let (st, _, conns) = run_phase(env, phase, conns, 1).await;
            out.failed = st.total_errors();
            out.samples.push(format!(
                "DeleteObjects failed ({}), deleted one by one",
                f.detail
            ));
            out.samples.extend(st.samples);
            return (out, conns);
        }
    }
    let next = Arc::new(AtomicU64::new(1));
    let mut handles = Vec::new();
    for mut conn in conns {
        let env = env.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            let mut failed = 0;
            let mut samples = Vec::new();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    break;
                }
                let start = b * BATCH;
                let end = (start + BATCH).min(count);
                match delete_batch(&env, &mut conn, start, end).await {
                    Ok(n) => failed += n,
                    Err(f) => {
                        failed += end - start;
                        conn.reset();
                        samples.push(f.detail);
                    }
                }
            }
            (failed, samples, conn)
        }));
    }
    let mut conns = Vec::new();
    for h in handles {
        if let Ok((failed, samples, conn)) = h.await {
            out.failed += failed;
            out.samples.extend(samples);
            conns.push(conn);
        }
    }
    out.samples.truncate(MAX_SAMPLES);
    (out, conns)
}

/// One DeleteObjects request for keys `start..end`; returns how many keys
/// the server reported as not deleted.
async fn delete_batch(env: &Env, conn: &mut Conn, start: u64, end: u64) -> Result<u64, Failure> {
    let mut xml = String::with_capacity(64 + (end - start) as usize * 64);
    xml.push_str("<Delete><Quiet>true</Quiet>");
    for idx in start..end {
        // Our keys need no XML escaping.
        xml.push_str("<Object><Key>");
        xml.push_str(&env.key(idx));
        xml.push_str("</Key></Object>");
    }
    xml.push_str("</Delete>");
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(xml.as_bytes()));
    let headers = [
        (
            HeaderName::from_static("content-md5"),
            HeaderValue::from_str(&md5).map_err(|e| Failure::new("bug", e.to_string()))?,
        ),
        (
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        ),
    ];
    let path = format!("/{}?delete", env.target.bucket);
    let op = async {
        let (status, resp) = send(conn, Method::POST, &path, Bytes::from(xml), &headers).await?;
        if status != StatusCode::OK {
            return Err(http_failure(status, "POST", &path, resp).await);
        }
        let body = client::collect(resp, LIST_BODY_LIMIT)
            .await
            .map_err(|e| Failure::transport("DeleteObjects body", e))?;
        Ok(String::from_utf8_lossy(&body).matches("<Error>").count() as u64)
    };
    tokio::time::timeout(env.timeout, op)
        .await
        .unwrap_or_else(|_| Err(Failure::new("timeout", "DeleteObjects timed out")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_ranges() {
        let mut r = Rng::new(7);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let v = r.below(10);
            seen[v as usize] += 1;
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }
}
