//! Combining CRCs: the CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `len(B)`,
//! without the bytes. This is how a `FULL_OBJECT` multipart checksum is derived
//! from its parts' checksums (zlib's `crc32_combine`, generalised over the
//! polynomial: appending `len(B)` zero bytes to A is a linear map over GF(2),
//! applied by repeated squaring of the one-zero-bit operator).

use crate::{Checksum, ChecksumAlgorithm};

/// Reflected polynomial and width of a CRC algorithm; `None` for hashes.
fn crc_params(algorithm: ChecksumAlgorithm) -> Option<(u64, usize)> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => Some((0xEDB8_8320, 32)),
        ChecksumAlgorithm::Crc32c => Some((0x82F6_3B78, 32)),
        ChecksumAlgorithm::Crc64Nvme => Some((0x9A6C_9329_AC4B_C9B5, 64)),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// Whether [`combine`] can join checksums of this algorithm (CRCs can,
/// cryptographic hashes cannot).
pub fn is_combinable(algorithm: ChecksumAlgorithm) -> bool {
    crc_params(algorithm).is_some()
}

fn gf2_times(matrix: &[u64], vector: u64) -> u64 {
    matrix
        .iter()
        .enumerate()
        .filter(|(i, _)| (vector >> i) & 1 == 1)
        .fold(0, |sum, (_, row)| sum ^ row)
}

fn gf2_square(square: &mut [u64], matrix: &[u64]) {
    for (s, row) in square.iter_mut().zip(matrix) {
        *s = gf2_times(matrix, *row);
    }
}

fn combine_raw(poly: u64, width: usize, crc1: u64, crc2: u64, mut len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    // odd: the operator for one zero bit; even: scratch for its powers.
    let mut odd: Vec<u64> = (0..width)
        .map(|n| if n == 0 { poly } else { 1 << (n - 1) })
        .collect();
    let mut even = vec![0u64; width];
    gf2_square(&mut even, &odd); // two zero bits
    gf2_square(&mut odd, &even); // four zero bits
    let mut crc1 = crc1;
    loop {
        // Each pass squares the operator (8, 16, ... zero bits = 1, 2, ... bytes).
        gf2_square(&mut even, &odd);
        if len2 & 1 == 1 {
            crc1 = gf2_times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        gf2_square(&mut odd, &even);
        if len2 & 1 == 1 {
            crc1 = gf2_times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
}

fn to_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b)))
}

/// The checksum of `first ‖ second`, where `second` is `second_len` bytes.
/// `None` if the algorithms differ or are not CRCs.
pub fn combine(first: &Checksum, second: &Checksum, second_len: u64) -> Option<Checksum> {
    if first.algorithm != second.algorithm {
        return None;
    }
    let (poly, width) = crc_params(first.algorithm)?;
    let a = to_u64(&first.bytes)?;
    let b = to_u64(&second.bytes)?;
    let c = combine_raw(poly, width, a, b, second_len);
    let bytes = c.to_be_bytes();
    let start = bytes.len() - width / 8;
    Some(Checksum {
        algorithm: first.algorithm,
        bytes: bytes.get(start..)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn combine_equals_checksum_of_concatenation(
            a in proptest::collection::vec(any::<u8>(), 0..300),
            b in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
                let whole = Checksum::compute(alg, &[a.clone(), b.clone()].concat());
                let joined = combine(&Checksum::compute(alg, &a), &Checksum::compute(alg, &b), b.len() as u64);
                prop_assert_eq!(joined, Some(whole));
            }
        }
    }

    #[test]
    fn hashes_do_not_combine() {
        let s = Checksum::compute(ChecksumAlgorithm::Sha256, b"x");
        assert_eq!(combine(&s, &s, 1), None);
        let c = Checksum::compute(ChecksumAlgorithm::Crc32, b"x");
        let d = Checksum::compute(ChecksumAlgorithm::Crc32c, b"x");
        assert_eq!(combine(&c, &d, 1), None);
    }

    #[test]
    fn large_lengths() {
        let a = vec![7u8; 5 << 20];
        let b = vec![9u8; 3 << 20];
        for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc64Nvme] {
            let whole = Checksum::compute(alg, &[a.clone(), b.clone()].concat());
            let joined = combine(
                &Checksum::compute(alg, &a),
                &Checksum::compute(alg, &b),
                b.len() as u64,
            );
            assert_eq!(joined, Some(whole));
        }
    }
}
