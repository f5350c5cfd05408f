//! Query strings. Unknown parameters are ignored; known ones are checked and typed.
//! Values are percent-decoded exactly: a `+` stays a `+` (SKUs contain them; only HTML
//! forms mean a space by it). List parameters accept both `a,b` (the models' csv
//! format) and the parameter repeated.

use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

use crate::date::Timestamp;
use crate::error::ApiError;
use crate::json::{self, required};

/// Largest page a native list (`limit=`) returns.
pub const PAGE_MAX: u32 = 1000;

/// The raw `name=value` pairs of a query string.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    pairs: Vec<(String, &'a str)>,
}

impl<'a> Query<'a> {
    pub fn parse(query: Option<&'a str>) -> Query<'a> {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                // Names only select; an undecodable one simply matches nothing.
                (
                    percent_decode_str(name).decode_utf8_lossy().into_owned(),
                    value,
                )
            })
            .collect();
        Query { pairs }
    }

    fn values(&self, name: &str) -> impl Iterator<Item = Result<String, ApiError>> + '_ {
        let name = name.to_owned();
        self.pairs
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(n, raw)| decode(n, raw))
    }

    /// The first value of `name`, decoded.
    pub fn get(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.values(name).next().transpose()
    }

    /// `name`, which must be present and non-empty, at most `max` characters.
    pub fn required(&self, name: &str, max: usize) -> Result<String, ApiError> {
        let value = self.get(name)?.unwrap_or_default();
        required(name, &value, max)?;
        Ok(value)
    }

    /// `name` if present, at most `max` characters. An empty value counts as absent.
    pub fn optional(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
        let value = self.get(name)?.filter(|v| !v.is_empty());
        json::optional(name, value.as_deref(), max)?;
        Ok(value)
    }

    /// Every value of a list parameter, split on commas, empties dropped; at most
    /// `max_items` values of at most `max_len` characters.
    pub fn list(
        &self,
        name: &str,
        max_items: usize,
        max_len: usize,
    ) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        for value in self.values(name) {
            for part in value?.split(',').filter(|p| !p.is_empty()) {
                json::max_len(name, part, max_len)?;
                out.push(part.to_owned());
            }
        }
        if out.len() > max_items {
            return Err(ApiError::invalid_input(format!(
                "{name} has {} values; the limit is {max_items}",
                out.len()
            )));
        }
        Ok(out)
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.optional(name, 5)?
            .map(|v| json::parse_bool(name, &v))
            .transpose()
    }

    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.optional(name, 64)?
            .map(|v| {
                Timestamp::parse(&v).ok_or_else(|| {
                    ApiError::invalid_input(format!(
                        "{name} '{v}' is not an ISO 8601 date-time with an offset (such as 2026-12-03T20:13:02Z)"
                    ))
                })
            })
            .transpose()
    }

    /// An integer in `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        self.optional(name, 24)?
            .map(|v| match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid_input(format!(
                    "{name} must be an integer between {min} and {max}, not '{v}'"
                ))),
            })
            .transpose()
    }

    /// A native page size: `1..=PAGE_MAX`.
    pub fn limit(&self) -> Result<Option<u32>, ApiError> {
        Ok(self
            .int("limit", 1, i64::from(PAGE_MAX))?
            .and_then(|n| u32::try_from(n).ok()))
    }

    /// A value of one of the models' string enums, by its wire name.
    pub fn enumeration<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.optional(name, 64)?
            .map(|v| enum_value(name, &v))
            .transpose()
    }
}

/// A model enum from its wire name (`"WORKING"` → `ShipmentStatus::Working`).
pub fn enum_value<T: DeserializeOwned>(name: &str, value: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        ApiError::invalid_input(format!(
            "{name} '{}' is not one of the allowed values",
            value.chars().take(64).collect::<String>()
        ))
    })
}

fn decode(name: &str, raw: &str) -> Result<String, ApiError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| ApiError::invalid_input(format!("{name} is not valid UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_stays_plus_and_lists_take_both_forms() {
        let q = Query::parse(Some(
            "sellerSku=A%2BB+C&x=%FF&sellerSkus=a,b&sellerSkus=c&details=True",
        ));
        assert_eq!(q.get("sellerSku").unwrap().as_deref(), Some("A+B+C"));
        assert_eq!(q.list("sellerSkus", 50, 50).unwrap(), ["a", "b", "c"]);
        assert_eq!(q.bool("details").unwrap(), Some(true));
        assert!(q.get("x").is_err(), "invalid UTF-8 in a used parameter");
        assert_eq!(q.get("unknown").unwrap(), None);
        assert!(
            q.list("sellerSkus", 2, 50)
                .unwrap_err()
                .details
                .contains("limit is 2")
        );
    }

    #[test]
    fn typed_values() {
        let q = Query::parse(Some("t=2026-12-03T21:13:02%2B01:00&n=5&bad=x&limit=0"));
        assert_eq!(
            q.timestamp("t").unwrap().unwrap().to_string(),
            "2026-12-03T20:13:02Z"
        );
        assert_eq!(q.int("n", 1, 10).unwrap(), Some(5));
        assert!(q.int("bad", 1, 10).unwrap_err().details.contains("bad"));
        assert!(q.limit().is_err());
        assert!(q.timestamp("bad").is_err());
    }
}
