//! Engine throughput: complete executions per second of a 20-state definition whose
//! tasks are stub Lambda handlers (Parallel, Map, Choice, Wait, retries and
//! intrinsics included), and the cost of loading that definition.
//! Run: `cargo bench -p asl-engine`. Figures go to docs/performance.md.

use asl_engine::{Clock, Engine, EngineConfig, Registry, StateMachine};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const DEFINITION: &str = include_str!("twenty-states.asl.json");

fn subs() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "StubArn".to_string(),
        "arn:aws:lambda:us-east-1:123456789012:function:stub".to_string(),
    )])
}

fn input() -> Value {
    json!({"tag": "rc-1.4.0", "sha": "0123456789abcdef0123456789abcdef01234567", "approve": true,
           "suites": ["auth", "content", "oauth", "ai"]})
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    // A fresh engine per sample: engines keep every execution's history (as AWS
    // does), which would otherwise grow for the whole benchmark.
    let fresh = || {
        let engine = rt.block_on(async {
            let reg = Registry::new().lambda("stub", |v: Value| async move { Ok(v) });
            Engine::with_options(
                Arc::new(reg),
                Clock::system(),
                EngineConfig::default(),
                Some(1),
            )
        });
        let arn = engine
            .create_state_machine("bench", DEFINITION, &subs())
            .expect("valid definition");
        (engine, arn)
    };
    // Sanity: the benchmark measures a successful run through all phases.
    let (engine, arn) = fresh();
    let done = rt.block_on(engine.run(&arn, None, input())).expect("runs");
    assert_eq!(
        done.status,
        asl_engine::ExecutionStatus::Succeeded,
        "{done:?}"
    );
    eprintln!(
        "history events per execution: {}",
        engine
            .get_execution_history(&done.execution_arn)
            .expect("history")
            .len()
    );

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.bench_function("execution_20_states", |b| {
        b.iter_custom(|iters| {
            let (engine, arn) = fresh();
            let start = std::time::Instant::now();
            for _ in 0..iters {
                rt.block_on(engine.run(&arn, None, input())).expect("runs");
            }
            start.elapsed()
        })
    });
    g.bench_function("load_20_states", |b| {
        b.iter(|| StateMachine::from_template(DEFINITION, &subs()).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
