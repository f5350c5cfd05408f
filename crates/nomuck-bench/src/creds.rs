//! Credentials, looked up like the AWS CLI does (flags, then environment,
//! then the shared-credentials file).

use std::path::PathBuf;

use anyhow::{Context, bail};
use nomuck_sigv4::Credentials;

/// `--access-key/--secret-key`, else `AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`
/// (+ `AWS_SESSION_TOKEN`), else `profile` (or `AWS_PROFILE`, or `default`)
/// of `AWS_SHARED_CREDENTIALS_FILE` (or `~/.aws/credentials`).
pub fn resolve(
    access_key: Option<&str>,
    secret_key: Option<&str>,
    profile: Option<&str>,
) -> anyhow::Result<Credentials> {
    match (access_key, secret_key) {
        (Some(id), Some(secret)) => return Ok(creds(id, secret, None)),
        (Some(_), None) | (None, Some(_)) => {
            bail!("--access-key and --secret-key must be given together")
        }
        (None, None) => {}
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(creds(&id, &secret, env("AWS_SESSION_TOKEN")));
    }
    let path = match env("AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => PathBuf::from(p),
        None => match env("HOME") {
            Some(home) => PathBuf::from(home).join(".aws").join("credentials"),
            None => bail!(
                "no credentials: pass --access-key/--secret-key, set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE"
            ),
        },
    };
    let profile = profile
        .map(str::to_owned)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_owned());
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no credentials in flags or environment, and {} cannot be read",
            path.display()
        )
    })?;
    from_shared_file(&text, &profile)
        .with_context(|| format!("{} has no complete [{profile}] key", path.display()))
}

fn creds(id: &str, secret: &str, token: Option<String>) -> Credentials {
    Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: token,
    }
}

/// Reads one profile of an INI-style shared-credentials file.
pub fn from_shared_file(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = section.trim() == profile;
        } else if in_profile && let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    Some(creds(&id?, &secret?, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
[default]
aws_access_key_id = AKIDEFAULT
aws_secret_access_key=secret/default

[bench]
aws_access_key_id = AKIBENCH
; another comment
aws_secret_access_key = s2
aws_session_token = tok
[partial]
aws_access_key_id = AKIPARTIAL
";

    #[test]
    fn profiles() {
        let d = from_shared_file(FILE, "default").unwrap();
        assert_eq!(d.access_key_id, "AKIDEFAULT");
        assert_eq!(d.secret_access_key, "secret/default");
        assert_eq!(d.session_token, None);
        let b = from_shared_file(FILE, "bench").unwrap();
        assert_eq!(b.access_key_id, "AKIBENCH");
        assert_eq!(b.session_token.as_deref(), Some("tok"));
        assert!(from_shared_file(FILE, "partial").is_none());
        assert!(from_shared_file(FILE, "missing").is_none());
    }

    #[test]
    fn flags_win_and_must_pair() {
        let c = resolve(Some("AK"), Some("SK"), None).unwrap();
        assert_eq!(c.access_key_id, "AK");
        assert!(resolve(Some("AK"), None, None).is_err());
    }
}
