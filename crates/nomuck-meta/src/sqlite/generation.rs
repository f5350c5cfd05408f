//! The generation check every versioned record shares (compute, fulfillment,
//! budgets, KMS): a writer names the generation it read, so racing writers
//! cannot overwrite each other unseen.

use crate::MetaError;

/// Whether a put of `what` at generation `new` may replace what is stored:
/// `expected: None` asks for a new record, `Some(g)` for the one stored at
/// `g`, and the new generation must be greater.
pub(super) fn check(
    what: &str,
    stored: Option<i64>,
    expected: Option<i64>,
    new: i64,
) -> Result<(), MetaError> {
    match (stored, expected) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(MetaError::Conflict(format!("{what} already exists"))),
        (None, Some(_)) => Err(MetaError::NotFound(what.to_owned())),
        (Some(s), Some(e)) if s != e => Err(MetaError::Conflict(format!(
            "{what} changed meanwhile (generation {s}, expected {e})"
        ))),
        (Some(s), Some(_)) if new <= s => Err(MetaError::Invalid(format!(
            "{what}: new generation {new} is not above {s}"
        ))),
        _ => Ok(()),
    }
}
