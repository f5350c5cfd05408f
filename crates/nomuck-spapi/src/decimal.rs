//! SP-API's `Decimal`: "a decimal number with no loss of precision". The models type it
//! as a JSON string (`"19.71"`), so that is what replies send; requests may send a
//! string or a number. The value is kept as an integer and a scale, never as a float.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest number of fraction digits kept. Money needs 2–4; the bound keeps the
/// mantissa arithmetic inside `i128`.
pub const MAX_SCALE: u32 = 18;

/// `mantissa × 10^-scale`, exactly. `"2.00"` keeps its scale of 2 when rendered;
/// equality compares values (`2.00 == 2`).
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Why a string is not a decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a decimal number")]
pub struct DecimalError(String);

impl Decimal {
    /// `mantissa × 10^-scale`; `None` past [`MAX_SCALE`].
    pub fn new(mantissa: i64, scale: u32) -> Option<Decimal> {
        (scale <= MAX_SCALE).then_some(Decimal {
            mantissa: i128::from(mantissa),
            scale,
        })
    }

    /// An amount in hundredths (cents): `Decimal::cents(150)` is `1.50`.
    pub fn cents(cents: i64) -> Decimal {
        Decimal {
            mantissa: i128::from(cents),
            scale: 2,
        }
    }

    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// The value in units of `10^-scale`, when that is exact and fits: `1.5` at scale 2
    /// is 150; `1.005` at scale 2 is `None`.
    pub fn to_scaled(&self, scale: u32) -> Option<i128> {
        if scale >= self.scale {
            self.mantissa
                .checked_mul(10i128.checked_pow(scale - self.scale)?)
        } else {
            let div = 10i128.checked_pow(self.scale - scale)?;
            (self.mantissa % div == 0).then(|| self.mantissa / div)
        }
    }

    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        Some(Decimal {
            mantissa: self
                .to_scaled(scale)?
                .checked_add(other.to_scaled(scale)?)?,
            scale,
        })
    }

    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale + other.scale;
        (scale <= MAX_SCALE).then_some(())?;
        Some(Decimal {
            mantissa: self.mantissa.checked_mul(other.mantissa)?,
            scale,
        })
    }

    /// Parses RFC 7159 number syntax (`-12`, `0.5`, `1.25e2`), from a string or a JSON
    /// number's text.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let bad = || DecimalError(text.chars().take(64).collect());
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (number, exponent) = match rest.find(['e', 'E']) {
            Some(at) => {
                let exp: i32 = rest[at + 1..].parse().map_err(|_| bad())?;
                (&rest[..at], exp)
            }
            None => (rest, 0),
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !all_digits(int) || !all_digits(frac) || number.ends_with('.') {
            return Err(bad());
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(bad)?;
        }
        let mut scale = i64::try_from(frac.len()).map_err(|_| bad())? - i64::from(exponent);
        if scale < 0 {
            // A huge exponent on a zero mantissa must not mean a huge loop.
            if mantissa == 0 {
                scale = 0;
            } else if scale < -38 {
                return Err(bad());
            }
        }
        while scale < 0 {
            mantissa = mantissa.checked_mul(10).ok_or_else(bad)?;
            scale += 1;
        }
        let scale = u32::try_from(scale).map_err(|_| bad())?;
        if scale > MAX_SCALE {
            return Err(bad());
        }
        Ok(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        })
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Decimal) -> bool {
        let scale = self.scale.max(other.scale);
        self.to_scaled(scale) == other.to_scaled(scale)
    }
}

impl Eq for Decimal {}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

impl std::str::FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Decimal, DecimalError> {
        Decimal::parse(s)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

struct DecimalVisitor;

impl serde::de::Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number (a string such as \"19.99\" or a number)")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
        Decimal::parse(v).map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal {
            mantissa: i128::from(v),
            scale: 0,
        })
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal {
            mantissa: i128::from(v),
            scale: 0,
        })
    }

    /// serde_json hands a JSON number with a fraction over as an `f64`. Its shortest
    /// round-trip rendering is the literal the client wrote whenever that literal has at
    /// most 15 significant digits, so parsing the rendering recovers it exactly; no
    /// arithmetic is done on the float.
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !v.is_finite() {
            return Err(E::custom("a decimal must be finite"));
        }
        Decimal::parse(&format!("{v}")).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_exactly() {
        for (text, rendered) in [
            ("19.71", "19.71"),
            ("2.00", "2.00"),
            ("-0.05", "-0.05"),
            ("0", "0"),
            ("1.25e2", "125"),
            ("15E-1", "1.5"),
            ("0e2147483647", "0"),
        ] {
            assert_eq!(
                Decimal::parse(text).unwrap().to_string(),
                rendered,
                "{text}"
            );
        }
        for bad in [
            "", ".5", "5.", "1.2.3", "abc", "1e", "--1", "+1", "1e99999", "1e-19", "NaN",
        ] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_string_or_number_in_string_out() {
        let from_number: Decimal = serde_json::from_str("0.1").unwrap();
        let from_string: Decimal = serde_json::from_str("\"0.10\"").unwrap();
        assert_eq!(from_number, from_string);
        assert_eq!(serde_json::to_string(&from_string).unwrap(), "\"0.10\"");
        let fee = Decimal::cents(50)
            .checked_mul(Decimal::new(3, 0).unwrap())
            .and_then(|d| d.checked_add(Decimal::cents(100)))
            .unwrap();
        assert_eq!(fee.to_string(), "2.50");
        assert_eq!(fee.to_scaled(2), Some(250));
        assert_eq!(Decimal::parse("1.005").unwrap().to_scaled(2), None);
    }
}
