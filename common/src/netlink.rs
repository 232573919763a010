//! Just enough rtnetlink(7) to set up a container's own interfaces: bring a link up, add an
//! IPv4 address, add a default route. This is what `ip` does underneath; we talk to the kernel
//! ourselves because starting `ip` costs about 2 ms, a fifth of step07's whole start.
//!
//! Each request is one netlink message: a header (`struct nlmsghdr`), a fixed body
//! (`ifinfomsg`, `ifaddrmsg` or `rtmsg`), then attributes (`struct rtattr`: length, type,
//! value, padded to 4 bytes). The kernel answers each with an acknowledgement holding an errno.
//! See netlink(7) and rtnetlink(7): <https://man7.org/linux/man-pages/man7/rtnetlink.7.html>.

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::libc;
use nix::net::if_::if_nametoindex;
use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

/// A NETLINK_ROUTE socket in the caller's network namespace.
pub struct Netlink {
    socket: OwnedFd,
    seq: u32,
}

impl Netlink {
    pub fn open() -> Result<Netlink> {
        let socket =
            socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)
                .context("socket(AF_NETLINK, NETLINK_ROUTE) failed")?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// `ip link set NAME up`: RTM_NEWLINK with IFF_UP set in the flags it changes.
    pub fn link_up(&mut self, name: &str) -> Result<()> {
        let mut body = Vec::new();
        body.extend([libc::AF_UNSPEC as u8, 0]); // ifi_family, padding
        body.extend(0u16.to_ne_bytes()); // ifi_type
        body.extend((index(name)? as i32).to_ne_bytes()); // ifi_index
        body.extend((libc::IFF_UP as u32).to_ne_bytes()); // ifi_flags
        body.extend((libc::IFF_UP as u32).to_ne_bytes()); // ifi_change: only IFF_UP
        self.request(libc::RTM_NEWLINK, 0, &body).with_context(|| format!("`ip link set {name} up` failed"))
    }

    /// `ip addr add ADDRESS/PREFIX dev NAME`: RTM_NEWADDR with the local and peer address.
    pub fn add_address(&mut self, name: &str, address: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut body = Vec::new();
        body.extend([libc::AF_INET as u8, prefix, 0, libc::RT_SCOPE_UNIVERSE]); // family, prefixlen, flags, scope
        body.extend(index(name)?.to_ne_bytes()); // ifa_index
        attribute(&mut body, libc::IFA_LOCAL, &address.octets());
        attribute(&mut body, libc::IFA_ADDRESS, &address.octets());
        let flags = libc::NLM_F_CREATE | libc::NLM_F_EXCL;
        self.request(libc::RTM_NEWADDR, flags, &body)
            .with_context(|| format!("`ip addr add {address}/{prefix} dev {name}` failed"))
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
        let flags = libc::NLM_F_CREATE | libc::NLM_F_EXCL;
        self.request(libc::RTM_NEWROUTE, flags, &body)
            .with_context(|| format!("`ip route add default via {gateway}` failed"))
    }

    /// Send one request and wait for the kernel's acknowledgement.
    fn request(&mut self, kind: u16, flags: i32, body: &[u8]) -> Result<()> {
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

        let mut reply = [0u8; 1024];
        let len =
            recv(self.socket.as_raw_fd(), &mut reply, MsgFlags::empty()).context("netlink recv() failed")?;
        let reply = &reply[..len];
        let field = |at: usize, n: usize| reply.get(at..at + n).ok_or_else(|| anyhow!("short netlink reply"));
        let kind = u16::from_ne_bytes(field(4, 2)?.try_into().unwrap());
        if kind != libc::NLMSG_ERROR as u16 {
            bail!("unexpected netlink reply of type {kind}");
        }
        // An acknowledgement is an NLMSG_ERROR whose error is 0; otherwise it is -errno.
        match i32::from_ne_bytes(field(16, 4)?.try_into().unwrap()) {
            0 => Ok(()),
            error => Err(Errno::from_raw(-error).into()),
        }
    }
}

/// Append an attribute: its length and type, the value, and padding to 4 bytes.
fn attribute(body: &mut Vec<u8>, kind: u16, value: &[u8]) {
    body.extend((4 + value.len() as u16).to_ne_bytes());
    body.extend(kind.to_ne_bytes());
    body.extend(value);
    body.resize(body.len().next_multiple_of(4), 0);
}

fn index(name: &str) -> Result<u32> {
    if_nametoindex(name).with_context(|| format!("there is no interface called {name}"))
}
