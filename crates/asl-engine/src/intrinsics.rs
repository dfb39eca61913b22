//! Intrinsic functions (`States.Format(...)` and friends) in `.$` fields.
//!
//! An invocation is parsed once at load time (unknown function, wrong argument count
//! or bad syntax is a load error) and evaluated per state entry. Evaluation errors are
//! `States.IntrinsicFailure`; a path argument that matches nothing is `States.Runtime`,
//! as for any other `.$` field.

use crate::error::StateError;
use crate::path::Path;
use base64::Engine as _;
use rand::Rng;
use serde_json::{Map, Number, Value};
use sha1::Digest as _;

/// A parsed intrinsic invocation.
#[derive(Clone, Debug)]
pub struct Intrinsic {
    func: Func,
    args: Vec<Arg>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

const FUNCS: &[(&str, Func, usize, usize)] = &[
    ("States.Format", Func::Format, 1, usize::MAX),
    ("States.StringToJson", Func::StringToJson, 1, 1),
    ("States.JsonToString", Func::JsonToString, 1, 1),
    ("States.Array", Func::Array, 0, usize::MAX),
    ("States.ArrayPartition", Func::ArrayPartition, 2, 2),
    ("States.ArrayContains", Func::ArrayContains, 2, 2),
    ("States.ArrayRange", Func::ArrayRange, 3, 3),
    ("States.ArrayGetItem", Func::ArrayGetItem, 2, 2),
    ("States.ArrayLength", Func::ArrayLength, 1, 1),
    ("States.ArrayUnique", Func::ArrayUnique, 1, 1),
    ("States.Base64Encode", Func::Base64Encode, 1, 1),
    ("States.Base64Decode", Func::Base64Decode, 1, 1),
    ("States.Hash", Func::Hash, 2, 2),
    ("States.JsonMerge", Func::JsonMerge, 3, 3),
    ("States.MathRandom", Func::MathRandom, 2, 3),
    ("States.MathAdd", Func::MathAdd, 2, 2),
    ("States.StringSplit", Func::StringSplit, 2, 2),
    ("States.UUID", Func::Uuid, 0, 0),
];

#[derive(Clone, Debug)]
enum Arg {
    /// A quoted literal, kept as pieces so `States.Format` can tell `{}` from `\{\}`.
    Str(Vec<Piece>),
    Literal(Value),
    Path(Path),
    Call(Box<Intrinsic>),
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Placeholder,
}

fn pieces_to_string(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            Piece::Placeholder => "{}",
        })
        .collect()
}

/// Whether a `.$` value is an intrinsic invocation rather than a path.
pub fn looks_like_intrinsic(s: &str) -> bool {
    s.starts_with("States.")
}

impl Intrinsic {
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut p = Parser {
            chars: text.chars().collect(),
            pos: 0,
            text,
        };
        let call = p.call()?;
        p.skip_ws();
        if p.pos != p.chars.len() {
            return Err(p.err("unexpected text after the closing ')'"));
        }
        Ok(call)
    }

    /// Paths this invocation reads, so callers can check them at load time.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        for a in &self.args {
            match a {
                Arg::Path(p) => out.push(p),
                Arg::Call(c) => out.extend(c.paths()),
                _ => {}
            }
        }
        out
    }

    pub fn eval(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        let name = FUNCS
            .iter()
            .find(|f| f.1 == self.func)
            .map(|f| f.0)
            .unwrap_or("States.?");
        if self.func == Func::Format {
            return self
                .format(input, context)
                .map(Value::String)
                .map_err(fail_with(name));
        }
        let mut vals = Vec::with_capacity(self.args.len());
        for a in &self.args {
            vals.push(eval_arg(a, input, context)?);
        }
        apply(self.func, vals).map_err(|msg| StateError::intrinsic(format!("{name}: {msg}")))
    }

    fn format(&self, input: &Value, context: &Value) -> Result<String, FormatError> {
        let template: Vec<Piece> = match &self.args[0] {
            Arg::Str(p) => p.clone(),
            other => {
                // A template read from data: every `{}` is a placeholder.
                let v = eval_arg(other, input, context).map_err(FormatError::State)?;
                let s = as_str(&v).map_err(FormatError::Msg)?;
                let mut out = Vec::new();
                for (i, part) in s.split("{}").enumerate() {
                    if i > 0 {
                        out.push(Piece::Placeholder);
                    }
                    out.push(Piece::Text(part.to_string()));
                }
                out
            }
        };
        let holes = template
            .iter()
            .filter(|p| **p == Piece::Placeholder)
            .count();
        let args = &self.args[1..];
        if holes != args.len() {
            return Err(FormatError::Msg(format!(
                "the template has {holes} placeholder(s) but {} argument(s) were given",
                args.len()
            )));
        }
        let mut out = String::new();
        let mut next = args.iter();
        for p in &template {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Placeholder => {
                    let a = next
                        .next()
                        .ok_or_else(|| FormatError::Msg("missing argument".into()))?;
                    let v = eval_arg(a, input, context).map_err(FormatError::State)?;
                    format_value(&mut out, &v);
                }
            }
        }
        Ok(out)
    }
}

/// An argument of `States.Format` as AWS writes it: a string as it is, a number, a
/// boolean or null as in JSON, and an object or array as Java prints its maps and
/// lists (`{Arg1=1, Arg2=[]}`, `[a, b]`: strings inside unquoted), which is what a
/// real execution answers (LocalStack's recording of `test_format_2`).
fn format_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                format_value(out, item);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

enum FormatError {
    State(StateError),
    Msg(String),
}

/// Every function but `States.Format` (which reads its template unevaluated), on its
/// evaluated arguments; the arity was checked when the call was parsed.
fn apply(func: Func, v: Vec<Value>) -> Result<Value, String> {
    match func {
        Func::Format => Err("States.Format is evaluated from its template".into()),
        // An empty or blank string is null, as AWS answers it.
        Func::StringToJson => match as_str(&v[0])? {
            s if s.trim().is_empty() => Ok(Value::Null),
            s => {
                serde_json::from_str(s).map_err(|e| format!("argument is not valid JSON text: {e}"))
            }
        },
        Func::JsonToString => Ok(Value::String(v[0].to_string())),
        Func::Array => Ok(Value::Array(v)),
        Func::ArrayPartition
        | Func::ArrayContains
        | Func::ArrayRange
        | Func::ArrayGetItem
        | Func::ArrayLength
        | Func::ArrayUnique => array(func, &v),
        Func::Base64Encode | Func::Base64Decode | Func::Hash => encoding(func, &v),
        Func::JsonMerge => json_merge(&v),
        Func::MathRandom | Func::MathAdd => math(func, &v),
        Func::StringSplit => {
            let (s, delims) = (as_str(&v[0])?, as_str(&v[1])?);
            Ok(Value::Array(
                s.split(|c| delims.contains(c))
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_string()))
                    .collect(),
            ))
        }
        Func::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
    }
}

/// `States.ArrayPartition`, `ArrayContains`, `ArrayRange`, `ArrayGetItem`,
/// `ArrayLength` and `ArrayUnique`.
fn array(func: Func, v: &[Value]) -> Result<Value, String> {
    match func {
        Func::ArrayPartition => {
            let (arr, size) = (as_array(&v[0])?, as_int(&v[1])?);
            if size <= 0 {
                return Err(format!("chunk size must be a positive integer, got {size}"));
            }
            Ok(Value::Array(
                arr.chunks(size as usize)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        Func::ArrayContains => Ok(Value::Bool(
            as_array(&v[0])?.iter().any(|x| json_eq(x, &v[1])),
        )),
        Func::ArrayRange => array_range(as_int(&v[0])?, as_int(&v[1])?, as_int(&v[2])?),
        Func::ArrayGetItem => {
            let (arr, idx) = (as_array(&v[0])?, as_int(&v[1])?);
            usize::try_from(idx)
                .ok()
                .and_then(|i| arr.get(i))
                .cloned()
                .ok_or_else(|| {
                    format!("index {idx} is out of bounds for an array of {}", arr.len())
                })
        }
        Func::ArrayLength => Ok(Value::from(as_array(&v[0])?.len())),
        // ArrayUnique ([`apply`] sends only the array functions here).
        _ => {
            let mut out: Vec<Value> = Vec::new();
            for x in as_array(&v[0])? {
                if !out.iter().any(|y| json_eq(x, y)) {
                    out.push(x.clone());
                }
            }
            Ok(Value::Array(out))
        }
    }
}

fn array_range(start: i64, end: i64, step: i64) -> Result<Value, String> {
    if step == 0 {
        return Err("step must not be 0".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0 && x <= end) || (step < 0 && x >= end) {
        if out.len() == 1000 {
            return Err("the range has more than 1000 items".into());
        }
        out.push(Value::from(x));
        x += step;
    }
    Ok(Value::Array(out))
}

/// `States.Base64Encode`, `Base64Decode` and `Hash`.
fn encoding(func: Func, v: &[Value]) -> Result<Value, String> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    match func {
        Func::Base64Encode => {
            let s = as_str(&v[0])?;
            check_len(s, 10_000)?;
            Ok(Value::String(b64.encode(s)))
        }
        Func::Base64Decode => {
            let s = as_str(&v[0])?;
            check_len(s, 10_000)?;
            let bytes = b64
                .decode(s)
                .map_err(|e| format!("argument is not valid base64: {e}"))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| "decoded bytes are not UTF-8 text".into())
        }
        // Hash ([`apply`] sends only these three here).
        _ => {
            let data = match &v[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            check_len(&data, 10_000)?;
            let data = data.as_bytes();
            Ok(Value::String(match as_str(&v[1])? {
                "MD5" => hex::encode(md5::Md5::digest(data)),
                "SHA-1" => hex::encode(sha1::Sha1::digest(data)),
                "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
                "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
                "SHA-512" => hex::encode(sha2::Sha512::digest(data)),
                other => {
                    return Err(format!(
                    "unsupported algorithm '{other}' (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
                ))
                }
            }))
        }
    }
}

/// `States.JsonMerge`, shallow only.
fn json_merge(v: &[Value]) -> Result<Value, String> {
    let a = v[0]
        .as_object()
        .ok_or("first argument must be a JSON object")?;
    let b = v[1]
        .as_object()
        .ok_or("second argument must be a JSON object")?;
    if v[2] != Value::Bool(false) {
        return Err("only shallow merges are supported: the third argument must be false".into());
    }
    let mut out: Map<String, Value> = a.clone();
    for (k, val) in b {
        out.insert(k.clone(), val.clone());
    }
    Ok(Value::Object(out))
}

/// `States.MathRandom` and `MathAdd`.
fn math(func: Func, v: &[Value]) -> Result<Value, String> {
    if func == Func::MathAdd {
        // AWS rounds a number with a fraction first, half up (1.5 → 2, -1.5 → -1), as
        // Java's `Math.round` does: LocalStack's recording of `test_math_add`.
        let (a, b) = (rounded(&v[0])?, rounded(&v[1])?);
        let range = i64::from(i32::MIN)..=i64::from(i32::MAX);
        if !range.contains(&a) || !range.contains(&b) {
            return Err("arguments must be 32-bit integers".into());
        }
        return Ok(Value::from(a + b));
    }
    let (start, end) = (as_int(&v[0])?, as_int(&v[1])?);
    if end <= start {
        return Err(format!("end ({end}) must be greater than start ({start})"));
    }
    let n = if let Some(seed) = v.get(2) {
        use rand::SeedableRng;
        let seed = as_int(seed)?;
        rand::rngs::StdRng::seed_from_u64(seed as u64).gen_range(start..end)
    } else {
        rand::thread_rng().gen_range(start..end)
    };
    Ok(Value::from(n))
}

fn fail_with(name: &'static str) -> impl Fn(FormatError) -> StateError {
    move |e| match e {
        FormatError::State(s) => s,
        FormatError::Msg(m) => StateError::intrinsic(format!("{name}: {m}")),
    }
}

fn eval_arg(a: &Arg, input: &Value, context: &Value) -> Result<Value, StateError> {
    match a {
        Arg::Str(p) => Ok(Value::String(pieces_to_string(p))),
        Arg::Literal(v) => Ok(v.clone()),
        Arg::Path(p) => p.select(input, context).ok_or_else(|| {
            StateError::runtime(format!(
                "The JSONPath '{p}' used as an intrinsic function argument could not be found in the input"
            ))
        }),
        Arg::Call(c) => c.eval(input, context),
    }
}

fn as_str(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string argument, got {}", type_name(v)))
}

fn as_array(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected an array argument, got {}", type_name(v)))
}

/// A number rounded to an integer half up; anything else refused as [`as_int`] does.
fn rounded(v: &Value) -> Result<i64, String> {
    match v.as_f64() {
        Some(f) if v.as_i64().is_none() && f.is_finite() && f.abs() < 9.0e15 => {
            Ok((f + 0.5).floor() as i64)
        }
        _ => as_int(v),
    }
}

fn as_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| format!("expected an integer argument, got {n}")),
        other => Err(format!(
            "expected an integer argument, got {}",
            type_name(other)
        )),
    }
}

fn check_len(s: &str, max: usize) -> Result<(), String> {
    if s.chars().count() > max {
        return Err(format!("the argument is longer than {max} characters"));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn num_eq(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64()) {
        (Some(a), Some(b)) => a == b,
        _ => x.as_f64() == y.as_f64(),
    }
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> String {
        format!(
            "invalid intrinsic function '{}' at character {}: {msg}",
            self.text,
            self.pos + 1
        )
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        self.skip_ws();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let Some(&(_, func, min, max)) = FUNCS.iter().find(|f| f.0 == name) else {
            return Err(self.err(&format!("unknown function '{name}'")));
        };
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(self.err("expected '('"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or ')'")),
                }
            }
        }
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.err(&format!(
                "{name} takes {want} argument(s), {} given",
                args.len()
            )));
        }
        if func == Func::JsonMerge {
            if let Some(Arg::Literal(v)) = args.get(2) {
                if v != &Value::Bool(false) {
                    return Err(self.err("States.JsonMerge only supports shallow merges: the third argument must be false"));
                }
            }
        }
        Ok(Intrinsic { func, args })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_ws();
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some('S') => Ok(Arg::Call(Box::new(self.call()?))),
            Some(_) => {
                for (word, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    let end = self.pos + word.len();
                    if end <= self.chars.len()
                        && self.chars[self.pos..end].iter().collect::<String>() == word
                    {
                        self.pos = end;
                        return Ok(Arg::Literal(v));
                    }
                }
                Err(self.err("expected a quoted string, a number, a path or an intrinsic function"))
            }
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.pos += 1; // opening quote
        let mut pieces = Vec::new();
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string literal")),
                Some('\'') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    let next = self.chars.get(self.pos + 1).copied();
                    match next {
                        Some(c @ ('\'' | '{' | '}' | '\\')) => {
                            text.push(c);
                            self.pos += 2;
                        }
                        _ => return Err(self.err("a backslash must escape one of ' { } \\")),
                    }
                }
                Some('{') if self.chars.get(self.pos + 1) == Some(&'}') => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Placeholder);
                    self.pos += 2;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Arg::Str(pieces))
    }

    fn number(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.pos += 1;
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        serde_json::from_str::<Number>(&s)
            .map(|n| Arg::Literal(Value::Number(n)))
            .map_err(|_| self.err(&format!("'{s}' is not a number")))
    }

    fn path(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                if c == '\\' {
                    self.pos += 1;
                } else if c == q {
                    quote = None;
                }
                self.pos += 1;
                continue;
            }
            match c {
                '\'' | '"' if depth > 0 => quote = Some(c),
                '[' | '(' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                ',' if depth == 0 => break,
                c if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        Path::parse(&s).map(Arg::Path).map_err(|e| self.err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, input: Value) -> Result<Value, StateError> {
        Intrinsic::parse(expr)
            .unwrap()
            .eval(&input, &json!({"Execution": {"Name": "e1"}}))
    }

    /// `expr`, on no input, evaluates to `expected`.
    fn gives(expr: &str, expected: Value) {
        evaluates(json!({}), &[(expr, expected)]);
    }

    /// Each expression, on `input`, evaluates to its value.
    fn evaluates(input: Value, cases: &[(&str, Value)]) {
        for (expr, expected) in cases {
            assert_eq!(&run(expr, input.clone()).unwrap(), expected, "{expr}");
        }
    }

    #[test]
    fn format_fills_placeholders_in_order() {
        let input = json!({"name": "Arnav", "template": "Hello, my name is {}."});
        assert_eq!(
            run(
                "States.Format('Hello, my name is {}.', $.name)",
                input.clone()
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            run("States.Format($.template, $.name)", input).unwrap(),
            json!("Hello, my name is Arnav.")
        );
    }

    #[test]
    fn format_renders_numbers_booleans_null_and_context() {
        assert_eq!(
            run(
                "States.Format('{} {} {} {}', 3, true, null, $$.Execution.Name)",
                json!({})
            )
            .unwrap(),
            json!("3 true null e1")
        );
    }

    /// Objects and arrays as AWS formats them (recorded by LocalStack against AWS:
    /// `test_format_2`), key order kept.
    #[test]
    fn format_renders_objects_and_arrays_as_aws_does() {
        let input = json!({"o": {"Arg1": 1, "Arg2": [], "z": {"a": "x y", "n": null}}, "a": [1, "b", [true]]});
        assert_eq!(
            run("States.Format('fst={} and snd={}.', $.o, $.a)", input).unwrap(),
            json!("fst={Arg1=1, Arg2=[], z={a=x y, n=null}} and snd=[1, b, [true]].")
        );
    }

    #[test]
    fn format_escaped_braces_are_not_placeholders() {
        gives(
            r"States.Format('\{\} {} it\'s \\', 1)",
            json!(r"{} 1 it's \"),
        );
    }

    #[test]
    fn format_argument_count_must_match() {
        let e = run("States.Format('{} {}', 1)", json!({})).unwrap_err();
        assert_eq!(e.error, "States.IntrinsicFailure");
        assert!(e.cause.contains("2 placeholder"), "{}", e.cause);
    }

    #[test]
    fn string_to_json_and_back() {
        let input = json!({"escaped": "{\"foo\": \"bar\"}", "raw": {"foo": "bar"}});
        assert_eq!(
            run("States.StringToJson($.escaped)", input.clone()).unwrap(),
            json!({"foo": "bar"})
        );
        assert_eq!(
            run("States.JsonToString($.raw)", input).unwrap(),
            json!("{\"foo\":\"bar\"}")
        );
        // An empty or blank string is null, as AWS answers.
        for blank in ["", " "] {
            assert_eq!(
                run("States.StringToJson($.s)", json!({"s": blank})).unwrap(),
                json!(null)
            );
        }
        assert_eq!(
            run("States.StringToJson('nope')", json!({}))
                .unwrap_err()
                .error,
            "States.IntrinsicFailure"
        );
    }

    #[test]
    fn array_functions() {
        let input = json!({"a": [1, 2, 2, 3, 4], "Id": 123456});
        let cases = [
            (
                "States.Array($.Id, 'x', States.Array())",
                json!([123456, "x", []]),
            ),
            ("States.ArrayLength($.a)", json!(5)),
            ("States.ArrayContains($.a, 3)", json!(true)),
            ("States.ArrayContains($.a, 9)", json!(false)),
            (
                "States.ArrayPartition($.a, 2)",
                json!([[1, 2], [2, 3], [4]]),
            ),
            ("States.ArrayRange(1, 9, 2)", json!([1, 3, 5, 7, 9])),
            ("States.ArrayGetItem($.a, 3)", json!(3)),
            ("States.ArrayUnique($.a)", json!([1, 2, 3, 4])),
        ];
        evaluates(input.clone(), &cases);
        assert_eq!(
            run("States.ArrayGetItem($.a, 9)", input).unwrap_err().error,
            "States.IntrinsicFailure"
        );
    }

    #[test]
    fn math_add_and_bounded_random() {
        gives("States.MathAdd(40, 2)", json!(42));
        // Fractions are rounded half up first, as AWS answers (LocalStack's recording
        // of `test_math_add`).
        for (a, b, sum) in [
            (1.49, 1.5, 3),
            (1.5, 1.51, 4),
            (-1.49, -1.5, -2),
            (-1.5, -1.51, -3),
            (0.5, 0.0, 1),
            (-0.5, 0.0, 0),
            (-2.5, 0.0, -2),
            (3.5, 0.0, 4),
        ] {
            assert_eq!(
                run("States.MathAdd($.a, $.b)", json!({"a": a, "b": b})).unwrap(),
                json!(sum),
                "{a} + {b}"
            );
        }
        assert_eq!(
            run("States.MathAdd(-1, $.n)", json!({"n": 1})).unwrap(),
            json!(0)
        );
        let r = run("States.MathRandom(1, 3)", json!({}))
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..3).contains(&r));
        assert_eq!(
            run("States.MathRandom(1, 999, 7)", json!({})).unwrap(),
            run("States.MathRandom(1, 999, 7)", json!({})).unwrap()
        );
    }

    #[test]
    fn hash_base64_split_merge_uuid() {
        let cases = [
            (
                "States.Hash('input data', 'SHA-1')",
                json!("aaff4a450a104cd177d28d18d74485e8cae074b7"),
            ),
            (
                "States.Hash('abc', 'MD5')",
                json!("900150983cd24fb0d6963f7d28e17f72"),
            ),
            (
                "States.Base64Encode('Data to encode')",
                json!("RGF0YSB0byBlbmNvZGU="),
            ),
            (
                "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')",
                json!("Data to encode"),
            ),
            (
                "States.StringSplit('This.is+a,test=string', '.+,=')",
                json!(["This", "is", "a", "test", "string"]),
            ),
        ];
        evaluates(json!({}), &cases);
        assert_eq!(
            run(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}})
            )
            .unwrap(),
            json!({"x": 1, "y": 2})
        );
        let u = run("States.UUID()", json!({})).unwrap();
        assert_eq!(u.as_str().unwrap().len(), 36);
    }

    #[test]
    fn missing_path_argument_is_a_runtime_error() {
        assert_eq!(
            run("States.ArrayLength($.nope)", json!({}))
                .unwrap_err()
                .error,
            "States.Runtime"
        );
    }

    #[test]
    fn load_time_errors_name_the_problem() {
        for (text, problem) in [
            ("States.Nope(1)", "unknown function 'States.Nope'"),
            ("States.ArrayLength()", "takes 1 argument"),
            ("States.Format('x'", "expected ',' or ')'"),
            (r"States.Format('\n')", "backslash"),
            ("States.JsonMerge($.a, $.b, true)", "shallow"),
            ("States.UUID() x", "after the closing"),
        ] {
            let e = Intrinsic::parse(text).unwrap_err();
            assert!(e.contains(problem), "{text}: {e}");
        }
    }

    #[test]
    fn paths_with_commas_in_brackets_are_one_argument() {
        assert_eq!(
            run("States.Array($.a[0,1])", json!({"a": [5, 6, 7]})).unwrap(),
            json!([[5, 6]])
        );
    }
}
