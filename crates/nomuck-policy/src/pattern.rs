//! Wildcard patterns (`*` any run, `?` one character) with IAM policy variables.
//!
//! Policy variables (`${aws:userid}`, `${s3:prefix, 'default'}`) only exist in
//! `"Version": "2012-10-17"` policies; under `2008-10-17` the text is literal. A
//! substituted value is literal text, so a `*` inside a caller's value never acts
//! as a wildcard. `${*}`, `${?}` and `${$}` are the escapes for those characters.

use crate::context::{ConditionContext, normalize_key};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Char(char),
    Star,
    One,
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A token once variables are substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    Char(char),
    Star,
    One,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    /// `variables`: whether `${...}` is a policy variable or literal text.
    pub(crate) fn parse(s: &str, variables: bool) -> Self {
        let mut toks = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let body = rest.get(2..end).unwrap_or_default();
                toks.push(variable(body));
                rest = rest.get(end + 1..).unwrap_or_default();
                continue;
            }
            toks.push(match c {
                '*' => Tok::Star,
                '?' => Tok::One,
                c => Tok::Char(c),
            });
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
        Self { toks }
    }

    /// No wildcard and no variable: the pattern names exactly one value.
    pub(crate) fn is_fixed(&self) -> bool {
        self.toks.iter().all(|t| matches!(t, Tok::Char(_)))
    }

    /// Substitutes variables. `None` when a variable has no single value and no
    /// default: such a pattern matches nothing (IAM: "will not match any resource").
    fn resolve(&self, ctx: &ConditionContext) -> Option<Vec<Glob>> {
        let mut out = Vec::with_capacity(self.toks.len());
        for t in &self.toks {
            match t {
                Tok::Char(c) => out.push(Glob::Char(*c)),
                Tok::Star => out.push(Glob::Star),
                Tok::One => out.push(Glob::One),
                Tok::Var { key, default } => {
                    let value = match ctx.get_normalized(key) {
                        Some([single]) => single.as_str(),
                        _ => default.as_deref()?,
                    };
                    out.extend(value.chars().map(Glob::Char));
                }
            }
        }
        Some(out)
    }

    /// The text with variables substituted and wildcards as plain characters,
    /// for operators that compare exactly (StringEquals).
    pub(crate) fn literal(&self, ctx: &ConditionContext) -> Option<String> {
        let resolved = self.resolve(ctx)?;
        Some(
            resolved
                .into_iter()
                .map(|g| match g {
                    Glob::Char(c) => c,
                    Glob::Star => '*',
                    Glob::One => '?',
                })
                .collect(),
        )
    }

    /// Wildcard match of the whole input.
    pub(crate) fn matches(&self, input: &str, ctx: &ConditionContext) -> bool {
        let Some(pattern) = self.resolve(ctx) else {
            return false;
        };
        let input: Vec<char> = input.chars().collect();
        glob_match(&pattern, &input)
    }

    /// ArnLike: each of the six `:`-separated ARN components is matched on its
    /// own, so a `*` cannot swallow a `:` except in the last (resource) component.
    /// A pattern with fewer components (such as a bare `*`) matches the whole text.
    pub(crate) fn matches_arn(&self, input: &str, ctx: &ConditionContext) -> bool {
        let Some(pattern) = self.resolve(ctx) else {
            return false;
        };
        let input: Vec<char> = input.chars().collect();
        let pattern_parts = split_arn(&pattern, |g| *g == Glob::Char(':'));
        if pattern_parts.len() < 6 {
            return glob_match(&pattern, &input);
        }
        let input_parts = split_arn(&input, |c| *c == ':');
        input_parts.len() == 6
            && pattern_parts
                .iter()
                .zip(&input_parts)
                .all(|(p, i)| glob_match(p, i))
    }
}

fn variable(body: &str) -> Tok {
    match body {
        "*" => return Tok::Char('*'),
        "?" => return Tok::Char('?'),
        "$" => return Tok::Char('$'),
        _ => {}
    }
    // `${key, 'default'}`
    if let Some((key, default)) = body.split_once(',') {
        let default = default.trim();
        if let Some(inner) = default
            .strip_prefix('\'')
            .and_then(|d| d.strip_suffix('\''))
        {
            return Tok::Var {
                key: normalize_key(key.trim()),
                default: Some(inner.to_string()),
            };
        }
    }
    Tok::Var {
        key: normalize_key(body.trim()),
        default: None,
    }
}

/// Splits at the first five separators: an ARN has six components and the
/// last one may itself contain `:`.
fn split_arn<T>(items: &[T], is_sep: impl Fn(&T) -> bool) -> Vec<&[T]> {
    let mut parts = Vec::with_capacity(6);
    let mut rest = items;
    while parts.len() < 5 {
        match rest.iter().position(&is_sep) {
            Some(i) => {
                let (head, tail) = rest.split_at(i);
                parts.push(head);
                rest = tail.get(1..).unwrap_or_default();
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

/// Iterative wildcard matching, backtracking only to the last `*`: linear in
/// practice and O(n·m) at worst, so hostile patterns cannot blow up.
fn glob_match(pattern: &[Glob], input: &[char]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = input.get(i) {
        match pattern.get(p) {
            Some(Glob::Star) => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(Glob::One) => {
                p += 1;
                i += 1;
                continue;
            }
            Some(Glob::Char(pc)) if *pc == c => {
                p += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|g| *g == Glob::Star)
}

/// Plain wildcard match without variables (action names, bucket names).
pub(crate) fn glob(pattern: &str, input: &str) -> bool {
    Pattern::parse(pattern, false).matches(input, &ConditionContext::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> ConditionContext {
        pairs.iter().copied().collect()
    }

    #[test]
    fn wildcards() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*.jpg", "dir/x.jpg"));
        assert!(!glob("*.jpg", "x.jpeg"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("**", "x"));
        assert!(glob("ünï*", "ünïcode"));
    }

    #[test]
    fn iam_resource_examples() {
        // From the IAM Resource element documentation.
        let p = "arn:aws:s3:::b/*/test/*";
        assert!(glob(p, "arn:aws:s3:::b/1///test///object.jpg"));
        assert!(glob(p, "arn:aws:s3:::b//test/object.jpg"));
        assert!(glob(p, "arn:aws:s3:::b/1/test/"));
        assert!(!glob(p, "arn:aws:s3:::b/1-test/object.jpg"));
        assert!(!glob(p, "arn:aws:s3:::b/test/object.jpg"));
        assert!(!glob(p, "arn:aws:s3:::b/1/2/test.jpg"));
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let p = "a*".repeat(200) + "b";
        let input = "a".repeat(5000);
        assert!(!glob(&p, &input));
    }

    #[test]
    fn variables() {
        let c = ctx(&[("aws:userid", "123456789012"), ("x:star", "a*")]);
        let p = Pattern::parse("home/${aws:userid}/*", true);
        assert!(p.matches("home/123456789012/f", &c));
        assert!(!p.matches("home/999/f", &c));
        // Without a value the pattern matches nothing.
        assert!(!p.matches("home//f", &ConditionContext::new()));
        // Values are literal.
        let p = Pattern::parse("${x:star}", true);
        assert!(p.matches("a*", &c));
        assert!(!p.matches("ab", &c));
        // Defaults and escapes.
        let p = Pattern::parse("${aws:nope, 'dflt'}-${*}${?}${$}", true);
        assert_eq!(p.literal(&c).as_deref(), Some("dflt-*?$"));
        assert!(!p.is_fixed());
        assert!(Pattern::parse("${*}${?}${$}", true).is_fixed());
        assert!(!Pattern::parse("a?", true).is_fixed());
        // Under 2008-10-17 the text is literal.
        let p = Pattern::parse("${aws:userid}", false);
        assert_eq!(p.literal(&c).as_deref(), Some("${aws:userid}"));
        // Unterminated stays literal.
        let p = Pattern::parse("a${b", true);
        assert_eq!(p.literal(&c).as_deref(), Some("a${b"));
    }

    #[test]
    fn arn_components() {
        let c = ConditionContext::new();
        let p = Pattern::parse("arn:aws:iam::*:root", false);
        assert!(p.matches_arn("arn:aws:iam::123456789012:root", &c));
        let p = Pattern::parse("arn:aws:s3:::b*", false);
        assert!(p.matches_arn("arn:aws:s3:::bucket/a:b", &c));
        // `*` does not cross a component boundary.
        // `*` does not cross a component boundary (it would as a plain glob).
        let p = Pattern::parse("arn:aws:iam::*:root", false);
        assert!(!p.matches_arn("arn:aws:iam::1:x:root", &c));
        assert!(glob("arn:aws:iam::*:root", "arn:aws:iam::1:x:root"));
        // Fewer than six components: matched as a whole.
        let p = Pattern::parse("arn:aws:iam::*", false);
        assert!(p.matches_arn("arn:aws:iam::1:root", &c));
        assert!(Pattern::parse("*", false).matches_arn("arn:aws:iam::1:root", &c));
    }
}
