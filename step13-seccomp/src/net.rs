//! The network namespace: a bridge on the host, a veth pair to it, and the child's side.
//!
//! The parent makes the host's end: the bridge (once), and a veth pair whose other end it
//! creates directly in the child's network namespace as `eth0`. It sends the child its address
//! and gateway through the pipe the child waits on. The child, root in its own namespaces,
//! brings `lo` and `eth0` up, adds the address and a default route.
//!
//! Both ask the kernel over rtnetlink(7), as `ip` itself does (`common::netlink`), and print
//! each request as the `ip` command that makes the same change, so you can repeat it by hand.

use anyhow::{bail, Context, Result};
use caps::{CapSet, Capability};
use common::netlink::{Link, Netlink};
use common::{say, Args};
use nix::errno::Errno;
use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};
use nix::unistd::{geteuid, Pid};
use std::net::Ipv4Addr;

// ANCHOR: network
/// Bring up our side of the network: `lo`, and `eth0` if the parent made us a link
/// (`link` is then "ADDRESS/PREFIX GATEWAY"). We may: we are root in the user namespace that
/// owns this network namespace. Starting `ip` for this would cost a fifth of our start-up.
pub fn set_up_network(link: &str) -> Result<()> {
    if common::narrating() {
        say!("child: network before setup: {}", interfaces()?);
    }
    let mut netlink = Netlink::open()?;
    say!("child: ip link set lo up");
    netlink.link_up("lo")?;
    if let Some((address, gateway)) = parse_link(link.trim()) {
        let (address, prefix) = address;
        say!("child: ip addr add {address}/{prefix} dev eth0");
        netlink.add_address("eth0", address, prefix)?;
        say!("child: ip link set eth0 up");
        netlink.link_up("eth0")?;
        say!("child: ip route add default via {gateway}");
        netlink.add_default_route(gateway)?;
    }
    if common::narrating() {
        say!("child: network after setup: {}", interfaces()?);
    }
    Ok(())
}

/// Read "ADDRESS/PREFIX GATEWAY", as the parent writes it.
fn parse_link(link: &str) -> Option<((Ipv4Addr, u8), Ipv4Addr)> {
    let (address, gateway) = link.split_once(' ')?;
    let (address, prefix) = address.split_once('/')?;
    Some(((address.parse().ok()?, prefix.parse().ok()?), gateway.parse().ok()?))
}

/// Our network interfaces and whether they are up, e.g. "lo (down)": getifaddrs(3).
fn interfaces() -> Result<String> {
    let mut seen: Vec<String> = Vec::new();
    for ifa in getifaddrs().context("getifaddrs() failed")? {
        let up = if ifa.flags.contains(InterfaceFlags::IFF_UP) { "up" } else { "down" };
        let entry = format!("{} ({up})", ifa.interface_name);
        if !seen.contains(&entry) {
            seen.push(entry);
        }
    }
    Ok(seen.join(", "))
}
// ANCHOR_END: network

// ANCHOR: connect
/// The network the container joins: a bridge, its subnet, and maybe a chosen address.
pub struct Network {
    bridge: String,
    subnet: Ipv4Addr,
    prefix: u32,
    ip: Option<Ipv4Addr>,
}

/// Connect the child to the bridge, and write its address and gateway into `link` for it.
///
/// The host's end of the cable needs CAP_NET_ADMIN in the host's network namespace, which only
/// root has; an ordinary user's container gets `lo` only.
pub fn connect(child: Pid, network: &Network, maps: &crate::userns::Release) -> Result<()> {
    if !caps::has_cap(None, CapSet::Effective, Capability::CAP_NET_ADMIN).unwrap_or(false) {
        say!(
            "parent: no network link for the container, only lo: making the host's end of a veth \
             pair needs CAP_NET_ADMIN, which uid {} lacks; run with sudo (inside unshare --net), or in \
             cargo xtask sandbox, for one",
            geteuid()
        );
        return Ok(());
    }
    let mut netlink = Netlink::open()?;
    let bridge = make_bridge(&mut netlink, network)?;
    let (host_end, address) = add_veth(&mut netlink, child, network, bridge)?;
    maps.send(&format!("{address}/{} {}", network.prefix, network.host(1)))?;
    say!("parent: container is {address} on {} via {host_end}", network.bridge);
    Ok(())
}

/// Make the bridge, give it the subnet's first address (the containers' gateway) and bring it
/// up; of a bridge that is there already, do what is missing: a run killed halfway may have
/// left it down, or without its address. It stays after the container ends, like docker0.
/// Another container may be making it at the same moment, so "it exists already" (EEXIST) is
/// not an error. Returns the bridge's interface index.
fn make_bridge(netlink: &mut Netlink, network: &Network) -> Result<u32> {
    let (bridge, gateway, prefix) = (network.bridge.as_str(), network.host(1), network.prefix as u8);
    let link = match netlink.link(bridge)? {
        Some(link) => link,
        None => {
            say!("parent: ip link add {bridge} type bridge");
            exists_is_fine(netlink.add_bridge(bridge))?;
            netlink.link(bridge)?.with_context(|| format!("{bridge} vanished as we made it"))?
        }
    };
    network.check_bridge(&link)?;
    if !link.addresses.contains(&(gateway, prefix)) {
        say!("parent: ip addr add {gateway}/{prefix} dev {bridge}");
        exists_is_fine(netlink.add_address(bridge, gateway, prefix))?;
    }
    if !link.up {
        say!("parent: ip link set {bridge} up");
        netlink.link_up(bridge)?;
    }
    Ok(link.index)
}

/// Make a veth pair whose host end is on the bridge, and whose other end is created directly
/// in the child's network namespace as `eth0` ("netns PID"): moving an interface from one
/// namespace to another costs the kernel tens of milliseconds, creating it in place does not.
/// When the container ends, the kernel removes its network namespace, and the pair with it.
///
/// The host end is called vethB-N for the container's address, the subnet's Nth, on the bridge
/// whose interface index is B. The kernel lets only one interface have a name, so the name
/// reserves the address: two containers starting at once cannot both take it. The index keeps
/// apart bridges whose names begin alike: a name has at most 15 bytes, too few for a bridge's
/// whole name and a number.
fn add_veth(netlink: &mut Netlink, child: Pid, network: &Network, bridge: u32) -> Result<(String, Ipv4Addr)> {
    // The addresses to try, one after the other: --ip, or every host address after the gateway.
    let (first, last) = match network.ip {
        Some(ip) => (network.nth(ip), network.nth(ip)),
        None => (2, (1u32 << (32 - network.prefix)) - 2),
    };
    for n in first..=last {
        let host_end = format!("veth{bridge}-{n}");
        if host_end.len() > 15 {
            bail!("no name for the host end of {}: {host_end} is over 15 bytes", network.host(n));
        }
        if network.ip.is_none() && if_nametoindex(host_end.as_str()).is_ok() {
            continue; // taken: the name exists
        }
        say!("parent: ip link add {host_end} type veth peer name eth0 netns {child}");
        match netlink.add_veth(&host_end, "eth0", child.as_raw()) {
            // Taken by another container since we looked: try the next, unless it was --ip.
            Err(err) if is(&err, Errno::EEXIST) && network.ip.is_none() => continue,
            Err(err) if is(&err, Errno::EEXIST) => {
                bail!("--ip {}: taken, {host_end} exists", network.host(n))
            }
            result => result?,
        }
        say!("parent: ip link set {host_end} master {} up", network.bridge);
        netlink.set_master_up(&host_end, &network.bridge)?;
        return Ok((host_end, network.host(n)));
    }
    bail!("no free address left in {}/{}", network.subnet, network.prefix)
}

/// Whether the kernel refused a request with `errno`.
fn is(err: &anyhow::Error, errno: Errno) -> bool {
    err.downcast_ref::<Errno>() == Some(&errno)
}

/// The result, but success if the kernel said "it exists already" (EEXIST).
fn exists_is_fine(result: Result<()>) -> Result<()> {
    match result {
        Err(err) if is(&err, Errno::EEXIST) => Ok(()),
        result => result,
    }
}

impl Network {
    /// Read --bridge, --subnet and --ip, with the article's defaults, and check them; and refuse
    /// an interface called --bridge that we could not use. Nothing is made yet.
    pub fn from_args(args: &Args) -> Result<Network> {
        // Shown in an error as one line, whatever it holds; not UTF-8 is then refused as not ASCII.
        let text = |name, default: &str| {
            args.value(name).map_or(default.into(), |v| v.to_string_lossy().escape_debug().to_string())
        };
        let bridge = check_name(text("--bridge", "lxcbr0"))?;
        let subnet = text("--subnet", "192.168.10.0/24");
        let parsed =
            subnet.split_once('/').and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse().ok()?)));
        let (address, prefix): (Ipv4Addr, u32) = match parsed {
            Some((a, p)) if (8..=30).contains(&p) => (a, p),
            _ => bail!("--subnet {subnet}: expected an IPv4 subnet such as 192.168.10.0/24 (prefix 8 to 30)"),
        };
        // With a prefix of 8 bits or more, the subnet lies in one /8: its first byte tells. Not
        // 0 ("this network"), 127 (loopback, which the kernel routes only on lo), 224-239
        // (multicast) or 240-255 (reserved, and the broadcast address 255.255.255.255).
        if let 0 | 127 | 224..=255 = address.octets()[0] {
            bail!(
                "--subnet {subnet}: not a subnet of ordinary addresses (0/8, 127/8, 224/4 and 240/4 are not)"
            );
        }
        let network =
            Network { bridge, subnet: Ipv4Addr::from(u32::from(address) & mask(prefix)), prefix, ip: None };
        let ip = match args.value("--ip").map(|_| text("--ip", "")) {
            None => None,
            Some(text) => {
                let ip: Ipv4Addr =
                    text.parse().map_err(|_| anyhow::anyhow!("--ip {text}: not an IPv4 address"))?;
                let n = network.nth(ip);
                // 0 is the subnet itself, 1 the bridge, the last the broadcast address; then another subnet.
                if !(2..!mask(prefix)).contains(&n) {
                    bail!("--ip {ip}: not a free host address in {subnet} (the bridge has the first)");
                }
                Some(ip)
            }
        };
        if let Some(link) = Netlink::open()?.link(&network.bridge)? {
            network.check_bridge(&link)?;
        }
        Ok(Network { ip, ..network })
    }

    /// Refuse an interface called --bridge that is not a bridge, or a bridge with addresses of
    /// which none is our gateway: its containers could not reach their gateway.
    fn check_bridge(&self, link: &Link) -> Result<()> {
        let bridge = &self.bridge;
        if !link.is_bridge {
            bail!("--bridge {bridge}: there is an interface {bridge} and it is not a bridge; choose another name");
        }
        let gateway = (self.host(1), self.prefix as u8);
        match link.addresses.first() {
            Some(&(address, prefix)) if !link.addresses.contains(&gateway) => {
                let subnet = Ipv4Addr::from(u32::from(address) & mask(prefix.into()));
                bail!(
                    "the bridge {bridge} holds {address}/{prefix}, not {}/{}: pass --subnet {subnet}/{prefix} \
                     to use it, or remove it with: sudo ip link del {bridge}",
                    gateway.0,
                    gateway.1
                )
            }
            _ => Ok(()),
        }
    }

    /// The subnet's Nth address.
    fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.subnet) + n)
    }

    /// Which of the subnet's addresses `ip` is.
    fn nth(&self, ip: Ipv4Addr) -> u32 {
        u32::from(ip).wrapping_sub(u32::from(self.subnet))
    }
}

/// Check --bridge as the kernel checks an interface name (dev_valid_name() in net/core/dev.c):
/// 1 to 15 bytes, not `.` or `..`, no `/`, `:` or whitespace; and no `%`, which `ip link add`
/// turns into a number (`a%d` makes `a0`). We are stricter: ASCII letters, digits, `-`, `_` and
/// `.` only, and no `-` first, so every `ip` command we print can be pasted into a shell as is.
fn check_name(name: String) -> Result<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.len() > 15 || name == "." || name == ".." || name.starts_with('-') {
        bail!("--bridge {name}: not an interface name (1 to 15 characters, not '.' or '..', no '-' first)");
    }
    if !name.chars().all(allowed) {
        bail!("--bridge {name}: not an interface name we use (ASCII letters, digits, '-', '_' and '.' only)");
    }
    Ok(name)
}

/// The netmask of a prefix: `/24` is 255.255.255.0.
fn mask(prefix: u32) -> u32 {
    u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
}
// ANCHOR_END: connect
