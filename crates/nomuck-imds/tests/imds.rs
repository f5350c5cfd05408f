//! The metadata service over a real unix socket, driven by Debian's curl.

mod common;

use std::time::Duration;

use common::{Server, exchange, facts};
use nomuck_imds::{HttpTokens, TokenKey};

const TOKEN: &str = "X-aws-ec2-metadata-token";

fn server() -> Server {
    Server::start(facts("i-0aaaaaaaaaaaaaaaa"), TokenKey::random())
}

#[test]
fn imdsv1_serves_every_leaf() {
    let s = server();
    let mac = "02:4e:4d:00:03:09";
    let net = format!("/latest/meta-data/network/interfaces/macs/{mac}");
    let cases: Vec<(String, &str)> = vec![
        ("/latest/meta-data/ami-id".into(), "ami-0a1b2c3d4e5f60718"),
        ("/latest/meta-data/ami-launch-index".into(), "0"),
        (
            "/latest/meta-data/hostname".into(),
            "ip-172-31-3-9.ec2.internal",
        ),
        ("/latest/meta-data/instance-action".into(), "none"),
        (
            "/latest/meta-data/instance-id".into(),
            "i-0aaaaaaaaaaaaaaaa",
        ),
        ("/latest/meta-data/instance-life-cycle".into(), "on-demand"),
        ("/latest/meta-data/instance-type".into(), "m1.small"),
        (
            "/latest/meta-data/kernel-id".into(),
            "aki-0a1b2c3d4e5f60718",
        ),
        (
            "/latest/meta-data/local-hostname".into(),
            "ip-172-31-3-9.ec2.internal",
        ),
        ("/latest/meta-data/local-ipv4".into(), "172.31.3.9"),
        ("/latest/meta-data/mac".into(), mac),
        (
            "/latest/meta-data/placement/availability-zone".into(),
            "us-east-1a",
        ),
        ("/latest/meta-data/placement/region".into(), "us-east-1"),
        (
            "/latest/meta-data/public-keys/0/openssh-key".into(),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq laptop",
        ),
        (
            "/latest/meta-data/reservation-id".into(),
            "r-0a1b2c3d4e5f60718",
        ),
        ("/latest/meta-data/security-groups".into(), "default\nweb"),
        (format!("{net}/device-number"), "0"),
        (
            format!("{net}/local-hostname"),
            "ip-172-31-3-9.ec2.internal",
        ),
        (format!("{net}/local-ipv4s"), "172.31.3.9"),
        (format!("{net}/mac"), mac),
        (format!("{net}/owner-id"), "210987654321"),
        (format!("{net}/security-group-ids"), "sg-0aaa\nsg-0bbb"),
        (format!("{net}/security-groups"), "default\nweb"),
        (format!("{net}/subnet-id"), "subnet-0a1b2c3d"),
        (format!("{net}/subnet-ipv4-cidr-block"), "172.31.0.0/20"),
        (format!("{net}/vpc-id"), "vpc-0a1b2c3d"),
        (format!("{net}/vpc-ipv4-cidr-block"), "172.31.0.0/16"),
        (format!("{net}/vpc-ipv4-cidr-blocks"), "172.31.0.0/16"),
        // A dated version serves the same tree (cloud-init asks for 2009-04-04).
        (
            "/2009-04-04/meta-data/instance-id".into(),
            "i-0aaaaaaaaaaaaaaaa",
        ),
    ];
    for (path, want) in cases {
        let reply = s.get(&path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.text(), want, "{path}");
        assert_eq!(reply.header("content-type"), Some("text/plain"), "{path}");
        // No token, no TTL header.
        assert_eq!(reply.header("x-aws-ec2-metadata-token-ttl-seconds"), None);
    }
}

#[test]
fn directories_list_their_entries_one_per_line() {
    let s = server();
    let mac = "02:4e:4d:00:03:09";
    let root = s.get("/").text();
    assert!(root.starts_with("1.0\n2007-01-19\n"), "{root}");
    assert!(root.contains("\n2009-04-04\n"), "{root}");
    assert!(root.ends_with("\nlatest"), "{root}");
    assert_eq!(s.get("/latest/").text(), "dynamic/\nmeta-data/\nuser-data");
    assert_eq!(s.get("/latest").text(), "dynamic/\nmeta-data/\nuser-data");
    let meta = "ami-id\nami-launch-index\nhostname\ninstance-action\ninstance-id\n\
instance-life-cycle\ninstance-type\nkernel-id\nlocal-hostname\nlocal-ipv4\nmac\nnetwork/\n\
placement/\npublic-keys/\nreservation-id\nsecurity-groups";
    assert_eq!(s.get("/latest/meta-data/").text(), meta);
    assert_eq!(s.get("/latest/meta-data").text(), meta);
    assert_eq!(s.get("/latest/meta-data/public-keys/").text(), "0=laptop");
    assert_eq!(
        s.get("/latest/meta-data/public-keys/0/").text(),
        "openssh-key"
    );
    assert_eq!(
        s.get("/latest/meta-data/placement/").text(),
        "availability-zone\nregion"
    );
    assert_eq!(s.get("/latest/meta-data/network/").text(), "interfaces/");
    assert_eq!(
        s.get("/latest/meta-data/network/interfaces/macs/").text(),
        format!("{mac}/")
    );
    assert_eq!(
        s.get(&format!("/latest/meta-data/network/interfaces/macs/{mac}/"))
            .text(),
        "device-number\nlocal-hostname\nlocal-ipv4s\nmac\nowner-id\nsecurity-group-ids\n\
security-groups\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block\nvpc-ipv4-cidr-blocks"
    );
    assert_eq!(s.get("/latest/dynamic/").text(), "instance-identity/");
    assert_eq!(
        s.get("/latest/dynamic/instance-identity/").text(),
        "document"
    );
}

#[test]
fn user_data_is_served_byte_for_byte_and_404_when_absent() {
    let s = server();
    let reply = s.get("/latest/user-data");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"#!/bin/sh\necho hello\n\xff\x00");
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );

    let mut f = facts("i-0bbbbbbbbbbbbbbbb");
    f.user_data = None;
    f.public_keys.clear();
    f.kernel_id = None;
    let s = Server::start(f, TokenKey::random());
    assert_eq!(s.get("/latest/user-data").status, 404);
    assert_eq!(s.get("/latest/").text(), "dynamic/\nmeta-data/");
    // Without a key pair there is no public-keys/ at all, listed or served.
    assert_eq!(s.get("/latest/meta-data/public-keys/").status, 404);
    let meta = s.get("/latest/meta-data/").text();
    assert!(
        !meta.contains("public-keys") && !meta.contains("kernel-id"),
        "{meta}"
    );
}

#[test]
fn identity_document_is_json_with_the_documented_keys() {
    let s = server();
    let reply = s.get("/latest/dynamic/instance-identity/document");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let want = [
        ("accountId", "210987654321"),
        ("architecture", "x86_64"),
        ("availabilityZone", "us-east-1a"),
        ("imageId", "ami-0a1b2c3d4e5f60718"),
        ("instanceId", "i-0aaaaaaaaaaaaaaaa"),
        ("instanceType", "m1.small"),
        ("kernelId", "aki-0a1b2c3d4e5f60718"),
        ("pendingTime", "2026-12-03T15:04:05Z"),
        ("privateIp", "172.31.3.9"),
        ("region", "us-east-1"),
        ("version", "2017-09-30"),
    ];
    for (key, value) in want {
        assert_eq!(doc[key], value, "{key}");
    }
    assert!(doc["ramdiskId"].is_null() && doc.get("ramdiskId").is_some());
    assert!(doc["billingProducts"].is_null());
}

#[test]
fn imdsv2_token_flow() {
    let s = server();
    let reply = s.curl(
        "PUT",
        "/latest/api/token",
        &["X-aws-ec2-metadata-token-ttl-seconds: 21600"],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert_eq!(
        reply.header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("21600")
    );
    let token = reply.text();
    assert!(!token.is_empty() && token.is_ascii() && !token.contains('\n'));

    let reply = s.curl(
        "GET",
        "/latest/meta-data/instance-id",
        &[&format!("{TOKEN}: {token}")],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "i-0aaaaaaaaaaaaaaaa");
    // EC2's casing, byte for byte; the remaining lifetime in seconds.
    let (name, left) = reply
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-aws-ec2-metadata-token-ttl-seconds"))
        .unwrap();
    assert_eq!(name, "X-Aws-Ec2-Metadata-Token-Ttl-Seconds");
    let left: u64 = left.parse().unwrap();
    assert!((21590..=21600).contains(&left), "{left}");

    // The token path takes only PUT.
    assert_eq!(s.get("/latest/api/token").status, 405);
    // A PUT anywhere else is not a token request.
    let reply = s.curl(
        "PUT",
        "/latest/meta-data/instance-id",
        &["X-aws-ec2-metadata-token-ttl-seconds: 60"],
    );
    assert_eq!(reply.status, 405);
}

#[test]
fn a_token_expires() {
    let s = server();
    let token = s.token(1);
    let header = format!("{TOKEN}: {token}");
    assert_eq!(
        s.curl("GET", "/latest/meta-data/ami-id", &[&header]).status,
        200
    );
    std::thread::sleep(Duration::from_secs(2));
    let reply = s.curl("GET", "/latest/meta-data/ami-id", &[&header]);
    assert_eq!(reply.status, 401);
    assert!(reply.text().contains("401 - Unauthorized"));
}

#[test]
fn a_token_from_one_instance_is_refused_on_another() {
    // One key for every socket, as one nomuck serves all its instances.
    let key = TokenKey::from_bytes([42; 32]);
    let a = Server::start(facts("i-0aaaaaaaaaaaaaaaa"), key.clone());
    let b = Server::start(facts("i-0bbbbbbbbbbbbbbbb"), key);
    let token_a = a.token(600);
    let header = format!("{TOKEN}: {token_a}");
    assert_eq!(
        a.curl("GET", "/latest/meta-data/instance-id", &[&header])
            .status,
        200
    );
    assert_eq!(
        b.curl("GET", "/latest/meta-data/instance-id", &[&header])
            .status,
        401
    );
    // A garbage token is refused even though tokens are optional.
    let reply = a.curl(
        "GET",
        "/latest/meta-data/instance-id",
        &[&format!("{TOKEN}: AQAAAA")],
    );
    assert_eq!(reply.status, 401);
}

#[test]
fn required_tokens_refuse_imdsv1() {
    let mut f = facts("i-0aaaaaaaaaaaaaaaa");
    f.http_tokens = HttpTokens::Required;
    let s = Server::start(f, TokenKey::random());
    for path in [
        "/latest/meta-data/instance-id",
        "/latest/user-data",
        "/",
        "/latest/nope",
    ] {
        assert_eq!(s.get(path).status, 401, "{path}");
    }
    let token = s.token(60);
    let reply = s.curl(
        "GET",
        "/latest/meta-data/instance-id",
        &[&format!("{TOKEN}: {token}")],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "i-0aaaaaaaaaaaaaaaa");
}

#[test]
fn a_forwarded_token_request_is_forbidden() {
    let s = server();
    let reply = s.curl(
        "PUT",
        "/latest/api/token",
        &[
            "X-aws-ec2-metadata-token-ttl-seconds: 60",
            "X-Forwarded-For: 203.0.113.7",
        ],
    );
    assert_eq!(reply.status, 403);
    assert!(reply.text().contains("403 - Forbidden"));
}

#[test]
fn a_ttl_out_of_range_is_a_bad_request() {
    let s = server();
    for ttl in ["0", "21601", "-1", "abc", "", "99999999999999999999999"] {
        let header = format!("X-aws-ec2-metadata-token-ttl-seconds: {ttl}");
        let reply = s.curl("PUT", "/latest/api/token", &[&header]);
        assert_eq!(reply.status, 400, "ttl {ttl:?}");
    }
    assert_eq!(s.curl("PUT", "/latest/api/token", &[]).status, 400);
    for ttl in [1, 21600] {
        s.token(ttl);
    }
}

#[test]
fn unknown_paths_are_404_with_ec2s_page() {
    let s = server();
    for path in [
        "/latest/meta-data/nope",
        "/latest/meta-data/ami-id/extra",
        "/latest/meta-data/public-keys/1/openssh-key",
        "/latest/meta-data/public-keys/0=laptop",
        "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:99/mac",
        "/2006-01-01/meta-data/instance-id",
        "/latest/../latest/meta-data/instance-id",
        "/nope",
    ] {
        let reply = s.get(path);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("content-type"), Some("text/html"));
        let page = reply.text();
        assert!(page.contains("<title>404 - Not Found</title>"), "{page}");
        assert!(page.contains("<h1>404 - Not Found</h1>"), "{page}");
    }
}

#[test]
fn a_removed_instance_answers_404_and_closes() {
    let s = server();
    assert_eq!(s.get("/latest/meta-data/instance-id").status, 200);
    s.remove_instance();
    let reply = s.get("/latest/meta-data/instance-id");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(
        s.curl(
            "PUT",
            "/latest/api/token",
            &["X-aws-ec2-metadata-token-ttl-seconds: 60"]
        )
        .status,
        404
    );
}

#[test]
fn oversized_or_malformed_requests_do_not_take_the_service_down() {
    let s = server();
    // A request head beyond the limit is refused by hyper, not buffered.
    let huge = format!("X-Big: {}", "a".repeat(20_000));
    let out = exchange(
        &s.socket,
        format!("GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n{huge}\r\n\r\n").as_bytes(),
    );
    assert!(
        out.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // Garbage instead of HTTP.
    let out = exchange(&s.socket, b"\x00\x01\x02 not http\r\n\r\n");
    assert!(
        out.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // An empty body is no body.
    let reply = s.curl(
        "PUT",
        "/latest/api/token",
        &[
            "X-aws-ec2-metadata-token-ttl-seconds: 60",
            "Content-Length: 0",
        ],
    );
    assert_eq!(reply.status, 200);
    // A request with a body is refused and the connection closed, so the body is
    // never read as a request.
    let out = exchange(
        &s.socket,
        b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\
Content-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    );
    let reply = common::parse_reply(&out);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(!String::from_utf8_lossy(&reply.body).contains("HTTP/1.1"));
    // And the service still answers.
    assert_eq!(s.get("/latest/meta-data/instance-id").status, 200);
}

#[test]
fn connections_keep_alive_and_http10_closes() {
    let s = server();
    // Two requests on one connection, the second asking to close.
    let out = exchange(
        &s.socket,
        b"GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: x\r\n\r\n\
GET /latest/meta-data/instance-type HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains("ami-0a1b2c3d4e5f60718") && text.ends_with("m1.small"));
    // HTTP/1.0, as the default guest's nc speaks it: the server closes after the reply.
    let out = exchange(
        &s.socket,
        b"GET /latest/meta-data/instance-id HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n",
    );
    let reply = common::parse_reply(&out);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "i-0aaaaaaaaaaaaaaaa");
}

#[test]
fn connections_beyond_the_limit_are_closed_unanswered() {
    let s = server();
    let idle: Vec<_> = (0..nomuck_imds::MAX_CONNECTIONS)
        .map(|_| std::os::unix::net::UnixStream::connect(&s.socket).unwrap())
        .collect();
    let request = b"GET /latest/meta-data/instance-id HTTP/1.0\r\n\r\n";
    assert_eq!(exchange(&s.socket, request), b"");
    drop(idle);
    // Once the idle connections are gone, the service answers again.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let out = exchange(&s.socket, request);
        if !out.is_empty() {
            assert_eq!(common::parse_reply(&out).text(), "i-0aaaaaaaaaaaaaaaa");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer after the limit cleared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
