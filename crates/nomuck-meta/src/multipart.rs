//! Turning a multipart upload's parts into an object, as S3's
//! CompleteMultipartUpload does. Pure and backend-neutral: every backend calls
//! [`assemble`] inside its commit with the parts it holds at that moment.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use nomuck_checksum::{Checksum, ChecksumAlgorithm, Md5Hasher};

use crate::MetaError;
use crate::storage::{
    ChecksumType, CompletedPart, MultipartUpload, ObjectChecksum, Part, PartRef, Refusal, Segment,
};

/// The object a completion produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    pub size: u64,
    pub etag: String,
    pub checksum: Option<ObjectChecksum>,
    pub segments: Vec<Segment>,
    /// Blob ids of stored parts the client did not name (to free).
    pub unused_blobs: Vec<String>,
}

fn refused(r: Refusal) -> MetaError {
    MetaError::Refused(r)
}

fn invalid_part(part_number: u32, reason: &str) -> MetaError {
    refused(Refusal::InvalidPart {
        part_number,
        reason: reason.to_owned(),
    })
}

/// ETags arrive quoted or not; compare their inner value.
pub fn unquote_etag(etag: &str) -> &str {
    let e = etag.trim();
    e.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(e)
}

fn md5_bytes(hex_etag: &str) -> Option<[u8; 16]> {
    let s = hex_etag.as_bytes();
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let hi = (pair.first()?.to_ascii_lowercase() as char).to_digit(16)?;
        let lo = (pair.get(1)?.to_ascii_lowercase() as char).to_digit(16)?;
        *o = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Validates `requested` against `stored` (sorted by part number) the way S3
/// does and builds the object:
/// - part numbers strictly ascending (no repeats), else `InvalidPartOrder`;
/// - each named part exists with the same ETag (and checksum, if given),
///   else `InvalidPart`;
/// - every part but the last is at least `min_part_size`, else `EntityTooSmall`;
/// - ETag = MD5 of the concatenated binary part MD5s, `-N`;
/// - checksum: `COMPOSITE` uploads get the checksum of the part checksums,
///   `-N`; `FULL_OBJECT` uploads get the parts' CRCs combined. A checksum the
///   client sent for the whole object (`claimed`) must match, else `BadDigest`;
///   it is kept as given only when the parts carry none to derive it from.
pub fn assemble(
    upload: &MultipartUpload,
    requested: &[CompletedPart],
    stored: &[Part],
    min_part_size: u64,
    claimed: Option<&str>,
) -> Result<Assembled, MetaError> {
    if requested.is_empty() {
        return Err(MetaError::Invalid(
            "CompleteMultipartUpload names no parts".into(),
        ));
    }
    // Strictly ascending, as S3 requires: a part number listed twice is
    // `InvalidPartOrder`, not silently taken once (which entry would be meant?).
    for w in requested.windows(2) {
        if let [a, b] = w
            && a.part_number >= b.part_number
        {
            return Err(refused(Refusal::InvalidPartOrder));
        }
    }
    let mut md5s = Md5Hasher::new();
    // Decoded part checksums with the part sizes, while every part has one.
    let mut part_sums: Option<Vec<(Vec<u8>, u64)>> = Some(Vec::with_capacity(requested.len()));
    let mut segments = Vec::with_capacity(requested.len());
    let mut size: u64 = 0;
    let last = requested.len() - 1;
    for (i, req) in requested.iter().enumerate() {
        let n = req.part_number;
        let part = stored
            .binary_search_by_key(&n, |p| p.part_number)
            .ok()
            .and_then(|idx| stored.get(idx))
            .ok_or_else(|| invalid_part(n, "part was not uploaded"))?;
        if unquote_etag(&req.etag) != part.etag {
            return Err(invalid_part(n, "ETag does not match the uploaded part"));
        }
        if let Some(c) = &req.checksum
            && part.checksum.as_deref() != Some(c.trim())
        {
            return Err(invalid_part(n, "checksum does not match the uploaded part"));
        }
        if i != last && part.size < min_part_size {
            return Err(refused(Refusal::EntityTooSmall { part_number: n }));
        }
        let md5 = md5_bytes(&part.etag).ok_or_else(|| invalid_part(n, "stored ETag is not MD5"))?;
        md5s.update(&md5);
        match part.checksum.as_deref().map(|c| B64.decode(c)) {
            Some(Ok(raw)) => {
                if let Some(sums) = part_sums.as_mut() {
                    sums.push((raw, part.size));
                }
            }
            _ => part_sums = None,
        }
        size = size
            .checked_add(part.size)
            .ok_or_else(|| MetaError::Invalid("object size overflows".into()))?;
        segments.push(Segment {
            blob_id: part.blob_id.clone(),
            offset: 0,
            len: part.size,
            part: Some(PartRef {
                number: n,
                etag: part.etag.clone(),
                checksum: part.checksum.clone(),
            }),
        });
    }
    let count = requested.len();
    let checksum = object_checksum(upload, part_sums.as_deref(), count, claimed)?;
    let used: std::collections::HashSet<u32> = requested.iter().map(|p| p.part_number).collect();
    let unused_blobs = stored
        .iter()
        .filter(|p| !used.contains(&p.part_number))
        .map(|p| p.blob_id.clone())
        .collect();
    Ok(Assembled {
        size,
        etag: format!("{}-{count}", md5s.finalize_hex()),
        checksum,
        segments,
        unused_blobs,
    })
}

fn object_checksum(
    upload: &MultipartUpload,
    part_sums: Option<&[(Vec<u8>, u64)]>,
    count: usize,
    claimed: Option<&str>,
) -> Result<Option<ObjectChecksum>, MetaError> {
    let Some(algorithm) = upload
        .checksum_algorithm
        .as_deref()
        .and_then(ChecksumAlgorithm::from_name)
    else {
        return Ok(None);
    };
    let kind = upload.checksum_type.unwrap_or(ChecksumType::Composite);
    let derived = part_sums.and_then(|sums| match kind {
        ChecksumType::Composite => {
            let joined: Vec<u8> = sums
                .iter()
                .flat_map(|(raw, _)| raw.iter().copied())
                .collect();
            Some(Checksum::compute(algorithm, &joined))
        }
        ChecksumType::FullObject => {
            let mut parts = sums.iter().map(|(raw, len)| {
                (
                    Checksum {
                        algorithm,
                        bytes: raw.clone(),
                    },
                    *len,
                )
            });
            let (first, _) = parts.next()?;
            parts.try_fold(first, |acc, (next, len)| {
                nomuck_checksum::combine(&acc, &next, len)
            })
        }
    });
    // A composite value may be sent with or without its `-N` suffix.
    let claimed = claimed.map(|c| {
        let c = c.trim();
        match kind {
            ChecksumType::Composite => c.rsplit_once('-').map_or(c, |(v, _)| v),
            ChecksumType::FullObject => c,
        }
    });
    let value = match (derived, claimed) {
        (Some(d), Some(c)) if d.to_base64() != c => return Err(refused(Refusal::BadDigest)),
        (Some(d), _) => d.to_base64(),
        (None, Some(c)) => c.to_owned(),
        (None, None) => return Ok(None),
    };
    let value = match kind {
        ChecksumType::Composite => format!("{value}-{count}"),
        ChecksumType::FullObject => value,
    };
    Ok(Some(ObjectChecksum {
        algorithm: algorithm.name().to_owned(),
        value,
        kind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ObjectHeaders;

    const MIB: u64 = 1 << 20;

    fn upload(alg: Option<&str>) -> MultipartUpload {
        MultipartUpload {
            upload_id: "u".into(),
            bucket: "b".into(),
            key: "k".into(),
            initiated: 0,
            owner: "000000000001".into(),
            storage_class: "STANDARD".into(),
            headers: ObjectHeaders::default(),
            checksum_algorithm: alg.map(str::to_owned),
            checksum_type: None,
            tags: vec![],
            acl: None,
            lock: Default::default(),
            encryption: None,
        }
    }

    fn part(n: u32, size: u64) -> Part {
        let mut h = Md5Hasher::new();
        h.update(&n.to_be_bytes());
        Part {
            part_number: n,
            size,
            etag: h.finalize_hex(),
            checksum: Some(
                Checksum::compute(ChecksumAlgorithm::Crc32, &n.to_be_bytes()).to_base64(),
            ),
            blob_id: format!("blob{n}"),
            last_modified: 0,
        }
    }

    fn req(p: &Part) -> CompletedPart {
        CompletedPart {
            part_number: p.part_number,
            etag: format!("\"{}\"", p.etag),
            checksum: None,
        }
    }

    fn refusal(r: Result<Assembled, MetaError>) -> Refusal {
        match r {
            Err(MetaError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn etag_is_md5_of_binary_md5s_and_unused_parts_are_freed() {
        let stored = vec![part(1, 5 * MIB), part(2, 5 * MIB), part(3, 7), part(4, 1)];
        let requested = [req(&stored[0]), req(&stored[1]), req(&stored[2])];
        let a = assemble(&upload(Some("CRC32")), &requested, &stored, 5 * MIB, None).unwrap();
        let mut h = Md5Hasher::new();
        for p in &stored[..3] {
            h.update(&md5_bytes(&p.etag).unwrap());
        }
        assert_eq!(a.etag, format!("{}-3", h.finalize_hex()));
        assert_eq!(a.size, 10 * MIB + 7);
        assert_eq!(a.unused_blobs, vec!["blob4".to_owned()]);
        assert_eq!(a.segments.len(), 3);
        let c = a.checksum.unwrap();
        assert_eq!(c.kind, ChecksumType::Composite);
        assert!(c.value.ends_with("-3"), "{}", c.value);
    }

    #[test]
    fn validation_errors() {
        let stored = vec![part(1, 5 * MIB), part(2, 100), part(3, 100)];
        let u = upload(None);
        let r = |reqs: &[CompletedPart]| assemble(&u, reqs, &stored, 5 * MIB, None);
        assert_eq!(
            refusal(r(&[req(&stored[0]), req(&stored[2]), req(&stored[1])])),
            Refusal::InvalidPartOrder
        );
        assert_eq!(
            refusal(r(&[req(&stored[1]), req(&stored[0])])),
            Refusal::InvalidPartOrder
        );
        assert_eq!(
            refusal(r(&[req(&stored[1]), req(&stored[2])])),
            Refusal::EntityTooSmall { part_number: 2 }
        );
        let mut wrong = req(&stored[0]);
        wrong.etag = "\"00000000000000000000000000000000\"".into();
        assert!(matches!(
            refusal(r(&[wrong])),
            Refusal::InvalidPart { part_number: 1, .. }
        ));
        let missing = CompletedPart {
            part_number: 9,
            etag: stored[0].etag.clone(),
            checksum: None,
        };
        assert!(matches!(
            refusal(r(&[req(&stored[0]), missing])),
            Refusal::InvalidPart { part_number: 9, .. }
        ));
        assert!(matches!(r(&[]), Err(MetaError::Invalid(_))));
        // A small last part, alone or after big ones, is fine.
        assert!(r(&[req(&stored[2])]).is_ok());
        assert!(r(&[req(&stored[0]), req(&stored[2])]).is_ok());
    }

    #[test]
    fn unquote() {
        assert_eq!(unquote_etag("\"abc\""), "abc");
        assert_eq!(unquote_etag("abc"), "abc");
        assert_eq!(unquote_etag(" \"abc\" "), "abc");
        assert_eq!(unquote_etag("\""), "\"");
    }

    #[test]
    fn a_repeated_part_number_is_invalid_part_order() {
        let stored = vec![part(1, 5 * MIB), part(2, 7)];
        for requested in [
            [req(&stored[0]), req(&stored[0]), req(&stored[1])],
            [req(&stored[0]), req(&stored[1]), req(&stored[1])],
        ] {
            assert_eq!(
                refusal(assemble(&upload(None), &requested, &stored, 5 * MIB, None)),
                Refusal::InvalidPartOrder
            );
        }
    }

    #[test]
    fn claimed_composite_checksum_must_match() {
        let stored = vec![part(1, 5 * MIB), part(2, 7)];
        let requested = [req(&stored[0]), req(&stored[1])];
        let u = upload(Some("CRC32"));
        let good = assemble(&u, &requested, &stored, 5 * MIB, None).unwrap();
        let value = good.checksum.unwrap().value;
        let bare = value.trim_end_matches("-2").to_owned();
        for claim in [value.as_str(), bare.as_str()] {
            assert!(assemble(&u, &requested, &stored, 5 * MIB, Some(claim)).is_ok());
        }
        assert_eq!(
            refusal(assemble(&u, &requested, &stored, 5 * MIB, Some("bad"))),
            Refusal::BadDigest
        );
    }

    #[test]
    fn full_object_crc_is_derived_from_the_parts() {
        let data = [vec![1u8; 3000], vec![2u8; 500]];
        let stored: Vec<Part> = data
            .iter()
            .zip(1u32..)
            .map(|(d, n)| Part {
                checksum: Some(Checksum::compute(ChecksumAlgorithm::Crc64Nvme, d).to_base64()),
                ..part(n, d.len() as u64)
            })
            .collect();
        let requested = [req(&stored[0]), req(&stored[1])];
        let mut u = upload(Some("CRC64NVME"));
        u.checksum_type = Some(ChecksumType::FullObject);
        let whole = Checksum::compute(ChecksumAlgorithm::Crc64Nvme, &data.concat()).to_base64();
        let a = assemble(&u, &requested, &stored, 1, None).unwrap();
        assert_eq!(a.checksum.unwrap().value, whole);
        assert!(assemble(&u, &requested, &stored, 1, Some(&whole)).is_ok());
        assert_eq!(
            refusal(assemble(&u, &requested, &stored, 1, Some("AAAAAAAAAAA="))),
            Refusal::BadDigest
        );
    }
}
