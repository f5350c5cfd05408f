//! `nomuck account …` and `nomuck key …`.
//!
//! They work in both situations a user meets: when no server is running they open the
//! data directory themselves; when a server holds it, they call that server's admin API
//! (its address is in `<data-dir>/server.json`), signed with the admin key from
//! `<data-dir>/admin-credentials` or from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.

use std::path::Path;

use anyhow::bail;
use nomuck_admin::{AccountList, AccountView, CreateAccount, KeyList, KeyView, NewKeyView};

use crate::admin_client::AdminClient;
use crate::data_dir::{Create, DataDir, OpenOutcome};

pub enum Accounts {
    Direct(DataDir),
    Remote(AdminClient),
}

impl Accounts {
    /// Reach the accounts of an existing data directory (never creates one: that is
    /// `nomuck serve`'s job, with the admin account).
    pub async fn connect(data_dir: &Path) -> anyhow::Result<Self> {
        match DataDir::open(data_dir, Create::Never)? {
            OpenOutcome::Opened(dir) => Ok(Accounts::Direct(dir)),
            OpenOutcome::InUse {
                server: Some(server),
                ..
            } => Ok(Accounts::Remote(AdminClient::for_server(
                data_dir, &server,
            )?)),
            OpenOutcome::InUse { pid, server: None } => bail!(
                "data directory {} is in use by another nomuck process{} that is not serving; wait for it to finish",
                data_dir.display(),
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ),
        }
    }

    pub async fn create_account(&self, name: &str, admin: bool) -> anyhow::Result<AccountView> {
        match self {
            Accounts::Direct(dir) => Ok(AccountView::from(
                &dir.iam.create_account(name, admin).await?,
            )),
            Accounts::Remote(client) => {
                client
                    .call(
                        http::Method::POST,
                        "/accounts",
                        Some(&CreateAccount {
                            name: name.to_owned(),
                            admin,
                        }),
                    )
                    .await
            }
        }
    }

    pub async fn list_accounts(&self) -> anyhow::Result<Vec<AccountView>> {
        match self {
            Accounts::Direct(dir) => Ok(dir
                .iam
                .accounts()
                .await?
                .iter()
                .map(AccountView::from)
                .collect()),
            Accounts::Remote(client) => Ok(client
                .call::<AccountList, ()>(http::Method::GET, "/accounts", None)
                .await?
                .accounts),
        }
    }

    pub async fn create_key(&self, account: &str) -> anyhow::Result<NewKeyView> {
        match self {
            Accounts::Direct(dir) => Ok(NewKeyView::from(dir.iam.create_key(account).await?)),
            Accounts::Remote(client) => {
                client
                    .call::<_, ()>(
                        http::Method::POST,
                        &format!("/accounts/{}/keys", segment(account)?),
                        None,
                    )
                    .await
            }
        }
    }

    pub async fn list_keys(&self, account: &str) -> anyhow::Result<Vec<KeyView>> {
        match self {
            Accounts::Direct(dir) => Ok(dir
                .iam
                .keys(account)
                .await?
                .into_iter()
                .map(KeyView::from)
                .collect()),
            Accounts::Remote(client) => Ok(client
                .call::<KeyList, ()>(
                    http::Method::GET,
                    &format!("/accounts/{}/keys", segment(account)?),
                    None,
                )
                .await?
                .keys),
        }
    }

    pub async fn revoke_key(&self, key_id: &str) -> anyhow::Result<()> {
        match self {
            Accounts::Direct(dir) => Ok(dir.iam.revoke_key(key_id).await?),
            Accounts::Remote(client) => {
                client
                    .call::<serde_json::Value, ()>(
                        http::Method::POST,
                        &format!("/keys/{}/revoke", segment(key_id)?),
                        None,
                    )
                    .await?;
                Ok(())
            }
        }
    }
}

/// Account names and key ids are plain tokens; refuse anything that would change the path.
pub(crate) fn segment(value: &str) -> anyhow::Result<&str> {
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    {
        bail!("{value:?} is not an account name, account id, access key id or client id");
    }
    Ok(value)
}

pub fn print_accounts(accounts: &[AccountView], json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&AccountList {
                accounts: accounts.to_vec()
            })?
        );
        return Ok(());
    }
    println!("{:<14}{:<10}{:<26}NAME", "ACCOUNT ID", "ROLE", "CREATED");
    for a in accounts {
        println!(
            "{:<14}{:<10}{:<26}{}",
            a.account_id,
            if a.admin { "admin" } else { "user" },
            format_millis(a.created_at),
            a.name
        );
    }
    Ok(())
}

pub fn print_keys(keys: &[KeyView], json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&KeyList {
                keys: keys.to_vec()
            })?
        );
        return Ok(());
    }
    println!(
        "{:<22}{:<14}{:<26}STATUS",
        "ACCESS KEY ID", "ACCOUNT ID", "CREATED"
    );
    for k in keys {
        let status = match k.revoked_at {
            Some(at) => format!("revoked {}", format_millis(at)),
            None => "active".to_owned(),
        };
        println!(
            "{:<22}{:<14}{:<26}{status}",
            k.access_key_id,
            k.account_id,
            format_millis(k.created_at)
        );
    }
    Ok(())
}

pub fn print_new_key(key: &NewKeyView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(key)?);
    } else {
        println!(
            "# account {} ({}); the secret is shown only now",
            key.account_name, key.account_id
        );
        println!("aws_access_key_id = {}", key.access_key_id);
        println!("aws_secret_access_key = {}", key.secret_access_key);
    }
    Ok(())
}

pub(crate) fn format_millis(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
