//! The house stays readable: no Rust file over 600 lines outside the engine, no
//! function over 80 lines outside the engine's parser and `bench/` (issue 18).

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file of the repository (not `target/`), relative to its root.
fn rust_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "target" | ".git" | "node_modules" | ".aws-sam"
                ) {
                    walk(&path, root, out);
                }
            } else if name.ends_with(".rs") {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push((rel.to_string_lossy().replace('\\', "/"), text));
            }
        }
    }
    let mut out = Vec::new();
    let root = root();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

/// Which bytes of `text` are code (not inside a comment, a string or a char literal).
fn code_mask(text: &str) -> Vec<bool> {
    let b = text.as_bytes();
    let mut mask = vec![false; b.len()];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'#') | Some(b'"'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    mask[i] = true;
                    i += 1;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i += 2 + hashes;
                while i < b.len() && !b[i..].starts_with(&close) {
                    i += 1;
                }
                i += close.len();
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 3,
            _ => {
                mask[i] = true;
                i += 1;
            }
        }
    }
    mask
}

/// Each function of `text`: its name, first line (1-based) and length in lines.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let mask = code_mask(text);
    let mut starts = Vec::new();
    let mut offset = 0;
    for (n, line) in text.split('\n').enumerate() {
        let code = line.trim_start();
        let code = code
            .strip_prefix("pub(crate) ")
            .or_else(|| code.strip_prefix("pub "))
            .unwrap_or(code);
        let code = code.strip_prefix("async ").unwrap_or(code);
        let code = code.strip_prefix("const ").unwrap_or(code);
        if let Some(rest) = code.strip_prefix("fn ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let at = offset + (line.len() - line.trim_start().len());
            if mask.get(at).copied().unwrap_or(false) {
                starts.push((name, n + 1, offset));
            }
        }
        offset += line.len() + 1;
    }
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (name, line, start) in starts {
        let (mut depth, mut opened) = (0i32, false);
        let mut end = start;
        for i in start..b.len() {
            if !mask[i] {
                continue;
            }
            match b[i] {
                b';' if !opened => break,
                b'{' => {
                    depth += 1;
                    opened = true;
                }
                b'}' => depth -= 1,
                _ => {}
            }
            if opened && depth == 0 {
                end = i;
                break;
            }
        }
        if opened {
            let lines = text[start..=end].matches('\n').count() + 1;
            out.push((name, line, lines));
        }
    }
    out
}

#[test]
fn no_rust_file_is_over_600_lines_outside_the_engine() {
    let files = rust_files();
    assert!(
        files.len() > 100,
        "read the repository: {} files",
        files.len()
    );
    let long: Vec<String> = files
        .iter()
        .filter(|(f, _)| !f.starts_with("crates/asl-engine/"))
        .filter_map(|(f, text)| {
            let n = text.lines().count();
            (n > MAX_FILE_LINES).then(|| format!("{f}: {n} lines"))
        })
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn no_function_is_over_80_lines_outside_the_parser_and_bench() {
    let long: Vec<String> = rust_files()
        .iter()
        .filter(|(f, _)| f != "crates/asl-engine/src/definition.rs" && !f.starts_with("bench/"))
        .flat_map(|(f, text)| {
            functions(text)
                .into_iter()
                .filter(|(_, _, n)| *n > MAX_FN_LINES)
                .map(move |(name, line, n)| format!("{f}:{line} {name}: {n} lines"))
        })
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_measure_sees_functions_past_strings_comments_and_raw_strings() {
    let text = "fn a() {\n    let s = \"}\";\n    // }\n    let r = r#\"}\n\"#;\n    let c = '}';\n}\nfn b(x: &'static str) -> usize { x.len() }\nfn c();\n";
    assert_eq!(
        functions(text),
        [("a".to_string(), 1, 7), ("b".to_string(), 8, 1)]
    );
}

/// The measure agrees with what the parser's longest function is known to be.
#[test]
fn the_measure_finds_the_parsers_long_functions() {
    let (_, text) = rust_files()
        .into_iter()
        .find(|(f, _)| f == "crates/asl-engine/src/definition.rs")
        .expect("the parser");
    let state = functions(&text)
        .into_iter()
        .find(|(name, _, _)| name == "state")
        .expect("its state function");
    assert!(state.2 > MAX_FN_LINES, "{state:?}");
}
