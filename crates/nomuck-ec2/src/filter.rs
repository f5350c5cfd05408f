//! EC2's `Filter.N.Name` / `Filter.N.Value.M` engine, one for every Describe action.
//!
//! A resource matches when it matches every filter (AND); it matches a filter when one
//! of its values for the filter's name matches one of the filter's values (OR). Values
//! may use `*` (any run of characters) and `?` (one character); `\` escapes either.
//! Tag filters come in three forms: `tag:KEY` (the tag KEY has one of the values),
//! `tag-key` and `tag-value` (some tag's key / value matches).

use crate::{Ec2Error, Params, Tag};

/// One filter as the request gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    /// The request's `Filter.N` list.
    pub fn decode_all(p: &mut Params) -> Result<Vec<Filter>, Ec2Error> {
        let mut filters = Vec::new();
        for mut f in p.structs("Filter")? {
            let name = f.required_str("Name")?;
            let values = f.list("Value")?;
            f.finish()?;
            filters.push(Filter { name, values });
        }
        Ok(filters)
    }
}

/// The values a resource has for one filter name. Most names have one value; some
/// (`instance.group-id`, `owner-id` sets) have several; an absent attribute has none
/// and so matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterValues(pub Vec<String>);

impl FilterValues {
    pub fn none() -> Self {
        Self(Vec::new())
    }
}

impl From<&str> for FilterValues {
    fn from(value: &str) -> Self {
        Self(vec![value.to_owned()])
    }
}

impl From<String> for FilterValues {
    fn from(value: String) -> Self {
        Self(vec![value])
    }
}

impl From<Option<&str>> for FilterValues {
    fn from(value: Option<&str>) -> Self {
        Self(value.map(str::to_owned).into_iter().collect())
    }
}

impl From<Vec<String>> for FilterValues {
    fn from(values: Vec<String>) -> Self {
        Self(values)
    }
}

/// Booleans filter as EC2 writes them.
impl From<bool> for FilterValues {
    fn from(value: bool) -> Self {
        Self::from(if value { "true" } else { "false" })
    }
}

impl From<u64> for FilterValues {
    fn from(value: u64) -> Self {
        Self(vec![value.to_string()])
    }
}

/// A resource the filter engine can match: instances, images, key pairs, groups, …
pub trait Filterable {
    /// The resource's values for filter `name` (one of the names the action allows;
    /// never a tag filter: those are answered from [`Filterable::tags`]).
    fn filter_value(&self, name: &str) -> FilterValues;

    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// Validated filters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSet {
    filters: Vec<Filter>,
}

/// The tag filter names, which every taggable resource's action accepts.
pub const TAG_FILTERS: &[&str] = &["tag:", "tag-key", "tag-value"];

impl FilterSet {
    /// Check every filter name against `allowed`, the action's documented names (an
    /// entry `tag:` admits every `tag:KEY`), as EC2 does: an unknown name is
    /// `InvalidParameterValue`, not silently ignored.
    pub fn new(filters: Vec<Filter>, allowed: &[&str]) -> Result<Self, Ec2Error> {
        for f in &filters {
            let known = allowed.iter().any(|a| match *a {
                "tag:" => f.name.len() > 4 && f.name.starts_with("tag:"),
                name => name == f.name,
            });
            if !known {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "The filter '{}' is invalid",
                    f.name
                )));
            }
            if f.values.is_empty() {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "The filter '{}' has no values",
                    f.name
                )));
            }
        }
        Ok(Self { filters })
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Whether `resource` passes every filter.
    pub fn matches<R: Filterable + ?Sized>(&self, resource: &R) -> bool {
        self.filters.iter().all(|f| {
            let tags = resource.tags().iter();
            if let Some(key) = f.name.strip_prefix("tag:") {
                any_matches(
                    &f.values,
                    tags.filter(|t| t.key == key).map(|t| t.value.as_str()),
                )
            } else if f.name == "tag-key" {
                any_matches(&f.values, tags.map(|t| t.key.as_str()))
            } else if f.name == "tag-value" {
                any_matches(&f.values, tags.map(|t| t.value.as_str()))
            } else {
                let values = resource.filter_value(&f.name);
                any_matches(&f.values, values.0.iter().map(String::as_str))
            }
        })
    }
}

/// Whether one of `candidates` matches one of `patterns`.
fn any_matches<'a>(patterns: &[String], mut candidates: impl Iterator<Item = &'a str>) -> bool {
    candidates.any(|c| patterns.iter().any(|pattern| wildcard_match(pattern, c)))
}

/// EC2's filter wildcards: `*` matches any run (also empty), `?` exactly one
/// character, `\*` `\?` `\\` the character itself. Case-sensitive, whole-value.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Star,
        One,
        Lit(char),
    }
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            '\\' => Tok::Lit(chars.next().unwrap_or('\\')),
            c => Tok::Lit(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy match with one backtrack point (the last star): linear in practice and
    // O(pattern × text) at worst, never exponential.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|tok| *tok == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_ec2() {
        assert!(wildcard_match("web*", "web-1"));
        assert!(wildcard_match("web*", "web"));
        assert!(!wildcard_match("web*", "Web-1"));
        assert!(wildcard_match("*-1", "web-1"));
        assert!(wildcard_match("w?b", "web"));
        assert!(!wildcard_match("w?b", "wb"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match(r"\*", "*"));
        assert!(!wildcard_match(r"\*", "x"));
        assert!(wildcard_match(r"a\?", "a?"));
        assert!(!wildcard_match("exact", "exactly"));
        assert!(wildcard_match("", ""));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("ü?", "üß"));
    }

    struct Thing {
        state: &'static str,
        groups: Vec<String>,
        tags: Vec<Tag>,
    }

    impl Filterable for Thing {
        fn filter_value(&self, name: &str) -> FilterValues {
            match name {
                "instance-state-name" => self.state.into(),
                "instance.group-id" => self.groups.clone().into(),
                _ => FilterValues::none(),
            }
        }

        fn tags(&self) -> &[Tag] {
            &self.tags
        }
    }

    const ALLOWED: &[&str] = &[
        "instance-state-name",
        "instance.group-id",
        "tag:",
        "tag-key",
        "tag-value",
    ];

    fn set(filters: &[(&str, &[&str])]) -> Result<FilterSet, Ec2Error> {
        FilterSet::new(
            filters
                .iter()
                .map(|(n, v)| Filter {
                    name: n.to_string(),
                    values: v.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            ALLOWED,
        )
    }

    fn thing() -> Thing {
        Thing {
            state: "running",
            groups: vec!["sg-1".into(), "sg-2".into()],
            tags: vec![Tag::new("Name", "web-1"), Tag::new("env", "")],
        }
    }

    #[test]
    fn and_across_filters_or_across_values() {
        let t = thing();
        assert!(
            set(&[("instance-state-name", &["stopped", "running"])])
                .unwrap()
                .matches(&t)
        );
        assert!(
            !set(&[
                ("instance-state-name", &["running"]),
                ("tag:Name", &["db*"])
            ])
            .unwrap()
            .matches(&t)
        );
        assert!(
            set(&[
                ("instance-state-name", &["running"]),
                ("tag:Name", &["web*"])
            ])
            .unwrap()
            .matches(&t)
        );
        assert!(
            set(&[("instance.group-id", &["sg-2"])])
                .unwrap()
                .matches(&t)
        );
        assert!(set(&[]).unwrap().matches(&t));
    }

    #[test]
    fn tag_filters() {
        let t = thing();
        assert!(set(&[("tag-key", &["env"])]).unwrap().matches(&t));
        assert!(!set(&[("tag-key", &["owner"])]).unwrap().matches(&t));
        assert!(set(&[("tag-value", &["web-?"])]).unwrap().matches(&t));
        // An empty-valued tag matches an empty value, not a missing key.
        assert!(set(&[("tag:env", &[""])]).unwrap().matches(&t));
        assert!(!set(&[("tag:owner", &["*"])]).unwrap().matches(&t));
    }

    #[test]
    fn unknown_names_and_empty_values_are_refused() {
        assert_eq!(
            set(&[("instance-state", &["running"])]).unwrap_err(),
            Ec2Error::InvalidParameterValue("The filter 'instance-state' is invalid".into())
        );
        assert!(set(&[("tag:", &["x"])]).is_err());
        assert!(set(&[("instance-state-name", &[])]).is_err());
    }
}
