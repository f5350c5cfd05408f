//! SigV4 authentication of one request: resolve the access key, verify the signature,
//! and wrap the body so that its integrity (declared SHA-256, or aws-chunked chunk
//! signatures and trailer checksum) is checked as it streams.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use nomuck_http::{
    AuthError, Body, BodyError, Principal, Rejection, UriEncoding, collect_limited, full_body,
};
use nomuck_sigv4::v2::V2Request;
use nomuck_sigv4::{
    AwsChunkedBody, AwsChunkedBodyError, ChunkedDecoder, PayloadHash, Sha256BodyCheck,
    SignedRequest, SigningKey,
};
use sha2::{Digest, Sha256};

/// What the edge needs to know about an access key.
pub struct ResolvedKey {
    pub principal: Principal,
    pub secret_access_key: String,
}

/// Looks up access keys. Implemented over the account store by the binary; called on
/// every signed request, so it must be cheap and must forget revoked keys at once.
#[async_trait::async_trait]
pub trait KeyResolver: Send + Sync + 'static {
    /// `Ok(None)`: no such key, or revoked. `Err`: the lookup itself failed.
    async fn resolve(&self, access_key_id: &str) -> Result<Option<ResolvedKey>, String>;
}

/// Verifies POST-form signatures (see [`nomuck_http::FormAuthenticator`]) with
/// the access keys of a [`KeyResolver`].
pub struct FormKeys(pub Arc<dyn KeyResolver>);

#[async_trait::async_trait]
impl nomuck_http::FormAuthenticator for FormKeys {
    async fn authenticate_form(
        &self,
        signature: &nomuck_http::FormSignature,
        policy: &str,
    ) -> Result<Principal, Rejection> {
        let key = self
            .0
            .resolve(signature.access_key_id())
            .await
            .map_err(Rejection::Internal)?
            .ok_or(Rejection::Auth(AuthError::UnknownAccessKey))?;
        signature
            .verify(&key.secret_access_key, policy)
            .map_err(Rejection::Auth)?;
        Ok(key.principal)
    }
}

/// Derived signing keys are valid for one key, day, region and service; deriving one
/// costs four HMACs, so they are kept. The map is cleared when it grows past this.
const MAX_CACHED_SIGNING_KEYS: usize = 16 * 1024;

pub(crate) struct Authenticator {
    resolver: Arc<dyn KeyResolver>,
    signing_keys: RwLock<HashMap<String, SigningKey>>,
}

impl Authenticator {
    pub(crate) fn new(resolver: Arc<dyn KeyResolver>) -> Self {
        Self {
            resolver,
            signing_keys: RwLock::new(HashMap::new()),
        }
    }

    /// Verify `signed` and return the caller with the body to hand on. For aws-chunked
    /// bodies, a [`nomuck_sigv4::TrailerHandle`] is put in the request extensions so
    /// the API can read the verified trailing checksum once the body is consumed.
    pub(crate) async fn authenticate(
        &self,
        signed: &SignedRequest,
        head: &mut http::request::Parts,
        body: Body,
        body_limit: u64,
        encoding: UriEncoding,
    ) -> Result<(Principal, Body), Rejection> {
        let key = self
            .resolver
            .resolve(&signed.access_key_id)
            .await
            .map_err(Rejection::Internal)?
            .ok_or(Rejection::Auth(AuthError::UnknownAccessKey))?;
        let signing_key = self.signing_key(signed, &key.secret_access_key);
        let now = time::OffsetDateTime::now_utc();
        let verify = |body_sha256: Option<&[u8; 32]>| {
            nomuck_sigv4::verify(
                signed,
                &head.method,
                &head.uri,
                &head.headers,
                body_sha256,
                &signing_key,
                encoding,
                now,
            )
            .map_err(Rejection::Auth)
        };
        let body = match &signed.payload {
            // Query-protocol clients sign the body without declaring its hash: such
            // bodies are small forms, so read it (within the limit) and hash it.
            PayloadHash::Missing => {
                let bytes = collect_limited(body, body_limit).await?;
                let digest: [u8; 32] = Sha256::digest(&bytes).into();
                verify(Some(&digest))?;
                full_body(bytes)
            }
            PayloadHash::Unsigned => {
                verify(None)?;
                body
            }
            PayloadHash::Sha256(declared) => {
                verify(None)?;
                Sha256Checked {
                    inner: body,
                    check: Some(Sha256BodyCheck::new(*declared)),
                }
                .boxed_unsync()
            }
            PayloadHash::StreamingSigned
            | PayloadHash::StreamingSignedTrailer
            | PayloadHash::StreamingUnsignedTrailer => {
                verify(None)?;
                let decoder = ChunkedDecoder::for_request(signed, &head.headers, &signing_key)
                    .map_err(Rejection::Auth)?
                    .ok_or_else(|| {
                        Rejection::Internal("streaming payload without a decoder".into())
                    })?;
                let chunked = AwsChunkedBody::new(body, decoder);
                head.extensions.insert(chunked.trailer_handle());
                chunked
                    .map_err(|e| match e {
                        AwsChunkedBodyError::Auth(auth) => Box::new(auth) as BodyError,
                        AwsChunkedBodyError::Body(inner) => inner,
                    })
                    .boxed_unsync()
            }
        };
        Ok((key.principal, body))
    }

    /// Verify a legacy SigV2 request; its body is not signed and passes unchanged.
    pub(crate) async fn authenticate_v2(
        &self,
        v2: &V2Request,
        head: &http::request::Parts,
        resource: &str,
    ) -> Result<Principal, Rejection> {
        let key = self
            .resolver
            .resolve(&v2.access_key_id)
            .await
            .map_err(Rejection::Internal)?
            .ok_or(Rejection::Auth(AuthError::UnknownAccessKey))?;
        nomuck_sigv4::v2::verify_v2(
            v2,
            &head.method,
            &head.headers,
            resource,
            &key.secret_access_key,
            time::OffsetDateTime::now_utc(),
        )
        .map_err(Rejection::Auth)?;
        Ok(key.principal)
    }

    fn signing_key(&self, signed: &SignedRequest, secret: &str) -> SigningKey {
        let scope = &signed.scope;
        // `join` rather than `format!`: this runs on every signed request.
        let cache_key = [
            signed.access_key_id.as_str(),
            &scope.date,
            &scope.region,
            &scope.service,
        ]
        .join("/");
        if let Some(key) = self
            .signing_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
        {
            return key.clone();
        }
        let key = nomuck_sigv4::derive_signing_key(secret, scope);
        let mut cache = self.signing_keys.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_SIGNING_KEYS {
            cache.clear();
        }
        cache.insert(cache_key, key.clone());
        key
    }
}

/// A body whose SHA-256 must equal the signed `x-amz-content-sha256`. It ends with an
/// [`AuthError::ContentSha256Mismatch`] error frame instead of EOF when it does not, so
/// nothing that consumed it commits.
struct Sha256Checked {
    inner: Body,
    check: Option<Sha256BodyCheck>,
}

impl http_body::Body for Sha256Checked {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(check)) = (frame.data_ref(), this.check.as_mut()) {
                    check.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => match this.check.take().map(Sha256BodyCheck::finish) {
                Some(Err(mismatch)) => Poll::Ready(Some(Err(Box::new(mismatch)))),
                _ => Poll::Ready(None),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // The end must be polled so the digest is checked.
        self.check.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
