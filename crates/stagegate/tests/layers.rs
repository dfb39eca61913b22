//! The domain crate's plan, held against its code: four layers, each module's code
//! naming only modules of the layers below it (`crate::<module>`), and no function's
//! module naming another function's module. The layers are those `src/lib.rs`
//! describes; a new module must be placed here. Comments (a module may say who uses
//! it) and unit tests (any test may use the `testing` doubles) are not code here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layer of each top-level module of `src/`. The test doubles and fixtures sit with
/// the steps, above everything they build (evidence included), and name no step.
const LAYERS: &[(&str, u8)] = &[
    ("error", 1),
    ("records", 1),
    ("suite_spec", 1),
    ("text", 1),
    ("ports", 2),
    ("candidate", 2),
    ("step", 2),
    ("links", 2),
    ("changelog", 2),
    ("flow", 2),
    ("status_events", 2),
    ("windows", 2),
    ("wording", 2),
    ("settings", 3),
    ("desk", 3),
    ("waiting", 3),
    ("timeline", 3),
    ("manifest", 3),
    ("metrics", 3),
    ("results", 3),
    ("suite_run", 3),
    ("summary", 3),
    ("slack", 3),
    ("testing", 4),
    ("steps", 4),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn files(dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let relative = path.strip_prefix(src()).unwrap_or(&path);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let relative = relative.to_string_lossy().replace('\\', "/");
            out.push((relative.clone(), code(&relative, &text)));
        }
    }
}

/// The code of a file: without comments, and without its unit tests (the
/// `#[cfg(test)]` module at its end). A file that is itself a test module (`tests.rs`,
/// `tests/…`) has no code here.
fn code(relative: &str, text: &str) -> String {
    if relative.ends_with("/tests.rs") || relative.contains("/tests/") {
        return String::new();
    }
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs`).
fn module_of(relative: &str) -> Option<&str> {
    let first = relative.split('/').next()?;
    (first != "lib.rs").then(|| first.trim_end_matches(".rs"))
}

/// The identifiers following `prefix` in `text` (`crate::flow::Run` → `flow`).
fn named_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn all_files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    files(&src(), &mut out);
    assert!(out.len() > 30, "read the crate's files: {}", out.len());
    out
}

#[test]
fn every_module_names_only_modules_of_lower_layers() {
    let layers: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (file, text) in all_files() {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let Some(&own) = layers.get(module) else {
            wrong.push(format!("{file}: module {module} has no layer in LAYERS"));
            continue;
        };
        for target in named_after(&text, "crate::") {
            if target == module {
                continue;
            }
            match layers.get(target) {
                Some(&layer) if layer < own => {}
                Some(&layer) => wrong.push(format!(
                    "{file}: {module} (layer {own}) names crate::{target} (layer {layer})"
                )),
                // A re-export of lib.rs (crate::Settings, crate::StepError): lib.rs
                // sits above every module, so naming it goes up.
                None => wrong.push(format!(
                    "{file}: names crate::{target}, not a module (name it where it lives)"
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_function_module_names_another() {
    let mut wrong = Vec::new();
    for (file, text) in all_files() {
        let Some(step) = file.strip_prefix("steps/") else {
            continue;
        };
        let own = step
            .split('/')
            .next()
            .unwrap_or(step)
            .trim_end_matches(".rs");
        for other in named_after(&text, "crate::steps::") {
            if other != own {
                wrong.push(format!("{file} names crate::steps::{other}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checks_see_what_they_are_looking_for() {
    assert_eq!(
        named_after(
            "use crate::flow::{Run}; crate::waiting::x; crate::",
            "crate::"
        ),
        ["flow", "waiting"]
    );
    assert_eq!(module_of("steps/notify.rs"), Some("steps"));
    assert_eq!(module_of("desk.rs"), Some("desk"));
    assert_eq!(module_of("lib.rs"), None);
    let file = "use crate::flow::Run;\n/// [`crate::steps`]\n#[cfg(test)]\nmod tests { use crate::testing::now; }";
    assert_eq!(code("timeline.rs", file), "use crate::flow::Run;");
    assert_eq!(code("steps/notify/tests.rs", file), "");
    // Every module of lib.rs has a layer, and every layer's module exists.
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap_or_default();
    let declared: Vec<&str> = named_after(&lib, "pub mod ");
    let mut placed: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    placed.sort();
    let mut declared = declared;
    declared.sort();
    assert_eq!(declared, placed);
}
