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

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use xtask::workspace;

/// Pages only the Chinese edition has, and the English page their first line links to.
const ZH_ONLY: &[(&str, &str)] = &[("glossary.md", "introduction.md")];

/// What to do when this test fails.
const ADVICE: &str = "The Chinese edition (book/zh/src/) must keep the English book's structure: \
                      see the conventions at the top of xtask/tests/zh.rs. Change the Chinese page \
                      to match (or, if the English page changed, translate the change), then run \
                      `cargo test -p xtask --test zh` and `cargo xtask check-book`.";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Edition {
    En,
    Zh,
}

impl Edition {
    fn src(self, root: &Path) -> PathBuf {
        match self {
            Edition::En => root.join("book/src"),
            Edition::Zh => root.join("book/zh/src"),
        }
    }
}

/// The pages a SUMMARY.md lists, in order: `["introduction.md", "exercises/step01.md", ...]`.
fn summary_pages(summary: &Path) -> Vec<String> {
    summary_lines(summary).into_iter().map(|(_, page)| page).collect()
}

/// Each page a SUMMARY.md lists, with the indentation of its line.
fn summary_lines(summary: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(summary).unwrap_or_else(|e| panic!("{}: {e}", summary.display()));
    text.lines()
        .filter_map(|line| {
            let start = line.find("](")? + 2;
            let end = start + line[start..].find(')')?;
            let page = line[start..end].trim().to_string();
            page.ends_with(".md").then(|| (line.len() - line.trim_start().len(), page))
        })
        .collect()
}

fn en_pages(root: &Path) -> Vec<String> {
    summary_pages(&root.join("book/src/SUMMARY.md"))
}

fn zh_pages(root: &Path) -> Vec<String> {
    summary_pages(&root.join("book/zh/src/SUMMARY.md"))
}

/// `../` once per directory `page` is in, to reach its book's `src/`.
fn up(page: &str) -> String {
    "../".repeat(page.matches('/').count())
}

/// The first line a page must have: a link to the same page in the other edition. The Chinese
/// book is built into `book/book/zh/`, inside the English one.
fn expected_first_line(edition: Edition, page: &str) -> String {
    match edition {
        Edition::En => format!("> [中文]({}zh/{})", up(page), page.replace(".md", ".html")),
        Edition::Zh => {
            let english = ZH_ONLY.iter().find(|(p, _)| *p == page).map_or(page, |(_, en)| *en);
            format!("> [English](../{}{})", up(page), english.replace(".md", ".html"))
        }
    }
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// One `{{#include PATH:SELECTOR}}` (or `rustdoc_include`), its path relative to the workspace.
#[derive(Debug, PartialEq, Clone)]
struct Include {
    path: String,
    selector: String,
}

impl std::fmt::Display for Include {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.selector.is_empty() {
            true => write!(f, "{}", self.path),
            false => write!(f, "{}:{}", self.path, self.selector),
        }
    }
}

/// A page with its Markdown includes pasted in, as mdBook does, and its other includes.
struct Page {
    text: String,
    includes: Vec<Include>,
}

/// The lines of `text` that `selector` picks, as mdBook's `{{#include file:selector}}` does: an
/// anchor's lines (without any `ANCHOR` line), or a range of 1-based line numbers.
fn select(text: &str, selector: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if selector.is_empty() {
        return Some(text.to_string());
    }
    if selector.chars().next().is_some_and(|c| c.is_ascii_digit() || c == ':') {
        let (from, to) = match selector.split_once(':') {
            Some((a, b)) => (a.parse().unwrap_or(1), b.parse().unwrap_or(lines.len())),
            None => (selector.parse().ok()?, selector.parse().ok()?),
        };
        let from: usize = from;
        return Some(lines.get(from.max(1) - 1..to.min(lines.len()))?.join("\n") + "\n");
    }
    // The name after `ANCHOR:` or `ANCHOR_END:`, as mdBook's `ANCHOR:\s*([\w_-]+)` reads it.
    let anchor = |line: &str, mark: &str| -> Option<String> {
        let rest = line[line.find(mark)? + mark.len()..].trim_start();
        Some(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-').collect())
    };
    let first = lines.iter().position(|l| anchor(l, "ANCHOR:").as_deref() == Some(selector))?;
    let mut out = String::new();
    for line in &lines[first + 1..] {
        if anchor(line, "ANCHOR_END:").as_deref() == Some(selector) {
            return Some(out);
        }
        if !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:") {
            out += line;
            out += "\n";
        }
    }
    Some(out)
}

/// Read `file` (a page, or a Markdown file it includes) and paste in its Markdown includes.
fn expand(root: &Path, file: &Path, selector: &str, depth: usize, page: &mut Page) -> Result<(), String> {
    let shown = |f: &Path| f.strip_prefix(root).unwrap_or(f).display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", shown(file)))?;
    let text = select(&text, selector).ok_or_else(|| {
        format!("{}:{selector}, which has no lines {selector} (no `ANCHOR: {selector}`?)", shown(file))
    })?;
    let dir = file.parent().unwrap();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{#") {
        page.text += &rest[..start];
        let Some(len) = rest[start..].find("}}") else {
            return Err(format!("{}: an unclosed {{{{#", shown(file)));
        };
        let directive = &rest[start + 3..start + len];
        rest = &rest[start + len + 2..];
        let (name, args) = directive.split_once(char::is_whitespace).unwrap_or((directive, ""));
        if name != "include" && name != "rustdoc_include" {
            page.text += &format!("{{{{#{directive}}}}}");
            continue;
        }
        let (path, selector) = args.trim().split_once(':').unwrap_or((args.trim(), ""));
        let target = normalise(&dir.join(path));
        if path.ends_with(".md") && depth < 10 {
            expand(root, &target, selector, depth + 1, page)
                .map_err(|e| format!("{} includes {e}", shown(file)))?;
        } else {
            page.includes.push(Include { path: shown(&target), selector: selector.to_string() });
        }
    }
    page.text += rest;
    Ok(())
}

fn read_page(root: &Path, edition: Edition, name: &str) -> Result<Page, String> {
    let mut page = Page { text: String::new(), includes: Vec::new() };
    expand(root, &edition.src(root).join(name), "", 0, &mut page)?;
    Ok(page)
}

/// The lines of `text` outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        match fence {
            Some(f) if trimmed.starts_with(f) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None => out.push(line),
        }
    }
    out
}

/// `(level, text)` of each heading outside code blocks.
fn headings(text: &str) -> Vec<(usize, String)> {
    prose(text)
        .into_iter()
        .filter_map(|line| {
            let level = line.bytes().take_while(|&b| b == b'#').count();
            let rest = &line[level..];
            (1..=6).contains(&level).then_some(())?;
            rest.starts_with(' ').then(|| (level, rest.trim().to_string()))
        })
        .collect()
}

/// The images a page shows, relative to its book's `src/`.
fn images(text: &str, page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(i) = rest.find("![") {
            rest = &rest[i + 2..];
            let Some(open) = rest.find("](") else { break };
            let target = &rest[open + 2..];
            let Some(end) = target.find(')') else { break };
            let relative = Path::new(page).parent().unwrap().join(&target[..end]);
            out.push(normalise(&relative).display().to_string());
            rest = &target[end..];
        }
    }
    out
}

fn count_details(text: &str) -> usize {
    prose(text).iter().map(|line| line.matches("<details").count()).sum()
}

/// The exercises: numbered items (`1. `, at the start of a line) in each `##` section that has
/// `<details>` (the solutions, or the hints).
fn count_exercises(text: &str) -> usize {
    let mut sections: Vec<Vec<&str>> = vec![Vec::new()];
    for line in prose(text) {
        if line.starts_with("## ") {
            sections.push(Vec::new());
        }
        sections.last_mut().unwrap().push(line);
    }
    sections
        .iter()
        .filter(|lines| lines.iter().any(|l| l.contains("<details")))
        .map(|lines| {
            lines
                .iter()
                .filter(|l| {
                    let digits = l.bytes().take_while(u8::is_ascii_digit).count();
                    digits > 0 && l[digits..].starts_with(". ")
                })
                .count()
        })
        .sum()
}

/// The id mdBook 0.5 gives a heading (mdbook-html's `id_from_content`), from its Markdown: an
/// explicit `{#id}`, or its text, lower-cased, letters, digits, `_` and `-` kept, spaces as `-`.
fn heading_id(markdown: &str) -> String {
    if let Some(open) = markdown.rfind("{#") {
        if markdown.trim_end().ends_with('}') {
            let attrs = &markdown[open + 2..markdown.trim_end().len() - 1];
            return attrs.split_whitespace().next().unwrap_or("").to_string();
        }
    }
    let mut text = String::new();
    let mut rest = markdown;
    // Keep a link's text, not its target; drop emphasis, code marks and HTML tags.
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '`' | '*' => {}
            '<' => rest = rest.split_once('>').map_or("", |(_, r)| r),
            ']' if rest.starts_with('(') => rest = rest.split_once(')').map_or("", |(_, r)| r),
            '[' => {}
            _ => text.push(c),
        }
    }
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|ch| match ch {
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .collect()
}

/// Every id a page's headings get, made unique as mdBook does (`name`, `name-1`, ...), and any
/// `id="..."` of its raw HTML.
fn ids(text: &str) -> HashSet<String> {
    let mut used = HashSet::new();
    for (_, heading) in headings(text) {
        let id = heading_id(&heading);
        let mut candidate = id.clone();
        let mut n = 0;
        while !used.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{id}-{n}");
        }
    }
    for line in prose(text) {
        for (i, _) in line.match_indices(" id=\"") {
            if let Some(end) = line[i + 5..].find('"') {
                used.insert(line[i + 5..i + 5 + end].to_string());
            }
        }
    }
    used
}

/// The targets of the Markdown links in `text` (`[text](target)`), outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        // Drop inline code: `[a](b)` in backticks is not a link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            out.push(rest[..end].split_whitespace().next().unwrap_or("").to_string());
            rest = &rest[end..];
        }
    }
    out
}

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
                 SUMMARY (or, if it is meant for Chinese readers only, to ZH_ONLY in xtask/tests/zh.rs)"
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
