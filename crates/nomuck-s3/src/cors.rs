//! CORS: the bucket's `CORSConfiguration`, preflight `OPTIONS` requests, and
//! the `Access-Control-*` headers on actual requests from a matching origin.
//! The configuration is stored as JSON (a per-bucket config document).

use http::{HeaderMap, StatusCode};
use nomuck_storage::{S3Action, Storage};
use serde::{Deserialize, Serialize};

use crate::xml::{XmlWriter, parse};
use crate::{S3Error, S3Request, S3Result, reply, storage_error};

use nomuck_storage::access::kinds::CORS as KIND;
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u64>,
}

/// `*` matches any run of characters (S3 allows one per pattern).
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

impl CorsRule {
    fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| {
                self.allowed_headers
                    .iter()
                    .any(|a| wildcard_match(&a.to_ascii_lowercase(), &h.to_ascii_lowercase()))
            })
    }
}

fn invalid(message: impl Into<String>) -> S3Error {
    S3Error::invalid_request().with_message(message)
}

/// S3's limits on a CORS configuration: its rules and the document's size.
const MAX_RULES: usize = 100;
const MAX_DOCUMENT: usize = 64 << 10;

fn parse_rules(body: &[u8]) -> Result<Vec<CorsRule>, S3Error> {
    if body.len() > MAX_DOCUMENT {
        return Err(S3Error::malformed_xml().with_message(format!(
            "The CORS configuration is {} bytes; at most {MAX_DOCUMENT} are allowed",
            body.len()
        )));
    }
    let doc = parse(body)?;
    if doc.name != "CORSConfiguration" {
        return Err(S3Error::malformed_xml());
    }
    let texts = |rule: &crate::xml::Element, name: &str| -> Vec<String> {
        rule.children_named(name)
            .map(|e| e.text.trim().to_owned())
            .collect()
    };
    let mut rules = Vec::new();
    for rule in doc.children_named("CORSRule") {
        let r = CorsRule {
            id: rule.child_text("ID").map(str::to_owned),
            allowed_origins: texts(rule, "AllowedOrigin"),
            allowed_methods: texts(rule, "AllowedMethod"),
            allowed_headers: texts(rule, "AllowedHeader"),
            expose_headers: texts(rule, "ExposeHeader"),
            max_age_seconds: match rule.child_text("MaxAgeSeconds") {
                Some(v) => Some(v.trim().parse().map_err(|_| S3Error::malformed_xml())?),
                None => None,
            },
        };
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return Err(S3Error::malformed_xml());
        }
        if let Some(m) = r
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(invalid(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        if let Some(o) = r
            .allowed_origins
            .iter()
            .find(|o| o.matches('*').count() > 1)
        {
            return Err(invalid(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            )));
        }
        rules.push(r);
    }
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(S3Error::malformed_xml()
            .with_message(format!("A CORS configuration holds 1 to {MAX_RULES} rules")));
    }
    Ok(rules)
}

pub(crate) async fn put_bucket_cors(s: &Storage, req: &mut S3Request) -> S3Result {
    let rules = parse_rules(&req.body_bytes().await?)?;
    let doc = serde_json::to_vec(&rules).map_err(|_| S3Error::internal_error())?;
    s.put_bucket_config(
        &req.caller,
        req.bucket(),
        KIND,
        doc,
        S3Action::PutBucketCORS,
    )
    .await
    .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub(crate) async fn delete_bucket_cors(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_bucket_config(&req.caller, req.bucket(), KIND, S3Action::PutBucketCORS)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn get_bucket_cors(s: &Storage, req: &mut S3Request) -> S3Result {
    let doc = s
        .get_bucket_config(&req.caller, req.bucket(), KIND, S3Action::GetBucketCORS)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| {
            S3Error::new(
                StatusCode::NOT_FOUND,
                "NoSuchCORSConfiguration",
                "The CORS configuration does not exist",
            )
        })?;
    let rules: Vec<CorsRule> =
        serde_json::from_slice(&doc).map_err(|_| S3Error::internal_error())?;
    let mut w = XmlWriter::new("CORSConfiguration");
    for r in &rules {
        w.open("CORSRule");
        w.opt("ID", r.id.as_deref());
        for (tag, values) in [
            ("AllowedHeader", &r.allowed_headers),
            ("AllowedMethod", &r.allowed_methods),
            ("AllowedOrigin", &r.allowed_origins),
            ("ExposeHeader", &r.expose_headers),
        ] {
            for v in values {
                w.elem(tag, v);
            }
        }
        if let Some(age) = r.max_age_seconds {
            w.elem("MaxAgeSeconds", &age.to_string());
        }
        w.close("CORSRule");
    }
    Ok(reply::xml(StatusCode::OK, w.finish("CORSConfiguration")))
}

async fn rules_of(s: &Storage, bucket: &str) -> Result<Option<Vec<CorsRule>>, S3Error> {
    match s.served_config(bucket, KIND).await {
        Ok(Some(doc)) => serde_json::from_slice(&doc)
            .map(Some)
            .map_err(|_| S3Error::internal_error()),
        Ok(None) => Ok(None),
        Err(e) => Err(storage_error(e)),
    }
}

fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("access-control-request-headers")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect()
}

fn set_allow_headers(response: &mut nomuck_http::Response, rule: &CorsRule, origin: &str) {
    let allow_origin = if rule.allowed_origins.iter().any(|o| o == "*") {
        "*"
    } else {
        origin
    };
    reply::set(response, "access-control-allow-origin", allow_origin);
    reply::set(
        response,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        reply::set(
            response,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        reply::set(response, "access-control-max-age", &age.to_string());
    }
    if allow_origin != "*" {
        reply::set(response, "access-control-allow-credentials", "true");
    }
    reply::set(
        response,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
}

/// A preflight `OPTIONS` request: answered by the first matching rule.
pub(crate) async fn preflight(s: &Storage, req: &mut S3Request) -> S3Result {
    let origin = req.header("origin").map(str::to_owned);
    let method = req
        .header("access-control-request-method")
        .map(str::to_owned);
    let (Some(origin), Some(method)) = (origin, method) else {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        ));
    };
    let headers = requested_headers(&req.head.headers);
    let forbidden = || {
        S3Error::new(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        )
        .with("Method", method.clone())
        .with("ResourceType", "OBJECT")
    };
    let rules = rules_of(s, req.bucket()).await?.ok_or_else(forbidden)?;
    let rule = rules
        .iter()
        .find(|r| r.allows(&origin, &method, &headers))
        .ok_or_else(forbidden)?;
    let mut response = reply::empty(StatusCode::OK);
    set_allow_headers(&mut response, rule, &origin);
    if !headers.is_empty() {
        reply::set(
            &mut response,
            "access-control-allow-headers",
            &headers.join(", "),
        );
    }
    Ok(response)
}

/// Adds the CORS headers of the first rule matching a request's `Origin` and
/// method to its response (success or error), as S3 does.
pub(crate) async fn decorate(
    s: &Storage,
    bucket: &str,
    origin: &str,
    method: &str,
    response: &mut nomuck_http::Response,
) {
    let Ok(Some(rules)) = rules_of(s, bucket).await else {
        return;
    };
    if let Some(rule) = rules.iter().find(|r| r.allows(origin, method, &[])) {
        set_allow_headers(response, rule, origin);
    }
}
