//! The switch's ports and what it does with one frame: a pure function of the
//! port table, the sender's socket path and the frame's bytes, tested without
//! sockets.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::dhcp;
use crate::packet::{self, Mac};
use crate::{Port, SWITCH_MAC, VnetError};

/// Why a frame went nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The datagram's source path is no attached port (or the socket was unnamed).
    UnknownSender,
    /// Ethernet, ARP or IPv4 header too short or inconsistent.
    Malformed,
    /// Neither ARP nor IPv4 (IPv6, VLAN tags, ...): nothing the switch can check.
    EtherType,
    /// Source MAC (Ethernet or ARP, or a DHCP client address) not the port's.
    SpoofedMac,
    /// ARP sender or IPv4 source neither the port's address nor 0.0.0.0 for DHCP.
    SpoofedIp,
    /// UDP from port 67: guests may not answer DHCP for others.
    RogueDhcpServer,
    /// A DHCP message the server does not answer, or traffic for the switch's own
    /// address that is not ARP or DHCP.
    ForSwitch,
    /// Unicast to a MAC that is no other port of the sender's network.
    UnknownDestination,
}

impl DropReason {
    pub fn is_spoof(self) -> bool {
        matches!(self, DropReason::SpoofedMac | DropReason::SpoofedIp)
    }
}

/// What to do with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    Drop(DropReason),
    /// Send the frame unchanged to these ports' sockets (never to the sender's, never
    /// outside the sender's network).
    Forward(Vec<&'a Path>),
    /// Send this frame (from the switch: a DHCP or ARP answer) to the sender.
    Reply(Vec<u8>),
}

/// The attached ports: by socket path, and by (network, MAC) for unicast.
#[derive(Debug, Default)]
pub struct PortTable {
    ports: HashMap<PathBuf, Port>,
    by_mac: HashMap<(String, Mac), PathBuf>,
}

/// The switch's own address in a port's subnet (DHCP server id, ARP answers):
/// the first host address, x.x.0.1 in a /16. Never a port's address.
pub fn server_id(ip: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    let mask = u32::from(dhcp::netmask(prefix_len));
    Ipv4Addr::from((u32::from(ip) & mask) + 1)
}

impl PortTable {
    /// Adds `port`, replacing a port with the same `local` path (re-attaching after
    /// a restart, or an instance whose address changed).
    pub fn attach(&mut self, port: Port) -> Result<(), VnetError> {
        let invalid = |why: String| {
            Err(VnetError::InvalidPort {
                local: port.local.clone(),
                why,
            })
        };
        if port.local.as_os_str().is_empty() {
            return invalid("empty socket path".into());
        }
        if port.mac == [0; 6] || packet::is_group(&port.mac) || port.mac == SWITCH_MAC {
            return invalid(format!(
                "MAC {} is not a usable unicast address",
                packet::mac_string(&port.mac)
            ));
        }
        if !(1..=30).contains(&port.prefix_len) {
            return invalid(format!("prefix length /{} not in 1..=30", port.prefix_len));
        }
        let mask = u32::from(dhcp::netmask(port.prefix_len));
        let host = u32::from(port.ip) & !mask;
        if host == 0 || host == !mask || port.ip == server_id(port.ip, port.prefix_len) {
            return invalid(format!(
                "{} is the network, broadcast or switch address of /{}",
                port.ip, port.prefix_len
            ));
        }
        if let Some(h) = &port.hostname
            && (h.is_empty() || h.len() > 255 || h.contains('\0'))
        {
            return invalid(format!("hostname {h:?} is not 1..=255 bytes without NUL"));
        }
        for other in self.ports.values() {
            if other.local == port.local || other.network != port.network {
                continue;
            }
            if other.mac == port.mac || other.ip == port.ip {
                return Err(VnetError::Conflict {
                    local: port.local.clone(),
                    other: other.local.clone(),
                    network: port.network.clone(),
                });
            }
        }
        self.detach(&port.local);
        self.by_mac
            .insert((port.network.clone(), port.mac), port.local.clone());
        self.ports.insert(port.local.clone(), port);
        Ok(())
    }

    pub fn detach(&mut self, local: &Path) -> Option<Port> {
        let port = self.ports.remove(local)?;
        self.by_mac.remove(&(port.network.clone(), port.mac));
        Some(port)
    }

    pub fn get(&self, local: &Path) -> Option<&Port> {
        self.ports.get(local)
    }

    pub fn len(&self) -> usize {
        self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// What to do with `frame`, received from the socket bound at `from`.
    pub fn decide<'a>(&'a self, from: &Path, frame: &[u8]) -> Decision<'a> {
        use Decision::Drop;
        let Some(port) = self.ports.get(from) else {
            return Drop(DropReason::UnknownSender);
        };
        let Some(eth) = packet::parse_eth(frame) else {
            return Drop(DropReason::Malformed);
        };
        if eth.src != port.mac {
            return Drop(DropReason::SpoofedMac);
        }
        let to_switch = eth.dst == SWITCH_MAC || eth.dst == packet::BROADCAST;
        match eth.ethertype {
            packet::ETHERTYPE_ARP => {
                let Some(arp) = packet::parse_arp(eth.payload) else {
                    return Drop(DropReason::Malformed);
                };
                if arp.sha != port.mac {
                    return Drop(DropReason::SpoofedMac);
                }
                // 0.0.0.0: an address probe (RFC 5227) before using an address.
                if arp.spa != port.ip && !arp.spa.is_unspecified() {
                    return Drop(DropReason::SpoofedIp);
                }
                let server = server_id(port.ip, port.prefix_len);
                if arp.op == packet::ARP_REQUEST && arp.tpa == server && to_switch {
                    return Decision::Reply(packet::build_arp_frame(
                        port.mac,
                        SWITCH_MAC,
                        &packet::Arp {
                            op: packet::ARP_REPLY,
                            sha: SWITCH_MAC,
                            spa: server,
                            tha: port.mac,
                            tpa: arp.spa,
                        },
                    ));
                }
            }
            packet::ETHERTYPE_IPV4 => {
                let Some(ip) = packet::parse_ipv4(eth.payload) else {
                    return Drop(DropReason::Malformed);
                };
                let udp = (ip.protocol == packet::IPPROTO_UDP && !ip.later_fragment)
                    .then(|| packet::parse_udp(ip.payload))
                    .flatten();
                let dhcp_to_switch =
                    udp.is_some_and(|u| u.dst_port == dhcp::SERVER_PORT) && to_switch;
                if ip.src != port.ip && !(ip.src.is_unspecified() && dhcp_to_switch) {
                    return Drop(DropReason::SpoofedIp);
                }
                if let Some(udp) = udp {
                    if udp.src_port == dhcp::SERVER_PORT {
                        return Drop(DropReason::RogueDhcpServer);
                    }
                    if dhcp_to_switch {
                        return self.dhcp(port, udp.payload);
                    }
                }
            }
            _ => return Drop(DropReason::EtherType),
        }
        if eth.dst == SWITCH_MAC {
            return Drop(DropReason::ForSwitch);
        }
        if packet::is_group(&eth.dst) {
            return Decision::Forward(
                self.ports
                    .values()
                    .filter(|p| p.network == port.network && p.local != port.local)
                    .map(|p| p.local.as_path())
                    .collect(),
            );
        }
        match self.by_mac.get(&(port.network.clone(), eth.dst)) {
            Some(to) if *to != port.local => Decision::Forward(vec![to.as_path()]),
            _ => Drop(DropReason::UnknownDestination),
        }
    }

    fn dhcp(&self, port: &Port, bootp: &[u8]) -> Decision<'_> {
        let Some(message) = dhcp::parse(bootp) else {
            return Decision::Drop(DropReason::ForSwitch);
        };
        // A client asking on behalf of another hardware address.
        if message.chaddr != port.mac {
            return Decision::Drop(DropReason::SpoofedMac);
        }
        let server = server_id(port.ip, port.prefix_len);
        let lease = dhcp::Lease {
            ip: port.ip,
            prefix_len: port.prefix_len,
            server_id: server,
            hostname: port.hostname.as_deref(),
        };
        match dhcp::respond(&message, &lease) {
            Some(reply) => Decision::Reply(packet::build_udp_frame(
                port.mac,
                SWITCH_MAC,
                (server, dhcp::SERVER_PORT),
                (reply.dst, dhcp::CLIENT_PORT),
                &reply.bootp,
            )),
            None => Decision::Drop(DropReason::ForSwitch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::tests::{CLIENT, client_message};
    use crate::packet::{Arp, BROADCAST, build_arp_frame, build_udp_frame};

    const B1_MAC: Mac = [0x52, 0x54, 0x00, 0xbb, 0x00, 0x10];

    fn port(local: &str, network: &str, mac: Mac, last: u8) -> Port {
        Port {
            local: local.into(),
            network: network.into(),
            mac,
            ip: Ipv4Addr::new(172, 31, 0, last),
            prefix_len: 16,
            hostname: None,
        }
    }

    fn mac(last: u8) -> Mac {
        [0x52, 0x54, 0x00, 0xaa, 0x00, last]
    }

    /// Network A: a1 (.10, the DHCP tests' client MAC), a2 (.11), a3 (.12);
    /// network B: b1, with the same address as a1 (accounts' networks overlap).
    fn table() -> PortTable {
        let mut t = PortTable::default();
        t.attach(port("/a1", "A", CLIENT, 10)).unwrap();
        t.attach(port("/a2", "A", mac(11), 11)).unwrap();
        t.attach(port("/a3", "A", mac(12), 12)).unwrap();
        t.attach(port("/b1", "B", B1_MAC, 10)).unwrap();
        t
    }

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(172, 31, 0, last)
    }

    fn udp(src_mac: Mac, dst_mac: Mac, src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Vec<u8> {
        build_udp_frame(dst_mac, src_mac, src, dst, b"payload")
    }

    fn arp(op: u16, sha: Mac, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
        let dst = if op == packet::ARP_REQUEST {
            BROADCAST
        } else {
            mac(11)
        };
        build_arp_frame(
            dst,
            sha,
            &Arp {
                op,
                sha,
                spa,
                tha: [0; 6],
                tpa,
            },
        )
    }

    fn forwarded(d: Decision) -> Vec<String> {
        match d {
            Decision::Forward(mut to) => {
                to.sort();
                to.iter().map(|p| p.display().to_string()).collect()
            }
            other => panic!("not forwarded: {other:?}"),
        }
    }

    #[test]
    fn unicast_goes_to_the_one_port_with_that_mac_in_the_network() {
        let t = table();
        let f = udp(CLIENT, mac(11), (ip(10), 1000), (ip(11), 2000));
        assert_eq!(forwarded(t.decide(Path::new("/a1"), &f)), ["/a2"]);
        // The same bytes from an unknown socket path go nowhere.
        assert_eq!(
            t.decide(Path::new("/elsewhere"), &f),
            Decision::Drop(DropReason::UnknownSender)
        );
        // To a MAC of another network, or no port at all, or itself: nowhere.
        for dst in [B1_MAC, mac(99), CLIENT] {
            let f = udp(CLIENT, dst, (ip(10), 1000), (ip(11), 2000));
            assert_eq!(
                t.decide(Path::new("/a1"), &f),
                Decision::Drop(DropReason::UnknownDestination)
            );
        }
    }

    #[test]
    fn broadcast_reaches_the_other_ports_of_the_network_only() {
        let t = table();
        let f = arp(packet::ARP_REQUEST, CLIENT, ip(10), ip(11));
        assert_eq!(forwarded(t.decide(Path::new("/a1"), &f)), ["/a2", "/a3"]);
        let f = arp(packet::ARP_REQUEST, B1_MAC, ip(10), ip(11));
        assert!(forwarded(t.decide(Path::new("/b1"), &f)).is_empty());
        // IPv4 multicast too.
        let f = udp(
            mac(12),
            [0x01, 0x00, 0x5e, 0, 0, 0xfb],
            (ip(12), 5353),
            (Ipv4Addr::new(224, 0, 0, 251), 5353),
        );
        assert_eq!(forwarded(t.decide(Path::new("/a3"), &f)), ["/a1", "/a2"]);
    }

    #[test]
    fn forged_source_mac_or_address_is_dropped() {
        let t = table();
        let d = |from: &str, f: Vec<u8>| t.decide(Path::new(from), &f);
        use DropReason::*;
        // a2 claiming a1's MAC (Ethernet), a1's address (IPv4, ARP), or ARP with a
        // sender MAC that is not its own.
        let cases = [
            (udp(CLIENT, mac(12), (ip(11), 1), (ip(12), 2)), SpoofedMac),
            (udp(mac(11), mac(12), (ip(10), 1), (ip(12), 2)), SpoofedIp),
            (udp(mac(11), mac(12), (ip(99), 1), (ip(12), 2)), SpoofedIp),
            (
                udp(mac(11), mac(12), (Ipv4Addr::UNSPECIFIED, 1), (ip(12), 2)),
                SpoofedIp,
            ),
            (arp(packet::ARP_REQUEST, mac(11), ip(10), ip(12)), SpoofedIp),
            (arp(packet::ARP_REPLY, mac(11), ip(10), ip(12)), SpoofedIp),
            (arp(packet::ARP_REQUEST, mac(11), ip(99), ip(12)), SpoofedIp),
            {
                let mut f = arp(packet::ARP_REQUEST, mac(11), ip(11), ip(12));
                f[14 + 8..14 + 14].copy_from_slice(&CLIENT); // ARP sha
                (f, SpoofedMac)
            },
        ];
        for (i, (frame, reason)) in cases.into_iter().enumerate() {
            assert_eq!(d("/a2", frame), Decision::Drop(reason), "case {i}");
        }
        // An ARP probe from 0.0.0.0 is fine; other EtherTypes (IPv6 here) are not.
        let probe = arp(packet::ARP_REQUEST, mac(11), Ipv4Addr::UNSPECIFIED, ip(11));
        assert_eq!(forwarded(d("/a2", probe)), ["/a1", "/a3"]);
        let mut v6 = udp(mac(11), mac(12), (ip(11), 1), (ip(12), 2));
        v6[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        assert_eq!(d("/a2", v6), Decision::Drop(EtherType));
    }

    #[test]
    fn guests_cannot_serve_dhcp() {
        let t = table();
        let offer = udp(
            mac(11),
            BROADCAST,
            (ip(11), dhcp::SERVER_PORT),
            (Ipv4Addr::BROADCAST, dhcp::CLIENT_PORT),
        );
        assert_eq!(
            t.decide(Path::new("/a2"), &offer),
            Decision::Drop(DropReason::RogueDhcpServer)
        );
    }

    fn dhcp_frame(src_mac: Mac, src_ip: Ipv4Addr, bootp: &[u8]) -> Vec<u8> {
        build_udp_frame(
            BROADCAST,
            src_mac,
            (src_ip, dhcp::CLIENT_PORT),
            (Ipv4Addr::BROADCAST, dhcp::SERVER_PORT),
            bootp,
        )
    }

    #[test]
    fn dhcp_discover_is_answered_by_the_switch_and_not_flooded() {
        let t = table();
        let discover = client_message(dhcp::DISCOVER, &[], Ipv4Addr::UNSPECIFIED);
        let f = dhcp_frame(CLIENT, Ipv4Addr::UNSPECIFIED, &discover);
        let Decision::Reply(reply) = t.decide(Path::new("/a1"), &f) else {
            panic!("no reply")
        };
        let eth = packet::parse_eth(&reply).unwrap();
        assert_eq!((eth.dst, eth.src), (CLIENT, SWITCH_MAC));
        assert!(packet::ipv4_header_ok(&eth.payload[..20]));
        let ipv4 = packet::parse_ipv4(eth.payload).unwrap();
        assert_eq!(ipv4.src, ip(1), "server id x.x.0.1");
        assert_eq!(ipv4.dst, Ipv4Addr::BROADCAST);
        assert!(packet::udp_checksum_ok(ipv4.src, ipv4.dst, ipv4.payload));
        let u = packet::parse_udp(ipv4.payload).unwrap();
        assert_eq!((u.src_port, u.dst_port), (67, 68));
        assert_eq!(
            u.payload[16..20],
            [172, 31, 0, 10],
            "yiaddr is a1's address"
        );

        // The same discover from a2's port names a1's MAC as chaddr: refused.
        let f = dhcp_frame(mac(11), Ipv4Addr::UNSPECIFIED, &discover);
        assert_eq!(
            t.decide(Path::new("/a2"), &f),
            Decision::Drop(DropReason::SpoofedMac)
        );
        // b1 has the same address as a1 in its own network and gets it too.
        let mut from_b = client_message(dhcp::DISCOVER, &[], Ipv4Addr::UNSPECIFIED);
        from_b[28..34].copy_from_slice(&B1_MAC);
        let f = dhcp_frame(B1_MAC, Ipv4Addr::UNSPECIFIED, &from_b);
        assert!(matches!(t.decide(Path::new("/b1"), &f), Decision::Reply(_)));
    }

    #[test]
    fn the_switch_answers_arp_for_its_server_id_so_renewals_reach_it() {
        let t = table();
        let f = arp(packet::ARP_REQUEST, mac(11), ip(11), ip(1));
        let Decision::Reply(reply) = t.decide(Path::new("/a2"), &f) else {
            panic!("no ARP reply")
        };
        let eth = packet::parse_eth(&reply).unwrap();
        assert_eq!((eth.dst, eth.src), (mac(11), SWITCH_MAC));
        let a = packet::parse_arp(eth.payload).unwrap();
        assert_eq!(
            (a.op, a.sha, a.spa, a.tha, a.tpa),
            (packet::ARP_REPLY, SWITCH_MAC, ip(1), mac(11), ip(11))
        );
        // A renewal: unicast from the leased address to the switch's MAC and address.
        let renew = client_message(dhcp::REQUEST, &[], ip(11));
        let mut renew_mac = renew.clone();
        renew_mac[28..34].copy_from_slice(&mac(11));
        let f = build_udp_frame(
            SWITCH_MAC,
            mac(11),
            (ip(11), dhcp::CLIENT_PORT),
            (ip(1), dhcp::SERVER_PORT),
            &renew_mac,
        );
        let Decision::Reply(reply) = t.decide(Path::new("/a2"), &f) else {
            panic!("renewal not answered")
        };
        let ipv4 = packet::parse_ipv4(&reply[14..]).unwrap();
        assert_eq!(ipv4.dst, ip(11), "unicast to the renewing client");
        // Other traffic to the switch's MAC goes nowhere.
        let ping = udp(mac(11), SWITCH_MAC, (ip(11), 7), (ip(1), 7));
        assert_eq!(
            t.decide(Path::new("/a2"), &ping),
            Decision::Drop(DropReason::ForSwitch)
        );
    }

    #[test]
    fn attach_validates_and_detach_forgets() {
        let mut t = table();
        let bad = |t: &mut PortTable, p: Port| assert!(t.attach(p).is_err());
        bad(&mut t, port("/x", "A", mac(11), 20)); // a2's MAC in A
        bad(&mut t, port("/x", "A", mac(20), 11)); // a2's address in A
        bad(&mut t, port("/x", "A", [0x01, 0, 0x5e, 0, 0, 1], 20));
        bad(&mut t, port("/x", "A", SWITCH_MAC, 20));
        bad(&mut t, port("/x", "A", mac(20), 1)); // the switch's address
        bad(&mut t, port("/x", "A", mac(20), 0)); // network address
        let mut p = port("/x", "A", mac(20), 20);
        p.prefix_len = 31;
        bad(&mut t, p);
        let mut p = port("/x", "A", mac(20), 20);
        p.hostname = Some("x".repeat(256));
        bad(&mut t, p);
        let mut p = port("/x", "A", mac(20), 255);
        p.ip = Ipv4Addr::new(172, 31, 255, 255);
        bad(&mut t, p);
        // Same MAC and address in another network: fine.
        t.attach(port("/b2", "B", mac(11), 11)).unwrap();
        // Re-attaching a path replaces its port.
        t.attach(port("/a2", "A", mac(21), 21)).unwrap();
        assert_eq!(t.len(), 5);
        let f = udp(CLIENT, mac(11), (ip(10), 1), (ip(11), 2));
        assert_eq!(
            t.decide(Path::new("/a1"), &f),
            Decision::Drop(DropReason::UnknownDestination)
        );
        let f = udp(CLIENT, mac(21), (ip(10), 1), (ip(21), 2));
        assert_eq!(forwarded(t.decide(Path::new("/a1"), &f)), ["/a2"]);
        assert_eq!(t.detach(Path::new("/a2")).unwrap().ip, ip(21));
        assert_eq!(
            t.decide(Path::new("/a1"), &f),
            Decision::Drop(DropReason::UnknownDestination)
        );
        assert_eq!(
            t.decide(Path::new("/a2"), &f),
            Decision::Drop(DropReason::UnknownSender)
        );
        assert!(t.detach(Path::new("/a2")).is_none());
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Frames with valid headers up to the part being fuzzed, from every port.
        fn structured() -> impl Strategy<Value = Vec<u8>> {
            (
                prop::sample::select(vec![CLIENT, mac(11), B1_MAC, BROADCAST, SWITCH_MAC]),
                prop::sample::select(vec![0u8, 1, 10, 11, 255]),
                prop::sample::select(vec![67u16, 68, 53]),
                prop::collection::vec(any::<u8>(), 0..400),
                any::<bool>(),
            )
                .prop_map(|(dst, last, port, body, as_dhcp)| {
                    let body = if as_dhcp {
                        let mut m = client_message(dhcp::REQUEST, &[], ip(last));
                        m.truncate(240);
                        m.extend_from_slice(&body);
                        m
                    } else {
                        body
                    };
                    build_udp_frame(dst, CLIENT, (ip(last), 68), (ip(1), port), &body)
                })
        }

        proptest! {
            #[test]
            fn any_bytes_from_any_port_never_panic(
                frame in prop::collection::vec(any::<u8>(), 0..200),
                from in prop::sample::select(vec!["/a1", "/a2", "/b1", "/nobody"]),
            ) {
                let t = table();
                let _ = t.decide(Path::new(from), &frame);
            }

            #[test]
            fn structured_frames_never_panic_nor_leave_the_network(frame in structured()) {
                let t = table();
                // Truncations and bit flips of well-formed frames, too.
                for cut in [frame.len(), frame.len() / 2, 42, 34] {
                    let f = &frame[..cut.min(frame.len())];
                    if let Decision::Forward(to) = t.decide(Path::new("/a1"), f) {
                        prop_assert!(to.iter().all(|p| p.to_string_lossy().starts_with("/a")), "{to:?}");
                    }
                }
            }
        }
    }
}
