//! The command line every step shares: `stepNN-x [OPTIONS] [--] [COMMAND [ARG...]]`.
//!
//! Options come first; the first argument that is not an option, or everything after `--`,
//! is the command and its arguments, passed on untouched. With no command, a step runs
//! `/bin/bash`, as the article does. A step declares its own options in [`Step::options`].

use anyhow::{anyhow, bail, Result};
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

pub use crate::program::{invoked_as, program};

/// What a step says about itself in `--help`, and the options it accepts.
pub struct Step {
    /// The binary's name, e.g. `step02-uts`.
    pub name: &'static str,
    /// What this step demonstrates, in a sentence or two.
    pub about: &'static str,
    /// Who may run it, e.g. "root (CAP_SYS_ADMIN)".
    pub needs: &'static str,
    /// The options this step adds to the common ones.
    pub options: &'static [Opt],
}

/// One option a step accepts: `--name` alone, or `--name VALUE` / `--name=VALUE`.
pub struct Opt {
    pub name: &'static str,
    /// The value's placeholder in `--help` (`Some("DIR")`), or `None` for a flag.
    pub value: Option<&'static str>,
    pub help: &'static str,
}

/// The parsed command line.
#[derive(Debug)]
pub struct Args {
    /// The command and its arguments, ready for `common::exec`.
    pub command: Vec<CString>,
    /// How long to wait after forwarding a signal before sending SIGKILL (`--stop-timeout`).
    pub stop_timeout: Duration,
    values: Vec<(&'static str, Option<OsString>)>,
}

impl Args {
    /// The value given to option `name` (`None` if it was not given).
    pub fn value(&self, name: &str) -> Option<&OsStr> {
        self.values.iter().rev().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_deref())
    }

    /// Whether flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| *n == name)
    }
}

/// `--init`, which steps 04 on accept: see `common::init`.
pub const INIT: Opt = Opt {
    name: "--init",
    value: None,
    help: "run a minimal init as PID 1 that forwards signals to COMMAND and reaps orphans",
};

/// `--rootfs DIR`, which steps 05 on accept.
pub const ROOTFS: Opt = Opt {
    name: "--rootfs",
    value: Some("DIR"),
    help: "make DIR the container's root filesystem (build one with tools/mkrootfs DIR)",
};

const DEFAULT_COMMAND: &str = "/bin/bash";
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

const COMMON_OPTIONS: &[Opt] = &[
    Opt { name: "--quiet", value: None, help: "no narration on stderr (errors are still printed)" },
    Opt {
        name: "--pid-file",
        value: Some("FILE"),
        help: "once the command starts, write the container's PID (as the host sees it) to FILE",
    },
    Opt {
        name: "--stop-timeout",
        value: Some("SECS"),
        help: "after forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT, wait this long, then SIGKILL (default 10)",
    },
    Opt { name: "--help", value: None, help: "print this help and exit" },
];

/// Parse the process's arguments for `step`. Prints help and exits 0 on `--help`;
/// prints one line and exits 125 on a usage error.
pub fn parse(step: &'static Step) -> Args {
    let mut argv = std::env::args_os();
    crate::program::set(step.name, argv.next().map(|a| a.to_string_lossy().into_owned()));
    let parsed = parse_from(step, argv).and_then(|args| {
        // --pid-file's directory is checked now, so that a bad one stops us before anything runs.
        match args.as_ref().and_then(|a| a.value("--pid-file")) {
            Some(file) => crate::pidfile::check(std::path::Path::new(file)).map(|()| args),
            None => Ok(args),
        }
    });
    match parsed {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{}", help(step));
            std::process::exit(0)
        }
        Err(err) => {
            crate::report::line_to_stderr(&format!(
                "{}: error: {err:#} (see {} --help)\n",
                step.name, step.name
            ));
            std::process::exit(crate::EXIT_STEP_FAILED)
        }
    }
}

/// Parse `args` (without argv\[0\]); `Ok(None)` means `--help` was asked for.
pub fn parse_from(step: &Step, args: impl IntoIterator<Item = OsString>) -> Result<Option<Args>> {
    let mut args = args.into_iter();
    let mut values = Vec::new();
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        if bytes == b"--" {
            break;
        }
        if !bytes.starts_with(b"-") || bytes == b"-" {
            command.push(arg);
            break;
        }
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(i) => (&bytes[..i], Some(OsStr::from_bytes(&bytes[i + 1..]).to_owned())),
            None => (bytes, None),
        };
        let name = match name {
            b"-h" => "--help",
            b"-q" => "--quiet",
            other => std::str::from_utf8(other).unwrap_or("?"),
        };
        let opt = step.options.iter().chain(COMMON_OPTIONS).find(|o| o.name == name);
        let Some(opt) = opt else {
            bail!("unknown option '{}'", arg.to_string_lossy());
        };
        let value =
            match (opt.value, inline) {
                (None, None) => None,
                (None, Some(_)) => bail!("option '{}' takes no value", opt.name),
                (Some(_), Some(v)) => Some(v),
                (Some(placeholder), None) => Some(args.next().ok_or_else(|| {
                    anyhow!("option '{}' needs a value: {} {placeholder}", opt.name, opt.name)
                })?),
            };
        if opt.name == "--help" {
            return Ok(None);
        }
        values.push((opt.name, value));
    }
    command.extend(args);
    if command.is_empty() {
        command.push(DEFAULT_COMMAND.into());
    }
    let command = command
        .into_iter()
        .map(|a| CString::new(a.into_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| anyhow!("an argument contains a NUL byte"))?;

    let mut args = Args { command, stop_timeout: DEFAULT_STOP_TIMEOUT, values };
    crate::report::set_quiet(args.flag("--quiet"));
    if let Some(secs) = args.value("--stop-timeout") {
        let secs: f64 = secs
            .to_str()
            .and_then(|s| s.parse().ok())
            .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= 1e6)
            .ok_or_else(|| {
                anyhow!("--stop-timeout takes a number of seconds, not '{}'", secs.to_string_lossy())
            })?;
        args.stop_timeout = Duration::from_secs_f64(secs);
    }
    Ok(Some(args))
}

/// The text `--help` prints.
pub fn help(step: &Step) -> String {
    let mut out = format!(
        "Usage: {} [OPTIONS] [--] [COMMAND [ARG...]]\n\n{}\n\nRuns COMMAND (default: {DEFAULT_COMMAND}) in the container; \
         its exit status is ours.\nNeeds: {}\n\nOptions:\n",
        step.name, step.about, step.needs
    );
    for opt in step.options.iter().chain(COMMON_OPTIONS) {
        let short = match opt.name {
            "--help" => "-h, ",
            "--quiet" => "-q, ",
            _ => "    ",
        };
        let left = format!("{short}{}{}", opt.name, opt.value.map(|v| format!(" {v}")).unwrap_or_default());
        out += &format!("  {left:<26} {}\n", opt.help);
    }
    out += "\nExit status: the command's own; 128+N if it was killed by signal N; 127 if it was not found;\n\
            126 if it could not be executed; 125 if the step itself failed.\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Step = Step {
        name: "stepXX-test",
        about: "a test step",
        needs: "nothing",
        options: &[
            Opt { name: "--rootfs", value: Some("DIR"), help: "a directory" },
            Opt { name: "--init", value: None, help: "a flag" },
        ],
    };

    fn parse(args: &[&str]) -> Result<Option<Args>> {
        parse_from(&STEP, args.iter().map(OsString::from))
    }

    fn command(args: &Args) -> Vec<&str> {
        args.command.iter().map(|c| c.to_str().unwrap()).collect()
    }

    #[test]
    fn no_command_means_bash() {
        let args = parse(&[]).unwrap().unwrap();
        assert_eq!(command(&args), ["/bin/bash"]);
    }

    #[test]
    fn arguments_after_the_command_belong_to_it() {
        let args = parse(&["ls", "-l", "--rootfs", "x"]).unwrap().unwrap();
        assert_eq!(command(&args), ["ls", "-l", "--rootfs", "x"]);
        assert_eq!(args.value("--rootfs"), None);
    }

    #[test]
    fn double_dash_ends_the_options() {
        let args = parse(&["--init", "--", "--weird-name", "-x"]).unwrap().unwrap();
        assert!(args.flag("--init"));
        assert_eq!(command(&args), ["--weird-name", "-x"]);
    }

    #[test]
    fn values_both_ways() {
        let a = parse(&["--rootfs", "/a", "true"]).unwrap().unwrap();
        let b = parse(&["--rootfs=/b", "true"]).unwrap().unwrap();
        assert_eq!(a.value("--rootfs"), Some(OsStr::new("/a")));
        assert_eq!(b.value("--rootfs"), Some(OsStr::new("/b")));
    }

    #[test]
    fn stop_timeout_is_parsed_and_checked() {
        let a = parse(&["--stop-timeout", "0.5"]).unwrap().unwrap();
        assert_eq!(a.stop_timeout, Duration::from_millis(500));
        assert!(parse(&["--stop-timeout", "soon"]).is_err());
        assert!(parse(&["--stop-timeout", "-1"]).is_err());
    }

    #[test]
    fn usage_errors() {
        let unknown = parse(&["--nope"]).unwrap_err().to_string();
        assert_eq!(unknown, "unknown option '--nope'");
        let missing = parse(&["--rootfs"]).unwrap_err().to_string();
        assert!(missing.contains("needs a value"), "{missing}");
        assert!(parse(&["--init=yes"]).is_err());
        assert!(parse(&["--help=1"]).is_err(), "a flag given a value is a mistake, even --help");
    }

    #[test]
    fn help_is_asked_for() {
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["-h"]).unwrap().is_none());
        let text = help(&STEP);
        assert!(text.starts_with("Usage: stepXX-test [OPTIONS] [--] [COMMAND [ARG...]]"));
        assert!(text.contains("--rootfs DIR"));
    }
}
