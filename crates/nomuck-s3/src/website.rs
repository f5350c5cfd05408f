//! Static website hosting: the bucket's `WebsiteConfiguration`, and serving
//! `BUCKET.<website domain>` requests with index and error documents,
//! redirects and routing rules. The website endpoint reads objects with the
//! caller's own rights (anonymous for a browser), so a site is public only
//! where a bucket policy or ACL makes it so.

use http::{Method, StatusCode};
use nomuck_storage::{S3Action, Storage};
use serde::{Deserialize, Serialize};

use crate::addressing::Target;
use crate::xml::{Element, XmlWriter, parse};
use crate::{S3Error, S3Request, S3Result, objects, reply, storage_error};

use nomuck_storage::access::kinds::WEBSITE as KIND;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub host_name: Option<String>,
    pub protocol: Option<String>,
    pub replace_key_prefix_with: Option<String>,
    pub replace_key_with: Option<String>,
    pub http_redirect_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    pub key_prefix_equals: Option<String>,
    pub http_error_code_returned_equals: Option<String>,
    pub redirect: Redirect,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Website {
    pub index_suffix: Option<String>,
    pub error_key: Option<String>,
    pub redirect_all: Option<Redirect>,
    pub routing_rules: Vec<RoutingRule>,
}

fn redirect_of(e: &Element) -> Redirect {
    let text = |name: &str| e.child_text(name).map(|t| t.trim().to_owned());
    Redirect {
        host_name: text("HostName"),
        protocol: text("Protocol"),
        replace_key_prefix_with: text("ReplaceKeyPrefixWith"),
        replace_key_with: text("ReplaceKeyWith"),
        http_redirect_code: text("HttpRedirectCode"),
    }
}

/// S3's limit on the routing rules of a website configuration.
const MAX_ROUTING_RULES: usize = 50;

fn parse_website(body: &[u8]) -> Result<Website, S3Error> {
    let doc = parse(body)?;
    if doc.name != "WebsiteConfiguration" {
        return Err(S3Error::malformed_xml());
    }
    let w = Website {
        index_suffix: doc
            .child("IndexDocument")
            .and_then(|i| i.child_text("Suffix"))
            .map(str::to_owned),
        error_key: doc
            .child("ErrorDocument")
            .and_then(|i| i.child_text("Key"))
            .map(str::to_owned),
        redirect_all: doc.child("RedirectAllRequestsTo").map(redirect_of),
        routing_rules: doc
            .child("RoutingRules")
            .map(|rules| {
                rules
                    .children_named("RoutingRule")
                    .map(|r| RoutingRule {
                        key_prefix_equals: r
                            .child("Condition")
                            .and_then(|c| c.child_text("KeyPrefixEquals"))
                            .map(str::to_owned),
                        http_error_code_returned_equals: r
                            .child("Condition")
                            .and_then(|c| c.child_text("HttpErrorCodeReturnedEquals"))
                            .map(str::to_owned),
                        redirect: r.child("Redirect").map(redirect_of).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let invalid = |m: &str| S3Error::invalid_argument().with_message(m.to_owned());
    if w.routing_rules.len() > MAX_ROUTING_RULES {
        return Err(invalid(
            "A website configuration holds at most 50 routing rules",
        ));
    }
    match (&w.redirect_all, &w.index_suffix) {
        (Some(r), _) if r.host_name.is_none() => {
            return Err(invalid("RedirectAllRequestsTo requires a HostName"));
        }
        (None, None) => return Err(invalid("A value for IndexDocument Suffix must be provided")),
        (None, Some(s)) if s.is_empty() || s.contains('/') => {
            return Err(invalid("The IndexDocument Suffix is not well formed"));
        }
        _ => {}
    }
    Ok(w)
}

pub(crate) async fn put_bucket_website(s: &Storage, req: &mut S3Request) -> S3Result {
    let website = parse_website(&req.body_bytes().await?)?;
    let doc = serde_json::to_vec(&website).map_err(|_| S3Error::internal_error())?;
    s.put_bucket_config(
        &req.caller,
        req.bucket(),
        KIND,
        doc,
        S3Action::PutBucketWebsite,
    )
    .await
    .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub(crate) async fn delete_bucket_website(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_bucket_config(
        &req.caller,
        req.bucket(),
        KIND,
        S3Action::DeleteBucketWebsite,
    )
    .await
    .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

fn write_redirect(w: &mut XmlWriter, r: &Redirect) {
    w.opt("HostName", r.host_name.as_deref())
        .opt("HttpRedirectCode", r.http_redirect_code.as_deref())
        .opt("Protocol", r.protocol.as_deref())
        .opt("ReplaceKeyPrefixWith", r.replace_key_prefix_with.as_deref())
        .opt("ReplaceKeyWith", r.replace_key_with.as_deref());
}

pub(crate) async fn get_bucket_website(s: &Storage, req: &mut S3Request) -> S3Result {
    let doc = s
        .get_bucket_config(&req.caller, req.bucket(), KIND, S3Action::GetBucketWebsite)
        .await
        .map_err(storage_error)?
        .ok_or_else(no_website)?;
    let site: Website = serde_json::from_slice(&doc).map_err(|_| S3Error::internal_error())?;
    let mut w = XmlWriter::new("WebsiteConfiguration");
    if let Some(r) = &site.redirect_all {
        w.open("RedirectAllRequestsTo");
        write_redirect(&mut w, r);
        w.close("RedirectAllRequestsTo");
    }
    if let Some(suffix) = &site.index_suffix {
        w.open("IndexDocument")
            .elem("Suffix", suffix)
            .close("IndexDocument");
    }
    if let Some(key) = &site.error_key {
        w.open("ErrorDocument")
            .elem("Key", key)
            .close("ErrorDocument");
    }
    if !site.routing_rules.is_empty() {
        w.open("RoutingRules");
        for rule in &site.routing_rules {
            w.open("RoutingRule");
            if rule.key_prefix_equals.is_some() || rule.http_error_code_returned_equals.is_some() {
                w.open("Condition")
                    .opt(
                        "HttpErrorCodeReturnedEquals",
                        rule.http_error_code_returned_equals.as_deref(),
                    )
                    .opt("KeyPrefixEquals", rule.key_prefix_equals.as_deref())
                    .close("Condition");
            }
            w.open("Redirect");
            write_redirect(&mut w, &rule.redirect);
            w.close("Redirect").close("RoutingRule");
        }
        w.close("RoutingRules");
    }
    Ok(reply::xml(StatusCode::OK, w.finish("WebsiteConfiguration")))
}

fn no_website() -> S3Error {
    S3Error::new(
        StatusCode::NOT_FOUND,
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
    )
}

/// An HTML error page, as website endpoints answer.
fn html_error(status: StatusCode, code: &str, message: &str) -> nomuck_http::Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let body = format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n<li>Code: {}</li>\n<li>Message: {}</li>\n</ul>\n</body>\n</html>\n",
        nomuck_http::xml::escape(code),
        nomuck_http::xml::escape(message)
    );
    let mut response = nomuck_http::Response::new(nomuck_http::full_body(body));
    *response.status_mut() = status;
    reply::set(&mut response, "content-type", "text/html; charset=utf-8");
    response
}

fn redirect_response(
    redirect: &Redirect,
    req_host: &str,
    key: &str,
    matched_prefix: Option<&str>,
) -> nomuck_http::Response {
    let host = redirect.host_name.as_deref().unwrap_or(req_host);
    let protocol = redirect.protocol.as_deref().unwrap_or("http");
    let new_key = match (
        &redirect.replace_key_with,
        &redirect.replace_key_prefix_with,
    ) {
        (Some(k), _) => k.clone(),
        (None, Some(p)) => format!(
            "{p}{}",
            key.strip_prefix(matched_prefix.unwrap_or(""))
                .unwrap_or(key)
        ),
        (None, None) => key.to_owned(),
    };
    let code = redirect
        .http_redirect_code
        .as_deref()
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::MOVED_PERMANENTLY);
    let mut response = reply::empty(code);
    let encoded =
        percent_encoding::utf8_percent_encode(&new_key, crate::buckets::URL_SAFE).to_string();
    reply::set(
        &mut response,
        "location",
        &format!("{protocol}://{host}/{encoded}"),
    );
    response
}

/// Serves a request on a website endpoint.
pub(crate) async fn serve(
    s: &std::sync::Arc<Storage>,
    req: &mut S3Request,
    bucket: &str,
    path: &str,
    host: &str,
) -> nomuck_http::Response {
    if !matches!(req.head.method, Method::GET | Method::HEAD) {
        return html_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
    }
    let site: Website = match s.served_config(bucket, KIND).await {
        Ok(Some(doc)) => match serde_json::from_slice(&doc) {
            Ok(site) => site,
            Err(_) => {
                return html_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "unreadable website configuration",
                );
            }
        },
        Ok(None) => {
            return html_error(
                StatusCode::NOT_FOUND,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
            );
        }
        Err(e) => {
            let e = storage_error(e);
            return html_error(e.status, e.code, &e.message);
        }
    };
    let key = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    if let Some(all) = &site.redirect_all {
        return redirect_response(all, host, &key, None);
    }
    // Routing rules on the key alone apply before the object is read.
    for rule in &site.routing_rules {
        if rule.http_error_code_returned_equals.is_none()
            && let Some(prefix) = &rule.key_prefix_equals
            && key.starts_with(prefix.as_str())
        {
            return redirect_response(&rule.redirect, host, &key, Some(prefix));
        }
    }
    let index = site.index_suffix.clone().unwrap_or_default();
    let object_key = if key.is_empty() || key.ends_with('/') {
        format!("{key}{index}")
    } else {
        key.clone()
    };
    let error = match read(s, req, bucket, &object_key).await {
        Ok(response) => return response,
        Err(e) => e,
    };
    // `dir` without its slash: S3 redirects to `dir/` when `dir/<index>` exists.
    // (A missing key is 403 to a caller who may not list the bucket.)
    if matches!(error.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN)
        && !key.is_empty()
        && !key.ends_with('/')
        && read(s, req, bucket, &format!("{key}/{index}"))
            .await
            .is_ok()
    {
        let mut response = reply::empty(StatusCode::FOUND);
        reply::set(&mut response, "location", &format!("/{key}/"));
        return response;
    }
    for rule in &site.routing_rules {
        if rule.http_error_code_returned_equals.as_deref() == Some(error.status.as_str())
            && rule
                .key_prefix_equals
                .as_deref()
                .is_none_or(|p| key.starts_with(p))
        {
            return redirect_response(
                &rule.redirect,
                host,
                &key,
                rule.key_prefix_equals.as_deref(),
            );
        }
    }
    if let Some(error_key) = &site.error_key
        && let Ok(mut page) = read(s, req, bucket, error_key).await
    {
        *page.status_mut() = error.status;
        return page;
    }
    html_error(error.status, error.code, &error.message)
}

/// GET/HEAD of one object through the regular handler.
async fn read(
    s: &std::sync::Arc<Storage>,
    req: &mut S3Request,
    bucket: &str,
    key: &str,
) -> S3Result {
    req.target = Target::Object {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    };
    let head_only = req.head.method == Method::HEAD;
    objects::get_object(s, req, head_only).await
}
