//! The private network switch's decision on arbitrary bytes from each kind of
//! sender (attached port, unknown socket): what a guest could put on its NIC. It
//! must decide, never panic, and never forward outside the sender's network.
#![no_main]

use std::net::Ipv4Addr;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nomuck_vnet::{Decision, Port, PortTable};

fn port(local: &str, network: &str, last: u8) -> Port {
    Port {
        local: local.into(),
        network: network.into(),
        mac: [0x52, 0x54, 0x00, 0, 0, last],
        ip: Ipv4Addr::new(172, 31, 0, last),
        prefix_len: 16,
        hostname: Some("ip-172-31-0-10".into()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let mut table = PortTable::default();
    table.attach(port("/a1", "A", 10)).unwrap();
    table.attach(port("/a2", "A", 11)).unwrap();
    table.attach(port("/b1", "B", 12)).unwrap();
    let from = ["/a1", "/a2", "/b1", "/nobody"][usize::from(selector % 4)];
    if let Decision::Forward(to) = table.decide(Path::new(from), frame) {
        let network = &table.get(Path::new(from)).unwrap().network;
        assert!(to.iter().all(|p| &table.get(p).unwrap().network == network));
    }
});
