//! Body-side checks: declared SHA-256 payloads and the aws-chunked
//! `http_body::Body` adapter.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use nomuck_checksum::Checksum;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AuthError, ChunkedDecoder, PayloadHash, SignedRequest};

/// Streaming check of a body against a declared `x-amz-content-sha256`.
#[derive(Debug, Clone)]
pub struct Sha256BodyCheck {
    expected: [u8; 32],
    hasher: Sha256,
}

impl Sha256BodyCheck {
    pub fn new(expected: [u8; 32]) -> Self {
        Self {
            expected,
            hasher: Sha256::new(),
        }
    }

    /// `Some` iff the request declared a hex digest.
    pub fn for_request(req: &SignedRequest) -> Option<Self> {
        match req.payload {
            PayloadHash::Sha256(d) => Some(Self::new(d)),
            _ => None,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    pub fn finish(self) -> Result<(), AuthError> {
        let computed: [u8; 32] = self.hasher.finalize().into();
        if bool::from(computed.ct_eq(&self.expected)) {
            Ok(())
        } else {
            Err(AuthError::ContentSha256Mismatch {
                declared: hex::encode(self.expected),
                computed: hex::encode(computed),
            })
        }
    }
}

/// What a successfully decoded aws-chunked stream carried besides data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub decoded_len: u64,
    /// The verified `x-amz-checksum-*` trailer, if one was declared.
    pub checksum: Option<Checksum>,
}

/// Shared view of a stream's outcome, readable after the body was moved
/// into a consumer. Set only when the stream ended successfully.
#[derive(Debug, Clone, Default)]
pub struct TrailerHandle(Arc<OnceLock<StreamSummary>>);

impl TrailerHandle {
    pub fn get(&self) -> Option<&StreamSummary> {
        self.0.get()
    }

    /// The verified trailing checksum (None until success, or if none declared).
    pub fn checksum(&self) -> Option<&Checksum> {
        self.0.get().and_then(|s| s.checksum.as_ref())
    }
}

/// Error frame of [`AwsChunkedBody`].
#[derive(Debug, thiserror::Error)]
pub enum AwsChunkedBodyError<E> {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The wrapped body failed (client disconnect, ...).
    #[error("request body error: {0}")]
    Body(E),
}

/// Decodes an aws-chunked body on the fly: yields only payload bytes, and
/// ends with an error frame instead of EOF when anything is wrong, so a
/// consumer that stores data must discard it unless the body ended cleanly.
#[derive(Debug)]
pub struct AwsChunkedBody<B> {
    inner: B,
    decoder: ChunkedDecoder,
    pending: Bytes,
    inner_done: bool,
    finished: bool,
    remaining_hint: Option<u64>,
    handle: TrailerHandle,
}

impl<B> AwsChunkedBody<B> {
    /// `size_hint` is exact when the decoder knows
    /// `x-amz-decoded-content-length` (a mismatch is an error anyway).
    pub fn new(inner: B, decoder: ChunkedDecoder) -> Self {
        Self {
            inner,
            remaining_hint: decoder.expected_len(),
            decoder,
            pending: Bytes::new(),
            inner_done: false,
            finished: false,
            handle: TrailerHandle::default(),
        }
    }

    /// A handle that outlives the body, for reading the trailer afterwards.
    pub fn trailer_handle(&self) -> TrailerHandle {
        self.handle.clone()
    }

    pub fn decoder(&self) -> &ChunkedDecoder {
        &self.decoder
    }
}

impl<B> Body for AwsChunkedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = AwsChunkedBodyError<B::Error>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            if !this.pending.is_empty() {
                match this.decoder.decode(&mut this.pending) {
                    Ok(Some(data)) => {
                        if let Some(r) = &mut this.remaining_hint {
                            *r = r.saturating_sub(data.len() as u64);
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(None) => continue,
                    Err(e) => {
                        this.finished = true;
                        this.pending = Bytes::new();
                        return Poll::Ready(Some(Err(e.into())));
                    }
                }
            }
            if this.inner_done {
                this.finished = true;
                return match this.decoder.finish() {
                    Ok(()) => {
                        let _ = this.handle.0.set(StreamSummary {
                            decoded_len: this.decoder.decoded_len(),
                            checksum: this.decoder.trailer_checksum().cloned(),
                        });
                        Poll::Ready(None)
                    }
                    Err(e) => Poll::Ready(Some(Err(e.into()))),
                };
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.inner_done = true,
                Poll::Ready(Some(Ok(frame))) => {
                    // HTTP-level trailers are not part of aws-chunked; ignore them.
                    if let Ok(data) = frame.into_data() {
                        this.pending = data;
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(AwsChunkedBodyError::Body(e))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining_hint {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
