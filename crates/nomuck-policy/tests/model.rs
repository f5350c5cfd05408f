//! Property tests: `decide` against a deliberately naive reference model, plus
//! robustness of every parser against arbitrary input.
//!
//! The model shares nothing with the crate but the input types: it has its own
//! wildcard matcher, CIDR check, condition rules, "public" test and ACL table,
//! written as plainly as possible from the rules in `decide`'s documentation.

use std::net::Ipv4Addr;

use nomuck_policy::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const BUCKET: &str = "bkt";
const OWNER: &str = "111111111111";
const ACCT_A: &str = "222222222222";
const ACCT_B: &str = "333333333333";

// ---------------------------------------------------------------------------
// Test-side description of a policy, rendered to JSON for the crate and read
// directly by the model.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Star,
    AwsStar,
    Account(&'static str),
    AccountArn(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cond {
    IpIn(&'static str),
    IpNotIn(&'static str),
    Secure(bool),
    PrefixLike(&'static str),
    PrefixNotEquals(&'static str),
    PrefixEqualsIfExists(&'static str),
}

#[derive(Debug, Clone)]
struct Stmt {
    allow: bool,
    not_principal: bool,
    principals: Vec<Who>,
    not_action: bool,
    actions: Vec<&'static str>,
    not_resource: bool,
    resources: Vec<&'static str>,
    conds: Vec<Cond>,
}

const POLICY_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:GetObjectAcl",
    "s3:PutBucketPolicy",
    "s3:getbucketacl",
    "s3:Get*",
    "s3:List*",
    "s3:*Object",
    "s3:*",
    "*",
];

const RESOURCES: &[&str] = &[
    "arn:aws:s3:::bkt",
    "arn:aws:s3:::bkt/*",
    "arn:aws:s3:::bkt/public/*",
    "arn:aws:s3:::bkt/*.txt",
    "arn:aws:s3:::bkt/a?c",
    "arn:aws:s3:::*",
    "arn:aws:s3:::b?t/p*",
    "arn:aws:s3:::bk*",
];

const REQUEST_ACTIONS: &[Action] = &[
    Action::GetObject,
    Action::PutObject,
    Action::DeleteObject,
    Action::GetObjectAcl,
    Action::PutObjectAcl,
    Action::GetObjectTagging,
    Action::ListBucket,
    Action::ListBucketVersions,
    Action::GetBucketAcl,
    Action::PutBucketAcl,
    Action::GetBucketPolicy,
    Action::PutBucketPolicy,
    Action::DeleteBucketPolicy,
    Action::DeleteBucket,
];

const KEYS: &[&str] = &["public/x", "public/a.txt", "a.txt", "abc", "private/y", "x"];

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        Just(Who::Star),
        Just(Who::AwsStar),
        prop::sample::select(vec![OWNER, ACCT_A, ACCT_B]).prop_map(Who::Account),
        prop::sample::select(vec![ACCT_A, ACCT_B]).prop_map(Who::AccountArn),
    ]
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        prop::sample::select(vec!["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0"])
            .prop_map(Cond::IpIn),
        prop::sample::select(vec!["10.0.0.0/8", "192.168.1.0/24"]).prop_map(Cond::IpNotIn),
        any::<bool>().prop_map(Cond::Secure),
        prop::sample::select(vec!["public/*", "", "p*"]).prop_map(Cond::PrefixLike),
        prop::sample::select(vec!["private/", ""]).prop_map(Cond::PrefixNotEquals),
        prop::sample::select(vec!["public/", ""]).prop_map(Cond::PrefixEqualsIfExists),
    ]
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(who(), 1..3),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(POLICY_ACTIONS), 1..3),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(RESOURCES), 1..3),
        prop::collection::vec(cond(), 0..3),
    )
        .prop_map(
            |(allow, np, principals, na, actions, nr, resources, conds)| Stmt {
                allow,
                // S3 refuses NotPrincipal with Allow.
                not_principal: np && !allow,
                principals,
                not_action: na && actions.len() == 1,
                actions,
                not_resource: nr && resources.len() == 1,
                resources,
                conds,
            },
        )
}

fn render(statements: &[Stmt]) -> String {
    let stmts: Vec<Value> = statements
        .iter()
        .map(|s| {
            let mut m = serde_json::Map::new();
            m.insert(
                "Effect".into(),
                json!(if s.allow { "Allow" } else { "Deny" }),
            );
            let principal = if s.principals.contains(&Who::Star) {
                json!("*")
            } else {
                let aws: Vec<String> = s
                    .principals
                    .iter()
                    .map(|w| match w {
                        Who::AwsStar | Who::Star => "*".to_string(),
                        Who::Account(id) => id.to_string(),
                        Who::AccountArn(id) => format!("arn:aws:iam::{id}:root"),
                    })
                    .collect();
                json!({ "AWS": aws })
            };
            let name = |not: bool, base: &str| {
                if not {
                    format!("Not{base}")
                } else {
                    base.to_string()
                }
            };
            m.insert(name(s.not_principal, "Principal"), principal);
            m.insert(name(s.not_action, "Action"), json!(s.actions));
            m.insert(name(s.not_resource, "Resource"), json!(s.resources));
            if !s.conds.is_empty() {
                // One operator block per condition; repeated operators are merged
                // by key, so keep only the first per (operator, key) as the model does.
                let mut block = serde_json::Map::new();
                for c in &s.conds {
                    let (op, key, value) = cond_json(*c);
                    let entry = block.entry(op).or_insert_with(|| json!({}));
                    if let Value::Object(keys) = entry {
                        keys.entry(key).or_insert(value);
                    }
                }
                m.insert("Condition".into(), Value::Object(block));
            }
            Value::Object(m)
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": stmts }).to_string()
}

fn cond_json(c: Cond) -> (String, String, Value) {
    let (op, key, value) = match c {
        Cond::IpIn(cidr) => ("IpAddress", "aws:SourceIp", json!(cidr)),
        Cond::IpNotIn(cidr) => ("NotIpAddress", "aws:SourceIp", json!(cidr)),
        Cond::Secure(b) => ("Bool", "aws:SecureTransport", json!(b.to_string())),
        Cond::PrefixLike(p) => ("StringLike", "s3:prefix", json!(p)),
        Cond::PrefixNotEquals(p) => ("StringNotEquals", "s3:prefix", json!(p)),
        Cond::PrefixEqualsIfExists(p) => ("StringEqualsIfExists", "s3:prefix", json!(p)),
    };
    (op.to_string(), key.to_string(), value)
}

/// The conditions that survive rendering (first per operator and key).
fn effective_conds(s: &Stmt) -> Vec<Cond> {
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for c in &s.conds {
        let (op, key, _) = cond_json(*c);
        if !seen.contains(&(op.clone(), key.clone())) {
            seen.push((op, key));
            out.push(*c);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The reference model.

fn naive_glob(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| naive_glob(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && naive_glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && naive_glob(rest, &s[1..]),
    }
}

fn glob(p: &str, s: &str) -> bool {
    let p: Vec<char> = p.chars().collect();
    let s: Vec<char> = s.chars().collect();
    naive_glob(&p, &s)
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, bits) = cidr.split_once('/').unwrap();
    let bits: u32 = bits.parse().unwrap();
    let ip: u32 = ip.parse::<Ipv4Addr>().unwrap().into();
    let net: u32 = net.parse::<Ipv4Addr>().unwrap().into();
    bits == 0 || (ip >> (32 - bits)) == (net >> (32 - bits))
}

#[derive(Debug, Clone, Default)]
struct Ctx {
    source_ip: Option<&'static str>,
    secure: Option<bool>,
    prefix: Option<&'static str>,
}

fn cond_holds(c: Cond, ctx: &Ctx) -> bool {
    match c {
        Cond::IpIn(cidr) => ctx.source_ip.is_some_and(|ip| in_cidr(ip, cidr)),
        Cond::IpNotIn(cidr) => ctx.source_ip.is_none_or(|ip| !in_cidr(ip, cidr)),
        Cond::Secure(b) => ctx.secure == Some(b),
        Cond::PrefixLike(p) => ctx.prefix.is_some_and(|v| glob(p, v)),
        Cond::PrefixNotEquals(p) => ctx.prefix.is_none_or(|v| v != p),
        Cond::PrefixEqualsIfExists(p) => ctx.prefix.is_none_or(|v| v == p),
    }
}

fn is_object_action(a: Action) -> bool {
    matches!(
        a,
        Action::GetObject
            | Action::PutObject
            | Action::DeleteObject
            | Action::GetObjectAcl
            | Action::PutObjectAcl
            | Action::GetObjectTagging
    )
}

fn who_matches(w: Who, caller: Option<&str>) -> bool {
    match w {
        Who::Star | Who::AwsStar => true,
        Who::Account(id) | Who::AccountArn(id) => caller == Some(id),
    }
}

fn stmt_applies(s: &Stmt, caller: Option<&str>, action: Action, key: &str, ctx: &Ctx) -> bool {
    let mut principal = false;
    for w in &s.principals {
        if who_matches(*w, caller) {
            principal = true;
        }
    }
    let mut act = false;
    for a in &s.actions {
        if glob(&a.to_lowercase(), &action.name().to_lowercase()) {
            act = true;
        }
    }
    let arn = if is_object_action(action) {
        format!("arn:aws:s3:::{BUCKET}/{key}")
    } else {
        format!("arn:aws:s3:::{BUCKET}")
    };
    let mut res = false;
    for r in &s.resources {
        if glob(r, &arn) {
            res = true;
        }
    }
    let mut conds = true;
    for c in effective_conds(s) {
        if !cond_holds(c, ctx) {
            conds = false;
        }
    }
    principal != s.not_principal && act != s.not_action && res != s.not_resource && conds
}

fn model_is_public(stmts: &[Stmt]) -> bool {
    for s in stmts {
        let everyone = s.not_principal
            || s.principals
                .iter()
                .any(|w| matches!(w, Who::Star | Who::AwsStar));
        let mut pinned = false;
        for c in effective_conds(s) {
            if let Cond::IpIn(cidr) = c
                && !cidr.ends_with("/0")
            {
                pinned = true;
            }
        }
        if s.allow && everyone && !pinned {
            return true;
        }
    }
    false
}

/// Whether S3 accepts the statements: concrete actions must fit some resource.
fn model_valid(stmts: &[Stmt]) -> bool {
    for s in stmts {
        if s.not_action || s.not_resource {
            continue;
        }
        for a in &s.actions {
            if a.contains('*') {
                continue;
            }
            let object_action = matches!(
                a.to_lowercase().as_str(),
                "s3:getobject" | "s3:putobject" | "s3:deleteobject" | "s3:getobjectacl"
            );
            let mut fits = false;
            for r in &s.resources {
                let tail = r.strip_prefix("arn:aws:s3:::").unwrap();
                let names_objects = tail == "*" || tail.contains('/');
                let names_bucket = !tail.contains('/');
                if (object_action && names_objects) || (!object_action && names_bucket) {
                    fits = true;
                }
            }
            if !fits {
                return false;
            }
        }
    }
    true
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Allow,
    ExplicitDeny,
    Restricted,
    NotGranted,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TGrantee {
    User(&'static str),
    AllUsers,
    AuthUsers,
}

#[derive(Debug, Clone)]
struct TAcl {
    owner: &'static str,
    grants: Vec<(TGrantee, Permission)>,
}

fn acl_grants(acl: &TAcl, caller: Option<&str>, needed: Permission, ignore_public: bool) -> bool {
    for (g, p) in &acl.grants {
        let perm_ok = *p == needed || *p == Permission::FullControl;
        let grantee_ok = match g {
            TGrantee::User(id) => caller == Some(*id),
            TGrantee::AllUsers => !ignore_public,
            TGrantee::AuthUsers => !ignore_public && caller.is_some(),
        };
        if perm_ok && grantee_ok {
            return true;
        }
    }
    false
}

#[derive(Debug, Clone)]
struct World {
    policy: Option<Vec<Stmt>>,
    bucket_acl: Option<TAcl>,
    object_acl: Option<TAcl>,
    block: PublicAccessBlock,
    acls_disabled: bool,
}

fn model(w: &World, caller: Option<&str>, action: Action, key: &str, ctx: &Ctx) -> Outcome {
    let mut deny = false;
    let mut allow = false;
    if let Some(stmts) = &w.policy {
        for s in stmts {
            if stmt_applies(s, caller, action, key, ctx) {
                if s.allow {
                    allow = true;
                } else {
                    deny = true;
                }
            }
        }
    }
    let owner = caller == Some(OWNER);
    let policy_admin = matches!(
        action,
        Action::GetBucketPolicy | Action::PutBucketPolicy | Action::DeleteBucketPolicy
    );
    if deny && !(owner && policy_admin) {
        return Outcome::ExplicitDeny;
    }
    // Reads of another account's object (or its ACL) need that object's ACL.
    let foreign = !w.acls_disabled
        && matches!(
            action,
            Action::GetObject | Action::GetObjectAcl | Action::PutObjectAcl
        )
        && w.object_acl.as_ref().is_some_and(|a| a.owner != OWNER);
    if owner && !foreign {
        return Outcome::Allow;
    }
    let public = w.policy.as_deref().is_some_and(model_is_public);
    let restricted = allow && w.block.restrict_public_buckets && public;
    if allow && !restricted && !foreign {
        return Outcome::Allow;
    }
    if !w.acls_disabled {
        let need = match action {
            Action::GetObject => Some((true, Permission::Read)),
            Action::GetObjectAcl => Some((true, Permission::ReadAcp)),
            Action::PutObjectAcl => Some((true, Permission::WriteAcp)),
            Action::ListBucket | Action::ListBucketVersions => Some((false, Permission::Read)),
            Action::PutObject | Action::DeleteObject => Some((false, Permission::Write)),
            Action::GetBucketAcl => Some((false, Permission::ReadAcp)),
            Action::PutBucketAcl => Some((false, Permission::WriteAcp)),
            _ => None,
        };
        if let Some((on_object, perm)) = need {
            let acl = if on_object {
                &w.object_acl
            } else {
                &w.bucket_acl
            };
            if let Some(acl) = acl
                && acl_grants(acl, caller, perm, w.block.ignore_public_acls)
            {
                return Outcome::Allow;
            }
        }
    }
    if restricted {
        Outcome::Restricted
    } else {
        Outcome::NotGranted
    }
}

// ---------------------------------------------------------------------------
// Building the crate's inputs.

fn to_acl(t: &TAcl) -> Acl {
    Acl {
        owner: t.owner.to_string(),
        grants: t
            .grants
            .iter()
            .map(|(g, p)| {
                let grantee = match g {
                    TGrantee::User(id) => Grantee::user(*id),
                    TGrantee::AllUsers => Grantee::Group(Group::AllUsers),
                    TGrantee::AuthUsers => Grantee::Group(Group::AuthenticatedUsers),
                };
                Grant::new(grantee, *p)
            })
            .collect(),
    }
}

fn to_context(ctx: &Ctx) -> ConditionContext {
    let mut c = ConditionContext::new();
    if let Some(ip) = ctx.source_ip {
        c.insert(keys::SOURCE_IP, ip);
    }
    if let Some(s) = ctx.secure {
        c.insert(keys::SECURE_TRANSPORT, s.to_string());
    }
    if let Some(p) = ctx.prefix {
        c.insert(keys::PREFIX, p);
    }
    c
}

fn outcome(d: Decision) -> Outcome {
    match d {
        Decision::Allow => Outcome::Allow,
        Decision::Deny(DenyReason::ExplicitDeny) => Outcome::ExplicitDeny,
        Decision::Deny(DenyReason::PublicPolicyRestricted) => Outcome::Restricted,
        Decision::Deny(DenyReason::NotGranted) => Outcome::NotGranted,
    }
}

fn run(
    w: &World,
    policy: Option<&Policy>,
    caller: Option<&str>,
    action: Action,
    key: &str,
    ctx: &Ctx,
) -> Outcome {
    let principal = match caller {
        Some(id) => Principal::Account(id.to_string()),
        None => Principal::Anonymous,
    };
    let context = to_context(ctx);
    let bucket_acl = w.bucket_acl.as_ref().map(to_acl);
    let object_acl = w.object_acl.as_ref().map(to_acl);
    let req = Request {
        principal: &principal,
        action,
        bucket: BUCKET,
        key: Some(key),
        context: &context,
    };
    let res = Resources {
        bucket_owner: OWNER,
        bucket_policy: policy,
        bucket_acl: bucket_acl.as_ref(),
        object_acl: object_acl.as_ref(),
        access_block: w.block,
        acls_disabled: w.acls_disabled,
    };
    outcome(decide(&req, &res))
}

// ---------------------------------------------------------------------------
// Strategies for the rest of the world.

fn grantee() -> impl Strategy<Value = TGrantee> {
    prop_oneof![
        prop::sample::select(vec![OWNER, ACCT_A, ACCT_B]).prop_map(TGrantee::User),
        Just(TGrantee::AllUsers),
        Just(TGrantee::AuthUsers),
    ]
}

fn tacl() -> impl Strategy<Value = TAcl> {
    (
        prop::sample::select(vec![OWNER, ACCT_A, ACCT_B]),
        prop::collection::vec(
            (grantee(), prop::sample::select(Permission::ALL.to_vec())),
            0..4,
        ),
    )
        .prop_map(|(owner, grants)| TAcl { owner, grants })
}

fn block() -> impl Strategy<Value = PublicAccessBlock> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| {
        PublicAccessBlock {
            block_public_acls: a,
            ignore_public_acls: b,
            block_public_policy: c,
            restrict_public_buckets: d,
        }
    })
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::option::weighted(0.8, prop::collection::vec(stmt(), 1..5)),
        prop::option::of(tacl()),
        prop::option::of(tacl()),
        block(),
        any::<bool>(),
    )
        .prop_map(
            |(policy, bucket_acl, object_acl, block, acls_disabled)| World {
                policy,
                bucket_acl,
                object_acl,
                block,
                acls_disabled,
            },
        )
}

fn caller() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::weighted(0.8, prop::sample::select(vec![OWNER, ACCT_A, ACCT_B]))
}

fn ctx() -> impl Strategy<Value = Ctx> {
    (
        prop::option::of(prop::sample::select(vec![
            "10.1.2.3",
            "192.168.1.5",
            "8.8.8.8",
        ])),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(vec!["public/", "private/", ""])),
    )
        .prop_map(|(source_ip, secure, prefix)| Ctx {
            source_ip,
            secure,
            prefix,
        })
}

fn request() -> impl Strategy<Value = (Option<&'static str>, Action, &'static str, Ctx)> {
    (
        caller(),
        prop::sample::select(REQUEST_ACTIONS),
        prop::sample::select(KEYS),
        ctx(),
    )
}

/// Parses the world's policy; `None` (skip) if S3 would refuse it.
fn parsed(w: &World) -> Result<Option<Policy>, TestCaseError> {
    let Some(stmts) = &w.policy else {
        return Ok(None);
    };
    let result = Policy::parse(&render(stmts), BUCKET);
    prop_assert_eq!(
        result.is_ok(),
        model_valid(stmts),
        "{:?}",
        result.as_ref().err()
    );
    match result {
        Ok(p) => {
            prop_assert_eq!(p.is_public(), model_is_public(stmts));
            Ok(Some(p))
        }
        Err(e) => {
            prop_assert_eq!(e, PolicyError::ActionResourceMismatch);
            Err(TestCaseError::reject("policy refused"))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn decide_matches_model(w in world(), reqs in prop::collection::vec(request(), 1..8)) {
        let policy = parsed(&w)?;
        for (caller, action, key, ctx) in reqs {
            let expected = model(&w, caller, action, key, &ctx);
            let got = run(&w, policy.as_ref(), caller, action, key, &ctx);
            prop_assert_eq!(got, expected, "caller {:?} {} key {} ctx {:?}", caller, action, key, ctx);
        }
    }

    #[test]
    fn explicit_deny_wins_for_non_owners(w in world(), (caller, action, key, ctx) in request()) {
        let mut stmts = w.policy.clone().unwrap_or_default();
        stmts.push(Stmt {
            allow: false,
            not_principal: false,
            principals: vec![Who::Star],
            not_action: false,
            actions: vec!["s3:*"],
            not_resource: false,
            resources: vec!["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"],
            conds: vec![],
        });
        let w = World { policy: Some(stmts), ..w };
        let policy = parsed(&w)?;
        let got = run(&w, policy.as_ref(), caller, action, key, &ctx);
        if caller == Some(OWNER) && action.is_policy_management() {
            prop_assert_eq!(got, Outcome::Allow);
        } else {
            prop_assert_eq!(got, Outcome::ExplicitDeny);
        }
    }

    #[test]
    fn no_policy_and_private_acls_allow_only_the_owner(
        object_owner in prop::sample::select(vec![OWNER, ACCT_A]),
        block in block(),
        acls_disabled in any::<bool>(),
        (caller, action, key, ctx) in request(),
    ) {
        let private = |owner| TAcl { owner, grants: vec![(TGrantee::User(owner), Permission::FullControl)] };
        let w = World {
            policy: None,
            bucket_acl: Some(private(OWNER)),
            object_acl: Some(private(object_owner)),
            block,
            acls_disabled,
        };
        let got = run(&w, None, caller, action, key, &ctx);
        // The object's writer keeps its own FULL_CONTROL grant while ACLs are on,
        // and the bucket owner cannot read what another account wrote.
        let object_read = !acls_disabled
            && matches!(action, Action::GetObject | Action::GetObjectAcl | Action::PutObjectAcl);
        let writer_reads = caller == Some(object_owner) && object_read;
        let owner_allowed = caller == Some(OWNER) && !(object_read && object_owner != OWNER);
        prop_assert_eq!(got == Outcome::Allow, owner_allowed || writer_reads);
    }

    /// Only without RestrictPublicBuckets: an extra public Allow makes the whole
    /// policy public, which under that setting withdraws every grant it made.
    #[test]
    fn adding_an_allow_never_removes_access(
        w in world(),
        extra in stmt(),
        (caller, action, key, ctx) in request(),
    ) {
        let allows_only = |s: &Vec<Stmt>| s.iter().map(|s| Stmt { allow: true, not_principal: false, ..s.clone() }).collect::<Vec<_>>();
        let block = PublicAccessBlock { restrict_public_buckets: false, ..w.block };
        let before = World { policy: w.policy.as_ref().map(allows_only), block, ..w };
        let mut more = before.policy.clone().unwrap_or_default();
        more.extend(allows_only(&vec![extra]));
        let after = World { policy: Some(more), block, bucket_acl: before.bucket_acl.clone(), object_acl: before.object_acl.clone(), acls_disabled: before.acls_disabled };
        let p_before = parsed(&before)?;
        let p_after = parsed(&after)?;
        let b = run(&before, p_before.as_ref(), caller, action, key, &ctx);
        let a = run(&after, p_after.as_ref(), caller, action, key, &ctx);
        if b == Outcome::Allow {
            prop_assert_eq!(a, Outcome::Allow);
        }
    }
}

// ---------------------------------------------------------------------------
// Robustness: no input makes a parser or evaluation panic.

const VOCAB: &[&str] = &[
    "Version",
    "2012-10-17",
    "2008-10-17",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Allow",
    "Deny",
    "Principal",
    "NotPrincipal",
    "AWS",
    "CanonicalUser",
    "Service",
    "*",
    "111111111111",
    "arn:aws:iam::111111111111:root",
    "Action",
    "NotAction",
    "s3:*",
    "s3:GetObject",
    "s3:List*",
    "Resource",
    "NotResource",
    "arn:aws:s3:::bkt",
    "arn:aws:s3:::bkt/*",
    "arn:aws:s3:::*",
    "Condition",
    "StringLike",
    "ForAnyValue:StringEquals",
    "NumericLessThanIfExists",
    "Null",
    "IpAddress",
    "DateGreaterThan",
    "ArnLike",
    "Bool",
    "aws:SourceIp",
    "s3:prefix",
    "s3:max-keys",
    "aws:CurrentTime",
    "aws:SourceArn",
    "${aws:userid}",
    "${*}",
    "10.0.0.0/8",
    "::/0",
    "true",
    "expiration",
    "conditions",
    "eq",
    "starts-with",
    "content-length-range",
    "$key",
    "$bucket",
    "2030-01-01T00:00:00Z",
    "",
];

fn json_value() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        prop::sample::select(VOCAB).prop_map(String::from),
        ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        word.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((word.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn exercise(policy: &Policy) {
    let ctx: ConditionContext = [
        ("aws:SourceIp", "10.1.2.3"),
        ("s3:prefix", "bkt/x"),
        ("aws:userid", "111111111111"),
        ("aws:CurrentTime", "2024-01-01T00:00:00Z"),
        ("s3:max-keys", "5"),
    ]
    .into_iter()
    .collect();
    for principal in [Principal::Anonymous, Principal::Account(OWNER.into())] {
        for &action in Action::ALL {
            let _ = policy.evaluate(&Request {
                principal: &principal,
                action,
                bucket: BUCKET,
                key: Some("k/é"),
                context: &ctx,
            });
        }
    }
    let _ = policy.is_public();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn policy_parse_never_panics_on_strings(s in ".{0,300}") {
        if let Ok(p) = Policy::parse(&s, BUCKET) {
            exercise(&p);
        }
    }

    #[test]
    fn policy_parse_never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Policy::parse(&String::from_utf8_lossy(&b), BUCKET);
    }

    #[test]
    fn policy_parse_never_panics_on_json(v in json_value(), wrap in any::<bool>()) {
        let doc = if wrap { json!({"Version": "2012-10-17", "Statement": [v]}) } else { v };
        if let Ok(p) = Policy::parse(&doc.to_string(), BUCKET) {
            exercise(&p);
        }
    }

    #[test]
    fn post_policy_never_panics(v in json_value(), raw in ".{0,80}", field in ".{0,10}", value in ".{0,10}", len in any::<u64>()) {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(v.to_string());
        let fields: FormFields = [(field.as_str(), value.as_str()), ("key", "k")].into_iter().collect();
        let now = time::OffsetDateTime::UNIX_EPOCH;
        for input in [encoded.as_str(), raw.as_str()] {
            if let Ok(p) = PostPolicy::parse(input) {
                let _ = p.check(now, BUCKET, &fields, Some(len));
                let _ = p.max_length();
            }
        }
    }

    #[test]
    fn acl_inputs_never_panic(s in ".{0,80}", p in prop::sample::select(Permission::ALL.to_vec())) {
        let _ = s.parse::<CannedAcl>();
        let _ = s.parse::<Permission>();
        let _ = Group::from_uri(&s);
        if let Ok(acl) = Acl::from_grant_headers(OWNER, &[(p, &s)]) {
            let _ = acl.allows(&Principal::Anonymous, Permission::Read);
        }
    }
}
