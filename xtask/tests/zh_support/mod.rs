//! How the tests of xtask/tests/zh.rs read the two editions' pages, as mdBook reads them: the
//! pages a SUMMARY.md lists, each page's first line, its includes expanded, its headings and
//! their ids, its images, `<details>` blocks, exercises and links. Only zh.rs includes it
//! (`mod zh_support;`); it imports nothing of the tests.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// Pages only the Chinese edition has, and the English page their first line links to.
pub const ZH_ONLY: &[(&str, &str)] = &[("glossary.md", "introduction.md")];

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Edition {
    En,
    Zh,
}

impl Edition {
    pub fn src(self, root: &Path) -> PathBuf {
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
pub fn summary_lines(summary: &Path) -> Vec<(usize, String)> {
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

pub fn en_pages(root: &Path) -> Vec<String> {
    summary_pages(&root.join("book/src/SUMMARY.md"))
}

pub fn zh_pages(root: &Path) -> Vec<String> {
    summary_pages(&root.join("book/zh/src/SUMMARY.md"))
}

/// `../` once per directory `page` is in, to reach its book's `src/`.
fn up(page: &str) -> String {
    "../".repeat(page.matches('/').count())
}

/// The first line a page must have: a link to the same page in the other edition. The Chinese
/// book is built into `book/book/zh/`, inside the English one.
pub fn expected_first_line(edition: Edition, page: &str) -> String {
    match edition {
        Edition::En => format!("> [中文]({}zh/{})", up(page), page.replace(".md", ".html")),
        Edition::Zh => {
            let english = ZH_ONLY.iter().find(|(p, _)| *p == page).map_or(page, |(_, en)| *en);
            format!("> [English](../{}{})", up(page), english.replace(".md", ".html"))
        }
    }
}

/// `a/b/../c` as `a/c`, without touching the file system.
pub fn normalise(path: &Path) -> PathBuf {
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
pub struct Include {
    pub path: String,
    pub selector: String,
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
pub struct Page {
    pub text: String,
    pub includes: Vec<Include>,
}

/// The lines of `text` that `selector` picks, as mdBook's `{{#include file:selector}}` does: an
/// anchor's lines (without any `ANCHOR` line), or a range of 1-based line numbers.
pub fn select(text: &str, selector: &str) -> Option<String> {
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

pub fn read_page(root: &Path, edition: Edition, name: &str) -> Result<Page, String> {
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
pub fn headings(text: &str) -> Vec<(usize, String)> {
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
pub fn images(text: &str, page: &str) -> Vec<String> {
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

pub fn count_details(text: &str) -> usize {
    prose(text).iter().map(|line| line.matches("<details").count()).sum()
}

/// The exercises: numbered items (`1. `, at the start of a line) in each `##` section that has
/// `<details>` (the solutions, or the hints).
pub fn count_exercises(text: &str) -> usize {
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
pub fn heading_id(markdown: &str) -> String {
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
pub fn ids(text: &str) -> HashSet<String> {
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
pub fn links(text: &str) -> Vec<String> {
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
