//! Just enough rtnetlink(7) for step07's network, on both ends of the cable: make a bridge and
//! a veth pair, put a link on a bridge, bring a link up, add an IPv4 address, add a default
//! route, and look at a link (a bridge? up? which IPv4 addresses?). This is what `ip` does
//! underneath. We talk to the kernel ourselves because starting `ip` costs about 2 ms each time,
//! and because the kernel's answer is an errno, not a message worded for people.
//!
//! Each request is one netlink message: a header (`struct nlmsghdr`), a fixed body
//! (`ifinfomsg`, `ifaddrmsg` or `rtmsg`), then attributes (`struct rtattr`: length, type,
//! value, padded to 4 bytes; a "nested" attribute holds more attributes as its value). The
//! kernel answers a change with an acknowledgement that holds an errno, and a question with
//! messages of the same shape. See netlink(7) and rtnetlink(7):
//! <https://man7.org/linux/man-pages/man7/rtnetlink.7.html>.
//!
//! A failure is an [`Errno`] in an `anyhow::Error` whose context is the `ip` command that makes
//! the same request, so callers can tell "it exists already" apart: `err.downcast_ref::<Errno>()`.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::libc;
use nix::net::if_::if_nametoindex;
use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

/// The veth driver's attribute that describes the peer (`VETH_INFO_PEER` in linux/veth.h).
const VETH_INFO_PEER: u16 = 1;
/// Flags for a request that makes something: create it, and fail with EEXIST if it exists.
const CREATE: i32 = libc::NLM_F_CREATE | libc::NLM_F_EXCL;
const IFF_UP: u32 = libc::IFF_UP as u32;

/// A NETLINK_ROUTE socket in the caller's network namespace.
pub struct Netlink {
    socket: OwnedFd,
    seq: u32,
}

/// What [`Netlink::link`] finds out about an interface.
pub struct Link {
    pub index: u32,
    pub is_bridge: bool,
    pub up: bool,
    /// Its IPv4 addresses, each with its prefix length.
    pub addresses: Vec<(Ipv4Addr, u8)>,
}

impl Netlink {
    pub fn open() -> Result<Netlink> {
        let socket =
            socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)
                .context("socket(AF_NETLINK, NETLINK_ROUTE) failed")?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// `ip link add NAME type bridge`: RTM_NEWLINK with the kind of link in IFLA_LINKINFO.
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut body = ifinfomsg(0, 0, 0);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated(name));
        nested(&mut body, libc::IFLA_LINKINFO, |info| {
            attribute(info, libc::IFLA_INFO_KIND, b"bridge");
        });
        self.request(libc::RTM_NEWLINK, CREATE, &body)
            .with_context(|| format!("`ip link add {name} type bridge` failed"))
            .map(drop)
    }

    /// `ip link add NAME type veth peer name PEER netns PID`: a veth pair whose peer is made
    /// directly in the network namespace of process PID. The peer is described like a link of
    /// its own (an `ifinfomsg` and attributes) in VETH_INFO_PEER, in IFLA_INFO_DATA.
    pub fn add_veth(&mut self, name: &str, peer: &str, pid: i32) -> Result<()> {
        let mut body = ifinfomsg(0, 0, 0);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated(name));
        nested(&mut body, libc::IFLA_LINKINFO, |info| {
            attribute(info, libc::IFLA_INFO_KIND, b"veth");
            nested(info, libc::IFLA_INFO_DATA, |data| {
                nested(data, VETH_INFO_PEER, |peer_link| {
                    peer_link.extend(ifinfomsg(0, 0, 0));
                    attribute(peer_link, libc::IFLA_IFNAME, &nul_terminated(peer));
                    attribute(peer_link, libc::IFLA_NET_NS_PID, &pid.to_ne_bytes());
                });
            });
        });
        self.request(libc::RTM_NEWLINK, CREATE, &body)
            .with_context(|| format!("`ip link add {name} type veth peer name {peer} netns {pid}` failed"))
            .map(drop)
    }

    /// `ip link set NAME up`: RTM_NEWLINK for the link called NAME, with IFF_UP set in the
    /// flags it changes.
    pub fn link_up(&mut self, name: &str) -> Result<()> {
        let mut body = ifinfomsg(0, IFF_UP, IFF_UP);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated(name));
        self.request(libc::RTM_NEWLINK, 0, &body)
            .with_context(|| format!("`ip link set {name} up` failed"))
            .map(drop)
    }

    /// `ip link set NAME master BRIDGE up`: the same, with the bridge's index in IFLA_MASTER.
    pub fn set_master_up(&mut self, name: &str, bridge: &str) -> Result<()> {
        let command = format!("ip link set {name} master {bridge} up");
        let master = if_nametoindex(bridge).with_context(|| format!("`{command}` failed: no {bridge}"))?;
        let mut body = ifinfomsg(0, IFF_UP, IFF_UP);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated(name));
        attribute(&mut body, libc::IFLA_MASTER, &master.to_ne_bytes());
        self.request(libc::RTM_NEWLINK, 0, &body).with_context(|| format!("`{command}` failed")).map(drop)
    }

    /// `ip addr add ADDRESS/PREFIX dev NAME`: RTM_NEWADDR with the local and peer address.
    pub fn add_address(&mut self, name: &str, address: Ipv4Addr, prefix: u8) -> Result<()> {
        let command = format!("ip addr add {address}/{prefix} dev {name}");
        let index = if_nametoindex(name).with_context(|| format!("`{command}` failed: no {name}"))?;
        let mut body = vec![libc::AF_INET as u8, prefix, 0, libc::RT_SCOPE_UNIVERSE]; // family, prefixlen, flags, scope
        body.extend(index.to_ne_bytes()); // ifa_index
        attribute(&mut body, libc::IFA_LOCAL, &address.octets());
        attribute(&mut body, libc::IFA_ADDRESS, &address.octets());
        self.request(libc::RTM_NEWADDR, CREATE, &body)
            .with_context(|| format!("`{command}` failed"))
            .map(drop)
    }

    /// `ip route add default via GATEWAY`: RTM_NEWROUTE to 0.0.0.0/0 in the main table.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut body = vec![
            libc::AF_INET as u8, // rtm_family
            0,                   // rtm_dst_len: 0 bits, the default route
            0,                   // rtm_src_len
            0,                   // rtm_tos
            libc::RT_TABLE_MAIN, // rtm_table
            libc::RTPROT_BOOT,   // rtm_protocol: what `ip route add` uses
            libc::RT_SCOPE_UNIVERSE,
            libc::RTN_UNICAST,
        ];
        body.extend(0u32.to_ne_bytes()); // rtm_flags
        attribute(&mut body, libc::RTA_GATEWAY, &gateway.octets());
        self.request(libc::RTM_NEWROUTE, CREATE, &body)
            .with_context(|| format!("`ip route add default via {gateway}` failed"))
            .map(drop)
    }

    /// `ip -d link show NAME` and `ip -4 addr show dev NAME`: RTM_GETLINK for the link called
    /// NAME, then a dump of every IPv4 address (RTM_GETADDR), of which we keep the link's.
    /// `None` if there is no such link.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut body = ifinfomsg(0, 0, 0);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated(name));
        let answer = match self.request(libc::RTM_GETLINK, 0, &body) {
            Err(err) if err.downcast_ref() == Some(&Errno::ENODEV) => return Ok(None),
            answer => answer.with_context(|| format!("`ip -d link show {name}` failed"))?,
        };
        let Some(link) = answer.first().filter(|link| link.len() >= 16) else {
            bail!("`ip -d link show {name}`: the kernel's answer is too short");
        };
        let kind = attributes(&link[16..])
            .filter(|&(kind, _)| kind == libc::IFLA_LINKINFO)
            .flat_map(|(_, info)| attributes(info))
            .find(|&(kind, _)| kind == libc::IFLA_INFO_KIND)
            .map(|(_, value)| value.strip_suffix(b"\0").unwrap_or(value));
        let index = u32_at(link, 4); // ifi_index
        let family = [libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0]; // an ifaddrmsg: IPv4, any link
        let addresses = self
            .request(libc::RTM_GETADDR, libc::NLM_F_DUMP, &family)
            .with_context(|| format!("`ip -4 addr show dev {name}` failed"))?
            .iter()
            .filter(|address| address.len() >= 8 && u32_at(address, 4) == index) // ifa_index
            .filter_map(|address| {
                let (_, local) = attributes(&address[8..]).find(|&(kind, _)| kind == libc::IFA_LOCAL)?;
                let prefix = address[1]; // ifa_prefixlen
                Some((Ipv4Addr::from(<[u8; 4]>::try_from(local).ok()?), prefix))
            })
            .collect();
        Ok(Some(Link {
            index,
            is_bridge: kind == Some(b"bridge"),
            up: u32_at(link, 8) & IFF_UP != 0, // ifi_flags
            addresses,
        }))
    }

    /// Send one request, and collect the kernel's answer: the messages it sends back (for a
    /// question), up to the acknowledgement, or to the end of a dump (NLMSG_DONE). Either holds
    /// an errno: 0, or minus the errno of the request's failure.
    fn request(&mut self, kind: u16, flags: i32, body: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.seq += 1;
        let mut message = Vec::with_capacity(16 + body.len());
        message.extend((16 + body.len() as u32).to_ne_bytes()); // nlmsg_len
        message.extend(kind.to_ne_bytes()); // nlmsg_type
        message.extend(((libc::NLM_F_REQUEST | libc::NLM_F_ACK | flags) as u16).to_ne_bytes());
        message.extend(self.seq.to_ne_bytes()); // nlmsg_seq
        message.extend(0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it in
        message.extend(body);
        let kernel = NetlinkAddr::new(0, 0);
        sendto(self.socket.as_raw_fd(), &message, &kernel, MsgFlags::empty())
            .context("netlink sendto() failed")?;

        let mut answers = Vec::new();
        let mut buffer = vec![0u8; 32 * 1024]; // the most the kernel puts in one datagram
        loop {
            let len = recv(self.socket.as_raw_fd(), &mut buffer, MsgFlags::empty())
                .context("netlink recv() failed")?;
            let mut rest = &buffer[..len];
            while rest.len() >= 16 {
                let (size, kind, seq) = (u32_at(rest, 0) as usize, u16_at(rest, 4), u32_at(rest, 8));
                if size < 16 || size > rest.len() {
                    bail!("malformed netlink answer");
                }
                let payload = &rest[16..size];
                rest = &rest[size.next_multiple_of(4).min(rest.len())..];
                if seq != self.seq {
                    continue; // the answer to an earlier request
                }
                if kind == libc::NLMSG_ERROR as u16 || kind == libc::NLMSG_DONE as u16 {
                    return match payload.get(..4).map_or(0, |_| u32_at(payload, 0) as i32) {
                        0 => Ok(answers),
                        error => Err(Errno::from_raw(-error).into()),
                    };
                }
                answers.push(payload.to_vec());
            }
        }
    }
}

/// A `struct ifinfomsg`: the link's index (0 for a new link, or one named by IFLA_IFNAME),
/// its flags, and which of them to change.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> Vec<u8> {
    let mut body = vec![libc::AF_UNSPEC as u8, 0]; // ifi_family, padding
    body.extend(0u16.to_ne_bytes()); // ifi_type
    body.extend(index.to_ne_bytes()); // ifi_index
    body.extend(flags.to_ne_bytes()); // ifi_flags
    body.extend(change.to_ne_bytes()); // ifi_change
    body
}

/// Append an attribute: its length and type, the value, and padding to 4 bytes.
fn attribute(body: &mut Vec<u8>, kind: u16, value: &[u8]) {
    body.extend((4 + value.len() as u16).to_ne_bytes());
    body.extend(kind.to_ne_bytes());
    body.extend(value);
    body.resize(body.len().next_multiple_of(4), 0);
}

/// Append an attribute whose value is the attributes that `fill` appends.
fn nested(body: &mut Vec<u8>, kind: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = body.len();
    attribute(body, kind, &[]);
    fill(body);
    let len = (body.len() - start) as u16;
    body[start..start + 2].copy_from_slice(&len.to_ne_bytes());
}

/// The attributes in `data`, as (type, value).
fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(data.get(..4)?, 0));
        let kind = u16_at(data, 2) & libc::NLA_TYPE_MASK as u16; // without the "nested" flag
        let value = data.get(4..len)?;
        data = &data[len.next_multiple_of(4).min(data.len())..];
        Some((kind, value))
    })
}

fn nul_terminated(name: &str) -> Vec<u8> {
    [name.as_bytes(), b"\0"].concat()
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(bytes[at..at + 2].try_into().unwrap())
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap())
}
