//! The function binaries: their deployment environment from the template, spawned
//! against a local Lambda Runtime API (init, first answer, peak RSS), and zipped.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use testkit::lambda::LambdaProcess;

/// The function binaries: every `functions/<name>`.
pub(crate) fn functions() -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(testkit::workspace().join("functions"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// The deployment's parameters: the template's defaults, overridden by
/// `samconfig.toml`'s `staging` `parameter_overrides` (the README's example deploy).
pub(crate) fn parameters(template: &serde_yaml::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, p) in template["Parameters"].as_mapping().into_iter().flatten() {
        let value = match &p["Default"] {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            _ => String::new(),
        };
        if let Some(k) = k.as_str() {
            out.insert(k.to_string(), value);
        }
    }
    let samconfig =
        std::fs::read_to_string(testkit::workspace().join("samconfig.toml")).unwrap_or_default();
    let mut inside = false;
    for line in samconfig.lines() {
        let line = line.trim();
        if line.starts_with("parameter_overrides") {
            inside = true;
        } else if inside && line.starts_with(']') {
            inside = false;
        } else if inside {
            if let Some((k, v)) = line.trim_matches(|c| c == '"' || c == ',').split_once('=') {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

/// What `template.yaml` sets in `binary`'s environment (Globals and its own), with
/// parameters resolved as [`parameters`] says and other values CloudFormation would
/// resolve made concrete, plus static credentials and an endpoint nothing listens
/// on, so no call could reach AWS.
pub(crate) fn environment(template: &serde_yaml::Value, binary: &str) -> Vec<(String, String)> {
    let parameters = parameters(template);
    let mut vars = BTreeMap::new();
    let mut take = |v: &serde_yaml::Value| {
        for (k, v) in v.as_mapping().into_iter().flatten() {
            let (Some(k), value) = (k.as_str(), v.as_str()) else {
                continue;
            };
            let value = match value {
                // `!Ref Parameter` (read without its tag).
                Some(s) if parameters.contains_key(s) => parameters[s].clone(),
                Some(s) if !s.contains('.') && !s.contains("${") && !s.is_empty() => s.to_string(),
                _ if k.ends_with("_URL") => "https://bench.lambda-url.us-east-1.on.aws/".into(),
                // `!GetAtt Role.RoleId`: an IAM role id, as the settings require.
                _ if k.ends_with("_ROLE_ID") => "AROAEXAMPLEBENCH00001".into(),
                _ if k.ends_with("_ARN") => format!("arn:aws:bench:us-east-1:123456789012:{k}"),
                Some(s) => s.to_string(),
                None => "bench".into(),
            };
            vars.insert(k.to_string(), value);
        }
    };
    take(&template["Globals"]["Function"]["Environment"]["Variables"]);
    for (_, r) in template["Resources"].as_mapping().into_iter().flatten() {
        if r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary) {
            take(&r["Properties"]["Environment"]["Variables"]);
        }
    }
    for (k, v) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_SESSION_TOKEN", "bench"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
    ] {
        vars.insert(k.into(), v.into());
    }
    vars.into_iter().collect()
}

/// A binary to spawn: its name, path and environment.
pub(crate) struct Binary {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) env: Vec<(String, String)>,
}

#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) init: Vec<Duration>,
    pub(crate) first_answer: Vec<Duration>,
    pub(crate) peak_rss: Vec<u64>,
}

pub(crate) fn quantile<T: Copy + Ord>(v: &[T], q: f64) -> T {
    let mut s = v.to_vec();
    s.sort();
    s[((s.len() - 1) as f64 * q).round() as usize]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Every binary spawned `spawns` times, round-robin (so drift and noise fall on all
/// alike).
pub(crate) async fn spawn_all(bins: &[Binary], spawns: usize) -> Result<Vec<Samples>> {
    let mut out: Vec<Samples> = bins.iter().map(|_| Samples::default()).collect();
    for _ in 0..spawns {
        for (Binary { name, path, env }, samples) in bins.iter().zip(out.iter_mut()) {
            let mut f = LambdaProcess::spawn(path, env).await;
            let init = f.ready().await;
            // The answer is the refusal, an error: both kinds count as answers.
            let _ = f.invoke(Value::Null).await;
            let first = f
                .first_answer()
                .with_context(|| format!("{name}: no answer recorded"))?;
            samples.init.push(init);
            samples.first_answer.push(first);
            samples
                .peak_rss
                .push(f.peak_rss().with_context(|| format!("{name}: no VmHWM"))?);
        }
    }
    Ok(out)
}

pub(crate) fn zipped_size(path: &Path) -> Result<u64> {
    // As `sam build` packages it: one `bootstrap` entry, deflated.
    let out = Command::new("python3")
        .args([
            "-c",
            "import io,sys,zipfile\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED)\nz.write(sys.argv[1],'bootstrap')\nz.close()\nprint(len(b.getvalue()))",
        ])
        .arg(path)
        .output()
        .context("python3 (for the zip size)")?;
    if !out.status.success() {
        bail!(
            "zip {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variables the bench gives each binary are ones its settings accept (a
    /// function that refuses them exits during init, and there is nothing to time).
    #[test]
    fn every_functions_bench_environment_is_accepted_by_its_settings() {
        let template = testkit::template();
        for f in functions().expect("the functions") {
            let env = environment(&template, &f);
            let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if let Err(e) = stagegate::Settings::from_vars(get) {
                panic!("{f}: {e}");
            }
        }
    }
}
