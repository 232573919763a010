//! Project chores, run as `cargo xtask COMMAND` (see .cargo/config.toml).
fn main() {
    eprintln!("xtask: nothing here yet");
    std::process::exit(2);
}
