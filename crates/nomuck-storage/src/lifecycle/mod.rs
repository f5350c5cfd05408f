//! Object lifecycle: the bucket's rules, which versions and uploads they
//! make due and when, and (in [`worker`]) the background pass that deletes
//! them. The rules are a per-bucket config document (JSON of
//! [`Lifecycle`]), parsed once and cached with the bucket.
//!
//! Time is counted in lifecycle *days*, one day of 24 hours unless the
//! engine is configured otherwise ([`crate::StorageOptions::lifecycle_day`],
//! for tests). With real days a due time is rounded up to the next midnight
//! UTC, as S3 does; a test day is not rounded, so short tests stay exact.

mod worker;

use std::time::Duration;

use nomuck_meta::Millis;
use serde::{Deserialize, Serialize};

use crate::StorageError;

pub use worker::LifecycleReport;

/// At most this many rules per bucket (S3's limit).
pub const MAX_RULES: usize = 1000;
/// Longest rule id.
pub const MAX_ID_LEN: usize = 255;

const REAL_DAY_MS: i64 = 86_400_000;

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    pub expiration: Option<Expiration>,
    pub noncurrent: Option<NoncurrentExpiration>,
    /// `AbortIncompleteMultipartUpload.DaysAfterInitiation`.
    pub abort_incomplete_after_days: Option<u32>,
}

/// Which objects a rule applies to. Every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Filter {
    /// `None` when the document gave no prefix (matches every key).
    pub prefix: Option<String>,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
    /// How the document wrote the filter, so it reads back the same.
    pub form: FilterForm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FilterForm {
    /// The rule's own `<Prefix>` (the original, pre-`Filter` schema).
    RulePrefix,
    /// `<Filter>` with its conditions as direct children.
    #[default]
    Filter,
    /// `<Filter><And>…</And></Filter>`.
    And,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiration {
    /// Current versions expire this many days after they were written.
    Days(u32),
    /// Current versions expire from this instant (midnight UTC).
    Date(Millis),
    /// Only removes delete markers that are the last version of their key.
    ExpiredObjectDeleteMarker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    /// Days after a version stopped being current.
    pub days: u32,
    /// This many newest noncurrent versions are kept regardless of age.
    pub newer_versions_kept: Option<u32>,
}

impl Filter {
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or("")
    }

    /// Whether the key and size match; tags are checked by [`Filter::tags_match`].
    pub fn matches(&self, key: &str, size: u64) -> bool {
        key.starts_with(self.prefix())
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
    }

    /// Every tag of the filter is among the object's tags.
    pub fn tags_match(&self, tags: &[(String, String)]) -> bool {
        self.tags.iter().all(|t| tags.contains(t))
    }
}

impl Lifecycle {
    /// Checks the rules as S3 does; `Err` carries the message of an
    /// `InvalidArgument` reply.
    pub fn validate(&self) -> Result<(), StorageError> {
        let invalid = |m: &str| Err(StorageError::InvalidArgument(m.to_owned()));
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return invalid("a lifecycle configuration holds 1 to 1000 rules");
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.id.is_empty() || rule.id.chars().count() > MAX_ID_LEN {
                return invalid("ID length should not exceed allowed limit of 255");
            }
            if self.rules.iter().take(i).any(|r| r.id == rule.id) {
                return invalid("Rule ID must be unique. Found same ID for more than one rule");
            }
            if rule.expiration.is_none()
                && rule.noncurrent.is_none()
                && rule.abort_incomplete_after_days.is_none()
            {
                return Err(StorageError::InvalidRequest(
                    "At least one action needs to be specified in a rule".into(),
                ));
            }
            if matches!(rule.expiration, Some(Expiration::Days(0))) {
                return invalid("'Days' for Expiration action must be a positive integer");
            }
            if matches!(rule.expiration, Some(Expiration::Date(ms)) if ms % REAL_DAY_MS != 0) {
                return invalid("'Date' must be at midnight GMT");
            }
            if rule.noncurrent.as_ref().is_some_and(|n| n.days == 0) {
                return invalid(
                    "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                );
            }
            if rule
                .noncurrent
                .as_ref()
                .and_then(|n| n.newer_versions_kept)
                .is_some_and(|n| !(1..=100).contains(&n))
            {
                return invalid("'NewerNoncurrentVersions' must be between 1 and 100");
            }
            if rule.abort_incomplete_after_days == Some(0) {
                return invalid(
                    "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                );
            }
            if !rule.filter.tags.is_empty() {
                if rule.abort_incomplete_after_days.is_some() {
                    return invalid("AbortIncompleteMultipartUpload cannot be specified with Tags");
                }
                if rule.expiration == Some(Expiration::ExpiredObjectDeleteMarker) {
                    return invalid("ExpiredObjectDeleteMarker cannot be specified with tags");
                }
            }
            if let (Some(gt), Some(lt)) =
                (rule.filter.size_greater_than, rule.filter.size_less_than)
                && gt >= lt
            {
                return invalid("ObjectSizeGreaterThan must be less than ObjectSizeLessThan");
            }
        }
        Ok(())
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// When the current version (`key`, `size`, `tags`, written at
    /// `written`) expires under these rules, and by which rule: the earliest
    /// due time wins (the `x-amz-expiration` header).
    pub fn expiry(
        &self,
        clock: &Clock,
        key: &str,
        size: u64,
        tags: &[(String, String)],
        written: Millis,
    ) -> Option<(Millis, &str)> {
        self.enabled()
            .filter(|r| r.filter.matches(key, size) && r.filter.tags_match(tags))
            .filter_map(|r| {
                let due = match r.expiration.as_ref()? {
                    Expiration::Days(d) => clock.after_days(written, *d),
                    Expiration::Date(at) => *at,
                    Expiration::ExpiredObjectDeleteMarker => return None,
                };
                Some((due, r.id.as_str()))
            })
            .min_by_key(|(due, _)| *due)
    }
}

/// How long a lifecycle day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    day_ms: i64,
}

impl Clock {
    pub fn new(day: Duration) -> Self {
        let day_ms = i64::try_from(day.as_millis()).unwrap_or(REAL_DAY_MS).max(1);
        Self { day_ms }
    }

    /// `days` days after `from`: rounded up to midnight UTC with real days.
    pub fn after_days(&self, from: Millis, days: u32) -> Millis {
        let t = from.saturating_add(self.day_ms.saturating_mul(i64::from(days)));
        if self.day_ms == REAL_DAY_MS {
            t.saturating_add(REAL_DAY_MS - 1) / REAL_DAY_MS * REAL_DAY_MS
        } else {
            t
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new(Duration::from_millis(REAL_DAY_MS as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> Rule {
        Rule {
            id: id.into(),
            enabled: true,
            filter: Filter::default(),
            expiration: Some(Expiration::Days(1)),
            noncurrent: None,
            abort_incomplete_after_days: None,
        }
    }

    fn refused(rules: Vec<Rule>) -> bool {
        matches!(
            Lifecycle { rules }.validate(),
            Err(StorageError::InvalidArgument(_) | StorageError::InvalidRequest(_))
        )
    }

    #[test]
    fn validation_follows_s3() {
        assert!(
            Lifecycle {
                rules: vec![rule("a"), rule("b")]
            }
            .validate()
            .is_ok()
        );
        assert!(refused(vec![rule("a"), rule("a")]));
        assert!(refused(vec![rule(&"x".repeat(256))]));
        assert!(refused(vec![Rule {
            expiration: Some(Expiration::Days(0)),
            ..rule("a")
        }]));
        assert!(refused(vec![Rule {
            expiration: None,
            ..rule("a")
        }]));
        assert!(refused(vec![Rule {
            expiration: Some(Expiration::Date(REAL_DAY_MS + 5)),
            ..rule("a")
        }]));
        let tagged = Filter {
            tags: vec![("k".into(), "v".into())],
            ..Filter::default()
        };
        assert!(refused(vec![Rule {
            filter: tagged.clone(),
            expiration: Some(Expiration::ExpiredObjectDeleteMarker),
            ..rule("a")
        }]));
        assert!(refused(vec![Rule {
            filter: tagged,
            abort_incomplete_after_days: Some(1),
            ..rule("a")
        }]));
    }

    #[test]
    fn filters_match_prefix_size_and_all_tags() {
        let f = Filter {
            prefix: Some("logs/".into()),
            tags: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            size_greater_than: Some(10),
            size_less_than: Some(100),
            form: FilterForm::And,
        };
        assert!(f.matches("logs/x", 50));
        assert!(!f.matches("logs/x", 10));
        assert!(!f.matches("logs/x", 100));
        assert!(!f.matches("other", 50));
        let tags = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(f.tags_match(&tags(&[("b", "2"), ("a", "1"), ("c", "3")])));
        assert!(!f.tags_match(&tags(&[("a", "1"), ("b", "3")])));
    }

    #[test]
    fn real_days_round_up_to_midnight_and_test_days_do_not() {
        let real = Clock::default();
        let noon = 10 * REAL_DAY_MS + REAL_DAY_MS / 2;
        assert_eq!(real.after_days(noon, 1), 12 * REAL_DAY_MS);
        assert_eq!(real.after_days(10 * REAL_DAY_MS, 1), 11 * REAL_DAY_MS);
        let test = Clock::new(Duration::from_secs(2));
        assert_eq!(test.after_days(1_500, 3), 7_500);
    }

    #[test]
    fn earliest_matching_rule_sets_the_expiry() {
        let lc = Lifecycle {
            rules: vec![
                Rule {
                    expiration: Some(Expiration::Days(5)),
                    ..rule("late")
                },
                Rule {
                    filter: Filter {
                        prefix: Some("a/".into()),
                        ..Filter::default()
                    },
                    expiration: Some(Expiration::Days(2)),
                    ..rule("early")
                },
                Rule {
                    enabled: false,
                    expiration: Some(Expiration::Days(1)),
                    ..rule("off")
                },
            ],
        };
        let clock = Clock::new(Duration::from_millis(1000));
        assert_eq!(lc.expiry(&clock, "a/x", 1, &[], 0), Some((2000, "early")));
        assert_eq!(lc.expiry(&clock, "b/x", 1, &[], 0), Some((5000, "late")));
    }
}
