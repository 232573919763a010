//! The network namespace: a bridge on the host, a veth pair to it, and the child's side.
//!
//! The parent makes the host's end: the bridge (once), and a veth pair whose other end it
//! creates directly in the child's network namespace as `eth0`. It sends the child its address
//! and gateway through the pipe the child waits on. The child, root in its own namespaces,
//! brings `lo` and `eth0` up, adds the address and a default route.

use anyhow::{bail, Context, Result};
use caps::{CapSet, Capability};
use common::netlink::Netlink;
use common::{say, Args};
use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};
use nix::unistd::{geteuid, Pid};
use std::net::Ipv4Addr;

// ANCHOR: network
/// Bring up our side of the network: `lo`, and `eth0` if the parent made us a link
/// (`link` is then "ADDRESS/PREFIX GATEWAY"). We may: we are root in the user namespace that
/// owns this network namespace. We ask the kernel over rtnetlink(7), as `ip` itself does,
/// because starting `ip` would cost a fifth of our start-up; each request is printed as the
/// `ip` command that makes the same change.
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
    let gateway = network.host(1);
    make_bridge(network, gateway)?;
    let (host_end, address) = add_veth(child, network)?;
    maps.send(&format!("{address}/{} {gateway}", network.prefix))?;
    say!("parent: container is {address} on {} via {host_end}", network.bridge);
    Ok(())
}

/// Make the bridge and give it the subnet's first address, unless it is there already. It stays
/// after the container ends, like docker0. Another container may be making it at the same
/// moment, so "it exists already" is not an error.
fn make_bridge(network: &Network, gateway: Ipv4Addr) -> Result<()> {
    let bridge = network.bridge.as_str();
    if if_nametoindex(bridge).is_ok() {
        return Ok(());
    }
    for command in [
        format!("link add {bridge} type bridge"),
        format!("addr add {gateway}/{} dev {bridge}", network.prefix),
        format!("link set {bridge} up"),
    ] {
        say!("parent: ip {command}");
        match ip(&[command]) {
            Err(err) if exists_already(&err) => {}
            result => result.with_context(|| format!("making the bridge {bridge} failed"))?,
        }
    }
    Ok(())
}

/// Make a veth pair whose host end is on the bridge, and whose other end is created directly
/// in the child's network namespace as `eth0` ("netns PID"): moving an interface from one
/// namespace to another costs the kernel tens of milliseconds, creating it in place does not.
///
/// The host end is called BRIDGE-N for the container's address, the subnet's Nth: the kernel
/// lets only one interface have a name, so the name reserves the address. When the container
/// ends, the kernel removes its network namespace, and the pair with it.
fn add_veth(child: Pid, network: &Network) -> Result<(String, Ipv4Addr)> {
    let last = (1u32 << (32 - network.prefix)) - 2;
    let candidates: Vec<u32> = match network.ip {
        Some(ip) => vec![u32::from(ip) - u32::from(network.subnet)],
        None => (2..=last).collect(),
    };
    for n in candidates {
        let suffix = format!("-{n}");
        let keep = network.bridge.len().min(15 - suffix.len());
        let host_end = format!("{}{suffix}", &network.bridge[..keep]);
        if if_nametoindex(host_end.as_str()).is_ok() {
            continue;
        }
        let commands = [
            format!("link add {host_end} type veth peer name eth0 netns {child}"),
            format!("link set {host_end} master {} up", network.bridge),
        ];
        for command in &commands {
            say!("parent: ip {command}");
        }
        match ip(&commands) {
            Ok(()) => return Ok((host_end, network.host(n))),
            Err(err) if exists_already(&err) && network.ip.is_none() => continue,
            Err(err) => return Err(err).context("connecting the container failed"),
        }
    }
    bail!("no free address left in {}/{} (or --ip is taken)", network.subnet, network.prefix)
}

/// Whether `ip` failed because the interface or address exists already (EEXIST).
fn exists_already(err: &anyhow::Error) -> bool {
    let message = format!("{err:#}");
    message.contains("File exists") || message.contains("already assigned")
}

/// Run `ip -batch` with these commands.
fn ip(commands: &[String]) -> Result<()> {
    common::run_tool("ip", &["-batch", "-"], Some(&commands.join("\n")))
        .with_context(|| format!("`ip {}`", commands.join("; ")))
        .map(drop)
}

impl Network {
    /// Read --bridge, --subnet and --ip, with the article's defaults, and check them.
    pub fn from_args(args: &Args) -> Result<Network> {
        let text = |name, default| args.value(name).map_or(default, |v| v.to_str().unwrap_or("?"));
        let bridge = text("--bridge", "lxcbr0").to_string();
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ', ':']) {
            bail!("--bridge {bridge}: not an interface name (1 to 15 characters, no '/', ' ' or ':')");
        }
        let subnet = text("--subnet", "192.168.10.0/24");
        let parsed =
            subnet.split_once('/').and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse().ok()?)));
        let (address, prefix): (Ipv4Addr, u32) = match parsed {
            Some((a, p)) if (8..=30).contains(&p) => (a, p),
            _ => bail!("--subnet {subnet}: expected an IPv4 subnet such as 192.168.10.0/24 (prefix 8 to 30)"),
        };
        let mask = u32::MAX << (32 - prefix);
        let network = Network { bridge, subnet: Ipv4Addr::from(u32::from(address) & mask), prefix, ip: None };
        let ip = match args.value("--ip").map(|v| v.to_str().unwrap_or("?")) {
            None => None,
            Some(text) => {
                let ip: Ipv4Addr =
                    text.parse().map_err(|_| anyhow::anyhow!("--ip {text}: not an IPv4 address"))?;
                let n = u32::from(ip).wrapping_sub(u32::from(network.subnet));
                if u32::from(ip) & mask != u32::from(network.subnet) || n < 2 || n > !mask - 1 {
                    bail!("--ip {ip}: not a free host address in {subnet} (the bridge has the first)");
                }
                Some(ip)
            }
        };
        Ok(Network { ip, ..network })
    }

    /// The subnet's Nth address.
    fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.subnet) + n)
    }
}
// ANCHOR_END: connect
