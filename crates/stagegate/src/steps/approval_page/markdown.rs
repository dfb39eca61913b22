//! The checklist, as the review page shows it: the Markdown Generate Checklist wrote
//! (our own small subset — headings, list items, tables, paragraphs, `code` and
//! **bold**, with strangers' text backslash-escaped by [`crate::text::md`]) rendered
//! as HTML, every character escaped, no raw HTML passed through, links only for cells
//! that are a whole `https://` URL. A check's result cell says passed or failed in
//! words and in colour (`pass` / `fail`), not by its emoji alone; a change that
//! replaces its resource is marked (`replace`).

use super::{escape, escape_char};
use std::fmt::Write as _;

/// `markdown` as an HTML fragment.
pub fn to_html(markdown: &str) -> String {
    let mut html = String::new();
    let mut block = Block::None;
    for line in markdown.lines() {
        let line = line.trim_end();
        // A code block (a failed check's log): every line as it is, escaped.
        if block == Block::Code {
            if line == "```" {
                close(&mut html, block);
                block = Block::None;
            } else {
                let _ = writeln!(html, "{}", escape(line));
            }
            continue;
        }
        let next = if line.starts_with("```") {
            Block::Code
        } else if line.starts_with('|') {
            Block::Table
        } else if line.starts_with("- ") {
            Block::List
        } else {
            Block::None
        };
        if next != block {
            close(&mut html, block);
            open(&mut html, next);
            block = next;
        }
        match block {
            Block::Table => table_row(&mut html, line),
            Block::List => {
                let _ = write!(html, "<li>{}</li>", inline(&line[2..]));
            }
            Block::None => other(&mut html, line),
            // The fence line itself shows nothing.
            Block::Code => {}
        }
    }
    close(&mut html, block);
    html
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    None,
    List,
    Table,
    Code,
}

fn open(html: &mut String, block: Block) {
    html.push_str(match block {
        Block::None => "",
        Block::List => "<ul>",
        Block::Table => "<div class=\"scroll\"><table>",
        Block::Code => "<pre class=\"log\"><code>",
    });
}

fn close(html: &mut String, block: Block) {
    html.push_str(match block {
        Block::None => "",
        Block::List => "</ul>",
        Block::Table => "</tbody></table></div>",
        Block::Code => "</code></pre>",
    });
}

/// A heading (one level below the page's own) or a paragraph.
fn other(html: &mut String, line: &str) {
    if let Some(h) = line.strip_prefix("### ") {
        let _ = write!(html, "<h4>{}</h4>", inline(h));
    } else if let Some(h) = line.strip_prefix("## ") {
        let _ = write!(html, "<h3>{}</h3>", inline(h));
    } else if let Some(h) = line.strip_prefix("# ") {
        let _ = write!(html, "<h2>{}</h2>", inline(h));
    } else if !line.is_empty() {
        let _ = write!(html, "<p>{}</p>", inline(line));
    }
}

/// One row: the first of a table is its head, the `|---|` line under it ends the head.
fn table_row(html: &mut String, line: &str) {
    let cells = cells(line);
    if cells
        .iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':'))
    {
        html.push_str("</thead><tbody>");
        return;
    }
    if !html.ends_with("<table>") {
        html.push_str("<tr>");
        for c in &cells {
            let class = match (c.chars().next(), c.as_str()) {
                (Some('✅'), _) => " class=\"pass\"",
                (Some('❌'), _) => " class=\"fail\"",
                // A change's replacement: the resource is deleted and made again.
                (_, "True" | "Conditional") => " class=\"replace\"",
                _ => "",
            };
            let _ = write!(html, "<td{class}>{}</td>", cell(c));
        }
        html.push_str("</tr>");
        return;
    }
    html.push_str("<thead><tr>");
    for c in &cells {
        let _ = write!(html, "<th scope=\"col\">{}</th>", inline(c));
    }
    html.push_str("</tr>");
}

/// The cells of a row, split on `|` not escaped with `\`, trimmed (escapes kept for
/// [`inline`]).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let (mut cells, mut current) = (Vec::new(), String::new());
    let mut escaped = false;
    for ch in inner.chars() {
        if ch == '|' && !escaped {
            cells.push(std::mem::take(&mut current).trim().to_string());
        } else {
            current.push(ch);
        }
        escaped = ch == '\\' && !escaped;
    }
    cells.push(current.trim().to_string());
    cells
}

/// A cell: a whole `https://` URL is a link (the page's CSP allows no script, and
/// the URL is escaped as an attribute); anything else is inline text.
fn cell(c: &str) -> String {
    let is_url = c.starts_with("https://") && !c.contains(char::is_whitespace);
    if is_url {
        let url = escape(c);
        return format!("<a href=\"{url}\" rel=\"noreferrer\">{url}</a>");
    }
    inline(c)
}

/// Inline text: `\x` is the character x, `code` and **bold** spans (closed at the
/// end of the text if left open), everything else escaped.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut code, mut strong) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if !code => {
                if let Some(next) = chars.next() {
                    escape_char(&mut out, next);
                }
            }
            '`' => {
                out.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            }
            '*' if !code && chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(if strong { "</strong>" } else { "<strong>" });
                strong = !strong;
            }
            _ => escape_char(&mut out, ch),
        }
    }
    if code {
        out.push_str("</code>");
    }
    if strong {
        out.push_str("</strong>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checklist_is_html_with_tables_and_words_not_markdown() {
        let md = "# Deployment checklist: acme/shop rc-1.4.0\n\n- Commit: `0123`\n- Pushed by: ana \\| \\<b\\>x\\</b\\>\n\n## Checks\n\n| Check | Result | Log |\n|---|---|---|\n| ESLint | ✅ passed | https://console.example/log?a=1&b=2 |\n| Unit Tests | ❌ failed (FAILED) | /tmp/local.log |\n\n**1 check(s) failed.** Approving anyway requires a written reason.\n";
        let html = to_html(md);
        assert!(
            html.contains("<h2>Deployment checklist: acme/shop rc-1.4.0</h2>"),
            "{html}"
        );
        assert!(
            html.contains("<li>Commit: <code>0123</code></li>"),
            "{html}"
        );
        // A stranger's escaped text stays text: no tag, no extra cell.
        assert!(
            html.contains("<li>Pushed by: ana | &lt;b&gt;x&lt;/b&gt;</li>"),
            "{html}"
        );
        assert!(
            html.contains("<thead><tr><th scope=\"col\">Check</th>"),
            "{html}"
        );
        assert!(html.contains("<td class=\"pass\">✅ passed</td>"), "{html}");
        assert!(
            html.contains("<td class=\"fail\">❌ failed (FAILED)</td>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<a href=\"https://console.example/log?a=1&amp;b=2\" rel=\"noreferrer\">"
            ),
            "{html}"
        );
        assert!(html.contains("<td>/tmp/local.log</td>"), "{html}");
        assert!(
            html.contains("<p><strong>1 check(s) failed.</strong> Approving"),
            "{html}"
        );
        assert!(!html.contains("|---"), "no Markdown table syntax: {html}");
        assert_eq!(
            html.matches("<table>").count(),
            html.matches("</table>").count()
        );
    }

    #[test]
    fn nothing_a_stranger_writes_becomes_markup() {
        for text in [
            "<script>alert(1)</script>",
            "`<img src=x>",
            "**<i>",
            "\\",
            "| a | b",
            "javascript:alert(1)",
        ] {
            let html = to_html(&format!("- {text}\n| {text} |\n{text}"));
            assert!(
                !html.contains("<script") && !html.contains("<img") && !html.contains("<i>"),
                "{text}: {html}"
            );
            assert!(!html.contains("href=\"javascript"), "{text}: {html}");
        }
    }
}

/// What Generate Checklist writes, rendered: every table is HTML, nothing of
/// Markdown's table syntax is left, a replacement is in its own cell.
#[cfg(test)]
mod generated {
    use super::to_html;
    use crate::flow::{ChangeSummary, Preview};
    use crate::steps::generate_checklist::{render_markdown, Input};
    use crate::testing::{check_result, run_info};

    #[test]
    fn a_generated_checklist_renders_as_tables() {
        let preview: Preview = serde_json::from_value(serde_json::json!({
            "changeSetId": "cs-1", "stackName": "shop-staging", "status": "READY", "attempt": 1,
            "changes": [
                {"action": "Add", "logicalId": "Orders", "resourceType": "AWS::DynamoDB::Table", "replacement": ""},
                {"action": "Modify", "logicalId": "Api", "resourceType": "AWS::Lambda::Function", "replacement": "True"}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let input = Input {
            preflight: run_info(),
            checks: vec![
                check_result("ESLint", "SUCCEEDED"),
                check_result("Unit Tests", "FAILED"),
            ],
            preview: Some(preview.clone()),
            staged: None,
        };
        let changes = ChangeSummary::of(&preview.changes);
        let md = render_markdown(&input, &changes, Some(&preview), &"5e".repeat(32));
        let html = to_html(&md);
        assert_eq!(html.matches("<table>").count(), 2, "{html}");
        assert!(!html.contains("|---") && !html.contains("| "), "{html}");
        assert!(html.contains("<td class=\"fail\">❌ failed"), "{html}");
        assert!(
            html.contains(
                "<td>Api</td><td>AWS::Lambda::Function</td><td class=\"replace\">True</td>"
            ),
            "{html}"
        );
    }

    #[test]
    fn a_log_is_a_code_block_escaped_line_by_line() {
        let md = "## Checks\n\n### ESLint: the end of its log\n\n```text\n<script>alert(1)</script>\n| a | b |\n**not bold**\n```\n\n## Infrastructure changes\n";
        let html = to_html(md);
        assert!(
            html.contains("<h4>ESLint: the end of its log</h4>"),
            "{html}"
        );
        assert!(
            html.contains("<pre class=\"log\"><code>&lt;script&gt;alert(1)&lt;/script&gt;\n| a | b |\n**not bold**\n</code></pre>"),
            "{html}"
        );
        assert!(
            !html.contains("<table>") && !html.contains("<strong>not"),
            "{html}"
        );
        assert!(html.ends_with("<h3>Infrastructure changes</h3>"), "{html}");
    }

    /// The limits: a change set of 10,000 resources is one table of 10,000 rows, and
    /// the page stays under a Function URL's 6 MB answer.
    #[test]
    fn ten_thousand_changes_are_one_table_under_a_function_urls_limit() {
        let mut md = String::from("## Infrastructure changes\n\n| Action | Resource | Type | Replacement |\n|---|---|---|---|\n");
        for i in 0..10_000 {
            md.push_str(&format!(
                "| Modify | Resource{i} | AWS::Lambda::Function | True |\n"
            ));
        }
        let html = to_html(&md);
        assert_eq!(html.matches("<tr>").count(), 10_001);
        assert_eq!(html.matches("class=\"replace\"").count(), 10_000);
        assert!(html.len() < 6 * 1024 * 1024, "{} bytes", html.len());
    }
}
