//! The admin API: accounts, access keys and LWA clients as JSON under `/_nomuck/admin/v1/`.
//!
//! Only admin accounts may call it. The `nomuck account …` and `nomuck key …` commands
//! use it when a server holds the data directory; the wire types are public so the CLI
//! and the server agree on them by construction.
//!
//! | method | path | body | reply |
//! |---|---|---|---|
//! | GET | `/accounts` | | `{"accounts":[AccountView]}` |
//! | POST | `/accounts` | `{"name","admin"?}` | 201 `AccountView` |
//! | GET | `/accounts/{id-or-name}/keys` | | `{"keys":[KeyView]}` |
//! | POST | `/accounts/{id-or-name}/keys` | | 201 `NewKeyView` |
//! | POST | `/keys/{key-id}/revoke` | | 200 `{}` |
//! | GET | `/accounts/{id-or-name}/lwa-clients` | | `{"clients":[LwaClientView]}` |
//! | POST | `/accounts/{id-or-name}/lwa-clients` | | 201 `NewLwaClientView` |
//! | POST | `/lwa-clients/{client-id}/revoke` | | 200 `{}` |

use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};
use nomuck_http::{
    ErrorCode, Operation, Rejection, Request, RequestContext, Response, ServiceApi,
    collect_limited, full_body,
};
use nomuck_iam::{Iam, IamError, KeyInfo, LwaClientInfo, NewAccessKey, NewLwaClient};
use nomuck_meta::Account;
use serde::{Deserialize, Serialize};

pub const PATH_PREFIX: &str = "/_nomuck/admin/v1";
const MAX_BODY: u64 = 16 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account_id: String,
    pub name: String,
    pub admin: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub access_key_id: String,
    pub account_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewKeyView {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    pub account_name: String,
}

/// An LWA client as listed: never its secrets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LwaClientView {
    pub client_id: String,
    pub account_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A new LWA client with the secret and refresh token, shown only now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewLwaClientView {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub account_id: String,
    pub account_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LwaClientList {
    pub clients: Vec<LwaClientView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAccount {
    pub name: String,
    #[serde(default)]
    pub admin: bool,
}

/// `{"errors":[{"code","message"}]}`, the JSON error shape nomuck's JSON APIs share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorList {
    pub errors: Vec<ErrorView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorView {
    pub code: String,
    pub message: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            account_id: a.id.clone(),
            name: a.name.clone(),
            admin: a.is_admin,
            created_at: a.created_at,
        }
    }
}

impl From<KeyInfo> for KeyView {
    fn from(k: KeyInfo) -> Self {
        Self {
            access_key_id: k.access_key_id,
            account_id: k.account_id,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

impl From<NewAccessKey> for NewKeyView {
    fn from(k: NewAccessKey) -> Self {
        Self {
            access_key_id: k.access_key_id,
            secret_access_key: k.secret_access_key,
            account_id: k.account.id,
            account_name: k.account.name,
        }
    }
}

impl From<LwaClientInfo> for LwaClientView {
    fn from(c: LwaClientInfo) -> Self {
        Self {
            client_id: c.client_id,
            account_id: c.account_id,
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

impl From<NewLwaClient> for NewLwaClientView {
    fn from(c: NewLwaClient) -> Self {
        Self {
            client_id: c.client_id,
            client_secret: c.client_secret,
            refresh_token: c.refresh_token,
            account_id: c.account.id,
            account_name: c.account.name,
        }
    }
}

pub struct AdminApi {
    iam: Arc<Iam>,
}

impl AdminApi {
    pub fn new(iam: Arc<Iam>) -> Self {
        Self { iam }
    }

    async fn route(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
    ) -> Result<(StatusCode, &'static str, String), ApiError> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (method, segments.as_slice()) {
            (&Method::GET, ["accounts"]) => {
                let accounts = self.iam.accounts().await?;
                let list = AccountList {
                    accounts: accounts.iter().map(AccountView::from).collect(),
                };
                Ok((StatusCode::OK, "ListAccounts", to_json(&list)))
            }
            (&Method::POST, ["accounts"]) => {
                let req: CreateAccount = serde_json::from_slice(body).map_err(|e| {
                    ApiError::bad_request(format!("body must be {{\"name\": ...}}: {e}"))
                })?;
                let account = self.iam.create_account(&req.name, req.admin).await?;
                Ok((
                    StatusCode::CREATED,
                    "CreateAccount",
                    to_json(&AccountView::from(&account)),
                ))
            }
            (&Method::GET, ["accounts", account, "keys"]) => {
                let keys = self.iam.keys(account).await?;
                let list = KeyList {
                    keys: keys.into_iter().map(KeyView::from).collect(),
                };
                Ok((StatusCode::OK, "ListAccessKeys", to_json(&list)))
            }
            (&Method::POST, ["accounts", account, "keys"]) => {
                let key = self.iam.create_key(account).await?;
                Ok((
                    StatusCode::CREATED,
                    "CreateAccessKey",
                    to_json(&NewKeyView::from(key)),
                ))
            }
            (&Method::POST, ["keys", key_id, "revoke"]) => {
                self.iam.revoke_key(key_id).await?;
                Ok((StatusCode::OK, "RevokeAccessKey", "{}".to_owned()))
            }
            (&Method::GET, ["accounts", account, "lwa-clients"]) => {
                let clients = self.iam.lwa_clients(account).await?;
                let list = LwaClientList {
                    clients: clients.into_iter().map(LwaClientView::from).collect(),
                };
                Ok((StatusCode::OK, "ListLwaClients", to_json(&list)))
            }
            (&Method::POST, ["accounts", account, "lwa-clients"]) => {
                let client = self.iam.create_lwa_client(account).await?;
                Ok((
                    StatusCode::CREATED,
                    "CreateLwaClient",
                    to_json(&NewLwaClientView::from(client)),
                ))
            }
            (&Method::POST, ["lwa-clients", client_id, "revoke"]) => {
                self.iam.revoke_lwa_client(client_id).await?;
                Ok((StatusCode::OK, "RevokeLwaClient", "{}".to_owned()))
            }
            _ => Err(ApiError {
                status: StatusCode::NOT_FOUND,
                code: "NotFound",
                message: format!("no admin operation {method} {path}"),
            }),
        }
    }
}

#[async_trait::async_trait]
impl ServiceApi for AdminApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["nomuck"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        MAX_BODY
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        match &ctx.principal {
            Some(p) if p.is_admin => {}
            Some(_) => {
                return error_response(&ApiError {
                    status: StatusCode::FORBIDDEN,
                    code: "AccessDenied",
                    message: "only admin accounts may use the admin API".into(),
                });
            }
            None => {
                return error_response(&ApiError {
                    status: StatusCode::FORBIDDEN,
                    code: "MissingAuthentication",
                    message: "the admin API needs a SigV4-signed request".into(),
                });
            }
        }
        let (head, body) = request.into_parts();
        let body = match collect_limited(body, MAX_BODY).await {
            Ok(body) => body,
            Err(rejection) => return self.reject(&ctx, rejection),
        };
        let path = head.uri.path().strip_prefix(PATH_PREFIX).unwrap_or("");
        match self.route(&head.method, path, &body).await {
            Ok((status, operation, json)) => {
                let mut response = json_response(status, json);
                response.extensions_mut().insert(Operation(operation));
                response
            }
            Err(err) => error_response(&err),
        }
    }

    fn reject(&self, _ctx: &RequestContext, rejection: Rejection) -> Response {
        let err = match rejection {
            Rejection::Auth(auth) => ApiError {
                status: StatusCode::FORBIDDEN,
                code: "AuthFailure",
                message: auth.to_string(),
            },
            Rejection::BodyTooLarge { limit } => ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "RequestTooLarge",
                message: format!("request body is larger than {limit} bytes"),
            },
            Rejection::BadRequest(why) => ApiError::bad_request(why),
            Rejection::Internal(why) => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalError",
                message: why,
            },
        };
        error_response(&err)
    }
}

struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidInput",
            message,
        }
    }
}

impl From<IamError> for ApiError {
    fn from(e: IamError) -> Self {
        let (status, code) = match &e {
            IamError::InvalidName(_) => (StatusCode::BAD_REQUEST, "InvalidInput"),
            IamError::AccountExists(_) => (StatusCode::CONFLICT, "AccountAlreadyExists"),
            IamError::NoSuchAccount(_) => (StatusCode::NOT_FOUND, "NoSuchAccount"),
            IamError::NoSuchKey(_) => (StatusCode::NOT_FOUND, "NoSuchAccessKey"),
            IamError::NoSuchLwaClient(_) => (StatusCode::NOT_FOUND, "NoSuchLwaClient"),
            IamError::SecretUndecryptable(_) | IamError::Store(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
            }
        };
        Self {
            status,
            code,
            message: e.to_string(),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

fn json_response(status: StatusCode, json: String) -> Response {
    let mut response = Response::new(full_body(json));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(err: &ApiError) -> Response {
    let body = ErrorList {
        errors: vec![ErrorView {
            code: err.code.to_owned(),
            message: err.message.clone(),
        }],
    };
    let mut response = json_response(err.status, to_json(&body));
    response.extensions_mut().insert(ErrorCode(err.code));
    response
}
