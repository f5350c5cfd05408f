//! Sans-IO decoder for `Content-Encoding: aws-chunked` bodies.
//!
//! Wire format (signed):
//! ```text
//! <hex-size>;chunk-signature=<64 hex>\r\n<data>\r\n ...
//! 0;chunk-signature=<64 hex>\r\n
//! [<trailer-name>:<value>\r\n x-amz-trailer-signature:<64 hex>\r\n]   (…-TRAILER only)
//! \r\n
//! ```
//! Unsigned-trailer streams use bare `<hex-size>\r\n` chunk headers and no
//! signatures. Framing is strict everywhere except after the final chunk,
//! where clients disagree: a missing final CRLF (EOF where the blank line is
//! due, or an unterminated last trailer line) and up to a few extra CR/LF
//! bytes are accepted.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use nomuck_checksum::{Checksum, ChecksumAlgorithm, Checksummer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::sign::ChunkSigner;
use crate::{AuthError, PayloadHash, SignedRequest, SigningKey};

/// Largest accepted chunk (AWS SDKs use 64 KiB; some tools use up to a few MiB).
pub const DEFAULT_MAX_CHUNK_SIZE: u64 = 16 << 20;
/// AWS rejects non-final chunks smaller than 8 KiB (`InvalidChunkSizeError`);
/// it also bounds the per-byte HMAC cost of signed streams.
pub const DEFAULT_MIN_CHUNK_SIZE: u64 = 8 << 10;
/// Longest chunk-header or trailer line, CRLF excluded.
const MAX_LINE: usize = 1024;
/// Extra CR/LF bytes tolerated after the end of the stream.
const MAX_TAIL_CRLF: usize = 4;
const TRAILER_SIG_HEADER: &str = "x-amz-trailer-signature";

/// Which aws-chunked variant to expect.
#[derive(Debug, Clone)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    Signed(ChunkSigner),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`
    SignedTrailer(ChunkSigner),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`
    UnsignedTrailer,
}

#[derive(Debug, Clone)]
pub struct ChunkedConfig {
    pub mode: ChunkedMode,
    /// `x-amz-decoded-content-length`; the decoded byte count must equal it.
    pub decoded_length: Option<u64>,
    /// Checksum announced in `x-amz-trailer`, verified over the decoded data.
    pub trailer: Option<ChecksumAlgorithm>,
    pub max_chunk_size: u64,
    pub min_chunk_size: u64,
}

impl ChunkedConfig {
    pub fn new(mode: ChunkedMode) -> Self {
        Self {
            mode,
            decoded_length: None,
            trailer: None,
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
            min_chunk_size: DEFAULT_MIN_CHUNK_SIZE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a `size[;chunk-signature=..]` line.
    Header,
    /// Inside chunk data.
    Data,
    /// Expecting the `\r` after chunk data.
    DataCr,
    /// Expecting the `\n` after chunk data.
    DataLf,
    /// After the zero-size chunk: trailer lines until a blank line.
    Trailer,
    /// Stream complete; only a few stray CR/LF bytes may follow.
    Done,
    Failed,
}

/// The incremental aws-chunked decoder. Feed it with [`ChunkedDecoder::decode`]
/// and call [`ChunkedDecoder::finish`] at end of input.
#[derive(Debug)]
pub struct ChunkedDecoder {
    signer: Option<ChunkSigner>,
    trailer_mode: bool,
    state: State,
    error: Option<AuthError>,
    line: Vec<u8>,
    /// Signed mode: data of the current chunk, held until its signature verifies.
    chunk: BytesMut,
    chunk_hash: Sha256,
    chunk_sig: [u8; 32],
    remaining: u64,
    last_chunk_size: Option<u64>,
    decoded: u64,
    expected_len: Option<u64>,
    max_chunk: u64,
    min_chunk: u64,
    trailer_alg: Option<ChecksumAlgorithm>,
    checksummer: Option<Checksummer>,
    trailer_value: Option<String>,
    trailer_sig: Option<[u8; 32]>,
    received: Option<Checksum>,
    tail: usize,
    max_buffered: usize,
}

fn parse_hex_size(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    let mut it = headers.get_all(name).iter();
    let Some(v) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(AuthError::InvalidHeader {
            name,
            reason: "repeated".to_owned(),
        });
    }
    v.to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| AuthError::InvalidHeader {
            name,
            reason: "not visible ASCII".to_owned(),
        })
}

/// Reads `x-amz-decoded-content-length` and `x-amz-trailer`.
fn stream_headers(headers: &HeaderMap) -> Result<(u64, Option<ChecksumAlgorithm>), AuthError> {
    let len = header_str(headers, "x-amz-decoded-content-length")?
        .ok_or(AuthError::MissingDecodedLength)?;
    if len.is_empty() || len.len() > 19 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::InvalidHeader {
            name: "x-amz-decoded-content-length",
            reason: format!("'{len}' is not a length"),
        });
    }
    let len = len.parse::<u64>().map_err(|_| AuthError::InvalidHeader {
        name: "x-amz-decoded-content-length",
        reason: format!("'{len}' is not a length"),
    })?;
    let trailer = match header_str(headers, "x-amz-trailer")? {
        None | Some("") => None,
        Some(t) => Some(ChecksumAlgorithm::from_header_name(t).ok_or_else(|| {
            AuthError::InvalidHeader {
                name: "x-amz-trailer",
                reason: format!("unsupported trailer '{t}'"),
            }
        })?),
    };
    Ok((len, trailer))
}

impl ChunkedDecoder {
    pub fn new(config: ChunkedConfig) -> Self {
        let (signer, trailer_mode) = match config.mode {
            ChunkedMode::Signed(s) => (Some(s), false),
            ChunkedMode::SignedTrailer(s) => (Some(s), true),
            ChunkedMode::UnsignedTrailer => (None, true),
        };
        Self {
            signer,
            trailer_mode,
            state: State::Header,
            error: None,
            line: Vec::new(),
            chunk: BytesMut::new(),
            chunk_hash: Sha256::new(),
            chunk_sig: [0; 32],
            remaining: 0,
            last_chunk_size: None,
            decoded: 0,
            expected_len: config.decoded_length,
            max_chunk: config.max_chunk_size,
            min_chunk: config.min_chunk_size,
            trailer_alg: config.trailer,
            checksummer: config.trailer.map(Checksummer::new),
            trailer_value: None,
            trailer_sig: None,
            received: None,
            tail: 0,
            max_buffered: 0,
        }
    }

    /// Decoder for a verified request, or `None` when its payload is not a
    /// `STREAMING-*` one. Reads `x-amz-decoded-content-length` (required) and
    /// `x-amz-trailer`. `key` must be the key `req` was verified with.
    pub fn for_request(
        req: &SignedRequest,
        headers: &HeaderMap,
        key: &SigningKey,
    ) -> Result<Option<Self>, AuthError> {
        let signer = || ChunkSigner::new(key.clone(), req.timestamp, &req.scope, req.signature);
        let mode = match req.payload {
            PayloadHash::StreamingSigned => ChunkedMode::Signed(signer()),
            PayloadHash::StreamingSignedTrailer => ChunkedMode::SignedTrailer(signer()),
            PayloadHash::StreamingUnsignedTrailer => ChunkedMode::UnsignedTrailer,
            _ => return Ok(None),
        };
        Self::from_headers(mode, headers).map(Some)
    }

    /// Decoder configured from the request headers; use directly for
    /// anonymous `STREAMING-UNSIGNED-PAYLOAD-TRAILER` uploads.
    pub fn from_headers(mode: ChunkedMode, headers: &HeaderMap) -> Result<Self, AuthError> {
        let (len, trailer) = stream_headers(headers)?;
        if trailer.is_some() && matches!(mode, ChunkedMode::Signed(_)) {
            return Err(AuthError::InvalidHeader {
                name: "x-amz-trailer",
                reason: "trailers need a STREAMING-*-TRAILER payload".to_owned(),
            });
        }
        let mut cfg = ChunkedConfig::new(mode);
        cfg.decoded_length = Some(len);
        cfg.trailer = trailer;
        Ok(Self::new(cfg))
    }

    /// `x-amz-decoded-content-length`, if configured.
    pub fn expected_len(&self) -> Option<u64> {
        self.expected_len
    }

    /// Decoded bytes released so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Bytes currently held (pending chunk data plus a partial line).
    pub fn buffered_len(&self) -> usize {
        self.chunk.len() + self.line.len()
    }

    /// High-water mark of [`ChunkedDecoder::buffered_len`].
    pub fn max_buffered_len(&self) -> usize {
        self.max_buffered
    }

    /// True once the final chunk (and trailers) were accepted.
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// The verified trailing checksum, once complete.
    pub fn trailer_checksum(&self) -> Option<&Checksum> {
        self.received.as_ref()
    }

    /// Consumes bytes from the front of `input`. Returns decoded data as soon
    /// as some is available (the caller loops until `input` is empty), or
    /// `Ok(None)` once all of `input` was consumed without producing data.
    /// After an error every later call returns the same error.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, AuthError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let r = self.decode_inner(input);
        self.max_buffered = self.max_buffered.max(self.buffered_len());
        if let Err(e) = &r {
            self.fail(e.clone());
        }
        r
    }

    /// Signals end of input: `Ok` only if the stream is complete.
    pub fn finish(&mut self) -> Result<(), AuthError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let r = match self.state {
            State::Done => Ok(()),
            // Lenient end: the blank line (or the last line's CRLF) is missing.
            State::Trailer => {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.trailer_line(&line).and_then(|_| self.finish_stream())
            }
            _ => Err(AuthError::IncompleteBody),
        };
        if let Err(e) = &r {
            self.fail(e.clone());
        }
        r
    }

    fn fail(&mut self, e: AuthError) {
        self.state = State::Failed;
        self.error = Some(e);
        // Drop unverified data right away.
        self.chunk = BytesMut::new();
        self.line = Vec::new();
    }

    /// Accumulates a CRLF-terminated line; returns true when `self.line`
    /// holds a complete line (without CRLF).
    fn read_line(&mut self, input: &mut Bytes) -> Result<bool, AuthError> {
        let Some(pos) = input.iter().position(|&b| b == b'\n') else {
            if self.line.len() + input.len() > MAX_LINE + 1 {
                return Err(AuthError::MalformedChunk("line too long".to_owned()));
            }
            self.line.extend_from_slice(input);
            input.clear();
            return Ok(false);
        };
        if self.line.len() + pos > MAX_LINE + 1 {
            return Err(AuthError::MalformedChunk("line too long".to_owned()));
        }
        self.line.extend_from_slice(&input[..pos]);
        let _ = input.split_to(pos + 1);
        if self.line.pop() != Some(b'\r') {
            return Err(AuthError::MalformedChunk(
                "line not terminated by CRLF".to_owned(),
            ));
        }
        Ok(true)
    }

    fn decode_inner(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, AuthError> {
        while !input.is_empty() {
            match self.state {
                State::Header => {
                    if self.read_line(input)? {
                        let line = std::mem::take(&mut self.line);
                        self.chunk_header(&line)?;
                        self.line = line;
                        self.line.clear();
                    }
                }
                State::Data => {
                    if let Some(out) = self.chunk_data(input)? {
                        return Ok(Some(out));
                    }
                }
                State::DataCr | State::DataLf => {
                    let want = if self.state == State::DataCr {
                        b'\r'
                    } else {
                        b'\n'
                    };
                    if input[0] != want {
                        return Err(AuthError::MalformedChunk(
                            "chunk data not followed by CRLF".to_owned(),
                        ));
                    }
                    let _ = input.split_to(1);
                    self.state = if self.state == State::DataCr {
                        State::DataLf
                    } else {
                        State::Header
                    };
                }
                State::Trailer => {
                    if self.read_line(input)? {
                        let line = std::mem::take(&mut self.line);
                        let done = self.trailer_line(&line)?;
                        self.line = line;
                        self.line.clear();
                        if done {
                            self.finish_stream()?;
                        }
                    }
                }
                State::Done => {
                    let n = input
                        .iter()
                        .take_while(|&&b| b == b'\r' || b == b'\n')
                        .count();
                    self.tail += n;
                    if n < input.len() || self.tail > MAX_TAIL_CRLF {
                        return Err(AuthError::MalformedChunk(
                            "data after the final chunk".to_owned(),
                        ));
                    }
                    input.clear();
                }
                State::Failed => {
                    return Err(self
                        .error
                        .clone()
                        .unwrap_or(AuthError::MalformedChunk("failed".to_owned())));
                }
            }
        }
        Ok(None)
    }

    fn chunk_header(&mut self, line: &[u8]) -> Result<(), AuthError> {
        let (size_part, sig) = if self.signer.is_some() {
            const EXT: &[u8] = b";chunk-signature=";
            let semi = line.iter().position(|&b| b == b';').ok_or_else(|| {
                AuthError::MalformedChunk("chunk header without chunk-signature".to_owned())
            })?;
            let (size, ext) = line.split_at(semi);
            let hex_sig = ext.strip_prefix(EXT).ok_or_else(|| {
                AuthError::MalformedChunk("chunk header without chunk-signature".to_owned())
            })?;
            let mut sig = [0u8; 32];
            if hex_sig.len() != 64 || hex::decode_to_slice(hex_sig, &mut sig).is_err() {
                return Err(AuthError::MalformedChunk(
                    "chunk-signature must be 64 hex digits".to_owned(),
                ));
            }
            (size, Some(sig))
        } else {
            (line, None)
        };
        let size = parse_hex_size(size_part)
            .ok_or_else(|| AuthError::MalformedChunk("invalid chunk size".to_owned()))?;
        if size > self.max_chunk {
            return Err(AuthError::ChunkTooLarge {
                max: self.max_chunk,
            });
        }
        if let Some(prev) = self.last_chunk_size
            && size > 0
            && prev < self.min_chunk
        {
            return Err(AuthError::InvalidChunkSize {
                size: prev,
                min: self.min_chunk,
            });
        }
        if let Some(expected) = self.expected_len {
            let total = self.decoded.saturating_add(size);
            if total > expected {
                return Err(AuthError::DecodedLengthMismatch {
                    expected,
                    actual: total,
                });
            }
        }
        if let Some(sig) = sig {
            self.chunk_sig = sig;
        }
        if size == 0 {
            if let Some(signer) = &mut self.signer {
                let empty: [u8; 32] = Sha256::digest(b"").into();
                let expected = signer.sign_chunk_digest(&empty);
                if !bool::from(expected.ct_eq(&self.chunk_sig)) {
                    return Err(AuthError::ChunkSignatureMismatch);
                }
            }
            self.state = State::Trailer;
        } else {
            self.last_chunk_size = Some(size);
            self.remaining = size;
            self.chunk_hash = Sha256::new();
            self.state = State::Data;
        }
        Ok(())
    }

    fn chunk_data(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, AuthError> {
        let take = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let piece = input.split_to(take);
        self.remaining -= take as u64;
        let out = match &mut self.signer {
            None => piece,
            Some(signer) => {
                self.chunk_hash.update(&piece);
                if self.remaining > 0 {
                    self.chunk.extend_from_slice(&piece);
                    return Ok(None);
                }
                let digest: [u8; 32] = std::mem::take(&mut self.chunk_hash).finalize().into();
                let expected = signer.sign_chunk_digest(&digest);
                if !bool::from(expected.ct_eq(&self.chunk_sig)) {
                    return Err(AuthError::ChunkSignatureMismatch);
                }
                if self.chunk.is_empty() {
                    // Whole chunk arrived in one slice: no copy.
                    piece
                } else {
                    self.chunk.extend_from_slice(&piece);
                    self.chunk.split().freeze()
                }
            }
        };
        if self.remaining == 0 {
            self.state = State::DataCr;
        }
        self.decoded += out.len() as u64;
        if let Some(c) = &mut self.checksummer {
            c.update(&out);
        }
        Ok(if out.is_empty() { None } else { Some(out) })
    }

    /// Handles one trailer-section line; returns true at the blank line.
    fn trailer_line(&mut self, line: &[u8]) -> Result<bool, AuthError> {
        if line.is_empty() {
            return Ok(true);
        }
        if !self.trailer_mode {
            return Err(AuthError::MalformedChunk(
                "data after the final chunk".to_owned(),
            ));
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| AuthError::MalformedTrailer("trailer is not UTF-8".to_owned()))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| AuthError::MalformedTrailer(format!("'{line}' has no ':'")))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if self.trailer_sig.is_some() {
            return Err(AuthError::MalformedTrailer(
                "trailer after x-amz-trailer-signature".to_owned(),
            ));
        }
        if name == TRAILER_SIG_HEADER {
            if self.signer.is_none() {
                return Err(AuthError::MalformedTrailer(
                    "signature in an unsigned stream".to_owned(),
                ));
            }
            let mut sig = [0u8; 32];
            if value.len() != 64 || hex::decode_to_slice(value, &mut sig).is_err() {
                return Err(AuthError::MalformedTrailer(
                    "x-amz-trailer-signature must be 64 hex digits".to_owned(),
                ));
            }
            self.trailer_sig = Some(sig);
            return Ok(false);
        }
        match self.trailer_alg {
            Some(alg) if alg.header_name() == name && self.trailer_value.is_none() => {
                self.trailer_value = Some(value.to_owned());
                Ok(false)
            }
            _ => Err(AuthError::MalformedTrailer(format!(
                "unexpected trailer '{name}'"
            ))),
        }
    }

    /// After the trailer section: signatures, checksum and length checks.
    fn finish_stream(&mut self) -> Result<(), AuthError> {
        if let (Some(signer), true) = (&mut self.signer, self.trailer_mode) {
            match (&self.trailer_value, self.trailer_sig) {
                (None, None) => {}
                (Some(v), Some(sig)) => {
                    let name = self.trailer_alg.map(|a| a.header_name()).unwrap_or("");
                    let expected = signer.sign_trailer(&[(name, v.as_str())]);
                    if !bool::from(expected.ct_eq(&sig)) {
                        return Err(AuthError::TrailerSignatureMismatch);
                    }
                }
                (None, Some(_)) => {
                    return Err(AuthError::MalformedTrailer(
                        "x-amz-trailer-signature without trailers".to_owned(),
                    ));
                }
                (Some(_), None) => {
                    return Err(AuthError::MalformedTrailer(
                        "missing x-amz-trailer-signature".to_owned(),
                    ));
                }
            }
        }
        if let Some(alg) = self.trailer_alg {
            let value = self
                .trailer_value
                .as_deref()
                .ok_or(AuthError::MissingTrailer)?;
            let received = Checksum::parse_base64(alg, value)
                .map_err(|e| AuthError::MalformedTrailer(e.to_string()))?;
            let computed = self
                .checksummer
                .take()
                .map(Checksummer::finalize)
                .ok_or(AuthError::MissingTrailer)?;
            if !bool::from(computed.bytes.ct_eq(&received.bytes)) {
                return Err(AuthError::TrailerChecksumMismatch { algorithm: alg });
            }
            self.received = Some(received);
        }
        if let Some(expected) = self.expected_len
            && self.decoded != expected
        {
            return Err(AuthError::DecodedLengthMismatch {
                expected,
                actual: self.decoded,
            });
        }
        self.state = State::Done;
        Ok(())
    }
}
