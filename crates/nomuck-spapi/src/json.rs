//! Lenient request parsing, strict validation: unknown fields are ignored (clients add
//! marketplace keys of their own), but every field that is there must have the right
//! type, and the [`Validate`] pass then checks what the type system cannot (required
//! strings that are empty, lengths, ranges). Each failure is a 400 `InvalidInput` whose
//! `details` names the field by its JSON path (`items[2].quantity`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;

/// A request body type's own checks, run after it deserialized.
pub trait Validate {
    fn validate(&self) -> Result<(), ApiError>;
}

/// Parses and validates a JSON request body. An empty body counts as `{}`, as SP-API
/// clients send no body on some PUTs (cancel).
pub fn parse_body<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." || path.is_empty() {
            ApiError::invalid_input(format!("the request body is not valid: {inner}"))
        } else {
            ApiError::invalid_input(format!("{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|err| ApiError::invalid_input(format!("the request body is not valid: {err}")))?;
    value.validate()?;
    Ok(value)
}

/// A required string: present (the type guarantees that), not blank, at most `max`
/// characters.
pub fn required(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_input(format!(
            "{field} is required and must not be empty"
        )));
    }
    max_len(field, value, max)
}

/// An optional string, when present, at most `max` characters. (Empty is allowed: an
/// optional field sent as `""` says nothing.)
pub fn optional(field: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(value) => max_len(field, value, max),
        None => Ok(()),
    }
}

/// At most `max` characters (Unicode scalar values, as the models' `maxLength` counts).
pub fn max_len(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len > max {
        return Err(ApiError::invalid_input(format!(
            "{field} is {len} characters long; the limit is {max}"
        )));
    }
    Ok(())
}

/// A list that must not be empty (`items`), at most `max` entries long.
pub fn non_empty<T>(field: &str, list: &[T], max: usize) -> Result<(), ApiError> {
    if list.is_empty() {
        return Err(ApiError::invalid_input(format!(
            "{field} must contain at least one entry"
        )));
    }
    if list.len() > max {
        return Err(ApiError::invalid_input(format!(
            "{field} has {} entries; the limit is {max}",
            list.len()
        )));
    }
    Ok(())
}

/// A boolean query parameter: `true`, `True` and `TRUE` (and the same for false), as
/// SP-API accepts whatever case clients send.
pub fn parse_bool(field: &str, value: &str) -> Result<bool, ApiError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ApiError::invalid_input(format!(
            "{field} must be true or false, not '{}'",
            value.chars().take(64).collect::<String>()
        )))
    }
}

/// A quantity of units in a request: `1..=i32::MAX` (the models' `int32`, and never zero
/// or negative). Rejected at deserialization, so the error names its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = i32::MAX as u32;

    pub fn new(units: u32) -> Option<Quantity> {
        (1..=Quantity::MAX)
            .contains(&units)
            .then_some(Quantity(units))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Quantity, D::Error> {
        let n = i64::deserialize(deserializer)?;
        u32::try_from(n)
            .ok()
            .and_then(Quantity::new)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "quantity {n} is out of range; it must be between 1 and {}",
                    Quantity::MAX
                ))
            })
    }
}

/// A counted number of units that may be zero (a short pick, a cycle count that found
/// nothing): `0..=i32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Count(u32);

impl Count {
    pub fn new(units: u32) -> Option<Count> {
        (units <= Quantity::MAX).then_some(Count(units))
    }

    /// For replies: `units`, clamped to the wire's `int32` range.
    pub fn saturating(units: u64) -> Count {
        Count(u32::try_from(units).map_or(Quantity::MAX, |u| u.min(Quantity::MAX)))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Count, D::Error> {
        let n = i64::deserialize(deserializer)?;
        u32::try_from(n).ok().and_then(Count::new).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "count {n} is out of range; it must be between 0 and {}",
                Quantity::MAX
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Line {
        seller_sku: String,
        quantity: Quantity,
    }

    #[derive(Debug, Deserialize)]
    struct Body {
        items: Vec<Line>,
    }

    impl Validate for Body {
        fn validate(&self) -> Result<(), ApiError> {
            non_empty("items", &self.items, 100)?;
            for (i, line) in self.items.iter().enumerate() {
                required(&format!("items[{i}].sellerSku"), &line.seller_sku, 50)?;
            }
            Ok(())
        }
    }

    fn details(body: &str) -> String {
        let err = parse_body::<Body>(body.as_bytes()).unwrap_err();
        assert_eq!(err.code, "InvalidInput");
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        err.details
    }

    #[test]
    fn errors_name_the_field() {
        let ok = r#"{"items":[{"sellerSku":"A","quantity":1,"extra":true}],"marketplaceId":"X"}"#;
        assert_eq!(
            parse_body::<Body>(ok.as_bytes()).unwrap().items[0]
                .quantity
                .get(),
            1
        );
        let one = |q: &str| {
            format!(
                r#"{{"items":[{{"sellerSku":"A","quantity":1}},{{"sellerSku":"B","quantity":{q}}}]}}"#
            )
        };
        for q in [
            "0",
            "-1",
            "2147483648",
            "1.5",
            "\"3\"",
            "null",
            "99999999999999999999",
        ] {
            assert!(
                details(&one(q)).starts_with("items[1].quantity"),
                "{q}: {}",
                details(&one(q))
            );
        }
        assert_eq!(
            parse_body::<Body>(one("2147483647").as_bytes())
                .unwrap()
                .items[1]
                .quantity
                .get(),
            2147483647
        );
        assert!(details(r#"{"items":[{"quantity":1}]}"#).contains("items[0]"));
        assert!(
            details(r#"{"items":[{"sellerSku":"  ","quantity":1}]}"#)
                .contains("items[0].sellerSku")
        );
        let long = format!(
            r#"{{"items":[{{"sellerSku":"{}","quantity":1}}]}}"#,
            "x".repeat(51)
        );
        assert!(details(&long).contains("limit is 50"));
        assert!(details(r#"{"items":[]}"#).contains("items must contain"));
        assert!(!details("{not json").is_empty());
        assert!(!details(r#"{"items":[]} trailing"#).is_empty());
        assert!(details("").contains("items"));
    }

    #[test]
    fn booleans_in_any_case() {
        for (text, want) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("false", false),
            ("False", false),
        ] {
            assert_eq!(parse_bool("details", text).unwrap(), want);
        }
        assert!(
            parse_bool("details", "yes")
                .unwrap_err()
                .details
                .contains("details")
        );
    }
}
