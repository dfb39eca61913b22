//! `docs/architecture.md`'s opening table: state → function → module, one hop each.

use crate::DEFINITION;
use stagegate::flow::function_names;
use std::path::Path;

/// Every Task state of the definition (Parallel branches and Map iterations
/// included), in definition order, with what it runs: a function (by the
/// substitution in its `Resource` or `FunctionName`) or a CodeBuild build.
fn tasks() -> Vec<(String, Option<String>)> {
    fn walk(states: &serde_json::Value, out: &mut Vec<(String, Option<String>)>) {
        for (name, s) in states.as_object().into_iter().flatten() {
            if s["Type"] == "Task" {
                let text = s.to_string();
                let function = text
                    .split("${")
                    .skip(1)
                    .filter_map(|p| p.split_once("FunctionArn}").map(|(f, _)| f))
                    .next()
                    .map(|f| f.to_string());
                out.push((name.clone(), function));
            }
            for b in s["Branches"].as_array().into_iter().flatten() {
                walk(&b["States"], out);
            }
            for key in ["Iterator", "ItemProcessor"] {
                walk(&s[key]["States"], out);
            }
        }
    }
    let definition: serde_json::Value = serde_json::from_str(DEFINITION).expect("JSON");
    let mut out = Vec::new();
    walk(&definition["States"], &mut out);
    out
}

/// The table that opens `docs/architecture.md`: from each state people see in the
/// console to the function that runs it and the module that holds its logic, one hop
/// each; then the functions no state invokes.
fn state_table() -> String {
    let name_of = |key: &str| {
        function_names()
            .find(|n| stagegate::step::substitution_key(n) == format!("{key}FunctionArn"))
            .unwrap_or("?")
    };
    let module = |name: &str| {
        let file = name.replace('-', "_");
        format!("[`steps/{file}.rs`](../crates/stagegate/src/steps/{file}.rs)")
    };
    let mut t = String::from(
        "| State (as the console shows it) | Function (`functions/…`) | Logic |\n|---|---|---|\n",
    );
    for (state, function) in tasks() {
        let row = match function {
            Some(key) => {
                let name = name_of(&key);
                format!("| {state} | [`{name}`](../functions/{name}/main.rs) | {} |\n", module(name))
            }
            None => format!(
                "| {state} | CodeBuild (`ChecksProject`) | the app's own command ([`template.yaml`](../template.yaml) `ChecksProject`) |\n"
            ),
        };
        t.push_str(&row);
    }
    let outside = [
        ("webhook", "GitHub push (Function URL)"),
        ("approval-page", "an approver's link (Function URL)"),
        ("slack-interactivity", "a Slack button or form (Function URL)"),
        (
            "resume-wait",
            "stack and Amplify status events (EventBridge rules)",
        ),
        (
            "reconcile-approvals",
            "every five minutes (EventBridge schedule)",
        ),
        ("notify", "a run that ended abnormally (EventBridge rule)"),
        (
            "check-deployment-window",
            "Check Deployment Window, in the production definition (after its approval)",
        ),
        (
            "verify-staged",
            "Verify Staged Release, first of the production definition (`statemachine/production.asl.json`; its functions are `Production<Name>Function`)",
        ),
    ];
    for (name, by) in outside {
        t.push_str(&format!(
            "| *{by}* | [`{name}`](../functions/{name}/main.rs) | {} |\n",
            module(name)
        ));
    }
    t
}

/// `docs/architecture.md` opens with [`state_table`], as the definition and the
/// function list say it today (`STAGEGATE_BLESS=1` rewrites it).
#[test]
fn the_architecture_doc_opens_with_the_state_to_function_to_module_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md");
    let doc = std::fs::read_to_string(&path).expect("docs/architecture.md");
    let (start, end) = ("<!-- state-table -->\n", "<!-- /state-table -->");
    let a = doc.find(start).expect("the table's start marker") + start.len();
    let b = doc.find(end).expect("the table's end marker");
    let table = state_table();
    if stagegate::testing::blessing() {
        let mut blessed = doc.clone();
        blessed.replace_range(a..b, &table);
        std::fs::write(&path, blessed).expect("write docs/architecture.md");
        return;
    }
    assert_eq!(
        &doc[a..b],
        table,
        "docs/architecture.md's table is stale (STAGEGATE_BLESS=1 rewrites it)"
    );
    assert!(
        doc[..a].lines().filter(|l| !l.trim().is_empty()).count() <= 6,
        "the table opens the document"
    );
    for name in function_names() {
        assert!(table.contains(&format!("`{name}`")), "{name} has no row");
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/stagegate/src/steps")
            .join(format!("{}.rs", name.replace('-', "_")));
        assert!(file.exists(), "{}", file.display());
    }
}

/// Only `STAGEGATE_BLESS=1` rewrites golden files; any other value checks them. CI
/// refuses to run with the variable set at all (before doing anything), and ends by
/// failing on any change to a tracked file.
#[test]
fn nothing_is_blessed_silently() {
    use stagegate::testing::blesses;
    assert!(blesses(Some("1")));
    for value in [
        None,
        Some("0"),
        Some(""),
        Some("true"),
        Some("yes"),
        Some(" 1"),
    ] {
        assert!(!blesses(value), "{value:?} must not bless");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for value in ["1", "0", ""] {
        let out = std::process::Command::new("bash")
            .arg(root.join(".ci/run"))
            .env("STAGEGATE_BLESS", value)
            .output()
            .expect("bash runs .ci/run");
        assert_eq!(out.status.code(), Some(1), "STAGEGATE_BLESS={value:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("STAGEGATE_BLESS is set"), "{err}");
        assert!(out.stdout.is_empty(), "it stopped before doing anything");
    }
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    let last_check = ci.lines().rev().find(|l| !l.trim().starts_with("echo"));
    assert_eq!(last_check.map(str::trim), Some("git diff --exit-code"));
}

/// README's "Parameters" table names every parameter of the template, and only those.
#[test]
fn the_readme_names_every_template_parameter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let start = readme
        .find("\n### Parameters\n")
        .expect("a Parameters section");
    let table: String = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with("| `"))
        .collect::<Vec<_>>()
        .join("\n");
    let named: std::collections::BTreeSet<String> = table
        .lines()
        .flat_map(|row| {
            let first = row.split(" | ").next().unwrap_or_default();
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let t = crate::template();
    let params: std::collections::BTreeSet<String> = t["Parameters"]
        .as_mapping()
        .expect("Parameters")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    assert_eq!(
        params.difference(&named).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "parameters the README does not describe"
    );
    assert_eq!(
        named.difference(&params).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "README rows for parameters the template does not have"
    );
}
