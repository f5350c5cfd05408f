//! The aws-chunked decoder on arbitrary bytes in arbitrary splits, plus a
//! differential mode: a valid stream built from the input, optionally with
//! one byte flipped, must decode to the original data when unmodified and
//! never yield different data when signed/checksummed.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nomuck_checksum::{Checksum, ChecksumAlgorithm};
use nomuck_sigv4::{
    ChunkSigner, ChunkedConfig, ChunkedDecoder, ChunkedMode, CredentialScope, derive_signing_key,
    encode_aws_chunked,
};
use time::macros::datetime;

const MAX_CHUNK: u64 = 4096;

fn signer() -> ChunkSigner {
    let scope = CredentialScope::new("20130524", "us-east-1", "s3");
    let key = derive_signing_key("secret", &scope);
    ChunkSigner::new(key, datetime!(2013-05-24 00:00:00 UTC), &scope, [7; 32])
}

fn decoder(kind: u8, alg: Option<ChecksumAlgorithm>, len: Option<u64>) -> ChunkedDecoder {
    let mode = match kind % 3 {
        0 => ChunkedMode::Signed(signer()),
        1 => ChunkedMode::SignedTrailer(signer()),
        _ => ChunkedMode::UnsignedTrailer,
    };
    let mut cfg = ChunkedConfig::new(mode);
    cfg.trailer = if matches!(kind % 3, 0) { None } else { alg };
    cfg.decoded_length = len;
    cfg.max_chunk_size = MAX_CHUNK;
    cfg.min_chunk_size = 1;
    ChunkedDecoder::new(cfg)
}

/// Feeds `stream` in pieces whose sizes come from `splits`.
fn feed(dec: &mut ChunkedDecoder, stream: &[u8], splits: &[u8]) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let (mut pos, mut i) = (0, 0);
    while pos < stream.len() {
        let n = usize::from(splits.get(i % splits.len().max(1)).copied().unwrap_or(255)).max(1);
        let n = n.min(stream.len() - pos);
        i += 1;
        let mut input = Bytes::copy_from_slice(&stream[pos..pos + n]);
        pos += n;
        while !input.is_empty() {
            match dec.decode(&mut input) {
                Ok(Some(d)) => {
                    assert!(!d.is_empty());
                    out.extend_from_slice(&d);
                }
                Ok(None) => {}
                Err(_) => return Err(()),
            }
            assert!(dec.buffered_len() as u64 <= MAX_CHUNK + 1100);
        }
    }
    dec.finish().map_err(|_| ())?;
    Ok(out)
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 6 {
        return;
    }
    let (hdr, rest) = input.split_at(6);
    let kind = hdr[0];
    let alg = ChecksumAlgorithm::ALL.get(usize::from(hdr[1] % 6)).copied();
    let split_len = usize::from(hdr[2] % 16).min(rest.len());
    let (splits, body) = rest.split_at(split_len);
    if hdr[3] & 1 == 0 {
        // Raw bytes.
        let len = (hdr[3] & 2 != 0).then(|| u64::from(u16::from_le_bytes([hdr[4], hdr[5]])));
        let mut dec = decoder(kind, alg, len);
        if let Ok(out) = feed(&mut dec, body, splits) {
            assert!(dec.is_complete());
            assert_eq!(out.len() as u64, dec.decoded_len());
            if let Some(l) = len {
                assert_eq!(out.len() as u64, l);
            }
        }
        return;
    }
    // Differential: valid encoding of `body`, maybe with one flipped byte.
    let chunk = usize::from(hdr[4]).max(1);
    let trailer = if matches!(kind % 3, 0) {
        None
    } else {
        alg.map(|a| Checksum::compute(a, body))
    };
    let mut stream = match kind % 3 {
        0 => encode_aws_chunked(body, chunk, Some(&mut signer()), None),
        1 => encode_aws_chunked(body, chunk, Some(&mut signer()), trailer.as_ref()),
        _ => encode_aws_chunked(body, chunk, None, trailer.as_ref()),
    };
    let flip = hdr[3] & 2 != 0;
    if flip {
        let at = usize::from(u16::from_le_bytes([hdr[5], hdr[2]])) % stream.len();
        stream[at] ^= 1 << (hdr[5] % 8);
    }
    let mut dec = decoder(
        kind,
        trailer.as_ref().map(|t| t.algorithm),
        Some(body.len() as u64),
    );
    match feed(&mut dec, &stream, splits) {
        Ok(out) => {
            // Unsigned without checksum protects only the framing.
            if kind % 3 != 2 || trailer.is_some() || !flip {
                assert_eq!(out, body);
            }
            assert_eq!(dec.trailer_checksum(), trailer.as_ref());
        }
        Err(()) => assert!(flip, "valid stream rejected"),
    }
});
