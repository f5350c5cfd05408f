//! CIDR blocks for the `IpAddress` / `NotIpAddress` condition operators.

use std::net::IpAddr;

/// An address block; host bits are cleared on parse (`10.1.2.3/8` is `10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { net: u32, prefix: u8 },
    V6 { net: u128, prefix: u8 },
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Cidr {
    /// `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128, as in IAM).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                // u8::from_str accepts a leading '+'; a prefix is digits only.
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let prefix = prefix.unwrap_or(32);
                (prefix <= 32).then(|| Self::V4 {
                    net: u32::from(a) & mask32(prefix),
                    prefix,
                })
            }
            IpAddr::V6(a) => {
                let prefix = prefix.unwrap_or(128);
                (prefix <= 128).then(|| Self::V6 {
                    net: u128::from(a) & mask128(prefix),
                    prefix,
                })
            }
        }
    }

    pub(crate) fn prefix(self) -> u8 {
        match self {
            Self::V4 { prefix, .. } | Self::V6 { prefix, .. } => prefix,
        }
    }

    pub(crate) fn is_v4(self) -> bool {
        matches!(self, Self::V4 { .. })
    }

    /// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) counts as its IPv4 address,
    /// since dual-stack listeners report IPv4 clients that way.
    pub(crate) fn contains(self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self, addr) {
            (Self::V4 { net, prefix }, IpAddr::V4(a)) => u32::from(a) & mask32(prefix) == net,
            (Self::V6 { net, prefix }, IpAddr::V6(a)) => u128::from(a) & mask128(prefix) == net,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4() {
        let c = Cidr::parse("192.168.1.0/24").unwrap();
        assert!(c.contains(ip("192.168.1.77")));
        assert!(!c.contains(ip("192.168.2.1")));
        assert!(c.contains(ip("::ffff:192.168.1.9")));
        assert!(!c.contains(ip("2001:db8::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let host = Cidr::parse("10.0.0.1").unwrap();
        assert_eq!(host.prefix(), 32);
        assert!(host.contains(ip("10.0.0.1")));
        assert!(!host.contains(ip("10.0.0.2")));
        // Host bits are ignored.
        assert!(Cidr::parse("10.9.9.9/8").unwrap().contains(ip("10.1.1.1")));
    }

    #[test]
    fn v6() {
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains(ip("2001:db8:ffff::1")));
        assert!(!c.contains(ip("2001:db9::1")));
        assert!(!c.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("::1/128").unwrap().contains(ip("::1")));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0",
            "x/8",
            "10.0.0.0/8/8",
            "10.0.0.0/0008",
        ] {
            assert_eq!(Cidr::parse(s), None, "{s}");
        }
    }
}
