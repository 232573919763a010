//! `cargo xtask linkcheck [DIR]`: check the HTML book mdBook built (default `book/book`, with the
//! Chinese edition in `book/book/zh/`: its pages are checked too, and so are the links between
//! the two editions, which are relative links like any other).
//!
//! - every local `href` and `src` leads to a file that exists, and a `#fragment` to an `id`
//!   in that file (links to other sites are not followed: CI has no network);
//! - no `{{#` is left in the output, which is what an include mdBook could not resolve
//!   leaves behind.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The problems found in the built book at `dir`, one line each; empty if there are none.
pub fn check(dir: &Path) -> Result<Vec<String>> {
    let mut pages = Vec::new();
    collect(dir, &mut pages)?;
    anyhow::ensure!(
        !pages.is_empty(),
        "no HTML in {}: build the book first (mdbook build book)",
        dir.display()
    );
    let mut ids: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut problems = Vec::new();
    for page in &pages {
        let html = std::fs::read_to_string(page).with_context(|| format!("reading {}", page.display()))?;
        let shown = page.strip_prefix(dir).unwrap_or(page).display().to_string();
        // mdBook's own print.html (one per edition) repeats every chapter: check the chapters.
        let print = page.file_name().is_some_and(|n| n == "print.html");
        if html.contains("{{#") && !print {
            problems.push(format!("{shown}: an unresolved {{{{# directive is left in the output"));
        }
        for link in attributes(&html, "href").chain(attributes(&html, "src")) {
            let link = decode(&link);
            if link.is_empty()
                || link.contains("://")
                || link.starts_with("mailto:")
                || link.starts_with("javascript:")
            {
                continue;
            }
            let (path, fragment) = match link.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (link.as_str(), None),
            };
            let path = path.split('?').next().unwrap_or("");
            let target = if path.is_empty() {
                page.clone()
            } else if let Some(abs) = path.strip_prefix('/') {
                dir.join(abs)
            } else {
                page.parent().unwrap().join(path)
            };
            let target = if target.is_dir() { target.join("index.html") } else { target };
            if !target.exists() {
                problems.push(format!("{shown}: broken link {link}: {} does not exist", target.display()));
                continue;
            }
            let Some(fragment) = fragment.filter(|f| !f.is_empty()) else {
                continue;
            };
            if target.extension().is_some_and(|e| e == "html") {
                let known = match ids.get(&target) {
                    Some(known) => known,
                    None => {
                        let text = std::fs::read_to_string(&target)?;
                        let found: Vec<String> = attributes(&text, "id").collect();
                        ids.entry(target.clone()).or_insert(found)
                    }
                };
                if !known.iter().any(|id| id == fragment) {
                    problems.push(format!(
                        "{shown}: broken link {link}: no id \"{fragment}\" in {}",
                        target.display()
                    ));
                }
            }
        }
    }
    Ok(problems)
}

fn collect(dir: &Path, pages: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, pages)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            pages.push(path);
        }
    }
    pages.sort();
    Ok(())
}

/// The values of every `name="..."` attribute in `html`.
fn attributes(html: &str, name: &str) -> std::vec::IntoIter<String> {
    let needle = format!(" {name}=\"");
    let values: Vec<String> = html
        .match_indices(needle.as_str())
        .filter_map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect();
    values.into_iter()
}

/// Undo the HTML and URL escapes a link may carry (`&amp;`, `%20`).
fn decode(link: &str) -> String {
    let link = link.replace("&amp;", "&").replace("&quot;", "\"");
    let bytes = link.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = link.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_broken_links_and_fragments() {
        let dir = testkit::fresh_dir("linkcheck-test");
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.html"), r##"<h1 id="top">A</h1><a href="sub/b.html#here">b</a> <a href="https://x.org/">x</a> <a href="#top">t</a>"##).unwrap();
        std::fs::write(
            dir.join("sub/b.html"),
            r##"<p id="here"></p><a href="../a.html#gone">a</a> <img src="missing.svg"> {{#include x}}"##,
        )
        .unwrap();
        let problems = check(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("unresolved"), "{problems:#?}");
        assert!(problems[1].contains("no id \"gone\""), "{problems:#?}");
        assert!(problems[2].contains("missing.svg"), "{problems:#?}");
    }

    /// nobody makes the directory this test used, `/tmp/linkcheck-test-PID`, before it runs as
    /// root: the test must neither write there nor remove what nobody put there.
    #[test]
    fn test_directory_made_first_by_nobody_is_not_used() {
        let attack = testkit::replay::Attack {
            victim: ":",
            plant: "mkdir -m 777 /tmp/linkcheck-test-$1 && echo nobodys > /tmp/linkcheck-test-$1/marker",
        };
        let test = "linkcheck::tests::finds_broken_links_and_fragments";
        if let Some(replayed) = testkit::replay::replay(&attack, test) {
            assert_eq!(replayed.status, 0, "{}", replayed.out.stderr);
            assert!(replayed.changes.is_empty(), "{:#?}", replayed.changes);
        }
    }

    #[test]
    fn decodes_escapes() {
        assert_eq!(decode("a%20b&amp;c"), "a b&c");
    }
}
