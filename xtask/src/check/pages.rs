//! The book's exercise pages, `book/src/exercises/stepNN.md`, written from the specs, so that
//! the goal and the hints a learner reads are the ones the checker prints.
//!
//! Each page starts with a link to its Chinese edition, `book/zh/src/exercises/stepNN.md`, which
//! is written by hand: a Chinese introduction, then `{{#include ...:exercises}}`, the part of
//! this page between the `ANCHOR: exercises` comments (the exercises themselves, in English).

use super::spec::Exercise;
use std::path::{Path, PathBuf};

/// Where the pages go.
pub fn dir(root: &Path) -> PathBuf {
    root.join("book/src/exercises")
}

/// Every page: `("step02.md", text)` for each step that has exercises.
pub fn generate(exercises: &[Exercise]) -> Vec<(String, String)> {
    let mut numbers: Vec<&str> = exercises.iter().map(Exercise::number).collect();
    numbers.dedup();
    numbers
        .into_iter()
        .map(|n| {
            let of_step: Vec<&Exercise> = exercises.iter().filter(|e| e.number() == n).collect();
            (format!("step{n}.md"), page(n, &of_step))
        })
        .collect()
}

fn page(number: &str, exercises: &[&Exercise]) -> String {
    let step = &exercises[0].step;
    let needs_root = exercises.iter().any(|e| e.needs_root);
    let mut out = format!(
        "> [中文](../zh/exercises/step{number}.html)\n\n\
         # Step {number}: coding exercises\n\n\
         <!-- Written by `cargo xtask check --pages` from exercises/{number}-*.md: edit those, then run it. -->\n\n"
    );
    out += &wrap(&format!(
        "Each exercise below extends `{step}` towards a flag of `docker run`. It says what your program \
         should do, as you can see it from inside and from outside, and which files to change. Then \
         `cargo xtask check {number}` builds your step, runs it as the tests do, and says for each \
         check whether it passed, what it expected and what it saw. When a check fails, it prints the hint \
         written for it; the same hints are below, one at a time, for when you want one. The questions at the end of \
         [the chapter](../step{number}.md#exercises) need no code."
    ));
    out += &wrap(&match needs_root {
        true => "The checks need root, as the step does. Run the checker as yourself: it builds your step, \
                 then runs its own binary through `sudo` for the checks, and prints that command (don't type \
                 `sudo cargo`: sudo's `secure_path` has no `~/.cargo/bin`, so it says `cargo: command not \
                 found`). Without sudo, run it inside `cargo xtask sandbox`. The checks run in throwaway \
                 namespaces, so a step that goes wrong cannot rename, mount on or rewire your machine."
            .to_string(),
        false => "The checks need no root, as the step needs none. Run by root, the checker runs the step \
                  as `nobody`."
            .to_string(),
    });
    out += &wrap(
        "Reference solutions are in `exercises/solutions/`, one patch per exercise: don't peek before you \
         have tried. The checker accepts any program that behaves right, not only those.",
    );
    out += &wrap(
        "While your changes are in, two of the workspace's own tests fail: the book's diff test (`cargo \
         xtask diffs` would change the book), and, if you changed a file that the next step carries over, \
         the drift test. That is expected: those tests are for the tutorial's maintainers. `git stash` puts \
         the step back as the book shows it, and `git stash pop` brings your work back.",
    );
    let sections: Vec<String> = exercises.iter().map(|e| section(e)).collect();
    // The Chinese page includes what is between these two lines: the introduction above is
    // translated there, and its link to the chapter's `#exercises` would not resolve in Chinese.
    out + "<!-- ANCHOR: exercises (book/zh/src/exercises/ includes from here) -->\n\n"
        + &sections.join("\n")
        + "\n<!-- ANCHOR_END: exercises -->\n"
}

/// One paragraph, wrapped at 96 columns as the book's own pages are, and a blank line. Code in
/// backticks is never cut in two.
fn wrap(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut in_code = false;
    for word in text.split_whitespace() {
        match words.last_mut() {
            Some(last) if in_code => *last = format!("{last} {word}"),
            _ => words.push(word.to_string()),
        }
        in_code ^= word.matches('`').count() % 2 == 1;
    }
    let mut out = String::new();
    let mut line = String::new();
    for word in words {
        if !line.is_empty() && line.len() + 1 + word.len() > 96 {
            out += &line;
            out += "\n";
            line.clear();
        }
        if !line.is_empty() {
            line += " ";
        }
        line += &word;
    }
    out + &line + "\n\n"
}

fn section(ex: &Exercise) -> String {
    let files: Vec<String> = ex.files.iter().map(|f| format!("`{f}`")).collect();
    let mut out = format!(
        "## {} (`{}`)\n\n\
         Like {}. About {}. Change {}.\n\
         Check it with `cargo xtask check {} {}`{}.\n\n{}\n",
        ex.title,
        ex.flag,
        ex.docker,
        ex.time,
        files.join(" and "),
        ex.number(),
        ex.name(),
        ex.not_in_sandbox
            .as_ref()
            .map_or(String::new(), |why| format!(", outside `cargo xtask sandbox` ({why})")),
        ex.goal
    );
    for (n, hint) in ex.hints.iter().enumerate() {
        out += &format!("\n<details>\n<summary>Hint {}</summary>\n\n{hint}\n\n</details>\n", n + 1);
    }
    out += "\n<details>\n<summary>What the checker runs</summary>\n\n";
    let runs_as = match ex.as_nobody {
        true => {
            "as `nobody` when the checker is root, otherwise as you; in `cargo xtask sandbox`, where nobody \
                 does not exist, as its root"
        }
        false => "as root",
    };
    let throwaway = match ex.needs_root {
        true => " Each script runs inside throwaway namespaces (`unshare --mount --uts --ipc --net`), which stand for the host.",
        false => "",
    };
    out += &wrap(&format!(
        "Each check is a shell script. In it, `step` runs your `{}` ({runs_as}), `$SCRATCH` is a new \
         empty directory, and `wait_for FILE` waits up to 5 seconds for FILE to appear.{} The check \
         passes if the script prints what is shown (any one of the outputs, if there are several).{throwaway}",
        ex.step,
        if ex.rootfs { " `$ROOTFS` is a root filesystem made by `tools/mkrootfs`." } else { "" }
    ));
    for check in &ex.checks {
        out += &format!("**{}**\n\n```sh\n{}```\n", check.title, check.script);
        for (n, expected) in check.expected.iter().enumerate() {
            out += if n == 0 { "\nprints:\n" } else { "\nor:\n" };
            out += &format!("\n```text\n{expected}```\n");
        }
        out += "\n";
    }
    out += "</details>\n";
    out
}
