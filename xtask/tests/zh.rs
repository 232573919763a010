//! The Chinese edition, `book/zh/`, keeps the English book's shape, so that the two cannot drift
//! apart unnoticed while one of them changes:
//!
//! - every page in `book/src/SUMMARY.md` has a Chinese page under the same name in `book/zh/src/`,
//!   listed in `book/zh/src/SUMMARY.md` in the same order (plus pages only the Chinese edition
//!   has: the glossary);
//! - each pair includes the same diffs, code and transcripts (`{{#include}}` targets, after their
//!   paths are made relative to the workspace), in the same order, shows the same images, and
//!   has the same headings (levels, in order), the same number of `<details>` blocks and the
//!   same number of exercises (numbered items in a section that has `<details>`);
//! - every page's first line links to the same page in the other edition;
//! - every link from a page to a page (`step05.md#...`) leads to a page of the book and to a
//!   heading in it.
//!
//! It reads the sources; `cargo xtask check-book` builds both editions and checks the HTML.

mod zh_support;

use std::collections::HashSet;
use std::path::Path;
use xtask::workspace;
use zh_support::{
    count_details, count_exercises, en_pages, expected_first_line, heading_id, headings, ids, images, links,
    normalise, read_page, select, summary_lines, zh_pages, Edition, Include, ZH_ONLY,
};

/// What to do when this test fails.
const ADVICE: &str = "The Chinese edition (book/zh/src/) must keep the English book's structure: \
                      see the conventions at the top of xtask/tests/zh.rs. Change the Chinese page \
                      to match (or, if the English page changed, translate the change), then run \
                      `cargo test -p xtask --test zh` and `cargo xtask check-book`.";

/// A failure's lines, with the advice after them.
fn fail(what: &str, problems: &[String]) -> ! {
    panic!("{what}:\n  {}\n\n{ADVICE}", problems.join("\n  "))
}

#[test]
fn zh_summary_lists_every_english_page_in_the_same_order() {
    let root = workspace();
    let en = en_pages(&root);
    let zh_all = zh_pages(&root);
    let zh: Vec<String> = zh_all.iter().filter(|p| !ZH_ONLY.iter().any(|(z, _)| z == p)).cloned().collect();
    let mut problems = Vec::new();
    for page in &en {
        if !zh.contains(page) {
            problems
                .push(format!("book/src/SUMMARY.md lists {page}, book/zh/src/SUMMARY.md does not: add it"));
        }
    }
    for page in &zh {
        if !en.contains(page) {
            problems.push(format!(
                "book/zh/src/SUMMARY.md lists {page}, book/src/SUMMARY.md does not: add it to the English \
                 SUMMARY (or, if it is meant for Chinese readers only, to ZH_ONLY in xtask/tests/zh_support/mod.rs)"
            ));
        }
    }
    // The same order, and the same nesting (a chapter's exercises under it).
    let nested = |summary: &str, pages: &[String]| -> Vec<String> {
        summary_lines(&root.join(summary))
            .into_iter()
            .filter(|(_, page)| pages.contains(page))
            .map(|(indent, page)| format!("{}{page}", " ".repeat(indent)))
            .collect()
    };
    let common_en = nested("book/src/SUMMARY.md", &zh);
    let common_zh = nested("book/zh/src/SUMMARY.md", &en);
    if let Some(i) = (0..common_en.len().max(common_zh.len())).find(|&i| common_en.get(i) != common_zh.get(i))
    {
        problems.push(format!(
            "book/zh/src/SUMMARY.md lists the pages in another order, or nested otherwise: entry {} of the \
             list is {:?} in English, {:?} in Chinese",
            i + 1,
            common_en.get(i).map_or("(none)", |s| s.as_str()),
            common_zh.get(i).map_or("(none)", |s| s.as_str()),
        ));
    }
    for (page, _) in ZH_ONLY {
        if !zh_all.iter().any(|p| p == page) {
            problems.push(format!("book/zh/src/SUMMARY.md does not list {page}"));
        }
    }
    for page in &zh_all {
        if !root.join("book/zh/src").join(page).is_file() {
            problems.push(format!("book/zh/src/{page} is missing: translate book/src/{page}"));
        }
    }
    // A page that SUMMARY.md does not list is not built: it would be lost work.
    let mut files = Vec::new();
    markdown_files(&root.join("book/zh/src"), "", &mut files);
    for file in files {
        if file != "SUMMARY.md" && !zh_all.contains(&file) {
            problems.push(format!("book/zh/src/{file} is in no SUMMARY.md line: list it, or remove it"));
        }
    }
    if !problems.is_empty() {
        fail("the Chinese book's pages are not the English book's", &problems);
    }
}

fn markdown_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        // `file_type` does not follow symbolic links. images/ holds the Chinese versions of the
        // English diagrams, under the same names (no Markdown in it).
        if entry.file_type().unwrap().is_dir() {
            markdown_files(&entry.path(), &format!("{name}/"), out);
        } else if name.ends_with(".md") {
            out.push(name);
        }
    }
}

#[test]
fn every_page_links_to_the_other_edition_on_its_first_line() {
    let root = workspace();
    let mut problems = Vec::new();
    for (edition, pages) in [(Edition::En, en_pages(&root)), (Edition::Zh, zh_pages(&root))] {
        for page in pages {
            let path = edition.src(&root).join(&page);
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let want = expected_first_line(edition, &page);
            let mut lines = text.lines();
            let shown = path.strip_prefix(&root).unwrap().display();
            if lines.next() != Some(want.as_str()) || lines.next() != Some("") {
                let why = match page.starts_with("exercises/") && edition == Edition::En {
                    true => " (this page is written by `cargo xtask check --pages`: run it)",
                    false => "",
                };
                problems.push(format!("{shown}: its first line must be `{want}`, then a blank line{why}"));
            }
        }
    }
    if !problems.is_empty() {
        fail("a page does not link to its other edition", &problems);
    }
}

#[test]
fn each_chinese_page_has_the_english_pages_structure() {
    let root = workspace();
    let mut problems = Vec::new();
    for name in en_pages(&root) {
        if !root.join("book/zh/src").join(&name).is_file() {
            continue; // zh_summary_lists_every_english_page_in_the_same_order says so
        }
        let (en, zh) = match (read_page(&root, Edition::En, &name), read_page(&root, Edition::Zh, &name)) {
            (Ok(en), Ok(zh)) => (en, zh),
            (Err(e), _) | (_, Err(e)) => {
                problems.push(e);
                continue;
            }
        };
        if en.includes != zh.includes {
            let show = |v: &[Include]| v.iter().map(|i| format!("\n      {i}")).collect::<String>();
            problems.push(format!(
                "book/zh/src/{name} must include what book/src/{name} includes, in the same order (paths \
                 one directory deeper: `../../src/diffs/...`, `../../../stepNN-x/...`).\n    English:{}\n    \
                 Chinese:{}",
                show(&en.includes),
                show(&zh.includes)
            ));
        }
        let (en_images, zh_images) = (images(&en.text, &name), images(&zh.text, &name));
        if en_images != zh_images {
            problems
                .push(format!("book/zh/src/{name} shows images {zh_images:?}, the English {en_images:?}"));
        }
        let levels = |t: &str| headings(t).into_iter().map(|(l, _)| "#".repeat(l)).collect::<Vec<_>>();
        if levels(&en.text) != levels(&zh.text) {
            let show = |t: &str| {
                headings(t)
                    .into_iter()
                    .map(|(l, h)| format!("\n      {} {h}", "#".repeat(l)))
                    .collect::<String>()
            };
            problems.push(format!(
                "book/zh/src/{name} must have the English page's headings, at the same levels and in the \
                 same order:\n    English:{}\n    Chinese:{}",
                show(&en.text),
                show(&zh.text)
            ));
        }
        let (en_details, zh_details) = (count_details(&en.text), count_details(&zh.text));
        if en_details != zh_details {
            problems.push(format!(
                "book/zh/src/{name} has {zh_details} <details> blocks, book/src/{name} {en_details}: keep \
                 every solution and hint"
            ));
        }
        let (en_exercises, zh_exercises) = (count_exercises(&en.text), count_exercises(&zh.text));
        if en_exercises != zh_exercises {
            problems.push(format!(
                "book/zh/src/{name} has {zh_exercises} exercises, book/src/{name} {en_exercises} (numbered \
                 items, `1. ` at the start of a line, in a section with <details>)"
            ));
        }
    }
    if !problems.is_empty() {
        fail("a Chinese page has drifted from its English page", &problems);
    }
}

#[test]
fn links_between_pages_lead_to_a_page_and_a_heading() {
    let root = workspace();
    let listed = |e: Edition| match e {
        Edition::En => en_pages(&root),
        Edition::Zh => zh_pages(&root),
    };
    let mut problems = Vec::new();
    for edition in [Edition::En, Edition::Zh] {
        for name in listed(edition) {
            let Ok(page) = read_page(&root, edition, &name) else { continue };
            let shown = format!("{}/{name}", edition.src(&root).strip_prefix(&root).unwrap().display());
            for link in links(&page.text) {
                if link.contains("://") || link.starts_with("mailto:") {
                    continue;
                }
                let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
                let mut target_edition = edition;
                let target = if path.is_empty() {
                    name.clone()
                } else {
                    let mut joined = normalise(&Path::new(&name).parent().unwrap().join(path));
                    // `../introduction.html` from a Chinese page, `zh/introduction.html` from an
                    // English one: the other edition's page.
                    if let Ok(rest) = joined.strip_prefix("..") {
                        (target_edition, joined) = (Edition::En, rest.to_path_buf());
                    } else if let Ok(rest) = joined.strip_prefix("zh") {
                        (target_edition, joined) = (Edition::Zh, rest.to_path_buf());
                    }
                    let target = joined.display().to_string();
                    if !(target.ends_with(".md") || target.ends_with(".html")) {
                        if !target_edition.src(&root).join(&target).exists() {
                            problems.push(format!("{shown}: {link}: no file {target}"));
                        }
                        continue;
                    }
                    target.replace(".html", ".md")
                };
                if !listed(target_edition).contains(&target) {
                    let book = target_edition.src(&root).join("SUMMARY.md");
                    let book = book.strip_prefix(&root).unwrap().display().to_string();
                    problems.push(format!("{shown}: {link}: {target} is not a page of {book}"));
                    continue;
                }
                if fragment.is_empty() {
                    continue;
                }
                let Ok(target_page) = read_page(&root, target_edition, &target) else { continue };
                if !ids(&target_page.text).contains(fragment) {
                    let mut known: Vec<String> = ids(&target_page.text).into_iter().collect();
                    known.sort();
                    problems.push(format!(
                        "{shown}: {link}: {target} has no heading with the id \"{fragment}\"; its ids: {known:?}"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        fail("a link between pages is broken", &problems);
    }
}

#[test]
fn ids_and_includes_are_read_as_mdbook_reads_them() {
    assert_eq!(heading_id("Step 01: `clone()`, a child"), "step-01-clone-a-child");
    assert_eq!(heading_id("用 `setns-enter` 进入，Rust 版"), "用-setns-enter-进入rust-版");
    assert_eq!(heading_id("练习"), "练习");
    assert_eq!(heading_id("From [outside](x.md) *now*"), "from-outside-now");
    assert_eq!(heading_id("Exercises {#exercises}"), "exercises");
    let ids = ids("# A\n\n```\n# not a heading\n```\n\n## A\n\n<p id=\"x\"></p>\n");
    assert_eq!(ids, HashSet::from(["a".to_string(), "a-1".to_string(), "x".to_string()]));
    let text = "one\n<!-- ANCHOR: part -->\ntwo\nthree\n<!-- ANCHOR_END: part -->\nfour\n";
    assert_eq!(select(text, "part").unwrap(), "two\nthree\n");
    assert_eq!(select(text, "par"), None);
    assert_eq!(select(text, "3:").unwrap(), "two\nthree\n<!-- ANCHOR_END: part -->\nfour\n");
    assert_eq!(select(text, "3:4").unwrap(), "two\nthree\n");
    assert_eq!(
        normalise(Path::new("book/zh/src/../../src/diffs/a.diff")),
        Path::new("book/src/diffs/a.diff")
    );
    let exercises = "## Exercises\n\n1. **A.**\n   <details>x</details>\n\n2. **B.**\n\n## Next\n\n1. no\n";
    assert_eq!(count_exercises(exercises), 2);
    assert_eq!(
        expected_first_line(Edition::En, "exercises/step05.md"),
        "> [中文](../zh/exercises/step05.html)"
    );
    assert_eq!(
        expected_first_line(Edition::Zh, "exercises/step05.md"),
        "> [English](../../exercises/step05.html)"
    );
    assert_eq!(expected_first_line(Edition::Zh, "glossary.md"), "> [English](../introduction.html)");
}
