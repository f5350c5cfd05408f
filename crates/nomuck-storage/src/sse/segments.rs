//! The encrypted byte format of an object's blob (or inline data):
//!
//! ```text
//! "NMS1" salt[16] | seg 0: ct[64 KiB] tag[16] | seg 1 … | last seg: ct[≤64 KiB] tag[16]
//! ```
//!
//! Each blob is sealed under its own key, `HMAC-SHA256(data key, label ‖
//! salt)`, with a fresh random salt, so re-uploading a part (same data key,
//! same part number) never reuses a nonce. Segment `i` is AES-256-GCM with
//! nonce `i ‖ part` and associated data `part ‖ i ‖ final`, so segments cannot
//! be reordered, moved between parts, or dropped from the end undetected. An
//! empty blob is one empty final segment (its tag proves the emptiness). A
//! range is served by opening only the segments it overlaps.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
// ring rather than RustCrypto's aes-gcm here, on the bulk path: its stitched
// AES-NI/VAES + GHASH code decrypts several times faster per core, and a
// whole-object GET is CPU-bound on it. The format is standard AES-256-GCM
// either way (the fixed-vector test below pins it).
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// Plaintext bytes per segment.
pub const SEGMENT: u64 = 64 << 10;
/// The GCM tag after each segment.
pub const TAG: u64 = 16;
const MAGIC: &[u8; 4] = b"NMS1";
const SALT: usize = 16;
/// Bytes before the first segment.
pub const HEADER: u64 = (MAGIC.len() + SALT) as u64;
const KEY_LABEL: &[u8] = b"nomuck sse segment key v1";

/// The encrypted data could not be authenticated: tampered with, truncated,
/// reordered, or a wrong key. Says nothing about the bytes or the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("encrypted object data failed authentication")]
pub struct Tampered;

/// Number of segments of a blob holding `plain_len` bytes (at least one).
pub fn segment_count(plain_len: u64) -> u64 {
    plain_len.div_ceil(SEGMENT).max(1)
}

/// Stored size of a blob holding `plain_len` bytes.
pub fn sealed_len(plain_len: u64) -> u64 {
    HEADER + plain_len + segment_count(plain_len) * TAG
}

/// Plaintext size of a sealed blob of `sealed` bytes (`None` if no blob of
/// this format has that size).
pub fn plain_len(sealed: u64) -> Option<u64> {
    let body = sealed.checked_sub(HEADER)?;
    let count = body.div_ceil(SEGMENT + TAG).max(1);
    let plain = body.checked_sub(count * TAG)?;
    (sealed_len(plain) == sealed).then_some(plain)
}

fn blob_cipher(data_key: &[u8; 32], salt: &[u8]) -> LessSafeKey {
    let key = super::hmac(data_key, &[KEY_LABEL, salt]);
    let key = UnboundKey::new(&AES_256_GCM, key.as_ref())
        .unwrap_or_else(|_| unreachable!("an HMAC-SHA256 output is an AES-256 key"));
    LessSafeKey::new(key)
}

fn nonce(part: u32, index: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[8..].copy_from_slice(&part.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(part: u32, index: u64, last: bool) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..4].copy_from_slice(&part.to_be_bytes());
    a[4..12].copy_from_slice(&index.to_be_bytes());
    a[12] = u8::from(last);
    a
}

/// Sealed bytes handed out at a time: 16 segments, just over the blob
/// writer's 1 MiB write size, so it takes them without copying.
const OUT_CHUNK: usize = 16 * (SEGMENT + TAG) as usize;

/// Encrypts a stream of plaintext into the format above. Each segment's
/// plaintext is copied once, into the buffer it is sealed in and handed out
/// from. Memory: about [`OUT_CHUNK`].
pub struct Sealer {
    cipher: LessSafeKey,
    part: u32,
    index: u64,
    /// Sealed bytes not yet handed out (the header first), then the
    /// plaintext of the segment being filled, from `open_at`.
    buf: BytesMut,
    open_at: usize,
}

impl Sealer {
    /// `part` is the part number (0 for a single PUT).
    pub fn new(data_key: &[u8; 32], part: u32) -> Self {
        let mut salt = [0u8; SALT];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        // Small at first (most objects are): it grows to a chunk's worth as
        // the data comes, and is allocated whole for the chunks after that.
        let mut buf = BytesMut::with_capacity((HEADER + SEGMENT + TAG) as usize);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&salt);
        Self {
            cipher: blob_cipher(data_key, &salt),
            part,
            index: 0,
            open_at: buf.len(),
            buf,
        }
    }

    /// Room for a chunk's worth of sealed segments, the one that crosses
    /// [`OUT_CHUNK`], and the next one's plaintext.
    fn capacity() -> usize {
        OUT_CHUNK + 2 * (SEGMENT + TAG) as usize
    }

    /// Seals the segment being filled, in place, and appends its tag.
    fn seal_open(&mut self, last: bool) {
        // `open_at` is never past the end of `buf`.
        let open = self.buf.get_mut(self.open_at..).unwrap_or_default();
        let tag = self
            .cipher
            .seal_in_place_separate_tag(
                nonce(self.part, self.index),
                Aad::from(aad(self.part, self.index, last)),
                open,
            )
            // Only fails past GCM's 64 GiB message limit; a segment is 64 KiB.
            .unwrap_or_else(|_| unreachable!("a segment is within GCM's limits"));
        self.buf.extend_from_slice(tag.as_ref());
        self.open_at = self.buf.len();
        self.index += 1;
    }

    /// Ciphertext ready to be written after `data`, in chunks of about
    /// [`OUT_CHUNK`]. The last segment is held back until
    /// [`Sealer::finish`]: only then is it known to be the last.
    pub fn push(&mut self, data: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut data = data;
        while !data.is_empty() {
            let filled = self.buf.len() - self.open_at;
            if filled == SEGMENT as usize {
                // A full segment followed by more data is not the last.
                self.seal_open(false);
                if self.open_at >= OUT_CHUNK {
                    out.push(self.buf.split_to(self.open_at).freeze());
                    self.open_at = 0;
                    self.buf.reserve(Self::capacity());
                }
                continue;
            }
            let (now, rest) = data.split_at((SEGMENT as usize - filled).min(data.len()));
            self.buf.extend_from_slice(now);
            data = rest;
        }
        out
    }

    /// The rest of the ciphertext, the last segment included (the header
    /// too if nothing was handed out yet).
    pub fn finish(mut self) -> Vec<Bytes> {
        self.seal_open(true);
        vec![self.buf.split().freeze()]
    }

    /// Seals a whole small body at once (inline objects).
    pub fn seal_all(data_key: &[u8; 32], part: u32, data: &[u8]) -> Vec<u8> {
        let mut s = Self::new(data_key, part);
        let mut out = Vec::with_capacity(sealed_len(data.len() as u64) as usize);
        for b in s.push(data).into_iter() {
            out.extend_from_slice(&b);
        }
        for b in s.finish() {
            out.extend_from_slice(&b);
        }
        out
    }
}

/// Where the stored bytes of plaintext `range` of a blob holding
/// `plain_len` bytes are, besides the header: the stored byte range, the
/// first segment's index, and how many plaintext bytes of that first
/// segment to skip.
pub fn stored_range(plain_len: u64, range: &Range<u64>) -> (Range<u64>, u64, u64) {
    let first = range.start / SEGMENT;
    let last = if range.end == 0 {
        0
    } else {
        (range.end - 1) / SEGMENT
    };
    let last = last.min(segment_count(plain_len) - 1);
    let start = HEADER + first * (SEGMENT + TAG);
    let end = (HEADER + (last + 1) * (SEGMENT + TAG)).min(sealed_len(plain_len));
    (start..end, first, range.start - first * SEGMENT)
}

/// Decrypts consecutive stored segments of one blob, as they arrive.
pub struct Opener {
    cipher: LessSafeKey,
    part: u32,
    /// Index of the next segment to open, the range's last one and the
    /// blob's last one.
    index: u64,
    end: u64,
    last: u64,
    plain_len: u64,
    buf: BytesMut,
    /// Plaintext bytes still to skip (of the first segment) and to serve.
    skip: u64,
    want: u64,
}

impl Opener {
    /// `header` is the blob's first [`HEADER`] bytes; the segments given to
    /// [`Opener::push`] are those of [`stored_range`] for `range`.
    pub fn new(
        data_key: &[u8; 32],
        part: u32,
        header: &[u8],
        plain_len: u64,
        range: &Range<u64>,
    ) -> Result<Self, Tampered> {
        let salt = match header.strip_prefix(MAGIC.as_slice()) {
            Some(salt) if salt.len() == SALT => salt,
            _ => return Err(Tampered),
        };
        let (stored, first, skip) = stored_range(plain_len, range);
        let segments = (stored.end - stored.start).div_ceil(SEGMENT + TAG);
        Ok(Self {
            cipher: blob_cipher(data_key, salt),
            part,
            index: first,
            end: first + segments.max(1) - 1,
            last: segment_count(plain_len) - 1,
            plain_len,
            buf: BytesMut::new(),
            skip,
            want: range.end.saturating_sub(range.start),
        })
    }

    fn stored_len(&self, index: u64) -> u64 {
        let plain = (self.plain_len - index * SEGMENT).min(SEGMENT);
        plain + TAG
    }

    /// Plaintext opened from `data` (possibly none until a segment is whole).
    /// Whole segments inside `data` are decrypted where they lie when `data`
    /// is the only handle on its buffer (as a blob read's chunks are), so a
    /// large GET copies only the segments that straddle two chunks.
    pub fn push(&mut self, data: Bytes) -> Result<Vec<Bytes>, Tampered> {
        let mut data = data
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(shared.as_ref()));
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.index > self.end {
                return Err(Tampered);
            }
            let whole = self.stored_len(self.index) as usize;
            if self.buf.is_empty() && data.len() >= whole {
                let seg = data.split_to(whole);
                out.push(self.open_segment(seg)?);
                continue;
            }
            let need = whole - self.buf.len();
            let take = need.min(data.len());
            self.buf.extend_from_slice(&data.split_to(take));
            if take == need {
                let seg = std::mem::take(&mut self.buf);
                out.push(self.open_segment(seg)?);
            }
        }
        Ok(out)
    }

    fn open_segment(&mut self, mut seg: BytesMut) -> Result<Bytes, Tampered> {
        let i = self.index;
        // Decrypted in place; the tag's 16 bytes stay at the end and are cut.
        let plain_len = self
            .cipher
            .open_in_place(
                nonce(self.part, i),
                Aad::from(aad(self.part, i, i == self.last)),
                &mut seg,
            )
            .map_err(|_| Tampered)?
            .len();
        seg.truncate(plain_len);
        self.index += 1;
        let mut plain = seg.freeze();
        let skip = (self.skip as usize).min(plain.len());
        plain = plain.slice(skip..);
        self.skip = 0;
        let keep = (self.want as usize).min(plain.len());
        self.want -= keep as u64;
        Ok(plain.slice(..keep))
    }

    /// Whether every byte of the range was served (a short blob is tampered).
    pub fn finish(&self) -> Result<(), Tampered> {
        if self.index > self.end && self.want == 0 && self.buf.is_empty() {
            Ok(())
        } else {
            Err(Tampered)
        }
    }
}

/// Decrypts `range` of a whole sealed blob held in memory (inline objects).
pub fn open_all(
    data_key: &[u8; 32],
    part: u32,
    sealed: &[u8],
    plain_len: u64,
    range: &Range<u64>,
) -> Result<Vec<u8>, Tampered> {
    if sealed.len() as u64 != sealed_len(plain_len) {
        return Err(Tampered);
    }
    let (stored, _, _) = stored_range(plain_len, range);
    let header = sealed.get(..HEADER as usize).ok_or(Tampered)?;
    let mut o = Opener::new(data_key, part, header, plain_len, range)?;
    let body = sealed
        .get(stored.start as usize..stored.end as usize)
        .ok_or(Tampered)?;
    let mut out = Vec::with_capacity((range.end - range.start) as usize);
    for p in o.push(Bytes::copy_from_slice(body))? {
        out.extend_from_slice(&p);
    }
    o.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Seals `data` pushed in chunks of `chunk` bytes.
    fn seal_chunked(key: &[u8; 32], part: u32, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut s = Sealer::new(key, part);
        let mut out = Vec::new();
        for c in data.chunks(chunk.max(1)) {
            for b in s.push(c) {
                out.extend_from_slice(&b);
            }
        }
        for b in s.finish() {
            out.extend_from_slice(&b);
        }
        out
    }

    /// Opens `range`, feeding the stored bytes in pieces of `feed` bytes as a
    /// blob stream would.
    fn open_fed(
        key: &[u8; 32],
        part: u32,
        sealed: &[u8],
        plain_len: u64,
        range: Range<u64>,
        feed: usize,
    ) -> Result<Vec<u8>, Tampered> {
        let (stored, _, _) = stored_range(plain_len, &range);
        let mut o = Opener::new(key, part, &sealed[..HEADER as usize], plain_len, &range)?;
        let mut out = Vec::new();
        let body = sealed
            .get(stored.start as usize..(stored.end as usize).min(sealed.len()))
            .ok_or(Tampered)?;
        for c in body.chunks(feed) {
            for p in o.push(Bytes::copy_from_slice(c))? {
                out.extend_from_slice(&p);
            }
        }
        o.finish()?;
        Ok(out)
    }

    const K: [u8; 32] = [7; 32];
    const S: usize = SEGMENT as usize;

    #[test]
    fn round_trips_every_size_and_chunking() {
        for n in [0, 1, 100, S - 1, S, S + 1, 2 * S, 3 * S + 17] {
            let data = sample(n);
            for chunk in [1 << 20, 4096, 1000, S, S + 3] {
                let sealed = seal_chunked(&K, 3, &data, chunk);
                assert_eq!(sealed.len() as u64, sealed_len(n as u64), "n={n}");
                let got = open_all(&K, 3, &sealed, n as u64, &(0..n as u64)).unwrap();
                assert_eq!(got, data, "n={n} chunk={chunk}");
            }
        }
    }

    #[test]
    fn every_range_reads_only_what_it_needs() {
        let n = 3 * S + 17;
        let data = sample(n);
        let sealed = Sealer::seal_all(&K, 0, &data);
        let edges = [0, 1, S - 1, S, S + 1, 2 * S, 3 * S - 1, 3 * S, n - 1, n];
        for &a in &edges {
            for &b in &edges {
                if a >= b {
                    continue;
                }
                let r = a as u64..b as u64;
                let (stored, first, _) = stored_range(n as u64, &r);
                // Cost ≈ the range: at most one segment more on each side.
                assert!(stored.end - stored.start <= (b - a) as u64 + 2 * (SEGMENT + TAG));
                assert_eq!(first, a as u64 / SEGMENT);
                for feed in [7, 4096, 1 << 20] {
                    let got = open_fed(&K, 0, &sealed, n as u64, r.clone(), feed).unwrap();
                    assert_eq!(got, &data[a..b], "{a}..{b} feed {feed}");
                }
            }
        }
    }

    #[test]
    fn large_bodies_are_handed_out_in_whole_chunks() {
        let data = sample(40 * S + 5);
        let mut s = Sealer::new(&K, 0);
        let mut chunks = Vec::new();
        for c in data.chunks(16 << 10) {
            chunks.extend(s.push(c));
        }
        let last = s.finish();
        assert_eq!(chunks.len(), 2, "two full chunks of 16 segments");
        assert!(chunks.iter().all(|c| c.len() >= OUT_CHUNK));
        let sealed: Vec<u8> = chunks
            .iter()
            .chain(&last)
            .flat_map(|c| c.to_vec())
            .collect();
        let n = data.len() as u64;
        assert_eq!(open_all(&K, 0, &sealed, n, &(0..n)).unwrap(), data);
    }

    #[test]
    fn plain_len_inverts_sealed_len() {
        for n in [0, 1, S as u64 - 1, S as u64, S as u64 + 1, 5 * S as u64] {
            assert_eq!(plain_len(sealed_len(n)), Some(n));
        }
        assert_eq!(plain_len(HEADER + 3), None);
        assert_eq!(plain_len(3), None);
    }

    #[test]
    fn empty_object_is_authenticated() {
        let sealed = Sealer::seal_all(&K, 0, &[]);
        assert_eq!(sealed.len() as u64, HEADER + TAG);
        assert_eq!(open_all(&K, 0, &sealed, 0, &(0..0)).unwrap(), b"");
        let mut bad = sealed.clone();
        bad[HEADER as usize] ^= 1;
        assert_eq!(open_all(&K, 0, &bad, 0, &(0..0)), Err(Tampered));
    }

    #[test]
    fn wrong_key_part_or_any_flipped_byte_is_detected() {
        let n = 2 * S + 5;
        let data = sample(n);
        let sealed = Sealer::seal_all(&K, 2, &data);
        let all = 0..n as u64;
        assert_eq!(
            open_all(&[8; 32], 2, &sealed, n as u64, &all),
            Err(Tampered)
        );
        assert_eq!(open_all(&K, 3, &sealed, n as u64, &all), Err(Tampered));
        for at in [0, 4, HEADER as usize, S, S + 20, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x80;
            assert_eq!(open_all(&K, 2, &bad, n as u64, &all), Err(Tampered), "{at}");
        }
    }

    #[test]
    fn reordered_truncated_or_extended_data_is_detected() {
        let n = 3 * S;
        let data = sample(n);
        let sealed = Sealer::seal_all(&K, 0, &data);
        let seg = (SEGMENT + TAG) as usize;
        let h = HEADER as usize;
        // Swap segments 0 and 1.
        let mut swapped = sealed.clone();
        swapped[h..h + seg].copy_from_slice(&sealed[h + seg..h + 2 * seg]);
        swapped[h + seg..h + 2 * seg].copy_from_slice(&sealed[h..h + seg]);
        assert_eq!(
            open_all(&K, 0, &swapped, n as u64, &(0..n as u64)),
            Err(Tampered)
        );
        // Dropping the last segment and claiming the object is shorter: the
        // new last segment was not sealed as the last one.
        let cut = &sealed[..h + 2 * seg];
        let two = 2 * SEGMENT;
        assert_eq!(open_all(&K, 0, cut, two, &(0..two)), Err(Tampered));
        // A truncated blob fails the read of what is missing.
        assert_eq!(
            open_fed(&K, 0, cut, n as u64, 2 * SEGMENT..n as u64, 4096),
            Err(Tampered)
        );
        assert!(
            open_fed(
                &K,
                0,
                &sealed[..sealed.len() - 1],
                n as u64,
                0..n as u64,
                4096
            )
            .is_err()
        );
        // Segments of another blob under the same key do not fit either (its salt differs).
        let other = Sealer::seal_all(&K, 0, &data);
        let mut mixed = sealed.clone();
        mixed[h..h + seg].copy_from_slice(&other[h..h + seg]);
        assert_eq!(
            open_all(&K, 0, &mixed, n as u64, &(0..n as u64)),
            Err(Tampered)
        );
        // Surplus bytes after the last segment are refused.
        let mut o = Opener::new(&K, 0, &sealed[..h], n as u64, &(0..n as u64)).unwrap();
        let mut longer = sealed[h..].to_vec();
        longer.push(0);
        assert_eq!(o.push(Bytes::from(longer)), Err(Tampered));
    }

    #[test]
    fn the_same_data_seals_differently_each_time() {
        let data = sample(100);
        let a = Sealer::seal_all(&K, 1, &data);
        let b = Sealer::seal_all(&K, 1, &data);
        assert_ne!(a, b);
        assert!(!a.windows(data.len()).any(|w| w == data.as_slice()));
    }
    /// Blobs written before the cipher moved to ring (sealed by RustCrypto's
    /// `aes-gcm`, built here from the format's description) still open: the
    /// bytes on disk are the same standard AES-256-GCM.
    #[test]
    fn blobs_sealed_by_another_aes_gcm_implementation_open() {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let n = S + 100;
        let data = sample(n);
        let salt = [9u8; SALT];
        let key = super::super::hmac(&K, &[KEY_LABEL, &salt]);
        let other = aes_gcm::Aes256Gcm::new(key.as_ref().into());
        let mut blob = MAGIC.to_vec();
        blob.extend_from_slice(&salt);
        let segments: Vec<&[u8]> = data.chunks(S).collect();
        for (i, seg) in segments.iter().enumerate() {
            let i = i as u64;
            let last = i == segments.len() as u64 - 1;
            let mut n12 = [0u8; 12];
            n12[..8].copy_from_slice(&i.to_be_bytes());
            n12[8..].copy_from_slice(&4u32.to_be_bytes());
            let ct = other
                .encrypt(
                    aes_gcm::Nonce::from_slice(&n12),
                    Payload {
                        msg: seg,
                        aad: &aad(4, i, last),
                    },
                )
                .unwrap();
            blob.extend_from_slice(&ct);
        }
        let all = 0..n as u64;
        assert_eq!(open_all(&K, 4, &blob, n as u64, &all).unwrap(), data);
        let tail = S as u64 - 3..n as u64;
        assert_eq!(
            open_all(&K, 4, &blob, n as u64, &tail).unwrap(),
            &data[S - 3..]
        );
    }
}
