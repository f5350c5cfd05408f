//! A typed reader over EC2's flattened query parameters.
//!
//! EC2 flattens its input into `Name=value` pairs: lists as `Name.N` (1-based), lists of
//! structures as `Name.N.Member`, nested structures as `Name.Member`. [`Params`] reads
//! them by name and remembers what it read, so that [`Params::finish`] can refuse what
//! nothing read with `UnknownParameter`, as EC2 does.

use base64::Engine as _;

use crate::Ec2Error;

/// Parameters of one request (or of one structure inside it).
#[derive(Debug, Clone)]
pub struct Params {
    /// Full-name prefix of this structure (`Filter.2.`), for error messages.
    prefix: String,
    /// Names relative to `prefix`, with their values, in request order.
    entries: Vec<(String, String)>,
    used: Vec<bool>,
}

/// How many entries a `Name.N` list may have: far above anything EC2 takes in one
/// request, low enough that an index cannot make us allocate much.
const MAX_INDEX: u32 = 10_000;

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self::nested(String::new(), pairs)
    }

    fn nested(prefix: String, entries: Vec<(String, String)>) -> Self {
        let used = vec![false; entries.len()];
        Self {
            prefix,
            entries,
            used,
        }
    }

    fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Value of `name` (the first, if repeated); marks every copy as read.
    pub fn str(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if k == name {
                self.used[i] = true;
                found.get_or_insert_with(|| v.clone());
            }
        }
        found
    }

    pub fn required_str(&mut self, name: &str) -> Result<String, Ec2Error> {
        self.str(name)
            .ok_or_else(|| Ec2Error::MissingParameter(self.full(name)))
    }

    /// An integer parameter; a value that is not one is `InvalidParameterValue`.
    pub fn opt_int<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>, Ec2Error> {
        match self.str(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Ec2Error::invalid_value(&self.full(name), &v)),
        }
    }

    pub fn required_int<T: std::str::FromStr>(&mut self, name: &str) -> Result<T, Ec2Error> {
        self.opt_int(name)?
            .ok_or_else(|| Ec2Error::MissingParameter(self.full(name)))
    }

    /// A boolean parameter (`true`/`false`, any case, as EC2 accepts).
    pub fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, Ec2Error> {
        match self.str(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(Ec2Error::invalid_value(&self.full(name), &v)),
        }
    }

    /// A boolean that defaults to false (`DryRun`, `Force`, …).
    pub fn flag(&mut self, name: &str) -> Result<bool, Ec2Error> {
        Ok(self.opt_bool(name)?.unwrap_or(false))
    }

    /// A base64 blob (`PublicKeyMaterial`, `UserData`), decoded.
    pub fn opt_blob(&mut self, name: &str) -> Result<Option<Vec<u8>>, Ec2Error> {
        match self.str(name) {
            None => Ok(None),
            Some(v) => decode_base64(&v).map(Some).ok_or_else(|| {
                Ec2Error::InvalidParameterValue(format!(
                    "Invalid BASE64 encoding of {}",
                    self.full(name)
                ))
            }),
        }
    }

    /// The members `name.N…` grouped by N, in N order. Entries whose N is not a
    /// positive integer are left unread (and so refused by [`Params::finish`]).
    fn indexed(&mut self, name: &str) -> Vec<(u32, Vec<(String, String)>)> {
        let head = format!("{name}.");
        let mut groups: Vec<(u32, Vec<(String, String)>)> = Vec::new();
        for (i, (k, v)) in self.entries.iter().enumerate() {
            let Some(rest) = k.strip_prefix(&head) else {
                continue;
            };
            let (n, member) = rest.split_once('.').unwrap_or((rest, ""));
            let Some(n) = parse_index(n) else {
                continue;
            };
            self.used[i] = true;
            let entry = (member.to_owned(), v.clone());
            match groups.iter_mut().find(|g| g.0 == n) {
                Some(group) => group.1.push(entry),
                None => groups.push((n, vec![entry])),
            }
        }
        groups.sort_by_key(|g| g.0);
        groups
    }

    /// A list of scalars, `name.1`, `name.2`, … in index order.
    pub fn list(&mut self, name: &str) -> Result<Vec<String>, Ec2Error> {
        let mut out = Vec::new();
        for (n, members) in self.indexed(name) {
            let mut value = None;
            for (member, v) in members {
                if !member.is_empty() {
                    return Err(Ec2Error::UnknownParameter(
                        self.full(&format!("{name}.{n}.{member}")),
                    ));
                }
                value.get_or_insert(v);
            }
            out.extend(value);
        }
        Ok(out)
    }

    /// A list of structures, `name.N.Member`, each as its own [`Params`] (which the
    /// caller reads and then [`finish`](Params::finish)es).
    pub fn structs(&mut self, name: &str) -> Result<Vec<Params>, Ec2Error> {
        let mut out = Vec::new();
        for (n, members) in self.indexed(name) {
            let prefix = self.full(&format!("{name}.{n}."));
            // `Filter.1=x`: a scalar where a structure belongs.
            if members.iter().any(|(member, _)| member.is_empty()) {
                return Err(Ec2Error::UnknownParameter(
                    prefix.trim_end_matches('.').into(),
                ));
            }
            out.push(Params::nested(prefix, members));
        }
        Ok(out)
    }

    /// A nested structure, `name.Member`, or `None` when no member was sent.
    pub fn structure(&mut self, name: &str) -> Option<Params> {
        let head = format!("{name}.");
        let mut members = Vec::new();
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if let Some(member) = k.strip_prefix(&head) {
                self.used[i] = true;
                members.push((member.to_owned(), v.clone()));
            }
        }
        (!members.is_empty()).then(|| Params::nested(self.full(&head), members))
    }

    /// Whether any parameter is `name` or lies under `name.`.
    pub fn has(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, _)| k == name || k.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
    }

    /// Accept and drop parameters nomuck has no use for but EC2 takes (a name, and
    /// everything under `name.`).
    pub fn ignore(&mut self, names: &[&str]) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if names
                .iter()
                .any(|name| k == name || k.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
            {
                self.used[i] = true;
            }
        }
    }

    /// Refuse parameters EC2 takes but nomuck does not offer.
    pub fn refuse(&self, names: &[&str]) -> Result<(), Ec2Error> {
        match names.iter().find(|name| self.has(name)) {
            Some(name) => Err(Ec2Error::Unsupported(format!(
                "The parameter {} is not supported.",
                self.full(name)
            ))),
            None => Ok(()),
        }
    }

    /// `UnknownParameter` for the first parameter nothing read.
    pub fn finish(self) -> Result<(), Ec2Error> {
        match self
            .entries
            .iter()
            .zip(&self.used)
            .find(|(_, used)| !**used)
        {
            Some(((k, _), _)) => Err(Ec2Error::UnknownParameter(self.full(k))),
            None => Ok(()),
        }
    }
}

/// `N` of `Name.N`: a decimal in 1..=MAX_INDEX.
fn parse_index(n: &str) -> Option<u32> {
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|n| (1..=MAX_INDEX).contains(n))
}

/// Standard base64; EC2 tolerates line breaks in it (aws-cli wraps nothing, but older
/// tools wrapped at 76 columns).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn lists_are_read_in_index_order_not_request_order() {
        let mut p = params(&[
            ("InstanceId.10", "c"),
            ("InstanceId.2", "b"),
            ("InstanceId.1", "a"),
        ]);
        assert_eq!(p.list("InstanceId").unwrap(), ["a", "b", "c"]);
        p.finish().unwrap();
    }

    #[test]
    fn bad_indices_are_unknown_parameters() {
        for key in [
            "InstanceId.0",
            "InstanceId.x",
            "InstanceId.",
            "InstanceId.+1",
            "InstanceId.99999999999",
        ] {
            let mut p = params(&[(key, "i-1")]);
            assert!(p.list("InstanceId").unwrap().is_empty());
            assert_eq!(
                p.finish(),
                Err(Ec2Error::UnknownParameter(key.into())),
                "{key}"
            );
        }
        let mut p = params(&[("InstanceId.1.Extra", "i-1")]);
        assert_eq!(
            p.list("InstanceId"),
            Err(Ec2Error::UnknownParameter("InstanceId.1.Extra".into()))
        );
    }

    #[test]
    fn structures_carry_their_prefix_into_errors() {
        let mut p = params(&[
            ("Filter.1.Name", "tag:Name"),
            ("Filter.1.Value.1", "web"),
            ("Filter.1.Bogus", "x"),
        ]);
        let mut filters = p.structs("Filter").unwrap();
        p.finish().unwrap();
        let mut f = filters.remove(0);
        assert_eq!(f.required_str("Name").unwrap(), "tag:Name");
        assert_eq!(f.list("Value").unwrap(), ["web"]);
        assert_eq!(
            f.finish(),
            Err(Ec2Error::UnknownParameter("Filter.1.Bogus".into()))
        );
    }

    #[test]
    fn typed_values_refuse_garbage() {
        let mut p = params(&[("MinCount", "one"), ("DryRun", "yes"), ("UserData", "!!")]);
        assert_eq!(
            p.opt_int::<u32>("MinCount"),
            Err(Ec2Error::invalid_value("MinCount", "one"))
        );
        assert!(matches!(
            p.opt_bool("DryRun"),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        assert!(matches!(
            p.opt_blob("UserData"),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        let mut p = params(&[("DryRun", "TRUE")]);
        assert!(p.flag("DryRun").unwrap());
        assert_eq!(
            p.required_str("ImageId"),
            Err(Ec2Error::MissingParameter("ImageId".into()))
        );
    }
}
