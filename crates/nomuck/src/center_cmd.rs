//! `nomuck center …`: a center's staff at the command line. Each command is
//! one call to the running server's warehouse operations API
//! (`/fws/v1/centers/{id}/…`), signed for `execute-api` with the data
//! directory's admin key (admins operate every center) or the key in
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (an operator account's).

use std::path::Path;

use anyhow::bail;
use bytes::Bytes;

/// What to call: `method` on `/fws/v1/centers/{center}/{op}` (or the list of
/// centers when `center` is `None`), on behalf of `seller`.
pub struct CenterCall<'a> {
    pub center: Option<&'a str>,
    pub method: http::Method,
    pub op: &'a str,
    pub seller: Option<&'a str>,
    pub body: Option<String>,
}

pub async fn run(data_dir: &Path, call: CenterCall<'_>) -> anyhow::Result<()> {
    let client = crate::instance_cmd::client(data_dir)?;
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut path = match call.center {
        None => "/fws/v1/centers".to_owned(),
        Some(c) => format!(
            "/fws/v1/centers/{}/{}",
            enc(c),
            call.op.trim_start_matches('/')
        ),
    };
    if let Some(seller) = call.seller {
        path.push_str(&format!("?sellerId={}", enc(seller)));
    }
    let body = Bytes::from(call.body.unwrap_or_default());
    let (status, reply) = client
        .send(call.method, &path, "execute-api", "application/json", body)
        .await?;
    let text = match serde_json::from_slice::<serde_json::Value>(&reply) {
        Ok(v) => serde_json::to_string_pretty(&v)?,
        Err(_) => String::from_utf8_lossy(&reply).into_owned(),
    };
    if !status.is_success() {
        bail!("the server answered {status}: {text}");
    }
    println!("{text}");
    Ok(())
}
