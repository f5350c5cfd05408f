//! A real `serve` on a temporary unix socket, and curl to talk to it.
#![allow(dead_code)] // each test binary uses its own part of this

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use nomuck_imds::{HttpTokens, InstanceFacts, MetadataSource, PublicKey, Subnet, TokenKey};

/// An instance whose facts a test can change or remove, as the compute domain will.
pub struct Instance(Mutex<Option<InstanceFacts>>);

#[async_trait]
impl MetadataSource for Instance {
    async fn facts(&self) -> Option<InstanceFacts> {
        self.0.lock().unwrap().clone()
    }
}

pub fn facts(instance_id: &str) -> InstanceFacts {
    InstanceFacts {
        instance_id: instance_id.into(),
        ami_id: "ami-0a1b2c3d4e5f60718".into(),
        kernel_id: Some("aki-0a1b2c3d4e5f60718".into()),
        ramdisk_id: None,
        instance_type: "m1.small".into(),
        architecture: "x86_64".into(),
        reservation_id: "r-0a1b2c3d4e5f60718".into(),
        launch_index: 0,
        local_hostname: nomuck_imds::ec2_hostname(Ipv4Addr::new(172, 31, 3, 9), "us-east-1"),
        local_ipv4: Ipv4Addr::new(172, 31, 3, 9),
        mac: "02:4e:4d:00:03:09".into(),
        subnet: Some(Subnet {
            subnet_id: "subnet-0a1b2c3d".into(),
            vpc_id: "vpc-0a1b2c3d".into(),
            ipv4_cidr_block: "172.31.0.0/20".into(),
            vpc_ipv4_cidr_block: "172.31.0.0/16".into(),
        }),
        public_keys: vec![PublicKey {
            name: "laptop".into(),
            openssh_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq laptop".into(),
        }],
        availability_zone: "us-east-1a".into(),
        region: "us-east-1".into(),
        account_id: "210987654321".into(),
        security_groups: vec!["default".into(), "web".into()],
        security_group_ids: vec!["sg-0aaa".into(), "sg-0bbb".into()],
        user_data: Some(Bytes::from_static(b"#!/bin/sh\necho hello\n\xff\x00")),
        launch_time: time::macros::datetime!(2026-12-03 15:04:05.678 UTC),
        http_tokens: HttpTokens::Optional,
    }
}

pub struct Server {
    pub socket: PathBuf,
    pub instance: Arc<Instance>,
    // Dropping the runtime drops `serve` and every connection it holds.
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(facts: InstanceFacts, key: TokenKey) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("imds.sock");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = {
            let _guard = runtime.enter();
            tokio::net::UnixListener::bind(&socket).unwrap()
        };
        let instance = Arc::new(Instance(Mutex::new(Some(facts))));
        runtime.spawn(nomuck_imds::serve(listener, instance.clone(), key));
        Server {
            socket,
            instance,
            _runtime: runtime,
            _dir: dir,
        }
    }

    /// The instance is terminated and its record gone.
    pub fn remove_instance(&self) {
        *self.instance.0.lock().unwrap() = None;
    }

    pub fn curl(&self, method: &str, path: &str, headers: &[&str]) -> Reply {
        curl(&self.socket, method, path, headers)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.curl("GET", path, &[])
    }

    pub fn token(&self, ttl: u64) -> String {
        let reply = self.curl(
            "PUT",
            "/latest/api/token",
            &[&format!("X-aws-ec2-metadata-token-ttl-seconds: {ttl}")],
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.text()
    }
}

pub struct Reply {
    pub status: u16,
    /// As received, name casing included.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a text body")
    }

    /// The value of header `name`, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request with Debian's curl over the unix socket; `--path-as-is` so the path is
/// sent exactly as written.
pub fn curl(socket: &Path, method: &str, path: &str, headers: &[&str]) -> Reply {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-i",
        "--path-as-is",
        "--max-time",
        "10",
        "--unix-socket",
    ])
    .arg(socket)
    .args(["-X", method]);
    for header in headers {
        cmd.args(["-H", header]);
    }
    cmd.arg(format!("http://169.254.169.254{path}"));
    let out = cmd.output().expect("curl runs (apt-get install curl)");
    assert!(
        out.status.success(),
        "curl {method} {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_reply(&out.stdout)
}

/// Splits a raw HTTP/1.x response into status, headers and body.
pub fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Writes `request` raw on a new connection and reads until the service closes it.
/// Errors (a reset after a refused request) end the reading; what came is returned.
pub fn exchange(socket: &Path, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}
