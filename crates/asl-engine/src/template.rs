//! Payload templates: `Parameters`, `ResultSelector` and `ItemSelector`.
//!
//! A field whose name ends in `.$` takes its value from a path (`$.x`, `$$.x`) or an
//! intrinsic function; every other value is copied as written, at any depth, including
//! inside arrays. Static subtrees are kept as plain JSON so evaluating them is a clone.

use crate::error::StateError;
use crate::intrinsics::{looks_like_intrinsic, Intrinsic};
use crate::path::Path;
use serde_json::{Map, Value};

#[derive(Clone, Debug)]
pub enum Template {
    Static(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Path { field: String, path: Path },
    Intrinsic(Intrinsic),
}

impl Template {
    /// Compiles a template; the error names the offending field.
    pub fn compile(v: &Value) -> Result<Template, String> {
        match v {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (k, val) in map {
                    if let Some(name) = k.strip_suffix(".$") {
                        if map.contains_key(name) {
                            return Err(format!(
                                "fields '{name}' and '{k}' would both set '{name}'"
                            ));
                        }
                        let Value::String(expr) = val else {
                            return Err(format!("field '{k}' must be a string holding a path or an intrinsic function"));
                        };
                        let t = if looks_like_intrinsic(expr) {
                            Template::Intrinsic(
                                Intrinsic::parse(expr).map_err(|e| format!("field '{k}': {e}"))?,
                            )
                        } else {
                            Template::Path {
                                field: k.clone(),
                                path: Path::parse(expr).map_err(|e| format!("field '{k}': {e}"))?,
                            }
                        };
                        dynamic = true;
                        fields.push((name.to_string(), t));
                    } else {
                        let t = Template::compile(val).map_err(|e| format!("{k}: {e}"))?;
                        dynamic |= !matches!(t, Template::Static(_));
                        fields.push((k.clone(), t));
                    }
                }
                if dynamic {
                    Ok(Template::Object(fields))
                } else {
                    Ok(Template::Static(v.clone()))
                }
            }
            Value::Array(items) => {
                let compiled = items
                    .iter()
                    .map(Template::compile)
                    .collect::<Result<Vec<_>, _>>()?;
                if compiled.iter().all(|t| matches!(t, Template::Static(_))) {
                    Ok(Template::Static(v.clone()))
                } else {
                    Ok(Template::Array(compiled))
                }
            }
            other => Ok(Template::Static(other.clone())),
        }
    }

    /// Whether any dynamic field reads `$$.Task.Token`.
    pub fn references_task_token(&self) -> bool {
        match self {
            Template::Static(_) => false,
            Template::Object(f) => f.iter().any(|(_, t)| t.references_task_token()),
            Template::Array(a) => a.iter().any(Template::references_task_token),
            Template::Path { path, .. } => path.text().starts_with("$$.Task.Token"),
            Template::Intrinsic(i) => i
                .paths()
                .iter()
                .any(|p| p.text().starts_with("$$.Task.Token")),
        }
    }

    pub fn eval(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        match self {
            Template::Static(v) => Ok(v.clone()),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    out.insert(k.clone(), t.eval(input, context)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(input, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Path { field, path } => path.select(input, context).ok_or_else(|| {
                StateError::runtime(format!(
                    "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                    truncate(&match path.root() {
                        crate::path::Root::Input => input.to_string(),
                        crate::path::Root::Context => context.to_string(),
                    })
                ))
            }),
            Template::Intrinsic(i) => i.eval(input, context),
        }
    }
}

pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 512;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The Amazon States Language specification's own Parameters example.
    #[test]
    fn spec_parameters_example() {
        let t = Template::compile(&json!({
            "flagged": true,
            "parts": { "first.$": "$.vals[0]", "last3.$": "$.vals[-3:]" },
            "weekday.$": "$$.DayOfWeek",
            "formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)"
        }))
        .unwrap();
        let out = t
            .eval(
                &json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}),
                &json!({"DayOfWeek": "TUESDAY"}),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({
                "flagged": true,
                "parts": { "first": 0, "last3": [30, 40, 50] },
                "weekday": "TUESDAY",
                "formattedOutput": "Today is TUESDAY"
            })
        );
    }

    #[test]
    fn dynamic_fields_inside_arrays_are_evaluated() {
        let t = Template::compile(&json!({"list": [{"v.$": "$.a"}, 2]})).unwrap();
        assert_eq!(
            t.eval(&json!({"a": 1}), &json!({})).unwrap(),
            json!({"list": [{"v": 1}, 2]})
        );
    }

    #[test]
    fn missing_path_is_a_runtime_error_naming_the_field() {
        let t = Template::compile(&json!({"x.$": "$.missing"})).unwrap();
        let e = t.eval(&json!({"a": 1}), &json!({})).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert!(
            e.cause.contains("'$.missing'") && e.cause.contains("'x.$'"),
            "{}",
            e.cause
        );
    }

    #[test]
    fn rejects_non_string_dollar_fields_and_clashes() {
        assert!(Template::compile(&json!({"x.$": 3}))
            .unwrap_err()
            .contains("'x.$' must be a string"));
        assert!(Template::compile(&json!({"x.$": "$.a", "x": 1}))
            .unwrap_err()
            .contains("would both set"));
        assert!(Template::compile(&json!({"x.$": "nope"}))
            .unwrap_err()
            .contains("must start with '$'"));
        assert!(Template::compile(&json!({"a": {"x.$": "States.Bad()"}}))
            .unwrap_err()
            .starts_with("a: field 'x.$'"));
    }

    #[test]
    fn detects_task_token_references() {
        assert!(Template::compile(&json!({"t.$": "$$.Task.Token"}))
            .unwrap()
            .references_task_token());
        assert!(
            Template::compile(&json!({"p": {"t.$": "States.Format('{}', $$.Task.Token)"}}))
                .unwrap()
                .references_task_token()
        );
        assert!(!Template::compile(&json!({"t.$": "$.token"}))
            .unwrap()
            .references_task_token());
    }
}
