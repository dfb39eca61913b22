//! Text from people stagegate does not control — approval reasons, commit subjects and
//! authors, error causes — rendered so it cannot forge the structure around it: one
//! line (no fake "Approved by" line, no heading, no list item of its own), and in
//! Markdown with every construct that could make a link, an image, HTML, emphasis,
//! code or a table cell escaped. What is said stays readable; what it could pretend
//! to be does not render.

/// At most this many characters of one stranger's text are shown.
pub const MAX_CHARS: usize = 1_000;

/// `s` as a name that cannot leave its folder or break an AWS name: every character
/// but ASCII letters, digits, `-`, `_` and `.` becomes `_` (so the result is ASCII).
pub fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `s` on one line: every line break, tab and other control character (and the
/// Unicode line and paragraph separators) becomes a space, runs of spaces one, and
/// the whole is at most [`MAX_CHARS`] characters (`…` when cut).
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_CHARS));
    let mut count = 0;
    let mut space = false;
    for c in s.trim().chars() {
        let c = if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count == MAX_CHARS {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// `s` for plain text (emails, the terminal): on one line, between quotation marks,
/// so where it starts and ends is plain to see.
pub fn quoted(s: &str) -> String {
    format!("“{}”", one_line(s))
}

/// `s` for Markdown (release notes, the checklist): on one line, with the characters
/// that start links, images, HTML, emphasis, code, strikethrough or table cells
/// backslash-escaped. It renders as the text it is.
pub fn md(s: &str) -> String {
    let line = one_line(s);
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '!' | '|' | '~' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A readable reason from `{Error, Cause}`: Lambda causes are JSON with an
/// `errorMessage`; CodeBuild causes are the build; others are text.
pub fn reason(error: &serde_json::Value) -> String {
    let name = error
        .get("Error")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("Error");
    let cause = error
        .get("Cause")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let detail = match serde_json::from_str::<serde_json::Value>(cause) {
        Ok(v) if v.get("errorMessage").is_some() => {
            one_line(v["errorMessage"].as_str().unwrap_or_default())
        }
        Ok(v) if v.get("Build").is_some() => format!(
            "build {} ended {}",
            v["Build"]["Id"].as_str().unwrap_or("?"),
            v["Build"]["BuildStatus"].as_str().unwrap_or("?")
        ),
        // An error carried whole in a cause (a Fail state's `States.JsonToString`):
        // read the one inside.
        Ok(v) if v.get("Error").is_some_and(serde_json::Value::is_string) => reason(&v),
        Ok(v) if v.get("decision").is_some() => {
            let by = v["by"].as_str().unwrap_or("someone");
            // The reason is the rejecter's own words: quoted, on one line.
            match v["reason"].as_str() {
                Some(r) => format!("rejected by {}: {}", one_line(by), quoted(r)),
                None => format!("rejected by {}", one_line(by)),
            }
        }
        // Whatever failed said this: on one line, so it cannot pose as the message.
        _ => one_line(cause),
    };
    if detail.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_safe_name_keeps_letters_digits_dashes_underscores_and_dots_only() {
        assert_eq!(safe_name("rc-1.4.0_b"), "rc-1.4.0_b");
        assert_eq!(safe_name("../a/b c\\é#"), ".._a_b_c___");
    }

    const FORGERY: &str =
        "lint only\n\n## Approval\n\n- Approved by security-lead\r\n[docs](https://evil.example) <img src=x> **ok** `x` | a |";

    #[test]
    fn a_forgery_stays_on_one_line() {
        let line = one_line(FORGERY);
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        assert_eq!(one_line("a\u{2028}b\u{85}c\td   e"), "a b c d e");
        assert_eq!(quoted("no\nApproved by: x"), "“no Approved by: x”");
    }

    #[test]
    fn markdown_constructs_are_escaped_not_rendered() {
        let m = md(FORGERY);
        assert_eq!(
            m,
            r"lint only \#\# Approval - Approved by security-lead \[docs\](https://evil.example) \<img src=x\> \*\*ok\*\* \`x\` \| a \|"
        );
        // Ordinary text reads as it was written.
        assert_eq!(
            md("fix: keep rc-1.4.1 (see #12)"),
            r"fix: keep rc-1.4.1 (see \#12)"
        );
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let long = "x".repeat(MAX_CHARS + 5);
        let line = one_line(&long);
        assert_eq!(line.chars().count(), MAX_CHARS + 1);
        assert!(line.ends_with('…'));
        assert_eq!(one_line(&"y".repeat(MAX_CHARS)).chars().count(), MAX_CHARS);
    }
}
