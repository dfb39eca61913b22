//! `stagegate test-case DEFINITION --mock-config FILE --test-case NAME`.
//!
//! Runs on a paused (virtual) clock: Wait states, retry intervals and timeouts take no
//! real time, and the history records the times AWS would have seen.

use anyhow::{anyhow, bail, Context, Result};
use asl_engine::{Clock, Engine, EngineConfig, MockConfig, StateMachine};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The state machine definition (ASL JSON, JSONPath).
    definition: PathBuf,
    /// The mock configuration file (Step Functions Local format).
    #[arg(long)]
    mock_config: PathBuf,
    /// The test case to run.
    #[arg(long)]
    test_case: String,
    /// Execution input, as JSON text (default `{}`).
    #[arg(long)]
    input: Option<String>,
    /// A file holding a JSON object of `${Name}` definition substitutions
    /// (DefinitionSubstitutions), e.g. {"NotifyFunctionArn": "arn:…"}.
    #[arg(long)]
    substitutions: Option<PathBuf>,
    /// The state machine's name in the mock config. Default: the definition's file
    /// name without `.asl.json`/`.json`, else the only one defining the test case.
    #[arg(long)]
    state_machine: Option<String>,
    /// Exit with status 1 unless the execution ends with this status
    /// (SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
    #[arg(long)]
    expect_status: Option<String>,
    /// Wall-clock start of the execution (RFC 3339), for reproducible output.
    #[arg(long)]
    start_time: Option<String>,
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} '{}'", path.display()))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let definition_text = read(&args.definition, "definition")?;
    let config = MockConfig::parse(&read(&args.mock_config, "mock config")?)
        .map_err(|e| anyhow!("{}: {e}", args.mock_config.display()))?;
    let substitutions: BTreeMap<String, String> = match &args.substitutions {
        Some(p) => serde_json::from_str(&read(p, "substitutions file")?)
            .with_context(|| format!("{} must be a JSON object of strings", p.display()))?,
        None => BTreeMap::new(),
    };
    let input: Value = match &args.input {
        Some(text) => serde_json::from_str(text).context("--input is not valid JSON")?,
        None => json!({}),
    };
    if let Some(s) = &args.expect_status {
        if !["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"].contains(&s.as_str()) {
            bail!("--expect-status must be SUCCEEDED, FAILED, TIMED_OUT or ABORTED, not '{s}'");
        }
    }
    let start = match &args.start_time {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--start-time '{t}' is not an RFC 3339 timestamp"))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let machine = state_machine_name(&args, &config)?;
    let definition = StateMachine::from_template(&definition_text, &substitutions).map_err(|e| {
        let hint = if e.problems.iter().any(|p| p.location.starts_with("${")) {
            "\n(pass the values with --substitutions FILE, a JSON object like {\"Name\": \"value\"})"
        } else {
            ""
        };
        anyhow!("{}: {e}{hint}", args.definition.display())
    })?;
    let executor = config
        .executor(&machine, &args.test_case, &definition, None)
        .map_err(|e| anyhow!("{}: {e}", args.mock_config.display()))?;

    let runtime = asl_engine::virtual_runtime().context("cannot start the runtime")?;
    let report = runtime.block_on(async {
        let clock = match start {
            Some(t) => Clock::starting_at(t),
            None => Clock::system(),
        };
        let engine = Engine::with_options(Arc::new(executor), clock, EngineConfig::default(), None);
        let arn = engine.register_state_machine(&machine, definition)?;
        let done = engine.run(&arn, Some(&args.test_case), input).await?;
        let history = engine.get_execution_history(&done.execution_arn)?;
        anyhow::Ok(json!({
            "stateMachine": machine,
            "testCase": args.test_case,
            "executionArn": done.execution_arn,
            "status": done.status,
            "output": done.output,
            "error": done.error,
            "cause": done.cause,
            "startDate": asl_engine::clock::format_timestamp(done.start_date),
            "stopDate": done.stop_date.map(asl_engine::clock::format_timestamp),
            "history": history,
        }))
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    match &args.expect_status {
        Some(want) if report["status"] != json!(want) => {
            eprintln!("expected status {want}, got {}", report["status"]);
            Ok(ExitCode::from(1))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn state_machine_name(args: &Args, config: &MockConfig) -> Result<String> {
    if let Some(n) = &args.state_machine {
        return Ok(n.clone());
    }
    let file = args
        .definition
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let stem = file.trim_end_matches(".json").trim_end_matches(".asl");
    if config.state_machines().contains(&stem) {
        return Ok(stem.to_string());
    }
    match config.machines_with_case(&args.test_case).as_slice() {
        [one] => Ok(one.to_string()),
        [] => bail!(
            "no state machine in {} has a test case '{}' (state machines: {})",
            args.mock_config.display(),
            args.test_case,
            config.state_machines().join(", ")
        ),
        many => bail!(
            "test case '{}' exists for several state machines ({}): choose one with --state-machine",
            args.test_case,
            many.join(", ")
        ),
    }
}
