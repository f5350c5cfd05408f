//! `nomuck lwa …`: LWA clients for SP-API client libraries, directly on the data
//! directory or through a running server's admin API, as `nomuck key …` does.

use nomuck_admin::{LwaClientList, LwaClientView, NewLwaClientView};

use crate::accounts_cmd::{Accounts, format_millis, segment};

impl Accounts {
    pub async fn create_lwa_client(&self, account: &str) -> anyhow::Result<NewLwaClientView> {
        match self {
            Accounts::Direct(dir) => Ok(dir.iam.create_lwa_client(account).await?.into()),
            Accounts::Remote(client) => {
                client
                    .call::<_, ()>(
                        http::Method::POST,
                        &format!("/accounts/{}/lwa-clients", segment(account)?),
                        None,
                    )
                    .await
            }
        }
    }

    /// The clients of `account`, or of every account.
    pub async fn list_lwa_clients(
        &self,
        account: Option<&str>,
    ) -> anyhow::Result<Vec<LwaClientView>> {
        let accounts = match account {
            Some(account) => vec![account.to_owned()],
            None => self
                .list_accounts()
                .await?
                .into_iter()
                .map(|a| a.account_id)
                .collect(),
        };
        let mut clients = Vec::new();
        for account in &accounts {
            match self {
                Accounts::Direct(dir) => clients.extend(
                    dir.iam
                        .lwa_clients(account)
                        .await?
                        .into_iter()
                        .map(LwaClientView::from),
                ),
                Accounts::Remote(client) => clients.extend(
                    client
                        .call::<LwaClientList, ()>(
                            http::Method::GET,
                            &format!("/accounts/{}/lwa-clients", segment(account)?),
                            None,
                        )
                        .await?
                        .clients,
                ),
            }
        }
        Ok(clients)
    }

    pub async fn revoke_lwa_client(&self, client_id: &str) -> anyhow::Result<()> {
        match self {
            Accounts::Direct(dir) => Ok(dir.iam.revoke_lwa_client(client_id).await?),
            Accounts::Remote(client) => {
                client
                    .call::<serde_json::Value, ()>(
                        http::Method::POST,
                        &format!("/lwa-clients/{}/revoke", segment(client_id)?),
                        None,
                    )
                    .await?;
                Ok(())
            }
        }
    }
}

pub fn print_new_client(client: &NewLwaClientView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(client)?);
    } else {
        println!(
            "# account {} ({}); the secret and refresh token are shown only now",
            client.account_name, client.account_id
        );
        println!("client_id: {}", client.client_id);
        println!("client_secret: {}", client.client_secret);
        println!("refresh_token: {}", client.refresh_token);
    }
    Ok(())
}

pub fn print_clients(clients: &[LwaClientView], json: bool) -> anyhow::Result<()> {
    if json {
        let list = LwaClientList {
            clients: clients.to_vec(),
        };
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "{:<63}{:<14}{:<26}STATUS",
        "CLIENT ID", "ACCOUNT ID", "CREATED"
    );
    for c in clients {
        let status = match c.revoked_at {
            Some(at) => format!("revoked {}", format_millis(at)),
            None => "active".to_owned(),
        };
        println!(
            "{:<63}{:<14}{:<26}{status}",
            c.client_id,
            c.account_id,
            format_millis(c.created_at)
        );
    }
    Ok(())
}
