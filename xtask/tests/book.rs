//! The book shows the current code: its committed diffs and transcripts must be what the code
//! produces now. When one is stale, regenerate it (the message says how) and commit it.

use std::path::PathBuf;
use xtask::{diffs, transcripts, workspace};

/// Where `cargo test --workspace` built the steps: next to this test, in `target/debug`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(2).unwrap().to_path_buf()
}

/// The first line where `committed` and `fresh` differ, to show in the failure.
fn first_difference(committed: &str, fresh: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), fresh.lines().collect());
    let n = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    format!(
        "line {}:\n  committed: {:?}\n  now:       {:?}",
        n + 1,
        a.get(n).unwrap_or(&"(end)"),
        b.get(n).unwrap_or(&"(end)")
    )
}

#[test]
fn committed_diffs_match_the_code() {
    let root = workspace();
    let dir = diffs::dir(&root);
    let fresh = diffs::generate(&root).unwrap();
    assert!(!fresh.is_empty(), "no steps found");
    let mut stale = Vec::new();
    for (name, text) in &fresh {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(committed) => {
                stale.push(format!("book/src/diffs/{name}: {}", first_difference(&committed, text)))
            }
            Err(_) => stale.push(format!("book/src/diffs/{name} is missing")),
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".diff") && !fresh.iter().any(|(n, _)| *n == name) {
            stale.push(format!("book/src/diffs/{name} belongs to no step"));
        }
    }
    assert!(
        stale.is_empty(),
        "the book's diffs no longer match the code: run `cargo xtask diffs` and commit book/src/diffs. \
         (If you edited a step for an exercise, this is expected: these checks are for the tutorial's \
         maintainers; `git stash` puts the steps back.)\n{}",
        stale.join("\n")
    );
}

/// Every chapter that includes a diff or transcript includes one that exists, and every
/// script's transcript is included somewhere.
#[test]
fn chapters_include_what_exists() {
    let root = workspace();
    let src = root.join("book/src");
    let mut included = String::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            included += &std::fs::read_to_string(&path).unwrap();
        }
    }
    for script in transcripts::scripts(&root).unwrap() {
        let include = format!("transcripts/{}.txt", script.name);
        assert!(included.contains(&include), "no chapter includes {include}");
    }
    for (name, _) in diffs::generate(&root).unwrap() {
        let include = format!("diffs/{name}");
        assert!(included.contains(&include), "no chapter includes {include}");
    }
}

#[test]
fn committed_transcripts_match_what_the_steps_print() {
    if !testkit::root_or_skip("the transcripts run steps 02-05, which create namespaces") {
        return;
    }
    let root = workspace();
    let out_dir = transcripts::output_dir(&root);
    let mut stale = Vec::new();
    for script in transcripts::scripts(&root).unwrap() {
        if let Some(layout) = script.cgroups.as_deref().filter(|l| *l != transcripts::cgroup_layout()) {
            // Straight to fd 2: the test harness captures eprintln!, and a skip must be seen.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "note: book/transcripts/{}.txt was recorded where cgroups are {layout}, and this \
                     machine's are {}: not compared here\n",
                    script.name,
                    transcripts::cgroup_layout()
                )
                .as_bytes(),
            );
            continue;
        }
        let fresh = transcripts::run(&root, &bin_dir(), &script).unwrap_or_else(|e| panic!("{e:#}"));
        let path = out_dir.join(format!("{}.txt", script.name));
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == fresh => {}
            Ok(committed) => stale.push(format!(
                "book/src/transcripts/{}.txt: {}",
                script.name,
                first_difference(&committed, &fresh)
            )),
            Err(_) => stale.push(format!("book/src/transcripts/{}.txt is missing", script.name)),
        }
    }
    assert!(
        stale.is_empty(),
        "the book's transcripts no longer match what the steps print: run `cargo xtask transcripts` \
         as root and commit book/src/transcripts. (If you edited a step for an exercise, this is \
         expected: these checks are for the tutorial's maintainers; `git stash` puts the steps back.)\n{}",
        stale.join("\n")
    );
}
