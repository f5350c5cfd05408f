//! The switch on real unix datagram sockets, with test sockets standing in for
//! QEMU: what arrives where, the DHCP exchange, and a restart on the same path.

use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use nomuck_vnet::{Mac, Port, SWITCH_MAC, Switch};

struct Nic {
    socket: UnixDatagram,
    port: Port,
}

impl Nic {
    /// A socket bound as QEMU binds its `local` path, sending to the switch.
    fn new(dir: &Path, name: &str, network: &str, mac: Mac, last: u8) -> Nic {
        let local = dir.join(format!("{name}.sock"));
        let socket = UnixDatagram::bind(&local).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        Nic {
            socket,
            port: Port {
                local,
                network: network.into(),
                mac,
                ip: Ipv4Addr::new(172, 31, 0, last),
                prefix_len: 16,
                hostname: None,
            },
        }
    }

    fn send(&self, switch: &Path, frame: &[u8]) {
        self.socket.send_to(frame, switch).unwrap();
    }

    fn recv(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 2048];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    }
}

/// An ARP request from `from` for `target`.
fn arp_request(from: &Port, target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&from.mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&from.mac);
    f.extend_from_slice(&from.ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

fn mac(net: u8, last: u8) -> Mac {
    [0x52, 0x54, 0x00, net, 0, last]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_stay_in_their_network_and_flow_again_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("vnet.sock");
    // A stale socket file (a previous nomuck's) is replaced.
    drop(UnixDatagram::bind(&path).unwrap());
    let switch = Switch::bind(&path).unwrap();
    let a1 = Nic::new(tmp.path(), "a1", "A", mac(0xaa, 10), 10);
    let a2 = Nic::new(tmp.path(), "a2", "A", mac(0xaa, 11), 11);
    let b1 = Nic::new(tmp.path(), "b1", "B", mac(0xbb, 10), 10);
    let stranger = Nic::new(tmp.path(), "stranger", "A", mac(0xaa, 99), 99);
    for nic in [&a1, &a2, &b1] {
        switch.attach(nic.port.clone()).unwrap();
    }

    let who_has_11 = arp_request(&a1.port, a2.port.ip);
    a1.send(&path, &who_has_11);
    assert_eq!(a2.recv().as_deref(), Some(&who_has_11[..]));
    assert_eq!(b1.recv(), None, "a broadcast crossed networks");
    assert_eq!(a1.recv(), None, "a broadcast came back to its sender");

    // b1 has a1's address in its own network; its broadcast reaches nobody in A.
    b1.send(&path, &arp_request(&b1.port, a2.port.ip));
    assert_eq!(a2.recv(), None);

    // An unattached socket, even claiming an attached port's MAC and address.
    stranger.send(&path, &arp_request(&a1.port, a2.port.ip));
    assert_eq!(a2.recv(), None);
    let stats = switch.stats();
    assert_eq!(stats.dropped_unknown_sender, 1, "{stats:?}");
    assert_eq!(stats.delivered, 1, "{stats:?}");

    // The switch answers ARP for its own address (the DHCP server id).
    a2.send(&path, &arp_request(&a2.port, Ipv4Addr::new(172, 31, 0, 1)));
    let reply = a2.recv().expect("ARP reply from the switch");
    assert_eq!(reply[0..6], a2.port.mac);
    assert_eq!(reply[6..12], SWITCH_MAC);
    assert_eq!(reply[22..28], SWITCH_MAC, "sender hardware address");

    // Restart: a new switch replaces the old socket; QEMU's (here the test's)
    // sends to the same path reach it once the ports are attached again.
    drop(switch);
    tokio::time::sleep(Duration::from_millis(100)).await;
    a1.socket
        .send_to(&who_has_11, &path)
        .expect_err("nobody is bound while the switch is down");
    let switch = Switch::bind(&path).unwrap();
    a1.send(&path, &who_has_11);
    assert_eq!(a2.recv(), None, "ports are not attached yet");
    switch.attach(a1.port.clone()).unwrap();
    switch.attach(a2.port.clone()).unwrap();
    a1.send(&path, &who_has_11);
    assert_eq!(a2.recv().as_deref(), Some(&who_has_11[..]));

    // Detached: its frames are dropped and nothing is sent to it.
    switch.detach(&a2.port.local).unwrap();
    a1.send(&path, &who_has_11);
    assert_eq!(a2.recv(), None);
}

#[tokio::test]
async fn bind_refuses_to_replace_what_is_not_a_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("vnet.sock");
    std::fs::write(&path, "data").unwrap();
    assert!(Switch::bind(&path).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "data");
}

#[test]
fn bind_outside_a_runtime_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        Switch::bind(tmp.path().join("s.sock")),
        Err(nomuck_vnet::VnetError::NoRuntime)
    ));
}

/// The compute service shares one switch between tasks (`Arc<Switch>`).
#[test]
fn switch_is_shareable_between_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Switch>();
}
