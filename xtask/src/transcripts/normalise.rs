//! What a script printed, made into the transcript the book shows: `$ command` lines in
//! place of the marks [`super::run`] printed ([`render`]), the parent's and the child's first
//! lines in one order ([`settle_race`]), and what changes from run to run replaced
//! ([`normalise`]). Called by [`super::run`]; the book's test relies on it through that.

use super::script::Script;
use std::collections::HashMap;

/// Marks the start of each command's output; replaced by `$ command`.
pub const MARK: &str = "\u{1e}xtask-command ";

/// Put `$ command` lines in place of the marks, settle the race in each command's output, and
/// normalise what changes from run to run.
pub fn render(script: &Script, raw: &str) -> String {
    let mut text = String::new();
    if let Some(session) = &script.session {
        text += &format!("$ {session}\n");
    }
    let mut segment: Vec<&str> = Vec::new();
    let flush = |segment: &mut Vec<&str>, text: &mut String| {
        for line in settle_race(segment) {
            *text += line;
            *text += "\n";
        }
        segment.clear();
    };
    for line in raw.lines() {
        if let Some(i) = line.strip_prefix(MARK) {
            flush(&mut segment, &mut text);
            let i: usize = i.parse().unwrap_or(usize::MAX);
            let prompt = if script.session.is_some() { "#" } else { "$" };
            text += &format!("{prompt} {}\n", script.commands.get(i).map_or("?", |c| c.as_str()));
        } else {
            segment.push(line);
        }
    }
    flush(&mut segment, &mut text);
    // The host's hostname differs from machine to machine: a line that is just the hostname.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let text: String = text
        .split_inclusive('\n')
        .map(|line| match line.trim_end() == host && !host.is_empty() && host != "container" {
            true => "<hostname>\n",
            false => line,
        })
        .collect();
    normalise(&text)
}

/// The parent prints `started container PID N` when clone(2) returns; by then the child may
/// have printed lines of its own, or not. Show the parent's line first, and the child's
/// `running as PID` line right after it, where the first of the two was; every other line
/// stays where it was printed.
pub fn settle_race<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let started = lines.iter().position(|l| l.contains("] parent: started container PID "));
    let running = lines.iter().position(|l| l.contains("] child: running as PID "));
    let (Some(s), Some(r)) = (started, running) else {
        return lines.to_vec();
    };
    let first = s.min(r);
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i == first {
            out.push(lines[s]);
            out.push(lines[r]);
        }
        if i != s && i != r {
            out.push(line);
        }
    }
    out
}

/// Replace what changes from one run to the next, so that a transcript changes only when the
/// code does.
pub fn normalise(text: &str) -> String {
    let mut inodes: HashMap<String, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let original = line;
        let mut line = line.to_string();
        // Namespace inode numbers: `uts:[4026531838]`, or lsns's bare NS column.
        line = replace_digits(&line, |prefix, digits, _| {
            let bracketed = prefix.ends_with('[') && digits.len() >= 9;
            let lsns = digits.len() == 10
                && digits.starts_with("4026")
                && !prefix.ends_with(|c: char| c.is_alphanumeric());
            (bracketed || lsns).then(|| {
                let n = inodes.len() + 1;
                format!("ns-{}", inodes.entry(digits.to_string()).or_insert(n))
            })
        });
        // Host PIDs (two digits or more; the container's own are 1, 2, 3...).
        line = replace_digits(&line, |prefix, digits, rest| {
            let host_pid = digits.len() >= 2
                && (prefix.ends_with("PID ")
                    || prefix.ends_with("netns ")
                    || prefix == "NSpid:\t"
                    || (prefix.ends_with("/proc/") && rest.starts_with('/'))
                    || named_after_step(prefix));
            host_pid.then(|| "<pid>".to_string())
        });
        // Interface indexes (`eth0@if7`), ping times, IPC keys.
        line = replace_digits(&line, |prefix, _, rest| {
            if prefix.ends_with("@if")
                || prefix.ends_with(" time=")
                || (prefix.ends_with(" time ") && rest.starts_with("ms"))
            {
                Some("<n>".to_string())
            } else {
                None
            }
        });
        line = replace_decimal_after(&line, " time=<n>");
        // How many capabilities the kernel knows (cap_last_cap + 1) depends on its version:
        // `all 41 capabilities` -> `all <N> capabilities`.
        line = replace_digits(&line, |prefix, _, rest| {
            ((prefix.ends_with("all ") || prefix.ends_with(" of ")) && rest.starts_with(" capabilities"))
                .then(|| "<N>".to_string())
        });
        if let Some(i) = line.find("rtt min/avg/max/mdev = ") {
            line = format!("{}rtt min/avg/max/mdev = <times> ms\n", &line[..i]);
        }
        line = replace_hex_words(&line);
        // A replacement has another width than what it replaced, which would make the padding
        // of a table (ip -br, lsns) vary: in a changed line, runs of spaces become one.
        if line != original {
            line = collapse_spaces(&line);
        }
        out += &line;
    }
    out
}

/// Whether `prefix` ends with a step's name and a dash, as a cgroup named after the step that
/// made it does (`step08-cgroup-4242`): the number after it is that step's PID.
fn named_after_step(prefix: &str) -> bool {
    let word = prefix.rsplit(['/', ' ', '\'']).next().unwrap_or("");
    word.starts_with("step") && word.ends_with('-') && word.matches('-').count() == 2
}

fn collapse_spaces(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out
}

/// Call `f(before, digits, after)` for each run of ASCII digits; replace it by what `f` returns.
fn replace_digits(line: &str, mut f: impl FnMut(&str, &str, &str) -> Option<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let end = (i..bytes.len()).find(|&j| !bytes[j].is_ascii_digit()).unwrap_or(bytes.len());
            match f(&line[..i], &line[i..end], &line[end..]) {
                Some(new) => out += &new,
                None => out += &line[i..end],
            }
            i = end;
        } else {
            let c = line[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// After `marker` (`time=<n>`), drop a decimal part: `time=<n>.061` -> `time=<n>`.
fn replace_decimal_after(line: &str, marker: &str) -> String {
    match line.find(marker) {
        Some(i) => {
            let after = &line[i + marker.len()..];
            let rest =
                after.strip_prefix('.').map_or(after, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
            format!("{}{}", &line[..i + marker.len()], rest)
        }
        None => line.to_string(),
    }
}

/// MAC addresses (`aa:bb:cc:dd:ee:ff`, but not the broadcast or null ones) and IPC keys
/// (`0x1a2b3c4d`) are random.
fn replace_hex_words(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        let word_len = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let word = &rest[..word_len];
        let mac = word.len() == 17
            && word.split(':').count() == 6
            && word.split(':').all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
            && word != "ff:ff:ff:ff:ff:ff"
            && word != "00:00:00:00:00:00";
        let key =
            word.len() == 10 && word.starts_with("0x") && word[2..].bytes().all(|b| b.is_ascii_hexdigit());
        out += if mac {
            "<mac>"
        } else if key {
            "0x<key>"
        } else {
            word
        };
        rest = &rest[word_len..];
        let space_len = rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len());
        out += &rest[..space_len];
        rest = &rest[space_len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_is_settled_both_ways() {
        let a = [
            "[s] child: running as PID 1",
            "[s] child: x",
            "[s] parent: started container PID 99 with F",
            "out",
        ];
        let b = [
            "[s] parent: started container PID 99 with F",
            "[s] child: running as PID 1",
            "[s] child: x",
            "out",
        ];
        assert_eq!(settle_race(&a), b);
        assert_eq!(settle_race(&b), b);
        let c = [
            "[s] parent: started container PID 99 with F",
            "[s] parent: wrote",
            "[s] child: running as PID 1",
            "[s] child: y",
        ];
        let settled = [
            "[s] parent: started container PID 99 with F",
            "[s] child: running as PID 1",
            "[s] parent: wrote",
            "[s] child: y",
        ];
        assert_eq!(settle_race(&c), settled);
    }

    #[test]
    fn normalises_what_changes() {
        let text = "uts:[4026531838] uts:[4026532201] uts:[4026531838]\n\
                    [x] parent: started container PID 4242 with F\n[x] child: running as PID 1\n\
                    wrote to /proc/4242/uid_map; ip link add veth netns 4242\n\
                    2: eth0@if17: link/ether 6a:01:02:03:04:05 brd ff:ff:ff:ff:ff:ff\n\
                    eth0@if17        UP             192.168.10.2/24\n\
                    NSpid:\t714\t1\n\
                    64 bytes from 192.168.10.1: icmp_seq=1 ttl=64 time=0.061 ms\n\
                    1 packets transmitted, 1 received, 0% packet loss, time 0ms\n\
                    rtt min/avg/max/mdev = 0.061/0.061/0.061/0.000 ms\n\
                    0x5f3a2b1c 0          root       644\n\
                    4026532201 uts 1 container\n\
                    [x] child: uid 0, gid 0, all 41 capabilities, inside the user namespace\n\
                    [x] child: uid 0, gid 0, 3 of 41 capabilities\n\
                    [x] parent: removed 0::/namespaces-tutorial/step08-cgroup-4242\n";
        let expected = "uts:[ns-1] uts:[ns-2] uts:[ns-1]\n\
                    [x] parent: started container PID <pid> with F\n[x] child: running as PID 1\n\
                    wrote to /proc/<pid>/uid_map; ip link add veth netns <pid>\n\
                    2: eth0@if<n>: link/ether <mac> brd ff:ff:ff:ff:ff:ff\n\
                    eth0@if<n> UP 192.168.10.2/24\n\
                    NSpid:\t<pid>\t1\n\
                    64 bytes from 192.168.10.1: icmp_seq=1 ttl=64 time=<n> ms\n\
                    1 packets transmitted, 1 received, 0% packet loss, time <n>ms\n\
                    rtt min/avg/max/mdev = <times> ms\n\
                    0x<key> 0 root 644\n\
                    ns-2 uts 1 container\n\
                    [x] child: uid 0, gid 0, all <N> capabilities, inside the user namespace\n\
                    [x] child: uid 0, gid 0, 3 of <N> capabilities\n\
                    [x] parent: removed 0::/namespaces-tutorial/step08-cgroup-<pid>\n";
        assert_eq!(normalise(text), expected);
    }
}
