//! # Step 07: the network namespace, on a network of its own
//!
//! `CLONE_NEWNET` gives the child its own network stack: interfaces, addresses, routes,
//! firewall rules, ports. At first it holds only a loopback device, and that is down. To put
//! the container on a network, as Docker does, we do what the article does by hand with `ip`:
//! - a bridge on the host (`lxcbr0`, 192.168.10.1/24), a virtual switch, made once and kept;
//! - a veth pair, a virtual cable: one end on the bridge, the other `eth0` in the container;
//! - inside: `lo` and `eth0` up, an address on `eth0`, a default route through the bridge.
//!
//! Each change is printed as the `ip` command that makes it, so you can repeat it by hand.
//! Making the host's end needs root; run as an ordinary user, the container gets `lo` only.
//!
//! Try it in a throwaway network namespace, so the host's network is left alone:
//! `sudo unshare --net target/debug/step07-net sh -c 'ip addr; ping -c1 192.168.10.1'`.

use anyhow::{bail, Context, Result};
use caps::{CapSet, Capability};
use common::netlink::Netlink;
use common::{say, Args, Opt, Step};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::ifaddrs::getifaddrs;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::net::if_::{if_nametoindex, InterfaceFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{
    chdir, close, getegid, geteuid, getgid, getpid, getuid, pipe2, pivot_root, read, sethostname, write, Pid,
};
use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

const STEP: Step = Step {
    name: "step07-net",
    about: "Starts COMMAND in new user, UTS, IPC, PID, mount and network namespaces, and connects\n\
            it to a bridge on the host through a veth pair: eth0 inside has its own address.\n\
            The bridge stays, like docker0; remove it with: sudo ip link del lxcbr0\n\
            Try it inside a throwaway network namespace: sudo unshare --net step07-net",
    needs: "root for the network link (CAP_NET_ADMIN on the host); without it, lo only",
    options: &[
        Opt {
            name: "--rootfs",
            value: Some("DIR"),
            help: "make DIR the container's root filesystem (build one with tools/mkrootfs DIR)",
        },
        Opt {
            name: "--init",
            value: None,
            help: "run a minimal init as PID 1 that forwards signals to COMMAND and reaps orphans",
        },
        Opt {
            name: "--bridge",
            value: Some("NAME"),
            help: "the bridge to connect to (default lxcbr0)",
        },
        Opt {
            name: "--subnet",
            value: Some("CIDR"),
            help: "the bridge's subnet; the bridge is its first address (default 192.168.10.0/24)",
        },
        Opt {
            name: "--ip",
            value: Some("ADDR"),
            help: "the container's address (default: the first free one)",
        },
    ],
};

// ANCHOR: flags
/// The namespaces the child gets, one more each step: clone(2),
/// <https://man7.org/linux/man-pages/man2/clone.2.html>.
const FLAGS: CloneFlags = CloneFlags::empty()
    // hostname and NIS domain name: https://man7.org/linux/man-pages/man7/uts_namespaces.7.html
    .union(CloneFlags::CLONE_NEWUTS)
    // System V IPC and POSIX message queues: https://man7.org/linux/man-pages/man7/ipc_namespaces.7.html
    .union(CloneFlags::CLONE_NEWIPC)
    // process IDs, starting again at 1: https://man7.org/linux/man-pages/man7/pid_namespaces.7.html
    .union(CloneFlags::CLONE_NEWPID)
    // the mount table: https://man7.org/linux/man-pages/man7/mount_namespaces.7.html
    .union(CloneFlags::CLONE_NEWNS)
    // user and group IDs, capabilities: https://man7.org/linux/man-pages/man7/user_namespaces.7.html
    .union(CloneFlags::CLONE_NEWUSER)
    // interfaces, addresses, routes, ports: https://man7.org/linux/man-pages/man7/network_namespaces.7.html
    .union(CloneFlags::CLONE_NEWNET);
// ANCHOR_END: flags

/// The hostname inside the container.
const HOSTNAME: &str = "container";

// ANCHOR: child
/// What the child does: the article's `container_main`. It runs in the new process, so
/// everything it changes, it changes for itself and the command it execs.
fn container_main(args: &Args, maps_written: &OwnedFd) -> Result<Infallible> {
    say!("child: running as PID {}", getpid());
    let link = wait_for_id_maps(maps_written)?;
    show_identity()?;
    set_up_network(&link)?;
    set_hostname()?;
    make_mounts_private()?;
    match args.value("--rootfs") {
        Some(rootfs) => enter_rootfs(Path::new(rootfs))?,
        None => mount_proc(Path::new("/proc"))?,
    }
    // PID 1 must reap orphans and handle signals; --init puts a minimal init there for that.
    if args.flag("--init") {
        return common::init::run(&args.command);
    }
    common::exec(&args.command)
}
// ANCHOR_END: child

// ANCHOR: hostname
/// Set the hostname of the child's own UTS namespace: sethostname(2),
/// <https://man7.org/linux/man-pages/man2/sethostname.2.html>. Without CLONE_NEWUTS this
/// would rename the host itself.
fn set_hostname() -> Result<()> {
    sethostname(HOSTNAME).with_context(|| format!("sethostname(\"{HOSTNAME}\") failed"))?;
    say!("child: hostname is now '{HOSTNAME}'");
    Ok(())
}
// ANCHOR_END: hostname

// ANCHOR: identity
/// Block until the parent closes its end of the pipe: then our ID maps are written. Before
/// that, the parent writes our address and gateway into the pipe, if it made us a link.
fn wait_for_id_maps(maps_written: &OwnedFd) -> Result<String> {
    let mut buf = [0u8; 64];
    let mut link = Vec::new();
    loop {
        match read(maps_written, &mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&link).into_owned()),
            Ok(n) => link.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(errno) => bail!("waiting for the ID maps: read() failed: {errno}"),
        }
    }
}

/// Show who we are now: uid and gid 0, and every capability, in our own user namespace.
fn show_identity() -> Result<()> {
    let effective = caps::read(None, CapSet::Effective).context("reading our capabilities failed")?;
    let known = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    let count = match known.is_subset(&effective) {
        true => format!("all {}", known.len()),
        false => format!("{} of {}", effective.len(), known.len()),
    };
    say!(
        "child: uid {}, gid {}, {count} capabilities, inside the user namespace",
        getuid(),
        getgid()
    );
    Ok(())
}
// ANCHOR_END: identity

// ANCHOR: network
/// Bring up our side of the network: `lo`, and `eth0` if the parent made us a link
/// (`link` is then "ADDRESS/PREFIX GATEWAY"). We may: we are root in the user namespace that
/// owns this network namespace. We ask the kernel over rtnetlink(7), as `ip` itself does,
/// because starting `ip` would cost a fifth of our start-up; each request is printed as the
/// `ip` command that makes the same change.
fn set_up_network(link: &str) -> Result<()> {
    if common::narrating() {
        say!("child: network before setup: {}", interfaces()?);
    }
    let mut netlink = Netlink::open()?;
    say!("child: ip link set lo up");
    netlink.link_up("lo")?;
    if let Some((address, gateway)) = parse_link(link) {
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
    Some((
        (address.parse().ok()?, prefix.parse().ok()?),
        gateway.parse().ok()?,
    ))
}

/// Our network interfaces and whether they are up, e.g. "lo (down)": getifaddrs(3).
fn interfaces() -> Result<String> {
    let mut seen: Vec<String> = Vec::new();
    for ifa in getifaddrs().context("getifaddrs() failed")? {
        let up = if ifa.flags.contains(InterfaceFlags::IFF_UP) {
            "up"
        } else {
            "down"
        };
        let entry = format!("{} ({up})", ifa.interface_name);
        if !seen.contains(&entry) {
            seen.push(entry);
        }
    }
    Ok(seen.join(", "))
}
// ANCHOR_END: network

// ANCHOR: private
/// Cut every mount in our new namespace off from the host's.
///
/// `CLONE_NEWNS` copies the parent's mounts *with their propagation type*. Where `/` is a
/// shared mount (every systemd machine: see `findmnt -o TARGET,PROPAGATION /`), a mount made
/// inside would propagate back to the host: the article's C code, run there, replaces the
/// host's /proc with the container's. `MS_REC | MS_PRIVATE` on `/` stops propagation both ways.
/// See mount_namespaces(7), "Shared subtrees".
fn make_mounts_private() -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making / private: mount(\"/\", MS_REC | MS_PRIVATE) failed")?;
    say!("child: made / recursively private, so no mount leaks to the host");
    Ok(())
}
// ANCHOR_END: private

// ANCHOR: proc
/// Mount a fresh proc on `target`. proc(5) shows the processes of the PID namespace of
/// whoever mounts it, so this one shows only the container's: `ps` reads it.
fn mount_proc(target: &Path) -> Result<()> {
    mount_fs(
        "proc",
        target,
        "proc",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}
// ANCHOR_END: proc

// ANCHOR: rootfs
/// The article's "mini image": mount what a root filesystem needs into `rootfs`, then make
/// it the container's `/`.
fn enter_rootfs(rootfs: &Path) -> Result<()> {
    // pivot_root(2) needs the new root to be a mount point: bind-mount the directory onto itself.
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind-mounting {} onto itself failed", rootfs.display()))?;

    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount_proc(&rootfs.join("proc"))?;
    mount_sysfs(&rootfs.join("sys"))?;
    mount_fs(
        "tmpfs",
        &rootfs.join("tmp"),
        "tmpfs",
        nosuid_nodev,
        Some("mode=1777"),
    )?;
    mount_dev(&rootfs.join("dev"))?;

    // Docker bind-mounts these from the host, so the container resolves names as the host does.
    for file in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
        let (host, inside) = (Path::new("/").join(file), rootfs.join(file));
        if host.exists() && inside.exists() {
            mount(Some(&host), &inside, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .with_context(|| format!("bind-mounting {} failed", host.display()))?;
        }
    }

    // Now swap roots. chroot(2) would only change where this process starts resolving "/":
    // the host's whole tree stays mounted in the namespace, and a root process can walk back
    // out of a chroot. pivot_root(2) moves the old root off "/", and once we unmount it no path
    // leads back to the host's files. pivot_root(".", ".") stacks the old root on top of the
    // new one, and umount2(".", MNT_DETACH) takes it away (see the NOTES of pivot_root(2)).
    chdir(rootfs).with_context(|| format!("chdir({}) failed", rootfs.display()))?;
    pivot_root(".", ".").context("pivot_root(\".\", \".\") failed")?;
    umount2(".", MntFlags::MNT_DETACH)
        .context("unmounting the old root: umount2(\".\", MNT_DETACH) failed")?;
    chdir("/").context("chdir(\"/\") failed")?;
    say!(
        "child: {} is now /, with its own /proc, /sys, /tmp and /dev",
        rootfs.display()
    );
    Ok(())
}

/// Mount sysfs on `target`, or bind the host's /sys where a user namespace may not.
///
/// The kernel lets a user namespace mount sysfs only if it also owns the network namespace
/// (sysfs shows network devices); this step has none of its own yet, so mount(2) says EPERM.
/// Docker does the same as our fallback when it runs a container without a network namespace.
fn mount_sysfs(target: &Path) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    match mount(Some("sysfs"), target, Some("sysfs"), flags, None::<&str>) {
        Ok(()) => {
            say!("child: mounted sysfs on {}", target.display());
            Ok(())
        }
        Err(Errno::EPERM) => {
            mount(
                Some("/sys"),
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("bind-mounting /sys on {} failed", target.display()))?;
            say!("child: may not mount sysfs without a network namespace; bound the host's /sys instead");
            Ok(())
        }
        Err(errno) => {
            Err(errno).with_context(|| format!("mount(\"sysfs\", \"{}\") failed", target.display()))
        }
    }
}

/// A minimal /dev: a tmpfs with a few harmless devices bound from the host, and a private
/// devpts for terminals. The article mounts devtmpfs here, which hands the container every
/// device of the host, disks included; runc and Docker do as we do.
fn mount_dev(dev: &Path) -> Result<()> {
    mount_fs(
        "tmpfs",
        dev,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let node = dev.join(name);
        std::fs::File::create(&node).with_context(|| format!("creating {} failed", node.display()))?;
        mount(
            Some(&Path::new("/dev").join(name)),
            &node,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind-mounting /dev/{name} failed"))?;
    }
    for dir in ["pts", "shm"] {
        std::fs::create_dir(dev.join(dir))
            .with_context(|| format!("creating {}/{dir} failed", dev.display()))?;
    }
    // newinstance: the container's ptys are its own, not the host's.
    mount_fs(
        "devpts",
        &dev.join("pts"),
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )?;
    mount_fs(
        "tmpfs",
        &dev.join("shm"),
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )?;
    std::os::unix::fs::symlink("pts/ptmx", dev.join("ptmx")).context("creating /dev/ptmx failed")?;
    Ok(())
}

/// mount(2) a new filesystem of type `fstype`, with an error that names the call.
fn mount_fs(source: &str, target: &Path, fstype: &str, flags: MsFlags, data: Option<&str>) -> Result<()> {
    mount(Some(source), target, Some(fstype), flags, data).with_context(|| {
        format!(
            "mount(\"{source}\", \"{}\", \"{fstype}\") failed",
            target.display()
        )
    })?;
    say!("child: mounted {fstype} on {}", target.display());
    Ok(())
}

/// Check `--rootfs DIR` before starting anything, so a mistake costs one clear line.
fn check_rootfs(rootfs: &Path) -> Result<()> {
    let how = "build one with tools/mkrootfs DIR";
    if !rootfs.is_dir() {
        bail!("--rootfs {}: not a directory: {how}", rootfs.display());
    }
    if !rootfs.join("bin/sh").exists() {
        bail!(
            "--rootfs {}: it has no bin/sh, so it is not a root filesystem: {how}",
            rootfs.display()
        );
    }
    Ok(())
}
// ANCHOR_END: rootfs

// ANCHOR: parent
/// What the parent does: start the child with `clone`, then wait for it to end.
fn main() {
    let args = common::cli::parse(&STEP);
    common::exit_with(start_container(&args));
}

fn start_container(args: &Args) -> Result<i32> {
    // No CAP_SYS_ADMIN needed: the user namespace is made first, and we own what comes after.
    if let Some(rootfs) = args.value("--rootfs") {
        check_rootfs(Path::new(rootfs))?;
    }
    let network = Network::from_args(args)?;
    // The child waits on this pipe until we have written its ID maps, and goes on at EOF, when
    // we close our end. O_CLOEXEC: the command never sees it.
    let (maps_written, maps_written_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2() failed")?;
    let writer = maps_written_w.as_raw_fd();
    let child = common::clone_child(FLAGS, || {
        let _ = close(writer); // the child's copy of our end, or it would never see EOF
        container_main(args, &maps_written).map_err(common::userns::explain)
    })
    .map_err(common::userns::explain)?;
    say!(
        "parent: started container PID {child} with {}",
        common::flag_names(FLAGS)
    );
    if let Err(err) = write_id_maps(child).and_then(|()| connect(child, &network, &maps_written_w)) {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(err);
    }
    drop(maps_written_w); // EOF: the child may go on
    common::wait_for(child, args)
}
// ANCHOR_END: parent

// ANCHOR: maps
/// Map root inside the child's user namespace to our own IDs outside: user_namespaces(7),
/// "User and group ID mappings", <https://man7.org/linux/man-pages/man7/user_namespaces.7.html>.
/// Each line is `ID-inside ID-outside count`; an unprivileged process may map just its own ID.
///
/// The article's C code ignores errors here, and on kernels since 3.19 its gid_map write fails
/// silently: an unprivileged process must first write `deny` to /proc/PID/setgroups, so that
/// nobody inside can drop a group with setgroups(2) that the host used to keep them out.
fn write_id_maps(child: Pid) -> Result<()> {
    write_proc_file(child, "uid_map", &format!("0 {} 1", geteuid()))?;
    write_proc_file(child, "setgroups", "deny")?;
    write_proc_file(child, "gid_map", &format!("0 {} 1", getegid()))
}

fn write_proc_file(child: Pid, name: &str, line: &str) -> Result<()> {
    let path = format!("/proc/{child}/{name}");
    if !Path::new("/proc/self").exists() {
        bail!("cannot write {path}: /proc is not mounted here; mount it with: mount -t proc proc /proc");
    }
    std::fs::write(&path, format!("{line}\n"))
        .with_context(|| format!("writing '{line}' to {path} failed"))?;
    say!("parent: wrote '{line}' to {path}");
    Ok(())
}
// ANCHOR_END: maps

// ANCHOR: connect
/// The network the container joins: a bridge, its subnet, and maybe a chosen address.
struct Network {
    bridge: String,
    subnet: Ipv4Addr,
    prefix: u32,
    ip: Option<Ipv4Addr>,
}

/// Connect the child to the bridge, and write its address and gateway into `link` for it.
///
/// The host's end of the cable needs CAP_NET_ADMIN in the host's network namespace, which only
/// root has; an ordinary user's container gets `lo` only.
fn connect(child: Pid, network: &Network, link: &OwnedFd) -> Result<()> {
    if !caps::has_cap(None, CapSet::Effective, Capability::CAP_NET_ADMIN).unwrap_or(false) {
        say!(
            "parent: no network link for the container, only lo: making the host's end of a veth \
             pair needs CAP_NET_ADMIN, which uid {} lacks; run with sudo (inside unshare --net) for one",
            geteuid()
        );
        return Ok(());
    }
    let gateway = network.host(1);
    make_bridge(network, gateway)?;
    let (host_end, address) = add_veth(child, network)?;
    let line = format!("{address}/{} {gateway}", network.prefix);
    write(link, line.as_bytes()).context("writing the address to the child failed")?;
    say!(
        "parent: container is {address} on {} via {host_end}",
        network.bridge
    );
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
    bail!(
        "no free address left in {}/{} (or --ip is taken)",
        network.subnet,
        network.prefix
    )
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
    fn from_args(args: &Args) -> Result<Network> {
        let text = |name, default| args.value(name).map_or(default, |v| v.to_str().unwrap_or("?"));
        let bridge = text("--bridge", "lxcbr0").to_string();
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ', ':']) {
            bail!("--bridge {bridge}: not an interface name (1 to 15 characters, no '/', ' ' or ':')");
        }
        let subnet = text("--subnet", "192.168.10.0/24");
        let parsed = subnet
            .split_once('/')
            .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse().ok()?)));
        let (address, prefix): (Ipv4Addr, u32) = match parsed {
            Some((a, p)) if (8..=30).contains(&p) => (a, p),
            _ => bail!("--subnet {subnet}: expected an IPv4 subnet such as 192.168.10.0/24 (prefix 8 to 30)"),
        };
        let mask = u32::MAX << (32 - prefix);
        let network = Network {
            bridge,
            subnet: Ipv4Addr::from(u32::from(address) & mask),
            prefix,
            ip: None,
        };
        let ip = match args.value("--ip").map(|v| v.to_str().unwrap_or("?")) {
            None => None,
            Some(text) => {
                let ip: Ipv4Addr = text
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--ip {text}: not an IPv4 address"))?;
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
