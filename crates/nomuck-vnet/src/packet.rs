//! The few headers the switch reads and writes: Ethernet II, ARP for IPv4 over
//! Ethernet, IPv4 and UDP. Parsers take any bytes and answer `None` for anything
//! they do not understand; they never index past the input.

use std::net::Ipv4Addr;

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const IPPROTO_UDP: u8 = 17;
pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;

const ETH_HLEN: usize = 14;
const IPV4_HLEN: usize = 20;
const UDP_HLEN: usize = 8;
const ARP_LEN: usize = 28;

/// Group (broadcast or multicast) addresses have the lowest bit of the first octet set.
pub fn is_group(mac: &Mac) -> bool {
    mac[0] & 1 == 1
}

/// `52:54:00:12:34:56`, as QEMU's `mac=` takes it.
pub fn mac_string(mac: &Mac) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The inverse of [`mac_string`] (either case); `None` for anything else.
pub fn parse_mac(text: &str) -> Option<Mac> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn mac_at(b: &[u8], at: usize) -> Option<Mac> {
    b.get(at..at + 6)?.try_into().ok()
}

fn ip_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eth<'a> {
    pub dst: Mac,
    pub src: Mac,
    pub ethertype: u16,
    pub payload: &'a [u8],
}

pub fn parse_eth(frame: &[u8]) -> Option<Eth<'_>> {
    Some(Eth {
        dst: mac_at(frame, 0)?,
        src: mac_at(frame, 6)?,
        ethertype: u16_at(frame, 12)?,
        payload: frame.get(ETH_HLEN..)?,
    })
}

/// An ARP packet for IPv4 over Ethernet (the only kind the switch lets through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sha: Mac,
    pub spa: Ipv4Addr,
    pub tha: Mac,
    pub tpa: Ipv4Addr,
}

pub fn parse_arp(p: &[u8]) -> Option<Arp> {
    // Hardware type Ethernet, protocol IPv4, address lengths 6 and 4.
    if p.get(..6)? != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    Some(Arp {
        op: u16_at(p, 6)?,
        sha: mac_at(p, 8)?,
        spa: ip_at(p, 14)?,
        tha: mac_at(p, 18)?,
        tpa: ip_at(p, 24)?,
    })
}

fn eth_header(out: &mut Vec<u8>, dst: Mac, src: Mac, ethertype: u16) {
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    out.extend_from_slice(&ethertype.to_be_bytes());
}

pub fn build_arp_frame(dst: Mac, src: Mac, arp: &Arp) -> Vec<u8> {
    let mut f = Vec::with_capacity(ETH_HLEN + ARP_LEN);
    eth_header(&mut f, dst, src, ETHERTYPE_ARP);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    f.extend_from_slice(&arp.op.to_be_bytes());
    f.extend_from_slice(&arp.sha);
    f.extend_from_slice(&arp.spa.octets());
    f.extend_from_slice(&arp.tha);
    f.extend_from_slice(&arp.tpa.octets());
    f
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    /// Not the first fragment: no transport header.
    pub later_fragment: bool,
    /// The transport payload, cut to the total length (Ethernet pads short frames).
    pub payload: &'a [u8],
}

pub fn parse_ipv4(p: &[u8]) -> Option<Ipv4<'_>> {
    let first = *p.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < IPV4_HLEN {
        return None;
    }
    let total = usize::from(u16_at(p, 2)?);
    if total < ihl {
        return None;
    }
    Some(Ipv4 {
        src: ip_at(p, 12)?,
        dst: ip_at(p, 16)?,
        protocol: *p.get(9)?,
        later_fragment: u16_at(p, 6)? & 0x1fff != 0,
        payload: p.get(ihl..total)?,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

pub fn parse_udp(p: &[u8]) -> Option<Udp<'_>> {
    let len = usize::from(u16_at(p, 4)?);
    if len < UDP_HLEN {
        return None;
    }
    Some(Udp {
        src_port: u16_at(p, 0)?,
        dst_port: u16_at(p, 2)?,
        payload: p.get(UDP_HLEN..len)?,
    })
}

/// The Internet checksum (RFC 1071) of `data` added to `sum`, not yet folded.
fn sum16(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
/// True when the IPv4 header checksum of `header` verifies.
pub fn ipv4_header_ok(header: &[u8]) -> bool {
    fold(sum16(0, header)) == 0
}

#[cfg(test)]
/// True when the UDP checksum verifies (or is 0, "none", which IPv4 allows).
pub fn udp_checksum_ok(src: Ipv4Addr, dst: Ipv4Addr, udp: &[u8]) -> bool {
    if u16_at(udp, 6) == Some(0) {
        return true;
    }
    fold(pseudo_sum(src, dst, udp)) == 0
}

fn pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, udp: &[u8]) -> u32 {
    let mut sum = sum16(0, &src.octets());
    sum = sum16(sum, &dst.octets());
    sum += u32::from(IPPROTO_UDP);
    sum += udp.len() as u32;
    sum16(sum, udp)
}

/// An Ethernet frame carrying one UDP datagram in an unfragmented IPv4 packet,
/// with both checksums. `payload` is at most a few hundred bytes (DHCP).
pub fn build_udp_frame(
    dst_mac: Mac,
    src_mac: Mac,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = UDP_HLEN + payload.len();
    let total = IPV4_HLEN + udp_len;
    let mut f = Vec::with_capacity(ETH_HLEN + total);
    eth_header(&mut f, dst_mac, src_mac, ETHERTYPE_IPV4);

    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0]); // version 4, 20-byte header; TOS 0
    f.extend_from_slice(&(total as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0]); // id 0, don't fragment
    f.extend_from_slice(&[64, IPPROTO_UDP, 0, 0]); // TTL, protocol, checksum (below)
    f.extend_from_slice(&src.0.octets());
    f.extend_from_slice(&dst.0.octets());
    let checksum = fold(sum16(0, &f[ip_start..]));
    f[ip_start + 10..ip_start + 12].copy_from_slice(&checksum.to_be_bytes());

    let udp_start = f.len();
    f.extend_from_slice(&src.1.to_be_bytes());
    f.extend_from_slice(&dst.1.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    let mut checksum = fold(pseudo_sum(src.0, dst.0, &f[udp_start..]));
    if checksum == 0 {
        checksum = 0xffff; // 0 means "no checksum" in UDP
    }
    f[udp_start + 6..udp_start + 8].copy_from_slice(&checksum.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_frame_round_trips_with_valid_checksums() {
        let src = (Ipv4Addr::new(172, 31, 0, 1), 67);
        let dst = (Ipv4Addr::BROADCAST, 68);
        let f = build_udp_frame([2, 0, 0, 0, 0, 1], [2; 6], src, dst, b"hello, odd");
        let eth = parse_eth(&f).unwrap();
        assert_eq!(eth.ethertype, ETHERTYPE_IPV4);
        assert_eq!(eth.dst, [2, 0, 0, 0, 0, 1]);
        assert!(ipv4_header_ok(&eth.payload[..20]));
        let ip = parse_ipv4(eth.payload).unwrap();
        assert_eq!((ip.src, ip.dst, ip.protocol), (src.0, dst.0, IPPROTO_UDP));
        assert!(!ip.later_fragment);
        assert!(udp_checksum_ok(ip.src, ip.dst, ip.payload));
        let udp = parse_udp(ip.payload).unwrap();
        assert_eq!((udp.src_port, udp.dst_port), (67, 68));
        assert_eq!(udp.payload, b"hello, odd");
        // A flipped payload bit no longer verifies.
        let mut bad = ip.payload.to_vec();
        bad[9] ^= 1;
        assert!(!udp_checksum_ok(ip.src, ip.dst, &bad));
    }

    #[test]
    fn known_ipv4_header_checksum() {
        // The example header of RFC 1071 errata / Wikipedia: checksum 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(ipv4_header_ok(&h));
        h[10] = 0;
        h[11] = 0;
        assert_eq!(fold(sum16(0, &h)), 0xb861);
    }

    #[test]
    fn arp_round_trips_and_foreign_arp_is_refused() {
        let arp = Arp {
            op: ARP_REQUEST,
            sha: [2, 1, 2, 3, 4, 5],
            spa: Ipv4Addr::new(172, 31, 0, 10),
            tha: [0; 6],
            tpa: Ipv4Addr::new(172, 31, 0, 11),
        };
        let f = build_arp_frame(BROADCAST, arp.sha, &arp);
        let eth = parse_eth(&f).unwrap();
        assert_eq!(eth.ethertype, ETHERTYPE_ARP);
        assert_eq!(parse_arp(eth.payload), Some(arp));
        let mut other = eth.payload.to_vec();
        other[3] = 0xdd; // protocol IPv6: not ours to check
        assert_eq!(parse_arp(&other), None);
    }

    #[test]
    fn macs_print_and_parse() {
        let mac = [0x52, 0x54, 0x00, 0xab, 0x0c, 0xff];
        assert_eq!(mac_string(&mac), "52:54:00:ab:0c:ff");
        assert_eq!(parse_mac("52:54:00:AB:0c:ff"), Some(mac));
        for bad in [
            "",
            "52:54:00:ab:0c",
            "52:54:00:ab:0c:ff:01",
            "52:54:00:ab:c:fff",
            "52:54:00:ab:0c:+f",
            "52-54-00-ab-0c-ff",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn truncated_headers_are_none() {
        assert!(parse_eth(&[0; 13]).is_none());
        assert!(parse_ipv4(&[0x45; 19]).is_none());
        assert!(parse_ipv4(&[0x44; 40]).is_none(), "IHL below 5");
        let mut ip = [0u8; 24];
        ip[0] = 0x45;
        ip[3] = 30; // total length beyond the data
        assert!(parse_ipv4(&ip).is_none());
        assert!(parse_udp(&[0, 67, 0, 68, 0, 20, 0, 0]).is_none());
        assert!(parse_udp(&[0, 67, 0, 68, 0, 7, 0, 0]).is_none());
        assert!(parse_arp(&[0, 1, 8, 0, 6, 4, 0]).is_none());
    }
}
