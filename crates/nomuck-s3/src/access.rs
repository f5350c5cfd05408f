//! Access control documents: bucket policy and policy status, ACLs (bucket and
//! object), public access block and ownership controls.

use http::StatusCode;
use nomuck_policy::PublicAccessBlock;
use nomuck_policy::{Acl, CannedAcl, Grant, Grantee, Group, ObjectOwnership, Permission};
use nomuck_storage::{RequestedAcl, Storage};

use crate::xml::{Element, XmlWriter, parse};
use crate::{S3Error, S3Request, S3Result, reply, storage_error};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Policies are JSON and at most 20 KiB; read a little more so an oversized
/// one gets S3's size error rather than a body-limit refusal.
pub(crate) async fn put_bucket_policy(s: &Storage, req: &mut S3Request) -> S3Result {
    let body = req.body_bytes().await?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        S3Error::new(
            StatusCode::BAD_REQUEST,
            "MalformedPolicy",
            "Policies must be valid JSON",
        )
    })?;
    s.put_bucket_policy(&req.caller, req.bucket(), text)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn get_bucket_policy(s: &Storage, req: &mut S3Request) -> S3Result {
    let text = s
        .get_bucket_policy(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    let mut response = nomuck_http::Response::new(nomuck_http::full_body(text));
    reply::set(&mut response, "content-type", "application/json");
    Ok(response)
}

pub(crate) async fn delete_bucket_policy(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_bucket_policy(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn get_policy_status(s: &Storage, req: &mut S3Request) -> S3Result {
    let public = s
        .bucket_policy_is_public(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("PolicyStatus");
    w.elem("IsPublic", if public { "true" } else { "false" });
    Ok(reply::xml(StatusCode::OK, w.finish("PolicyStatus")))
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

pub(crate) async fn get_public_access_block(s: &Storage, req: &mut S3Request) -> S3Result {
    let b = s
        .get_public_access_block(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("PublicAccessBlockConfiguration");
    w.elem("BlockPublicAcls", bool_text(b.block_public_acls))
        .elem("IgnorePublicAcls", bool_text(b.ignore_public_acls))
        .elem("BlockPublicPolicy", bool_text(b.block_public_policy))
        .elem(
            "RestrictPublicBuckets",
            bool_text(b.restrict_public_buckets),
        );
    Ok(reply::xml(
        StatusCode::OK,
        w.finish("PublicAccessBlockConfiguration"),
    ))
}

pub(crate) async fn put_public_access_block(s: &Storage, req: &mut S3Request) -> S3Result {
    let doc = parse(&req.body_bytes().await?)?;
    if doc.name != "PublicAccessBlockConfiguration" {
        return Err(S3Error::malformed_xml());
    }
    let flag = |name: &str| -> Result<bool, S3Error> {
        match doc.child_text(name).map(str::trim) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(S3Error::malformed_xml()),
        }
    };
    let block = PublicAccessBlock {
        block_public_acls: flag("BlockPublicAcls")?,
        ignore_public_acls: flag("IgnorePublicAcls")?,
        block_public_policy: flag("BlockPublicPolicy")?,
        restrict_public_buckets: flag("RestrictPublicBuckets")?,
    };
    s.put_public_access_block(&req.caller, req.bucket(), block)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub(crate) async fn delete_public_access_block(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_public_access_block(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn get_ownership_controls(s: &Storage, req: &mut S3Request) -> S3Result {
    let o = s
        .get_ownership_controls(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("OwnershipControls");
    w.open("Rule")
        .elem("ObjectOwnership", o.as_str())
        .close("Rule");
    Ok(reply::xml(StatusCode::OK, w.finish("OwnershipControls")))
}

pub(crate) async fn put_ownership_controls(s: &Storage, req: &mut S3Request) -> S3Result {
    let doc = parse(&req.body_bytes().await?)?;
    let value = (doc.name == "OwnershipControls")
        .then(|| doc.child("Rule")?.child_text("ObjectOwnership"))
        .flatten()
        .ok_or_else(S3Error::malformed_xml)?;
    let ownership = ObjectOwnership::ALL
        .into_iter()
        .find(|o| o.as_str() == value.trim())
        .ok_or_else(S3Error::malformed_xml)?;
    s.put_ownership_controls(&req.caller, req.bucket(), ownership)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub(crate) async fn delete_ownership_controls(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_ownership_controls(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

/// `AccessControlPolicy` as S3 writes it.
pub(crate) fn acl_document(acl: &Acl) -> String {
    let mut w = XmlWriter::new("AccessControlPolicy");
    w.open("Owner")
        .elem("ID", &acl.owner)
        .elem("DisplayName", &acl.owner)
        .close("Owner");
    w.open("AccessControlList");
    // Group grants first, then accounts, as RGW lists them (the conformance
    // suite relies on that order).
    let groups = acl
        .grants
        .iter()
        .filter(|g| matches!(g.grantee, Grantee::Group(_)));
    let users = acl
        .grants
        .iter()
        .filter(|g| !matches!(g.grantee, Grantee::Group(_)));
    for g in groups.chain(users) {
        w.open("Grant");
        match &g.grantee {
            Grantee::CanonicalUser { id, display_name } => {
                w.raw(&format!(
                    "<Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"CanonicalUser\">"
                ));
                w.elem("ID", id)
                    .elem("DisplayName", display_name.as_deref().unwrap_or(id));
            }
            Grantee::Group(group) => {
                w.raw(&format!("<Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"Group\">"));
                w.elem("URI", group.uri());
            }
        }
        w.close("Grantee")
            .elem("Permission", g.permission.as_str())
            .close("Grant");
    }
    w.close("AccessControlList");
    w.finish("AccessControlPolicy")
}

fn invalid_acl(message: impl Into<String>) -> S3Error {
    S3Error::new(StatusCode::BAD_REQUEST, "MalformedACLError", message)
}

/// The `Grantee` of a `Grant` element (of an ACL or of logging's
/// `TargetGrants`), with S3's refusals: an id that is no account, a group S3
/// does not define, an email address (accounts have none here).
pub(crate) fn grantee_of(grant: &Element) -> Result<Grantee, S3Error> {
    let grantee = grant.child("Grantee").ok_or_else(S3Error::malformed_xml)?;
    if let Some(id) = grantee.child_text("ID") {
        let id = id.trim();
        if !nomuck_policy::is_account_id(id) {
            return Err(S3Error::invalid_argument().with_message("Invalid id"));
        }
        Ok(Grantee::user(id))
    } else if let Some(uri) = grantee.child_text("URI") {
        Group::from_uri(uri.trim())
            .map(Grantee::Group)
            .ok_or_else(|| S3Error::invalid_argument().with_message("Invalid group uri"))
    } else if grantee.child("EmailAddress").is_some() {
        Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "UnresolvableGrantByEmailAddress",
            "The email address you provided does not match any account on record.",
        ))
    } else {
        Err(S3Error::malformed_xml())
    }
}

/// An `AccessControlPolicy` document; its `Owner` (if any) is checked by the
/// engine against the resource's real owner.
fn acl_from_document(doc: &Element) -> Result<Acl, S3Error> {
    if doc.name != "AccessControlPolicy" {
        return Err(S3Error::malformed_xml());
    }
    let owner = doc
        .child("Owner")
        .and_then(|o| o.child_text("ID"))
        .map_or("", str::trim);
    let list = doc
        .child("AccessControlList")
        .ok_or_else(|| invalid_acl("The XML you provided was not well-formed or did not validate against our published schema"))?;
    let mut grants = Vec::new();
    for g in list.children_named("Grant") {
        let grantee = grantee_of(g)?;
        let permission: Permission = g
            .child_text("Permission")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(S3Error::malformed_xml)?;
        grants.push(Grant::new(grantee, permission));
    }
    Ok(Acl {
        owner: owner.to_owned(),
        grants,
    })
}

/// The ACL a request asks for: `x-amz-acl`, `x-amz-grant-*` headers, or (for
/// Put*Acl) an `AccessControlPolicy` body. `None` if it names none. The engine
/// expands it for the resource's owner, which only it knows.
pub(crate) fn requested_acl(
    headers: &http::HeaderMap,
    body: Option<&[u8]>,
) -> Result<Option<RequestedAcl>, S3Error> {
    let grants: Vec<(Permission, &str)> = headers
        .iter()
        .filter_map(|(name, value)| {
            let p = Permission::from_header_name(name.as_str())?;
            Some((p, value.to_str().ok()?))
        })
        .collect();
    let canned = crate::headers::text(headers, "x-amz-acl");
    match (canned, grants.is_empty()) {
        (Some(_), false) => Err(S3Error::invalid_request()
            .with_message("Specifying both Canned ACLs and Header Grants is not allowed")),
        (Some(c), true) => {
            let canned: CannedAcl = c
                .trim()
                .parse()
                .map_err(|_| S3Error::invalid_argument().with_message("Invalid canned ACL"))?;
            Ok(Some(RequestedAcl::Canned(canned)))
        }
        (None, false) => Acl::from_grant_headers("", &grants)
            .map(|acl| Some(RequestedAcl::Grants(acl)))
            .map_err(|e| S3Error::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())),
        (None, true) => match body {
            Some(b) if !b.iter().all(u8::is_ascii_whitespace) => {
                Ok(Some(RequestedAcl::Grants(acl_from_document(&parse(b)?)?)))
            }
            _ => Ok(None),
        },
    }
}

pub(crate) async fn get_bucket_acl(s: &Storage, req: &mut S3Request) -> S3Result {
    let acl = s
        .get_bucket_acl(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::xml(StatusCode::OK, acl_document(&acl)))
}

pub(crate) async fn put_bucket_acl(s: &Storage, req: &mut S3Request) -> S3Result {
    let body = req.body_bytes().await?;
    let acl = requested_acl(&req.head.headers, Some(&body))?.ok_or_else(|| {
        S3Error::new(
            StatusCode::BAD_REQUEST,
            "MissingSecurityHeader",
            "Your request was missing a required header",
        )
    })?;
    s.put_bucket_acl(&req.caller, req.bucket(), acl)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}
