//! The switch's DHCP server (RFC 2131/2132), reduced to what a port needs: each
//! port has exactly one address, so there is no pool and no lease state. It offers
//! that address, ACKs a request for it, NAKs a request for anything else, and says
//! nothing about routers or DNS (the guest's default route and resolver stay on its
//! user-mode NIC).

use std::net::Ipv4Addr;

use crate::packet::Mac;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;

const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
/// op..file: the fixed BOOTP part before the magic cookie.
const FIXED_LEN: usize = 236;
/// Some clients ignore BOOTP messages shorter than this (RFC 1542 minimum).
const MIN_LEN: usize = 300;

pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
#[cfg(test)]
pub const DECLINE: u8 = 4;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;
#[cfg(test)]
pub const RELEASE: u8 = 7;
pub const INFORM: u8 = 8;

const OPT_PAD: u8 = 0;
const OPT_SUBNET_MASK: u8 = 1;
const OPT_HOSTNAME: u8 = 12;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_LEASE_TIME: u8 = 51;
const OPT_MESSAGE_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const OPT_RENEWAL_TIME: u8 = 58;
const OPT_REBINDING_TIME: u8 = 59;
const OPT_END: u8 = 255;

/// How long a lease lasts: a day. The address never changes while the port is
/// attached, so renewing is a formality; a day keeps renewals (unicast to the
/// server id, which the switch answers ARP for) rare.
pub const LEASE_SECS: u32 = 86_400;

/// A client's message: the fields the server reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub xid: [u8; 4],
    pub flags: [u8; 2],
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: Mac,
    pub message_type: u8,
    pub requested_ip: Option<Ipv4Addr>,
    pub server_id: Option<Ipv4Addr>,
}

/// Parses a BOOTREQUEST from an Ethernet client carrying a DHCP message type;
/// `None` for anything else.
pub fn parse(b: &[u8]) -> Option<Message> {
    // op, htype Ethernet, hlen 6.
    if b.get(..3)? != [BOOTREQUEST, 1, 6] || b.get(FIXED_LEN..FIXED_LEN + 4)? != MAGIC {
        return None;
    }
    let ip = |at: usize| -> Option<Ipv4Addr> {
        let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(o))
    };
    let mut m = Message {
        xid: b.get(4..8)?.try_into().ok()?,
        flags: b.get(10..12)?.try_into().ok()?,
        ciaddr: ip(12)?,
        giaddr: ip(24)?,
        chaddr: b.get(28..34)?.try_into().ok()?,
        message_type: 0,
        requested_ip: None,
        server_id: None,
    };
    let mut options = b.get(FIXED_LEN + 4..)?;
    // Option overload (52) is not honoured: this server asks for nothing that a
    // client would move into sname/file.
    while let Some((&code, rest)) = options.split_first() {
        match code {
            OPT_PAD => options = rest,
            OPT_END => break,
            _ => {
                let (&len, rest) = rest.split_first()?;
                let value = rest.get(..usize::from(len))?;
                options = &rest[usize::from(len)..];
                let addr = || <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from);
                match code {
                    OPT_MESSAGE_TYPE if len == 1 => m.message_type = value[0],
                    OPT_REQUESTED_IP => m.requested_ip = addr(),
                    OPT_SERVER_ID => m.server_id = addr(),
                    _ => {}
                }
            }
        }
    }
    (m.message_type != 0).then_some(m)
}

/// What the server knows of the one client on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease<'a> {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub server_id: Ipv4Addr,
    pub hostname: Option<&'a str>,
}

/// A reply to send: the BOOTP message and the IPv4 destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub message_type: u8,
    pub dst: Ipv4Addr,
    pub bootp: Vec<u8>,
}

pub fn netmask(prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from(
        u32::MAX
            .checked_shl(32 - u32::from(prefix_len.min(32)))
            .unwrap_or(0),
    )
}

/// The server's answer to `m`, or `None` when it gives none (DECLINE, RELEASE, a
/// REQUEST meant for another server, unknown types).
pub fn respond(m: &Message, lease: &Lease) -> Option<Reply> {
    match m.message_type {
        DISCOVER => Some(reply(m, lease, OFFER)),
        REQUEST => {
            if m.server_id.is_some_and(|s| s != lease.server_id) {
                return None; // the client chose another server's offer
            }
            // SELECTING/INIT-REBOOT name the address in option 50; RENEWING and
            // REBINDING in ciaddr.
            let asked = m
                .requested_ip
                .or((!m.ciaddr.is_unspecified()).then_some(m.ciaddr));
            Some(reply(
                m,
                lease,
                if asked == Some(lease.ip) { ACK } else { NAK },
            ))
        }
        INFORM => Some(reply(m, lease, ACK)),
        _ => None,
    }
}

fn reply(m: &Message, lease: &Lease, message_type: u8) -> Reply {
    let inform = m.message_type == INFORM;
    let yiaddr = if message_type == NAK || inform {
        Ipv4Addr::UNSPECIFIED
    } else {
        lease.ip
    };
    let mut b = Vec::with_capacity(MIN_LEN + 64);
    b.extend_from_slice(&[BOOTREPLY, 1, 6, 0]);
    b.extend_from_slice(&m.xid);
    b.extend_from_slice(&[0, 0]); // secs
    b.extend_from_slice(&m.flags);
    // ciaddr is echoed in an ACK (RFC 2131 table 3), zero otherwise.
    let ciaddr = if message_type == ACK {
        m.ciaddr
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    b.extend_from_slice(&ciaddr.octets());
    b.extend_from_slice(&yiaddr.octets());
    b.extend_from_slice(&[0; 4]); // siaddr: no boot server
    b.extend_from_slice(&m.giaddr.octets());
    b.extend_from_slice(&m.chaddr);
    b.resize(FIXED_LEN, 0); // rest of chaddr, sname, file
    b.extend_from_slice(&MAGIC);

    let mut opt = |code: u8, value: &[u8]| {
        b.push(code);
        b.push(value.len() as u8);
        b.extend_from_slice(value);
    };
    opt(OPT_MESSAGE_TYPE, &[message_type]);
    opt(OPT_SERVER_ID, &lease.server_id.octets());
    if message_type != NAK {
        if !inform {
            opt(OPT_LEASE_TIME, &LEASE_SECS.to_be_bytes());
            opt(OPT_RENEWAL_TIME, &(LEASE_SECS / 2).to_be_bytes());
            opt(OPT_REBINDING_TIME, &(LEASE_SECS / 8 * 7).to_be_bytes());
        }
        opt(OPT_SUBNET_MASK, &netmask(lease.prefix_len).octets());
        if let Some(h) = lease.hostname {
            // Checked at attach: 1..=255 bytes.
            let h = &h.as_bytes()[..h.len().min(255)];
            if !h.is_empty() {
                opt(OPT_HOSTNAME, h);
            }
        }
    }
    b.push(OPT_END);
    if b.len() < MIN_LEN {
        b.resize(MIN_LEN, OPT_PAD);
    }

    // A NAK, or a client without an address yet, is answered by broadcast (the
    // Ethernet destination is still the client's MAC: only its port receives it);
    // a renewing client already has its address.
    let dst = if message_type == NAK || m.ciaddr.is_unspecified() {
        Ipv4Addr::BROADCAST
    } else {
        m.ciaddr
    };
    Reply {
        message_type,
        dst,
        bootp: b,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const CLIENT: Mac = [0x52, 0x54, 0x00, 0xaa, 0x00, 0x10];

    /// A client message as busybox udhcpc builds it.
    pub fn client_message(message_type: u8, options: &[(u8, &[u8])], ciaddr: Ipv4Addr) -> Vec<u8> {
        let mut b = vec![BOOTREQUEST, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef, 0, 3, 0x80, 0];
        b.extend_from_slice(&ciaddr.octets());
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&CLIENT);
        b.resize(FIXED_LEN, 0);
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&[OPT_MESSAGE_TYPE, 1, message_type]);
        b.push(OPT_PAD);
        for (code, value) in options {
            b.push(*code);
            b.push(value.len() as u8);
            b.extend_from_slice(value);
        }
        // Parameter request list asking for router and DNS, which are not given.
        b.extend_from_slice(&[55, 4, 1, 3, 6, 12, OPT_END]);
        b
    }

    fn lease() -> Lease<'static> {
        Lease {
            ip: Ipv4Addr::new(172, 31, 0, 10),
            prefix_len: 16,
            server_id: Ipv4Addr::new(172, 31, 0, 1),
            hostname: Some("ip-172-31-0-10"),
        }
    }

    /// The options of a reply, in order.
    fn options(bootp: &[u8]) -> Vec<(u8, Vec<u8>)> {
        assert_eq!(&bootp[FIXED_LEN..FIXED_LEN + 4], MAGIC);
        let mut out = Vec::new();
        let mut i = FIXED_LEN + 4;
        while bootp[i] != OPT_END {
            let len = usize::from(bootp[i + 1]);
            out.push((bootp[i], bootp[i + 2..i + 2 + len].to_vec()));
            i += 2 + len;
        }
        out
    }

    #[test]
    fn discover_is_offered_exactly_the_ports_address_without_router_or_dns() {
        let m = parse(&client_message(DISCOVER, &[], Ipv4Addr::UNSPECIFIED)).unwrap();
        assert_eq!(m.chaddr, CLIENT);
        assert_eq!(m.message_type, DISCOVER);
        let r = respond(&m, &lease()).unwrap();
        assert_eq!(r.message_type, OFFER);
        assert_eq!(r.dst, Ipv4Addr::BROADCAST);
        assert!(r.bootp.len() >= MIN_LEN);
        assert_eq!(r.bootp[0], BOOTREPLY);
        assert_eq!(r.bootp[4..8], [0xde, 0xad, 0xbe, 0xef], "xid echoed");
        assert_eq!(r.bootp[10..12], [0x80, 0], "broadcast flag echoed");
        assert_eq!(r.bootp[16..20], [172, 31, 0, 10], "yiaddr");
        assert_eq!(r.bootp[28..34], CLIENT);
        assert_eq!(
            options(&r.bootp),
            vec![
                (OPT_MESSAGE_TYPE, vec![OFFER]),
                (OPT_SERVER_ID, vec![172, 31, 0, 1]),
                (OPT_LEASE_TIME, 86_400u32.to_be_bytes().to_vec()),
                (OPT_RENEWAL_TIME, 43_200u32.to_be_bytes().to_vec()),
                (OPT_REBINDING_TIME, 75_600u32.to_be_bytes().to_vec()),
                (OPT_SUBNET_MASK, vec![255, 255, 0, 0]),
                (OPT_HOSTNAME, b"ip-172-31-0-10".to_vec()),
            ],
            "no router (3) and no DNS (6)"
        );
    }

    #[test]
    fn request_for_the_ports_address_is_acked_and_anything_else_naked() {
        let ip = [172, 31, 0, 10];
        let ok = client_message(
            REQUEST,
            &[(OPT_REQUESTED_IP, &ip), (OPT_SERVER_ID, &[172, 31, 0, 1])],
            Ipv4Addr::UNSPECIFIED,
        );
        let r = respond(&parse(&ok).unwrap(), &lease()).unwrap();
        assert_eq!(r.message_type, ACK);
        assert_eq!(r.bootp[16..20], ip);

        let other = client_message(
            REQUEST,
            &[(OPT_REQUESTED_IP, &[172, 31, 0, 11])],
            Ipv4Addr::UNSPECIFIED,
        );
        let r = respond(&parse(&other).unwrap(), &lease()).unwrap();
        assert_eq!(r.message_type, NAK);
        assert_eq!(r.dst, Ipv4Addr::BROADCAST);
        assert_eq!(r.bootp[16..20], [0; 4], "a NAK gives no address");
        assert_eq!(
            options(&r.bootp),
            vec![
                (OPT_MESSAGE_TYPE, vec![NAK]),
                (OPT_SERVER_ID, vec![172, 31, 0, 1])
            ]
        );

        // Meant for another server: silence.
        let elsewhere = client_message(
            REQUEST,
            &[(OPT_REQUESTED_IP, &ip), (OPT_SERVER_ID, &[10, 0, 0, 1])],
            Ipv4Addr::UNSPECIFIED,
        );
        assert_eq!(respond(&parse(&elsewhere).unwrap(), &lease()), None);
    }

    #[test]
    fn renewal_names_the_address_in_ciaddr_and_is_answered_unicast() {
        let renew = client_message(REQUEST, &[], Ipv4Addr::new(172, 31, 0, 10));
        let r = respond(&parse(&renew).unwrap(), &lease()).unwrap();
        assert_eq!(r.message_type, ACK);
        assert_eq!(r.dst, Ipv4Addr::new(172, 31, 0, 10));
        assert_eq!(r.bootp[12..16], [172, 31, 0, 10], "ciaddr echoed in an ACK");
        let wrong = client_message(REQUEST, &[], Ipv4Addr::new(172, 31, 0, 99));
        assert_eq!(
            respond(&parse(&wrong).unwrap(), &lease())
                .unwrap()
                .message_type,
            NAK
        );
    }

    #[test]
    fn release_decline_and_non_dhcp_get_no_answer() {
        for t in [RELEASE, DECLINE, 42] {
            let m = parse(&client_message(t, &[], Ipv4Addr::UNSPECIFIED)).unwrap();
            assert_eq!(respond(&m, &lease()), None, "type {t}");
        }
        let mut bootp_only = client_message(DISCOVER, &[], Ipv4Addr::UNSPECIFIED);
        bootp_only.truncate(FIXED_LEN + 4);
        assert_eq!(parse(&bootp_only), None, "plain BOOTP has no message type");
        let mut reply = client_message(DISCOVER, &[], Ipv4Addr::UNSPECIFIED);
        reply[0] = BOOTREPLY;
        assert_eq!(parse(&reply), None);
        // An option running past the end.
        let mut cut = client_message(DISCOVER, &[], Ipv4Addr::UNSPECIFIED);
        cut.truncate(FIXED_LEN + 4 + 4);
        cut.extend_from_slice(&[OPT_HOSTNAME, 200, b'x']);
        assert_eq!(parse(&cut), None);
    }

    #[test]
    fn inform_is_acked_without_address_or_lease() {
        let m = parse(&client_message(INFORM, &[], Ipv4Addr::new(172, 31, 0, 10))).unwrap();
        let r = respond(&m, &lease()).unwrap();
        assert_eq!(r.message_type, ACK);
        assert_eq!(r.bootp[16..20], [0; 4]);
        assert!(options(&r.bootp).iter().all(|(c, _)| *c != OPT_LEASE_TIME));
    }

    #[test]
    fn netmasks() {
        assert_eq!(netmask(16), Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(netmask(20), Ipv4Addr::new(255, 255, 240, 0));
        assert_eq!(netmask(32), Ipv4Addr::BROADCAST);
        assert_eq!(netmask(0), Ipv4Addr::UNSPECIFIED);
    }
}
