//! Engine executions per second: the embedded engine, and aws-local-stepfunctions on
//! the same definition.

use anyhow::{bail, Context, Result};
use asl_engine::{Clock, Engine, EngineConfig, Registry};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

pub(crate) const ENGINE_DEFINITION: &str = "crates/asl-engine/benches/twenty-states.asl.json";

pub(crate) fn engine_input() -> Value {
    json!({"tag": "rc-1.4.0", "sha": "0123456789abcdef0123456789abcdef01234567", "approve": true,
           "suites": ["auth", "content", "oauth", "ai"]})
}

pub(crate) fn engine_subs() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "StubArn".to_string(),
        "arn:aws:lambda:us-east-1:123456789012:function:stub".to_string(),
    )])
}

/// Executions per second of the embedded engine, every task an echo, history kept.
pub(crate) async fn engine_rate(seconds: f64) -> Result<(f64, usize)> {
    let definition = std::fs::read_to_string(testkit::workspace().join(ENGINE_DEFINITION))?;
    let fresh = || -> Result<(Engine, String)> {
        let reg = Registry::new().lambda("stub", |v: Value| async move { Ok(v) });
        let engine = Engine::with_options(
            Arc::new(reg),
            Clock::system(),
            EngineConfig::default(),
            Some(1),
        );
        let arn = engine
            .create_state_machine("bench", &definition, &engine_subs())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok((engine, arn))
    };
    let (engine, arn) = fresh()?;
    let done = engine
        .run(&arn, None, engine_input())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if done.status != asl_engine::ExecutionStatus::Succeeded {
        bail!("the engine benchmark's execution did not succeed: {done:?}");
    }
    let events = engine
        .get_execution_history(&done.execution_arn)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .len();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        // A fresh engine now and then: engines keep every history, as AWS does.
        let (engine, arn) = fresh()?;
        for _ in 0..200 {
            engine
                .run(&arn, None, engine_input())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            n += 1;
        }
    }
    Ok((n as f64 / start.elapsed().as_secs_f64(), events))
}

/// [`engine_rate`] on a current-thread runtime of its own, as the criterion benchmark
/// and the rehearsal run the engine (and as Node runs aws-local-stepfunctions).
pub(crate) fn engine_on_its_own_thread(seconds: f64) -> Result<(f64, usize)> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?
            .block_on(engine_rate(seconds))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the engine benchmark panicked"))?
}

/// The same definition through aws-local-stepfunctions (`bench/node`), same duration.
pub(crate) fn node_rate(seconds: f64) -> Result<f64> {
    let node_dir = testkit::workspace().join("bench/node");
    let scratch = std::env::temp_dir();
    let input = scratch.join("stagegate-bench-input.json");
    let subs = scratch.join("stagegate-bench-subs.json");
    std::fs::write(&input, engine_input().to_string())?;
    std::fs::write(&subs, serde_json::to_string(&engine_subs())?)?;
    let out = Command::new("node")
        .arg(node_dir.join("run.mjs"))
        .arg(testkit::workspace().join(ENGINE_DEFINITION))
        .arg(&input)
        .arg(seconds.to_string())
        .arg(&subs)
        .current_dir(&node_dir)
        .output()
        .context("node (for aws-local-stepfunctions; bench/run installs it)");
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&subs);
    let out = out?;
    if !out.status.success() {
        bail!(
            "aws-local-stepfunctions: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["executions"].as_f64().unwrap_or(0.0) / v["seconds"].as_f64().unwrap_or(1.0))
}
