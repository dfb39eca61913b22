//! Choice rules: comparisons, `And`/`Or`/`Not`, type tests and `StringMatches`.
//!
//! Semantics follow Step Functions: a comparison whose `Variable` does not exist is a
//! `States.Runtime` error (guard with `IsPresent`); a comparison against a value of
//! another type is simply false; strings compare like Java's `compareTo` (UTF-16 code
//! units); timestamps compare as instants.

use crate::clock::parse_timestamp;
use crate::error::StateError;
use crate::intrinsics::json_eq;
use crate::path::Path;
use serde_json::{Map, Value};
use std::cmp::Ordering;

#[derive(Clone, Debug)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: Path,
        op: Op,
        operand: Operand,
    },
}

#[derive(Clone, Debug)]
pub enum Operand {
    Literal(Value),
    Path(Path),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Compare(Kind, Cmp),
    StringMatches,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

const COMPARATORS: &[(&str, Kind, Cmp)] = &[
    ("StringEquals", Kind::String, Cmp::Eq),
    ("StringLessThan", Kind::String, Cmp::Lt),
    ("StringGreaterThan", Kind::String, Cmp::Gt),
    ("StringLessThanEquals", Kind::String, Cmp::Le),
    ("StringGreaterThanEquals", Kind::String, Cmp::Ge),
    ("NumericEquals", Kind::Numeric, Cmp::Eq),
    ("NumericLessThan", Kind::Numeric, Cmp::Lt),
    ("NumericGreaterThan", Kind::Numeric, Cmp::Gt),
    ("NumericLessThanEquals", Kind::Numeric, Cmp::Le),
    ("NumericGreaterThanEquals", Kind::Numeric, Cmp::Ge),
    ("BooleanEquals", Kind::Boolean, Cmp::Eq),
    ("TimestampEquals", Kind::Timestamp, Cmp::Eq),
    ("TimestampLessThan", Kind::Timestamp, Cmp::Lt),
    ("TimestampGreaterThan", Kind::Timestamp, Cmp::Gt),
    ("TimestampLessThanEquals", Kind::Timestamp, Cmp::Le),
    ("TimestampGreaterThanEquals", Kind::Timestamp, Cmp::Ge),
];

const TYPE_TESTS: &[(&str, Op)] = &[
    ("IsNull", Op::IsNull),
    ("IsPresent", Op::IsPresent),
    ("IsNumeric", Op::IsNumeric),
    ("IsString", Op::IsString),
    ("IsBoolean", Op::IsBoolean),
    ("IsTimestamp", Op::IsTimestamp),
];

impl Rule {
    /// Parses one rule. `top_level` rules carry `Next` (checked by the caller); nested
    /// ones must not. Errors name the offending field.
    pub fn parse(obj: &Map<String, Value>, top_level: bool) -> Result<Rule, String> {
        let mut ops: Vec<&String> = obj
            .keys()
            .filter(|k| !matches!(k.as_str(), "Variable" | "Next" | "Comment"))
            .collect();
        if !top_level && obj.contains_key("Next") {
            return Err("a nested Choice rule must not have 'Next'".into());
        }
        if ops.len() != 1 {
            ops.sort();
            return Err(if ops.is_empty() {
                "a Choice rule needs exactly one comparison operator (or And/Or/Not)".into()
            } else {
                format!(
                    "a Choice rule needs exactly one comparison operator, found: {}",
                    ops.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        }
        let key = ops[0].as_str();
        let val = &obj[key];
        let nested = |v: &Value| -> Result<Rule, String> {
            let o = v
                .as_object()
                .ok_or_else(|| format!("'{key}' must hold Choice rule objects"))?;
            Rule::parse(o, false)
        };
        match key {
            "And" | "Or" => {
                if obj.contains_key("Variable") {
                    return Err(format!("'{key}' rules must not have 'Variable'"));
                }
                let arr = val
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| format!("'{key}' must be a non-empty array of Choice rules"))?;
                let rules = arr.iter().map(nested).collect::<Result<Vec<_>, _>>()?;
                Ok(if key == "And" {
                    Rule::And(rules)
                } else {
                    Rule::Or(rules)
                })
            }
            "Not" => {
                if obj.contains_key("Variable") {
                    return Err("'Not' rules must not have 'Variable'".into());
                }
                Ok(Rule::Not(Box::new(nested(val)?)))
            }
            _ => {
                let variable = match obj.get("Variable") {
                    Some(Value::String(s)) => {
                        Path::parse(s).map_err(|e| format!("Variable: {e}"))?
                    }
                    Some(_) => return Err("'Variable' must be a string path".into()),
                    None => return Err(format!("the '{key}' comparison needs a 'Variable'")),
                };
                let (op, operand) = parse_op(key, val)?;
                Ok(Rule::Test {
                    variable,
                    op,
                    operand,
                })
            }
        }
    }

    pub fn eval(&self, input: &Value, context: &Value) -> Result<bool, StateError> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.eval(input, context)?),
            Rule::Test {
                variable,
                op,
                operand,
            } => {
                let found = variable.select(input, context);
                if *op == Op::IsPresent {
                    return Ok(found.is_some() == literal_bool(operand));
                }
                let value = found.ok_or_else(|| {
                    StateError::runtime(format!(
                        "Invalid path '{variable}': The choice state's condition path references an invalid value."
                    ))
                })?;
                let rhs = match operand {
                    Operand::Literal(v) => v.clone(),
                    Operand::Path(p) => p.select(input, context).ok_or_else(|| {
                        StateError::runtime(format!(
                            "Invalid path '{p}': The choice state's comparison path references an invalid value."
                        ))
                    })?,
                };
                Ok(test(*op, &value, &rhs))
            }
        }
    }
}

fn literal_bool(o: &Operand) -> bool {
    matches!(o, Operand::Literal(Value::Bool(true)))
}

fn parse_op(key: &str, val: &Value) -> Result<(Op, Operand), String> {
    if let Some(&(_, op)) = TYPE_TESTS.iter().find(|t| t.0 == key) {
        return match val {
            Value::Bool(_) => Ok((op, Operand::Literal(val.clone()))),
            _ => Err(format!("'{key}' must be true or false")),
        };
    }
    if key == "StringMatches" {
        return match val {
            Value::String(_) => Ok((Op::StringMatches, Operand::Literal(val.clone()))),
            _ => Err("'StringMatches' must be a string pattern".into()),
        };
    }
    if let Some(base) = key.strip_suffix("Path") {
        if let Some(&(_, kind, cmp)) = COMPARATORS.iter().find(|c| c.0 == base) {
            let s = val
                .as_str()
                .ok_or_else(|| format!("'{key}' must be a string path"))?;
            let p = Path::parse(s).map_err(|e| format!("{key}: {e}"))?;
            return Ok((Op::Compare(kind, cmp), Operand::Path(p)));
        }
    }
    let Some(&(_, kind, cmp)) = COMPARATORS.iter().find(|c| c.0 == key) else {
        return Err(format!("'{key}' is not a Choice rule operator"));
    };
    let ok = match kind {
        Kind::String => val.is_string(),
        Kind::Numeric => val.is_number(),
        Kind::Boolean => val.is_boolean(),
        Kind::Timestamp => val.as_str().and_then(parse_timestamp).is_some(),
    };
    if !ok {
        let want = match kind {
            Kind::String => "a string",
            Kind::Numeric => "a number",
            Kind::Boolean => "true or false",
            Kind::Timestamp => "an RFC 3339 timestamp such as 2016-08-18T17:33:00Z",
        };
        return Err(format!("'{key}' must be {want}"));
    }
    Ok((Op::Compare(kind, cmp), Operand::Literal(val.clone())))
}

fn test(op: Op, v: &Value, rhs: &Value) -> bool {
    let want = rhs.as_bool() == Some(true);
    match op {
        Op::IsPresent => unreachable!("handled by the caller"),
        Op::IsNull => v.is_null() == want,
        Op::IsNumeric => v.is_number() == want,
        Op::IsString => v.is_string() == want,
        Op::IsBoolean => v.is_boolean() == want,
        Op::IsTimestamp => v.as_str().and_then(parse_timestamp).is_some() == want,
        Op::StringMatches => match (v.as_str(), rhs.as_str()) {
            (Some(s), Some(p)) => wildcard_match(p, s),
            _ => false,
        },
        Op::Compare(kind, cmp) => {
            let ord = match kind {
                Kind::String => match (v.as_str(), rhs.as_str()) {
                    (Some(a), Some(b)) => Some(a.encode_utf16().cmp(b.encode_utf16())),
                    _ => None,
                },
                Kind::Numeric => match (v, rhs) {
                    (Value::Number(a), Value::Number(b)) => {
                        if json_eq(v, rhs) {
                            Some(Ordering::Equal)
                        } else {
                            a.as_f64()
                                .zip(b.as_f64())
                                .and_then(|(x, y)| x.partial_cmp(&y))
                        }
                    }
                    _ => None,
                },
                Kind::Boolean => match (v.as_bool(), rhs.as_bool()) {
                    (Some(a), Some(b)) => Some(a.cmp(&b)),
                    _ => None,
                },
                Kind::Timestamp => match (
                    v.as_str().and_then(parse_timestamp),
                    rhs.as_str().and_then(parse_timestamp),
                ) {
                    (Some(a), Some(b)) => Some(a.cmp(&b)),
                    _ => None,
                },
            };
            let Some(ord) = ord else { return false };
            match cmp {
                Cmp::Eq => ord == Ordering::Equal,
                Cmp::Lt => ord == Ordering::Less,
                Cmp::Gt => ord == Ordering::Greater,
                Cmp::Le => ord != Ordering::Greater,
                Cmp::Ge => ord != Ordering::Less,
            }
        }
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` is a literal star and
/// `\\` a literal backslash.
fn wildcard_match(pattern: &str, s: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Ch(n)),
                None => toks.push(Tok::Ch('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Classic two-pointer glob match with backtracking to the last star.
    let (mut p, mut i) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while i < s.len() {
        if p < toks.len() && toks[p] == Tok::Ch(s[i]) {
            p += 1;
            i += 1;
        } else if p < toks.len() && toks[p] == Tok::Star {
            star = Some(p);
            mark = i;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    while p < toks.len() && toks[p] == Tok::Star {
        p += 1;
    }
    p == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        Rule::parse(v.as_object().unwrap(), false).unwrap()
    }

    fn eval(r: Value, input: Value) -> Result<bool, StateError> {
        rule(r).eval(&input, &json!({}))
    }

    /// Each case, `[rule, input, matches]`, evaluates as it says.
    fn check(cases: Value) {
        let cases = cases.as_array().cloned().unwrap_or_default();
        assert!(!cases.is_empty(), "no cases");
        for case in cases {
            let (r, input) = (case[0].clone(), case[1].clone());
            let what = format!("{r} on {input}");
            assert_eq!(Value::Bool(eval(r, input).unwrap()), case[2], "{what}");
        }
    }

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(wildcard_match("log-*.txt", "log-2024.txt"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b", "aXXc"));
        assert!(wildcard_match(r"rc-\*", "rc-*"));
        assert!(!wildcard_match(r"rc-\*", "rc-1"));
        assert!(wildcard_match(r"a\\b", r"a\b"));
    }

    #[test]
    fn type_mismatch_is_false_not_an_error() {
        check(json!([
            [{"Variable": "$.x", "StringEquals": "1"}, {"x": 1}, false],
            [{"Variable": "$.x", "NumericEquals": 1}, {"x": "1"}, false],
            [{"Variable": "$.x", "TimestampEquals": "2001-01-01T12:00:00Z"}, {"x": "soon"}, false]
        ]));
    }

    #[test]
    fn missing_variable_is_a_runtime_error_unless_is_present() {
        let e = eval(
            json!({"Variable": "$.nope", "StringEquals": "a"}),
            json!({}),
        )
        .unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        check(json!([
            [{"Variable": "$.nope", "IsPresent": true}, {}, false],
            [{"Variable": "$.nope", "IsPresent": false}, {}, true]
        ]));
    }

    #[test]
    fn numeric_comparisons_compare_values() {
        check(json!([
            [{"Variable": "$.v", "NumericEquals": 20}, {"v": 22.5}, false],
            [{"Variable": "$.v", "NumericLessThan": 20}, {"v": 22.5}, false],
            [{"Variable": "$.v", "NumericGreaterThan": 20}, {"v": 22.5}, true],
            [{"Variable": "$.v", "NumericLessThanEquals": 20}, {"v": 22.5}, false],
            [{"Variable": "$.v", "NumericGreaterThanEquals": 20}, {"v": 22.5}, true],
            [{"Variable": "$.v", "NumericEquals": 1}, {"v": 1.0}, true]
        ]));
    }

    #[test]
    fn string_comparisons_use_utf16_order() {
        // U+1F600 is a surrogate pair (0xD83D...) which sorts below U+FFFD in UTF-16.
        check(json!([
            [{"Variable": "$.v", "StringLessThan": "b"}, {"v": "a"}, true],
            [{"Variable": "$.v", "StringGreaterThanEquals": "abc"}, {"v": "abc"}, true],
            [{"Variable": "$.v", "StringLessThan": "\u{FFFD}"}, {"v": "\u{1F600}"}, true]
        ]));
    }

    #[test]
    fn timestamp_and_boolean_comparisons() {
        check(json!([
            [{"Variable": "$.t", "TimestampLessThan": "2001-01-01T12:00:00Z"}, {"t": "2001-01-01T11:59:59Z"}, true],
            [{"Variable": "$.t", "TimestampEquals": "2001-01-01T12:00:00Z"}, {"t": "2001-01-01T14:00:00+02:00"}, true],
            [{"Variable": "$.b", "BooleanEquals": false}, {"b": false}, true]
        ]));
    }

    #[test]
    fn path_comparisons_read_the_other_value() {
        let input = json!({"rating": 7, "auditThreshold": 5, "name": "x"});
        check(json!([
            [{"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold"}, input, true],
            [{"Variable": "$.name", "StringEqualsPath": "$.name"}, input, true]
        ]));
        let e = eval(
            json!({"Variable": "$.rating", "NumericGreaterThanPath": "$.nope"}),
            input,
        )
        .unwrap_err();
        assert_eq!(e.error, "States.Runtime");
    }

    /// Every comparator, literal and `*Path` form, on a true and a false case.
    #[test]
    fn every_comparator_and_its_path_variant() {
        // [comparator, the variable's value, a value it matches, one it does not]
        let cases = json!([
            ["StringEquals", "b", "b", "c"],
            ["StringLessThan", "b", "c", "a"],
            ["StringGreaterThan", "b", "a", "c"],
            ["StringLessThanEquals", "b", "b", "a"],
            ["StringGreaterThanEquals", "b", "b", "c"],
            ["NumericEquals", 2, 2.0, 3],
            ["NumericLessThan", 2, 3, 1],
            ["NumericGreaterThan", 2, 1, 3],
            ["NumericLessThanEquals", 2, 2, 1],
            ["NumericGreaterThanEquals", 2, 2, 3],
            ["BooleanEquals", true, true, false],
            [
                "TimestampEquals",
                "2020-01-01T00:00:00Z",
                "2020-01-01T00:00:00Z",
                "2020-01-02T00:00:00Z"
            ],
            [
                "TimestampLessThan",
                "2020-01-01T00:00:00Z",
                "2020-01-02T00:00:00Z",
                "2019-01-01T00:00:00Z"
            ],
            [
                "TimestampGreaterThan",
                "2020-01-01T00:00:00Z",
                "2019-01-01T00:00:00Z",
                "2020-01-02T00:00:00Z"
            ],
            [
                "TimestampLessThanEquals",
                "2020-01-01T00:00:00Z",
                "2020-01-01T00:00:00Z",
                "2019-01-01T00:00:00Z"
            ],
            [
                "TimestampGreaterThanEquals",
                "2020-01-01T00:00:00Z",
                "2020-01-01T00:00:00Z",
                "2020-01-02T00:00:00Z"
            ]
        ]);
        let cases = cases.as_array().cloned().unwrap_or_default();
        assert_eq!(cases.len(), 16);
        for case in &cases {
            let (op, v, yes, no) = (
                case[0].as_str().unwrap_or_default(),
                &case[1],
                &case[2],
                &case[3],
            );
            let input = json!({"v": v, "yes": yes, "no": no});
            assert!(
                eval(json!({"Variable": "$.v", op: yes}), input.clone()).unwrap(),
                "{op} {v} {yes}"
            );
            assert!(
                !eval(json!({"Variable": "$.v", op: no}), input.clone()).unwrap(),
                "{op} {v} {no}"
            );
            let path_op = format!("{op}Path");
            assert!(
                eval(
                    json!({"Variable": "$.v", path_op.clone(): "$.yes"}),
                    input.clone()
                )
                .unwrap(),
                "{path_op}"
            );
            assert!(
                !eval(json!({"Variable": "$.v", path_op.clone(): "$.no"}), input).unwrap(),
                "{path_op}"
            );
        }
    }

    #[test]
    fn type_tests() {
        let input = json!({"n": null, "i": 3, "s": "x", "b": true, "t": "2016-08-18T17:33:00Z"});
        assert!(eval(json!({"Variable": "$.n", "IsNull": true}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.i", "IsNumeric": true}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.s", "IsString": true}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.b", "IsBoolean": true}), input.clone()).unwrap());
        assert!(eval(
            json!({"Variable": "$.t", "IsTimestamp": true}),
            input.clone()
        )
        .unwrap());
        assert!(eval(json!({"Variable": "$.s", "IsTimestamp": false}), input).unwrap());
    }

    #[test]
    fn and_or_not_combine() {
        let input = json!({"value": 22, "type": "Private"});
        assert!(eval(
            json!({"And": [
                {"Variable": "$.value", "IsPresent": true},
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30}
            ]}),
            input.clone()
        )
        .unwrap());
        assert!(!eval(
            json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}}),
            input.clone()
        )
        .unwrap());
        assert!(eval(
            json!({"Or": [{"Variable": "$.type", "StringEquals": "Public"}, {"Variable": "$.value", "NumericEquals": 22}]}),
            input
        )
        .unwrap());
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let p = |v: Value| Rule::parse(v.as_object().unwrap(), false).unwrap_err();
        assert!(p(json!({"Variable": "$.a", "StringEquals": 1}))
            .contains("'StringEquals' must be a string"));
        assert!(p(json!({"Variable": "$.a", "StringEqual": "x"}))
            .contains("not a Choice rule operator"));
        assert!(
            p(json!({"Variable": "$.a", "StringEquals": "x", "IsNull": true}))
                .contains("exactly one")
        );
        assert!(p(json!({"StringEquals": "x"})).contains("needs a 'Variable'"));
        assert!(
            p(json!({"Variable": "$.a", "StringEquals": "x", "Next": "A"}))
                .contains("must not have 'Next'")
        );
        assert!(p(json!({"And": []})).contains("non-empty"));
        assert!(
            p(json!({"Variable": "$.t", "TimestampEquals": "2016-08-18 17:33:00"}))
                .contains("RFC 3339")
        );
    }
}
