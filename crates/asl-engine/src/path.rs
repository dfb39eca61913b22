//! JSONPath as Step Functions uses it: `Path`s that read (InputPath, `.$` fields,
//! Choice variables, ItemsPath, ...) and `ReferencePath`s that write (ResultPath).
//!
//! Parsing and evaluation are done by the `jsonpath-rust` crate (RFC 9535). Step
//! Functions itself uses Jayway JsonPath, which differs in two ways that matter here and
//! are bridged in this module, nowhere else:
//! - Jayway accepts dot-names RFC 9535 does not (`$.error-info`, `$.2fa`); such a
//!   dot-name is rewritten to bracket notation (`$['error-info']`) before parsing.
//! - Jayway returns a single value for a *definite* path (only names and indices) and
//!   a list for any other path (wildcard, slice, filter, union, descendant), even when
//!   it matches one node. [`Path::select`] does the same.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;
use std::fmt;

/// Which document a path reads: the state's data (`$`) or the context object (`$$`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    Input,
    Context,
}

/// A compiled read path.
#[derive(Clone, Debug)]
pub struct Path {
    text: String,
    root: Root,
    query: JpQuery,
    definite: bool,
    /// The name/index steps of a definite path, compiled once: `select` walks them
    /// directly instead of running the general JSONPath evaluator.
    steps: Option<Vec<Step>>,
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    /// Parses `$...` or `$$...`. The error text says what is wrong with the path.
    pub fn parse(text: &str) -> Result<Path, String> {
        let (root, body) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, format!("${rest}"))
        } else if text.starts_with('$') {
            (Root::Input, text.to_string())
        } else {
            return Err(format!(
                "'{text}' is not a JSONPath: it must start with '$'"
            ));
        };
        let normalized = bracket_jayway_names(&body);
        let query = parse_json_path(&normalized).map_err(|e| {
            format!(
                "'{text}' is not a valid JSONPath: {}",
                first_line(&e.to_string())
            )
        })?;
        let definite = query
            .segments
            .iter()
            .all(|s| matches!(s, Segment::Selector(Selector::Name(_) | Selector::Index(_))));
        let mut path = Path {
            text: text.to_string(),
            root,
            query,
            definite,
            steps: None,
        };
        path.steps = path.steps();
        Ok(path)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn root(&self) -> Root {
        self.root
    }

    /// True when the path can only ever name one node (names and indices only).
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// Evaluates the path. A definite path that matches nothing is `None`; an
    /// indefinite path always yields a (possibly empty) array, as Jayway does.
    pub fn select(&self, input: &Value, context: &Value) -> Option<Value> {
        let doc = match self.root {
            Root::Input => input,
            Root::Context => context,
        };
        if let Some(steps) = &self.steps {
            return walk(doc, steps).cloned();
        }
        // js_path_process only fails for function-valued queries, which a parsed
        // query of ours cannot be (functions are only legal inside filters).
        let nodes = js_path_process(&self.query, doc).ok()?;
        if self.definite {
            nodes.into_iter().next().map(|n| n.val().clone())
        } else {
            Some(Value::Array(
                nodes.into_iter().map(|n| n.val().clone()).collect(),
            ))
        }
    }

    /// The name/index steps of a definite path (empty for `$`).
    fn steps(&self) -> Option<Vec<Step>> {
        if !self.definite {
            return None;
        }
        Some(
            self.query
                .segments
                .iter()
                .filter_map(|s| match s {
                    Segment::Selector(Selector::Name(n)) => Some(Step::Name(n.clone())),
                    Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
                    _ => None,
                })
                .collect(),
        )
    }
}

/// The node a definite path names, as RFC 9535 (and Jayway) evaluate it: a name
/// selects an object member, an index an array element (negative from the end).
fn walk<'v>(doc: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    let mut node = doc;
    for step in steps {
        node = match step {
            Step::Name(n) => node.as_object()?.get(n)?,
            Step::Index(i) => {
                let arr = node.as_array()?;
                let at = if *i < 0 {
                    arr.len()
                        .checked_sub(usize::try_from(i.unsigned_abs()).ok()?)?
                } else {
                    usize::try_from(*i).ok()?
                };
                arr.get(at)?
            }
        };
    }
    Some(node)
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Name(String),
    Index(i64),
}

/// A compiled write path (`ResultPath`): `$` or a definite path into the state input.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferencePath {
    text: String,
    steps: Vec<Step>,
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ReferencePath {
    pub fn parse(text: &str) -> Result<ReferencePath, String> {
        let path = Path::parse(text)?;
        if path.root == Root::Context {
            return Err(format!(
                "'{text}' is not a reference path: it cannot point into the context object"
            ));
        }
        let steps = path.steps().ok_or_else(|| {
            format!("'{text}' is not a reference path: only names and indices are allowed (no wildcards, slices, filters, unions or '..')")
        })?;
        Ok(ReferencePath {
            text: text.to_string(),
            steps,
        })
    }

    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// Places `value` at this path inside `target`, creating missing object fields.
    /// Fails (as Step Functions does) when a step crosses a non-object, or an index
    /// that does not exist.
    pub fn set(&self, target: Value, value: Value) -> Result<Value, String> {
        let mut target = target;
        let mut slot = &mut target;
        let last = self.steps.len();
        if last == 0 {
            return Ok(value);
        }
        for (i, step) in self.steps.iter().enumerate() {
            let is_last = i + 1 == last;
            slot = match step {
                Step::Name(name) => {
                    let obj = slot.as_object_mut().ok_or_else(|| {
                        format!(
                            "Unable to apply ResultPath '{}': the value at step '{name}' is not a JSON object",
                            self.text
                        )
                    })?;
                    if is_last {
                        obj.insert(name.clone(), value);
                        return Ok(target);
                    }
                    obj.entry(name.clone())
                        .or_insert_with(|| Value::Object(Default::default()))
                }
                Step::Index(idx) => {
                    let arr = slot.as_array_mut().ok_or_else(|| {
                        format!(
                            "Unable to apply ResultPath '{}': the value at index [{idx}] is not a JSON array",
                            self.text
                        )
                    })?;
                    let len = arr.len() as i64;
                    let pos = if *idx < 0 { len + idx } else { *idx };
                    if pos < 0 || pos >= len {
                        return Err(format!(
                            "Unable to apply ResultPath '{}': index [{idx}] is out of bounds",
                            self.text
                        ));
                    }
                    let entry = &mut arr[pos as usize];
                    if is_last {
                        *entry = value;
                        return Ok(target);
                    }
                    entry
                }
            };
        }
        Ok(target)
    }
}

fn first_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rewrites dot-names that Jayway accepts but RFC 9535 does not into bracket form.
/// Only top-level dot segments are touched; brackets, quotes and filters pass through.
fn bracket_jayway_names(path: &str) -> String {
    let chars: Vec<char> = path.chars().collect();
    let mut out = String::with_capacity(path.len() + 8);
    let mut i = 0;
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' | '"' if depth > 0 => {
                quote = Some(c);
                out.push(c);
                i += 1;
            }
            '[' => {
                depth += 1;
                out.push(c);
                i += 1;
            }
            ']' => {
                depth = depth.saturating_sub(1);
                out.push(c);
                i += 1;
            }
            '.' if depth == 0 => {
                // `..name` keeps its descendant marker.
                let mut j = i + 1;
                let descendant = j < chars.len() && chars[j] == '.';
                if descendant {
                    j += 1;
                }
                let start = j;
                while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                if !name.is_empty()
                    && name != "*"
                    && !is_rfc_shorthand(&name)
                    && !name.ends_with(')')
                {
                    out.push_str(if descendant { ".." } else { "" });
                    out.push_str("['");
                    out.push_str(&name.replace('\\', "\\\\").replace('\'', "\\'"));
                    out.push_str("']");
                } else {
                    out.push_str(if descendant { ".." } else { "." });
                    out.push_str(&name);
                }
                i = j;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn is_rfc_shorthand(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    match chars.next() {
        Some(c) if first_ok(c) => chars.all(|c| first_ok(c) || c.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(p: &str, v: &Value) -> Option<Value> {
        Path::parse(p).unwrap().select(v, &json!({}))
    }

    #[test]
    fn definite_path_returns_the_value_itself() {
        let v = json!({"a": {"b": [1, 2, 3]}});
        assert_eq!(sel("$.a.b[1]", &v), Some(json!(2)));
        assert_eq!(sel("$", &v), Some(v.clone()));
    }

    /// The compiled walk of a definite path and the general evaluator agree, on
    /// hits and misses alike (names, positive and negative indices, type clashes).
    #[test]
    fn compiled_definite_paths_agree_with_the_general_evaluator() {
        let docs = [
            json!({"a": {"b": [1, {"c": 2}, 3]}, "x": null, "s": "text", "n": [[0, 1], [2]]}),
            json!([{"a": 1}, {"a": [5, 6]}]),
            json!("scalar"),
            json!({}),
        ];
        let paths = [
            "$",
            "$.a",
            "$.a.b",
            "$.a.b[0]",
            "$.a.b[1].c",
            "$.a.b[-1]",
            "$.a.b[-3]",
            "$.a.b[-4]",
            "$.a.b[3]",
            "$.a.c",
            "$.x",
            "$.x.y",
            "$.s[0]",
            "$.s.t",
            "$.n[0][1]",
            "$.n[1][-1]",
            "$[0].a",
            "$[1].a[-2]",
            "$[2]",
            "$['a']['b'][2]",
        ];
        let mut compared = 0;
        for text in paths {
            let compiled = Path::parse(text).unwrap();
            assert!(compiled.steps.is_some(), "{text} should compile to steps");
            let mut general = compiled.clone();
            general.steps = None;
            for doc in &docs {
                let ctx = json!({});
                assert_eq!(
                    compiled.select(doc, &ctx),
                    general.select(doc, &ctx),
                    "{text} on {doc}"
                );
                compared += 1;
            }
        }
        assert_eq!(compared, paths.len() * docs.len());
    }

    #[test]
    fn definite_path_that_matches_nothing_is_none() {
        assert_eq!(sel("$.nope", &json!({"a": 1})), None);
        assert_eq!(sel("$.a[5]", &json!({"a": [1]})), None);
    }

    #[test]
    fn indefinite_path_always_returns_a_list() {
        let v = json!({"vals": [0, 10, 20, 30, 40, 50]});
        assert_eq!(sel("$.vals[-3:]", &v), Some(json!([30, 40, 50])));
        assert_eq!(sel("$.vals[?(@ > 35)]", &v), Some(json!([40, 50])));
        assert_eq!(sel("$.vals[?(@ > 45)]", &v), Some(json!([50])));
        assert_eq!(sel("$.vals[?(@ > 99)]", &v), Some(json!([])));
        assert_eq!(sel("$..x", &json!({"a": {"x": 1}})), Some(json!([1])));
    }

    #[test]
    fn context_paths_read_the_context_object() {
        let p = Path::parse("$$.Execution.Name").unwrap();
        assert_eq!(p.root(), Root::Context);
        assert_eq!(
            p.select(&json!({}), &json!({"Execution": {"Name": "run-1"}})),
            Some(json!("run-1"))
        );
    }

    #[test]
    fn jayway_dot_names_with_hyphens_are_accepted() {
        let v = json!({"error-info": {"Cause": "x"}, "2fa": true});
        assert_eq!(sel("$.error-info.Cause", &v), Some(json!("x")));
        assert_eq!(sel("$.2fa", &v), Some(json!(true)));
    }

    #[test]
    fn rejects_paths_that_are_not_jsonpath() {
        assert!(Path::parse("a.b")
            .unwrap_err()
            .contains("must start with '$'"));
        assert!(Path::parse("$.a[").is_err());
        assert!(Path::parse("$.vals.length()").is_err());
    }

    #[test]
    fn reference_path_creates_missing_objects() {
        let rp = ReferencePath::parse("$.master.detail").unwrap();
        let out = rp.set(json!({"a": 1}), json!(7)).unwrap();
        assert_eq!(out, json!({"a": 1, "master": {"detail": 7}}));
    }

    #[test]
    fn reference_path_root_replaces_everything() {
        let rp = ReferencePath::parse("$").unwrap();
        assert!(rp.is_root());
        assert_eq!(rp.set(json!({"a": 1}), json!([1])).unwrap(), json!([1]));
    }

    #[test]
    fn reference_path_refuses_to_cross_a_non_object() {
        let rp = ReferencePath::parse("$.a.b").unwrap();
        let err = rp.set(json!({"a": "text"}), json!(1)).unwrap_err();
        assert!(err.contains("not a JSON object"), "{err}");
        let err = ReferencePath::parse("$.x")
            .unwrap()
            .set(json!("s"), json!(1))
            .unwrap_err();
        assert!(err.contains("not a JSON object"), "{err}");
    }

    #[test]
    fn reference_path_sets_existing_array_items_only() {
        let rp = ReferencePath::parse("$.list[1]").unwrap();
        assert_eq!(
            rp.set(json!({"list": [0, 0]}), json!(9)).unwrap(),
            json!({"list": [0, 9]})
        );
        assert!(rp.set(json!({"list": [0]}), json!(9)).is_err());
    }

    #[test]
    fn reference_path_rejects_wildcards_and_context() {
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$..a").is_err());
        assert!(ReferencePath::parse("$$.Execution").is_err());
    }
}
