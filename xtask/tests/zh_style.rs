//! The Chinese edition's style, the part of it a program can check (`xtask/tests/zh.rs` checks
//! its structure against the English book). Every page listed in `book/zh/src/SUMMARY.md`:
//!
//! - **Full-width punctuation in Chinese text.** Outside code (fenced blocks, `code spans`),
//!   link targets, `{{#include}}`s, HTML tags and comments, a half-width `:` `,` `?` `;` `!` is
//!   wrong when the nearest character before it that is not a space is Chinese (`要求:root`,
//!   `第 01 步:`), or the nearest one after it is (`step05: 挂载`); a half-width `(` or `)` is
//!   wrong when the character just outside it (before `(`, after `)`) or just inside it (after
//!   `(`, before `)`), spaces skipped, is Chinese; a `,` or `:` between two code spans with no
//!   space (`` `--pid`,`findmnt` ``), or one that ends a line with Chinese in it (`` 为什么是
//!   shell? ``), is Chinese text too. "Chinese" means a CJK ideograph, CJK
//!   punctuation (`。`, `、`, `「`) or a full-width form (`，`, `（`). English text inside a Chinese
//!   page (`docker run -it (like this)`) and `1:1`, `a, b` are left alone.
//! - **One paragraph per source line.** A line that ends in a Chinese character, followed by one
//!   that starts with one (after its indentation), outside code blocks, tables and comments, is a
//!   hard-wrapped paragraph: the browser shows the line break as a stray space between them.
//! - **Titles are their sidebar entries.** A page's `# ` title, without its code marks, is its
//!   `SUMMARY.md` entry, or that entry then `，` and a subtitle (`第 05 步：挂载命名空间，自己的
//!   /proc…`); an exercise page's title is its step's `第 NN 步：` and its entry (`第 05 步：编程练习`).
//! - **One term per concept.** `zh_style/terms.rs` lists variants and the term the book uses instead.

use std::path::Path;
use xtask::workspace;

#[path = "zh_style/terms.rs"]
mod terms;
use terms::{GLOSSARY, TERMS};

/// What to do when this test fails.
const ADVICE: &str = "The Chinese edition keeps one style: see the rules at the top of \
                      xtask/tests/zh_style.rs. Fix the page (or, for a term, add or change the \
                      row of TERMS in xtask/tests/zh_style/terms.rs and say why in the commit), then run \
                      `cargo test -p xtask --test zh_style`.";

/// Is `c` Chinese text: an ideograph, CJK punctuation, or a full-width form?
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303F}' // CJK symbols and punctuation: 、。「」
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
        | '\u{FF00}'..='\u{FFEF}' // full-width forms: ，：（）？
        | '\u{2014}' | '\u{2026}' | '\u{201C}' | '\u{201D}' // —— …… “ ” as Chinese text uses them
    )
}

/// Stands for what the checks must not read (code, link targets, tags): neither Chinese nor
/// punctuation.
const MASK: char = '\u{E000}';

/// One source line as the checks read it: what is not prose replaced by [`MASK`], one mask
/// character per replaced character, so that columns are kept.
struct Line {
    number: usize,
    text: Vec<char>,
    /// In a table, or a fenced code block, or a comment: not a paragraph's line.
    paragraph: bool,
}

/// The lines of a page outside fenced code blocks and HTML comments, with code spans, link
/// targets, `{{#...}}` directives and HTML tags masked.
fn read_lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    let mut comment = false;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        match fence {
            Some(f) if trimmed.starts_with(f) => {
                fence = None;
                continue;
            }
            Some(_) => continue,
            None if trimmed.starts_with("```") => {
                fence = Some("```");
                continue;
            }
            None if trimmed.starts_with("~~~") => {
                fence = Some("~~~");
                continue;
            }
            None => {}
        }
        let chars: Vec<char> = raw.chars().collect();
        let mut text = Vec::with_capacity(chars.len());
        let mut j = 0;
        let starts = |j: usize, s: &str| chars[j..].iter().copied().take(s.chars().count()).eq(s.chars());
        while j < chars.len() {
            if comment {
                if starts(j, "-->") {
                    comment = false;
                    text.extend([MASK; 3]);
                    j += 3;
                } else {
                    text.push(MASK);
                    j += 1;
                }
                continue;
            }
            // The end (exclusive) of a span to mask, starting at j.
            let end = if starts(j, "<!--") {
                comment = true;
                Some(j + 4)
            } else if chars[j] == '`' {
                // A code span: as many backticks close it as opened it.
                let ticks = chars[j..].iter().take_while(|&&c| c == '`').count();
                let mut k = j + ticks;
                let mut close = None;
                while k < chars.len() {
                    let run = chars[k..].iter().take_while(|&&c| c == '`').count();
                    if run == ticks {
                        close = Some(k + run);
                        break;
                    }
                    k += run.max(1);
                }
                Some(close.unwrap_or(chars.len()))
            } else if starts(j, "](") {
                // A link's target: keep the `]`, mask `(target)`.
                let close = chars[j..].iter().position(|&c| c == ')').map_or(chars.len(), |p| j + p + 1);
                text.push(']');
                j += 1;
                Some(close)
            } else if starts(j, "{{#") {
                Some(chars[j..].windows(2).position(|w| w == ['}', '}']).map_or(chars.len(), |p| j + p + 2))
            } else if chars[j] == '<'
                && chars.get(j + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == '/')
            {
                Some(chars[j..].iter().position(|&c| c == '>').map_or(chars.len(), |p| j + p + 1))
            } else {
                None
            };
            match end {
                Some(end) => {
                    text.extend(std::iter::repeat(MASK).take(end - j));
                    j = end;
                }
                None => {
                    text.push(chars[j]);
                    j += 1;
                }
            }
        }
        let in_table = trimmed.starts_with('|');
        let blank = text.iter().all(|&c| c == MASK || c.is_whitespace());
        out.push(Line { number: i + 1, paragraph: !in_table && !blank, text });
    }
    out
}

/// The half-width punctuation in Chinese text on one line: `(column, char, why)`.
fn half_width(line: &[char]) -> Vec<(usize, char)> {
    // `clone()`, `clone(2)`, `f(x)`: the parentheses of a name, not of the text.
    let mut of_name = vec![false; line.len()];
    for (i, &c) in line.iter().enumerate() {
        let named = i > 0 && (line[i - 1].is_ascii_alphanumeric() || line[i - 1] == '_');
        if c == '(' && named {
            let inside = line[i + 1..].iter().position(|&c| !(c.is_ascii_graphic() && c != '(') || c == ')');
            if let Some(len) = inside.filter(|&len| line[i + 1 + len] == ')') {
                of_name[i] = true;
                of_name[i + 1 + len] = true;
            }
        }
    }
    // Spaces and emphasis marks (`**要求**:`) are skipped.
    let before = |i: usize| line[..i].iter().rev().find(|c| !matches!(c, ' ' | '*')).copied();
    let after = |i: usize| line[i + 1..].iter().find(|c| !matches!(c, ' ' | '*')).copied();
    let cjk = |c: Option<char>| c.is_some_and(is_cjk);
    // `--pid`,`findmnt`: English puts a space after its comma; with none, it is Chinese text.
    let between_code = |i: usize| {
        let left = line[..i].iter().rev().find(|&&c| c != '*');
        let right = line[i + 1..].iter().find(|&&c| c != '*');
        left == Some(&MASK) && right == Some(&MASK)
    };
    // `……的 \`sleep\`:` at the end of a Chinese line.
    let chinese = line.iter().any(|&c| is_cjk(c));
    let ends = |i: usize| chinese && line[i + 1..].iter().all(|&c| c == ' ');
    line.iter()
        .enumerate()
        .filter(|&(i, _)| !of_name[i])
        .filter(|&(i, &c)| match c {
            ':' | ',' | '?' | ';' | '!' => cjk(before(i)) || cjk(after(i)) || between_code(i) || ends(i),
            // Before `(` and after `)`: the character touching it (`命名空间(` but not `docker run (`).
            '(' => cjk(i.checked_sub(1).map(|p| line[p])) || cjk(after(i)),
            ')' => cjk(before(i)) || cjk(line.get(i + 1).copied()),
            _ => false,
        })
        .map(|(i, &c)| (i + 1, c))
        .collect()
}

/// The line numbers where a Chinese paragraph goes on from the line before.
fn hard_wraps(lines: &[Line]) -> Vec<usize> {
    lines
        .windows(2)
        .filter(|w| w[0].number + 1 == w[1].number && w[0].paragraph && w[1].paragraph)
        .filter(|w| {
            let last = w[0].text.iter().rev().find(|c| !c.is_whitespace());
            let first = w[1].text.iter().find(|c| !c.is_whitespace());
            last.is_some_and(|&c| is_cjk(c)) && first.is_some_and(|&c| is_cjk(c))
        })
        .map(|w| w[1].number)
        .collect()
}

/// The forbidden variants on one line: `(column, variant, preferred)`.
fn variants(line: &[char]) -> Vec<(usize, &'static str, &'static str)> {
    let mut out = Vec::new();
    for &(variant, preferred) in TERMS {
        let v: Vec<char> = variant.chars().collect();
        for i in 0..line.len().saturating_sub(v.len() - 1) {
            if line[i..i + v.len()] == v[..] {
                out.push((i + 1, variant, preferred));
            }
        }
    }
    out
}

/// A glossary line as the term check reads it: its table row's first cell, what is in （） masked.
fn glossary_term(line: &[char]) -> Vec<char> {
    if line.first() != Some(&'|') {
        return line.to_vec();
    }
    let end = line[1..].iter().position(|&c| c == '|').map_or(line.len(), |p| p + 1);
    let mut depth = 0;
    let mut out = Vec::with_capacity(line.len());
    for (i, &c) in line.iter().enumerate() {
        depth += (c == '（') as i32;
        out.push(if i >= end || depth > 0 { MASK } else { c });
        depth -= (c == '）') as i32;
    }
    out
}

/// Every problem of one page's text, as `page:line:column: what`.
fn check_page(name: &str, text: &str) -> Vec<String> {
    let glossary = name.ends_with(GLOSSARY);
    let lines = read_lines(text);
    let mut problems = Vec::new();
    for line in &lines {
        for (column, c) in half_width(&line.text) {
            let full = match c {
                ':' => '：',
                ',' => '，',
                '?' => '？',
                ';' => '；',
                '!' => '！',
                '(' => '（',
                _ => '）',
            };
            let near = &line.text[column.saturating_sub(9)..(column + 8).min(line.text.len())];
            let shown: String = near.iter().map(|&c| if c == MASK { '…' } else { c }).collect();
            problems.push(format!(
                "{name}:{}:{column}: half-width `{c}` in Chinese text, write `{full}`: “{}”",
                line.number,
                shown.trim()
            ));
        }
        let terms = match glossary {
            true => glossary_term(&line.text),
            false => line.text.clone(),
        };
        for (column, variant, preferred) in variants(&terms) {
            problems
                .push(format!("{name}:{}:{column}: “{variant}”: the book says “{preferred}”", line.number));
        }
    }
    for number in hard_wraps(&lines) {
        problems.push(format!(
            "{name}:{number}: a Chinese paragraph goes on from line {}: join them into one line (a \
             line break between two Chinese characters shows as a space)",
            number - 1
        ));
    }
    problems
}

/// Each page of a SUMMARY.md: `(page, entry, title the page must have)`.
fn summary(text: &str) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    let mut parents: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let (Some(open), Some(mid)) = (line.find('['), line.find("](")) else { continue };
        let entry = line[open + 1..mid].to_string();
        let page = line[mid + 2..].trim_end().trim_end_matches(')').to_string();
        let indent = line.len() - line.trim_start().len();
        parents.retain(|(i, _)| *i < indent);
        // A nested page (a step's exercises) is named after its step: `第 05 步：编程练习`.
        let titles = match parents.last() {
            Some((_, parent)) => match parent.split_once('：') {
                Some((step, _)) => vec![format!("{step}：{entry}")],
                None => vec![entry.clone()],
            },
            None => vec![entry.clone(), format!("{entry}，")],
        };
        parents.push((indent, entry.clone()));
        out.push((page, entry, titles));
    }
    out
}

/// Does `title` (its code marks dropped) fit its entry's `titles`: equal to the first, or
/// starting with the second (`entry，subtitle`)?
fn title_fits(title: &str, titles: &[String]) -> bool {
    let title = title.replace('`', "");
    title == titles[0] || titles.get(1).is_some_and(|prefix| title.starts_with(prefix.as_str()))
}

#[test]
fn chinese_pages_keep_one_style() {
    let root = workspace();
    let src = root.join("book/zh/src");
    let summary_text = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let mut problems = Vec::new();
    for (page, entry, titles) in summary(&summary_text) {
        let path = src.join(&page);
        let Ok(text) = std::fs::read_to_string(&path) else { continue }; // zh.rs says so
        let shown = Path::new("book/zh/src").join(&page).display().to_string();
        problems.extend(check_page(&shown, &text));
        let title = text.lines().find_map(|l| l.strip_prefix("# ")).unwrap_or("(none)");
        if !title_fits(title, &titles) {
            problems.push(format!(
                "{shown}: its title “{title}” is not its entry in SUMMARY.md, “{entry}”: the title is \
                 “{}” or that and “，” and a subtitle (or change the entry)",
                titles[0]
            ));
        }
    }
    problems.extend(check_page("book/zh/src/SUMMARY.md", &summary_text));
    if !problems.is_empty() {
        panic!(
            "{} places in the Chinese edition do not keep its style:\n  {}\n\n{ADVICE}",
            problems.len(),
            problems.join("\n  ")
        );
    }
}

#[test]
fn the_checker_finds_what_it_is_meant_to_find() {
    let page = "# 第 01 步:标题\n\n要求:root。为什么?因为(见下文)如此。\n这一行接着上一行\n\n\
                这里有 User 命名空间。去掉 `--pid`,`findmnt` 就\n\n**达到**:1.0\n\n为什么是 shell?\n";
    let problems = check_page("p.md", page);
    let has = |s: &str| problems.iter().any(|p| p.contains(s));
    assert!(has("p.md:1:9: half-width `:`"), "{problems:#?}");
    assert!(has("p.md:3:3: half-width `:`"), "{problems:#?}");
    assert!(has("p.md:3:12: half-width `?`"), "{problems:#?}");
    assert!(has("p.md:3:15: half-width `(`"), "{problems:#?}");
    assert!(has("p.md:3:19: half-width `)`"), "{problems:#?}");
    assert!(has("p.md:4: a Chinese paragraph goes on from line 3"), "{problems:#?}");
    assert!(has("p.md:6:5: “User 命名空间”: the book says “用户命名空间”"), "{problems:#?}");
    assert!(has("p.md:6:25: half-width `,`"), "{problems:#?}");
    assert!(has("p.md:8:7: half-width `:`"), "{problems:#?}");
    assert!(has("p.md:10:11: half-width `?`"), "{problems:#?}");
    assert_eq!(problems.len(), 10, "{problems:#?}");

    // Code, link targets, includes, tags, comments, English text and tables are left alone.
    let fine = "见 `a:b,c(d)` 和 [第 05 步](step05.md#练习)。\n\n{{#include ../a.md:x}}\n\n\
                <summary>提示</summary>\n\n<!-- 注释:\n在这里 -->\n\n`docker run (x)`，1:1，a, b。\n\n\
                用 docker run (like this) 运行 clone(2)，clone()，f(x)。\n\n\
                ```\n中文:代码\n中文\n```\n\n| 中 | 文 |\n| 中 | 文 |\n";
    assert_eq!(check_page("f.md", fine), Vec::<String>::new());

    // The glossary names the other forms, in （） or in English; its first form is checked.
    let glossary = "| PID 1（1 号进程） | PID 1, lifeline |\n| 1 号进程 | x |\n";
    let problems = check_page("book/zh/src/glossary.md", glossary);
    assert_eq!(problems, ["book/zh/src/glossary.md:2:3: “1 号进程”: the book says “PID 1”"]);

    let entries = summary("# 目录\n\n[简介](introduction.md)\n\n- [第 05 步：挂载命名空间](step05.md)\n    - [编程练习](exercises/step05.md)\n");
    assert_eq!(entries[1].2, ["第 05 步：挂载命名空间", "第 05 步：挂载命名空间，"]);
    assert_eq!(entries[2].2, ["第 05 步：编程练习"]);
    assert!(title_fits("第 05 步：挂载命名空间，自己的 `/proc`", &entries[1].2));
    assert!(!title_fits("第 05 步：Mount 命名空间，自己的 `/proc`", &entries[1].2));
    assert!(!title_fits("第 05 步：挂载命名空间吗", &entries[1].2));
    assert!(title_fits("第 05 步：编程练习", &entries[2].2));
    assert!(title_fits("简介", &entries[0].2));
}
