//! `bridge_stdio` in a real child process, wired the way QEMU's guestfwd wires it:
//! one socket as its stdin, stdout and stderr. This binary is its own child: run with
//! `NOMUCK_IMDS_TEST_BRIDGE_TO=<socket>` it is the bridge and nothing else (no test
//! harness, whose output on stdout would land in the HTTP stream).

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Server, facts, parse_reply};
use nomuck_imds::TokenKey;

const CHILD_ENV: &str = "NOMUCK_IMDS_TEST_BRIDGE_TO";

fn main() {
    if let Some(socket) = std::env::var_os(CHILD_ENV) {
        let code = match nomuck_imds::bridge_stdio(Path::new(&socket)) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        std::process::exit(code);
    }
    let tests: &[(&str, fn())] = &[
        (
            "an_http10_exchange_crosses_the_bridge",
            an_http10_exchange_crosses_the_bridge,
        ),
        (
            "a_half_closed_imdsv2_exchange_crosses_the_bridge",
            a_half_closed_imdsv2_exchange_crosses_the_bridge,
        ),
        (
            "a_missing_socket_closes_the_guest_connection_silently",
            a_missing_socket_closes_the_guest_connection_silently,
        ),
    ];
    for (name, test) in tests {
        test();
        println!("test {name} ... ok");
    }
}

/// The bridge as a child, its stdio one end of a socketpair; returns the other end
/// (the guest's connection, as libslirp holds it).
fn spawn_bridge(socket: &Path) -> (Child, UnixStream) {
    let (guest, child_end) = UnixStream::pair().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, socket)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(
            child_end.try_clone().unwrap(),
        )))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(
            child_end.try_clone().unwrap(),
        )))
        .stderr(Stdio::from(std::os::fd::OwnedFd::from(child_end)))
        .spawn()
        .unwrap();
    guest
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (child, guest)
}

/// Reads until the bridge closes the guest's connection, which it does only by exiting.
fn read_until_closed(guest: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    guest
        .read_to_end(&mut out)
        .expect("the bridge closes within 10 s");
    out
}

fn an_http10_exchange_crosses_the_bridge() {
    let server = Server::start(facts("i-0ccccccccccccccccc"), TokenKey::random());
    let (mut child, mut guest) = spawn_bridge(&server.socket);
    // As the default guest's nc sends it: HTTP/1.0, and the connection left open.
    guest
        .write_all(b"GET /latest/meta-data/instance-id HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n")
        .unwrap();
    let reply = parse_reply(&read_until_closed(&mut guest));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "i-0ccccccccccccccccc");
    assert!(child.wait().unwrap().success());
}

fn a_half_closed_imdsv2_exchange_crosses_the_bridge() {
    let server = Server::start(facts("i-0ddddddddddddddddd"), TokenKey::random());
    let (mut child, mut guest) = spawn_bridge(&server.socket);
    guest
        .write_all(
            b"PUT /latest/api/token HTTP/1.0\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
        )
        .unwrap();
    let reply = parse_reply(&read_until_closed(&mut guest));
    assert_eq!(reply.status, 200);
    let token = reply.text();
    assert!(child.wait().unwrap().success());

    // HTTP/1.1 keep-alive, the client then half-closing: the reply must still arrive,
    // and the bridge end once the service has answered and closed.
    let (mut child, mut guest) = spawn_bridge(&server.socket);
    guest
        .write_all(
            format!(
                "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\
X-aws-ec2-metadata-token: {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    guest.shutdown(Shutdown::Write).unwrap();
    let reply = parse_reply(&read_until_closed(&mut guest));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "i-0ddddddddddddddddd");
    assert_eq!(
        reply.header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("60")
    );
    assert!(child.wait().unwrap().success());
}

fn a_missing_socket_closes_the_guest_connection_silently() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut guest) = spawn_bridge(&dir.path().join("imds.sock"));
    let _ = guest.write_all(b"GET / HTTP/1.0\r\n\r\n");
    // Nothing, not even an error message, reaches the guest's stream: it ends (reset,
    // since the bridge exits with the request unread).
    let mut out = Vec::new();
    match guest.read_to_end(&mut out) {
        Ok(_) => {}
        Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}"),
    }
    assert_eq!(out, b"");
    assert!(!child.wait().unwrap().success());
}
