//! Signatures of browser POST upload forms. The form carries a base64 policy
//! document and a signature over exactly that text: SigV4
//! (`x-amz-algorithm`, `x-amz-credential`, `x-amz-signature`: hex
//! HMAC-SHA256 under the derived signing key) or SigV2 (`AWSAccessKeyId`,
//! `signature`: base64 HMAC-SHA1 under the secret key).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use crate::parse::{AuthKind, parse_credential};
use crate::{AuthError, CredentialScope, derive_signing_key};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormSignature {
    V4 {
        access_key_id: String,
        scope: CredentialScope,
        signature: [u8; 32],
    },
    V2 {
        access_key_id: String,
        signature: Vec<u8>,
    },
}

fn mismatch(policy: &str) -> AuthError {
    AuthError::SignatureMismatch {
        string_to_sign: policy.to_owned(),
        canonical_request: String::new(),
    }
}

impl FormSignature {
    /// From the SigV4 form fields.
    pub fn v4(algorithm: &str, credential: &str, signature_hex: &str) -> Result<Self, AuthError> {
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(AuthError::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        let (access_key_id, scope) = parse_credential(AuthKind::Header, credential)?;
        let mut signature = [0u8; 32];
        hex::decode_to_slice(signature_hex.trim(), &mut signature).map_err(|_| {
            AuthError::MalformedAuthorization("x-amz-signature is not 64 hex digits".into())
        })?;
        Ok(Self::V4 {
            access_key_id,
            scope,
            signature,
        })
    }

    /// From the SigV2 form fields.
    pub fn v2(access_key_id: &str, signature_base64: &str) -> Result<Self, AuthError> {
        let signature = STANDARD
            .decode(signature_base64.trim())
            .map_err(|_| AuthError::MalformedAuthorization("signature is not base64".into()))?;
        Ok(Self::V2 {
            access_key_id: access_key_id.to_owned(),
            signature,
        })
    }

    pub fn access_key_id(&self) -> &str {
        match self {
            Self::V4 { access_key_id, .. } | Self::V2 { access_key_id, .. } => access_key_id,
        }
    }

    /// The credential scope of a SigV4 signature (its region and service).
    pub fn scope(&self) -> Option<&CredentialScope> {
        match self {
            Self::V4 { scope, .. } => Some(scope),
            Self::V2 { .. } => None,
        }
    }

    /// Checks the signature over `policy` (the form's base64 field, as sent).
    pub fn verify(&self, secret_access_key: &str, policy: &str) -> Result<(), AuthError> {
        let ok = match self {
            Self::V4 {
                scope, signature, ..
            } => {
                let expected = derive_signing_key(secret_access_key, scope).sign(policy.as_bytes());
                bool::from(expected.ct_eq(signature))
            }
            Self::V2 { signature, .. } => {
                let expected = crate::v2::sign_v2(secret_access_key, policy);
                bool::from(expected.as_slice().ct_eq(signature.as_slice()))
            }
        };
        if ok { Ok(()) } else { Err(mismatch(policy)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn v4_matches_a_published_example() {
        // The example output of the s3-post-policy npm package, made with AWS's
        // documentation credentials.
        let policy = "eyJleHBpcmF0aW9uIjoiMjAxMy0wOC0wNlQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYWNsIjoicHVibGljLXJlYWQifSxbInN0YXJ0cy13aXRoIiwiJENvbnRlbnQtVHlwZSIsImltYWdlLyJdLFsic3RhcnRzLXdpdGgiLCIka2V5IiwidXNlci91c2VyMS8iXSxbInN0YXJ0cy13aXRoIiwiJHgtYW16LW1ldGEtdGFnIiwiIl0seyJ4LWFtei1tZXRhLXV1aWQiOiIxNDM2NTEyMzY1MTI3NCJ9LHsiYnVja2V0IjoiZXhhbXBsZWJ1Y2tldCJ9LHsieC1hbXotYWxnb3JpdGhtIjoiQVdTNC1ITUFDLVNIQTI1NiJ9LHsieC1hbXotY3JlZGVudGlhbCI6IkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTMwODA2L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSx7IngtYW16LWRhdGUiOiIyMDEzMDgwNlQxMjAwMDBaIn1dfQ==";
        let sig = FormSignature::v4(
            "AWS4-HMAC-SHA256",
            "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3/aws4_request",
            "5bc8a7be4a6fc6445b94d0f4096f8cf3dfa00303529f8a68ea7dc0c23bb83cd9",
        )
        .unwrap();
        assert_eq!(sig.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
        sig.verify(SECRET, policy).unwrap();
        assert!(sig.verify(SECRET, &policy.replace('e', "f")).is_err());
        assert!(sig.verify("another secret", policy).is_err());
    }

    #[test]
    fn v2_is_base64_hmac_sha1_of_the_policy() {
        let policy = "eyJleHBpcmF0aW9uIjoiMjAzMC0wMS0wMVQwMDowMDowMFoiLCJjb25kaXRpb25zIjpbXX0=";
        let good = STANDARD.encode(crate::v2::sign_v2(SECRET, policy));
        FormSignature::v2("AKID", &good)
            .unwrap()
            .verify(SECRET, policy)
            .unwrap();
        let bad = STANDARD.encode([0u8; 20]);
        assert!(
            FormSignature::v2("AKID", &bad)
                .unwrap()
                .verify(SECRET, policy)
                .is_err()
        );
        assert!(FormSignature::v2("AKID", "not base64!").is_err());
        assert!(
            FormSignature::v4(
                "AWS4-HMAC-SHA256",
                "AKID/2015/us-east-1/s3/aws4_request",
                "00"
            )
            .is_err()
        );
        assert!(
            FormSignature::v4("HMAC", "AKID/20151229/us-east-1/s3/aws4_request", "00").is_err()
        );
    }
}
