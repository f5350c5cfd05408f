//! `MaxResults` / `NextToken` pagination as EC2's Describe actions do it.
//!
//! A token names the last item of the page it ended (by the item's id, base64url
//! wrapped so clients treat it as opaque), not an offset, so items created or deleted
//! between two calls neither repeat nor vanish from the pages that follow.

use base64::Engine as _;

use crate::Ec2Error;

/// The `MaxResults` range of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRule {
    pub min: u32,
    pub max: u32,
    /// Whether a page size can be combined with an explicit id list (EC2 refuses it
    /// for instances: "The parameter instancesSet cannot be used with the parameter
    /// maxResults").
    pub with_ids: bool,
    /// The id list's wire name, for that message.
    pub ids_name: &'static str,
}

pub const DESCRIBE_INSTANCES: PageRule = PageRule {
    min: 5,
    max: 1000,
    with_ids: false,
    ids_name: "instancesSet",
};
pub const DESCRIBE_INSTANCE_STATUS: PageRule = PageRule {
    min: 5,
    max: 1000,
    with_ids: false,
    ids_name: "instancesSet",
};
pub const DESCRIBE_INSTANCE_TYPES: PageRule = PageRule {
    min: 5,
    max: 100,
    with_ids: true,
    ids_name: "instanceTypeSet",
};
pub const DESCRIBE_SECURITY_GROUPS: PageRule = PageRule {
    min: 5,
    max: 1000,
    with_ids: false,
    ids_name: "groupIdSet",
};
pub const DESCRIBE_TAGS: PageRule = PageRule {
    min: 5,
    max: 1000,
    with_ids: true,
    ids_name: "",
};
pub const DESCRIBE_IMAGES: PageRule = PageRule {
    min: 5,
    max: 1000,
    with_ids: false,
    ids_name: "imagesSet",
};

/// The page a request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// `None`: everything, in one reply.
    pub max_results: Option<u32>,
    /// Id of the last item the previous page returned.
    pub after: Option<String>,
}

impl PageRequest {
    /// Validate `MaxResults` and decode `NextToken`; `has_ids` says whether the request
    /// also named resources by id.
    pub fn new(
        rule: PageRule,
        max_results: Option<i64>,
        next_token: Option<&str>,
        has_ids: bool,
    ) -> Result<Self, Ec2Error> {
        let max_results = match max_results {
            None => None,
            Some(_) if has_ids && !rule.with_ids => {
                return Err(Ec2Error::InvalidParameterCombination(format!(
                    "The parameter {} cannot be used with the parameter maxResults",
                    rule.ids_name
                )));
            }
            Some(n) if n < i64::from(rule.min) || n > i64::from(rule.max) => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between {} and {}.",
                    rule.min, rule.max
                )));
            }
            Some(n) => u32::try_from(n).ok(),
        };
        let after = match next_token {
            None | Some("") => None,
            Some(token) => Some(decode_token(token).ok_or_else(|| {
                Ec2Error::InvalidPaginationToken(format!("Invalid token: {token}"))
            })?),
        };
        Ok(Self { max_results, after })
    }

    /// One page of `items`, which must be sorted by `id` (ascending, unique), and the
    /// token of the next page when more remain.
    pub fn apply<T>(&self, items: Vec<T>, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
        let mut rest: Vec<T> = match &self.after {
            Some(after) => items
                .into_iter()
                .filter(|item| id(item) > after.as_str())
                .collect(),
            None => items,
        };
        let Some(limit) = self.max_results.map(|n| n as usize) else {
            return (rest, None);
        };
        if rest.len() <= limit {
            return (rest, None);
        }
        rest.truncate(limit);
        let token = rest.last().map(|last| encode_token(id(last)));
        (rest, token)
    }
}

fn encode_token(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("1:{id}"))
}

fn decode_token(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("1:")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_resume_after_the_last_id_even_when_items_change() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let first = PageRequest::new(DESCRIBE_INSTANCES, Some(5), None, false).unwrap();
        let all = ids(&["i-1", "i-2", "i-3", "i-4", "i-5", "i-6", "i-7"]);
        let (page, token) = first.apply(all, |s| s.as_str());
        assert_eq!(page, ids(&["i-1", "i-2", "i-3", "i-4", "i-5"]));
        let token = token.unwrap();
        // i-2 was deleted and i-0 created since: the next page still starts after i-5.
        let next = PageRequest::new(DESCRIBE_INSTANCES, Some(5), Some(&token), false).unwrap();
        let now = ids(&["i-0", "i-1", "i-3", "i-4", "i-5", "i-6", "i-7"]);
        assert_eq!(
            next.apply(now, |s| s.as_str()),
            (ids(&["i-6", "i-7"]), None)
        );
    }

    #[test]
    fn ec2_rules_for_max_results() {
        assert!(matches!(
            PageRequest::new(DESCRIBE_INSTANCES, Some(4), None, false),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        assert!(matches!(
            PageRequest::new(DESCRIBE_INSTANCES, Some(1001), None, false),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        assert_eq!(
            PageRequest::new(DESCRIBE_INSTANCES, Some(5), None, true),
            Err(Ec2Error::InvalidParameterCombination(
                "The parameter instancesSet cannot be used with the parameter maxResults".into()
            ))
        );
        assert!(PageRequest::new(DESCRIBE_INSTANCE_TYPES, Some(100), None, true).is_ok());
        assert!(matches!(
            PageRequest::new(DESCRIBE_INSTANCES, None, Some("garbage!"), false),
            Err(Ec2Error::InvalidPaginationToken(_))
        ));
        // No MaxResults: everything at once.
        let all = PageRequest::new(DESCRIBE_INSTANCES, None, None, false).unwrap();
        let (page, token) = all.apply(vec!["a".to_string(), "b".into(), "c".into()], |s| {
            s.as_str()
        });
        assert_eq!((page.len(), token), (3, None));
    }
}
