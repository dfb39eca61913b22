//! Route coverage of `statemachine/staging.asl.json` and
//! `statemachine/production.asl.json`: every state entered, and every `Catch` and
//! `Choice` edge taken, by at least one path test. The test runs every route in
//! [`crate::ROUTES`], reads the histories of every execution they ran (of either
//! state machine), and lists, per definition, what no route reaches.

use asl_engine::{Details, HistoryEvent};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// States, and (from, to) edges of Choices and Catches.
#[derive(Default, Debug)]
struct Graph {
    states: BTreeSet<String>,
    choice: BTreeSet<(String, String)>,
    catch: BTreeSet<(String, String)>,
}

/// What the definition has, scope by scope (branches and iterators included).
fn expected(definition: &Value) -> Graph {
    fn walk(states: &Value, g: &mut Graph) {
        let Some(states) = states.as_object() else {
            return;
        };
        for (name, st) in states {
            g.states.insert(name.clone());
            for c in st["Choices"].as_array().into_iter().flatten() {
                if let Some(next) = c["Next"].as_str() {
                    g.choice.insert((name.clone(), next.to_string()));
                }
            }
            if let Some(d) = st["Default"].as_str() {
                g.choice.insert((name.clone(), d.to_string()));
            }
            for c in st["Catch"].as_array().into_iter().flatten() {
                if let Some(next) = c["Next"].as_str() {
                    g.catch.insert((name.clone(), next.to_string()));
                }
            }
            for b in st["Branches"].as_array().into_iter().flatten() {
                walk(&b["States"], g);
            }
            for key in ["ItemProcessor", "Iterator"] {
                walk(&st[key]["States"], g);
            }
        }
    }
    let mut g = Graph::default();
    walk(&definition["States"], &mut g);
    g
}

/// What one history took: each `StateEntered` is reached from the event before it
/// (`previousEventId`): a `ChoiceStateExited` is a Choice edge; any other exit that
/// directly follows a failure (a task, Parallel or Map failing or timing out: AWS
/// records a caught error's exit, with the catcher's output) is a Catch edge.
fn taken(history: &[HistoryEvent], g: &mut Graph) {
    let by_id: BTreeMap<u64, &HistoryEvent> = history.iter().map(|e| (e.id, e)).collect();
    let ty = |e: &HistoryEvent| format!("{:?}", e.event_type);
    for e in history {
        let Details::StateEntered { name, .. } = &e.details else {
            continue;
        };
        g.states.insert(name.clone());
        let Some(prev) = by_id.get(&e.previous_event_id) else {
            continue;
        };
        let Details::StateExited { name: from, .. } = &prev.details else {
            // The first state of a branch or an iteration.
            continue;
        };
        if ty(prev) == "ChoiceStateExited" {
            g.choice.insert((from.clone(), name.clone()));
        } else if by_id
            .get(&prev.previous_event_id)
            .is_some_and(|f| ty(f).ends_with("Failed") || ty(f).ends_with("TimedOut"))
        {
            g.catch.insert((from.clone(), name.clone()));
        }
    }
}

#[test]
fn every_state_and_every_catch_and_choice_edge_is_taken_by_a_path_test() {
    let mut got: BTreeMap<String, Graph> = BTreeMap::new();
    let mut by_route: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, route) in crate::ROUTES {
        stagegate_paths::recording::begin();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        rt.block_on(route());
        let engines = stagegate_paths::recording::take();
        let mut runs = 0;
        for (engine, sm) in engines {
            let machine = sm.rsplit(':').next().unwrap_or_default().to_string();
            for d in engine.list_executions(&sm, None) {
                let history = engine
                    .get_execution_history(&d.execution_arn)
                    .unwrap_or_default();
                taken(&history, got.entry(machine.clone()).or_default());
                runs += 1;
            }
        }
        by_route.insert(name, runs);
    }
    assert!(
        by_route.values().all(|n| *n > 0),
        "every route runs the definition: {by_route:?}"
    );
    use stagegate_local::world::{PRODUCTION_DEFINITION, STAGING_DEFINITION};
    for (machine, definition) in [
        ("staging", STAGING_DEFINITION),
        ("production", PRODUCTION_DEFINITION),
    ] {
        let definition: Value = serde_json::from_str(definition).expect("the definition");
        let got = got.remove(machine).unwrap_or_default();
        covered(machine, &expected(&definition), &got);
    }
}

/// Asserts that `got` takes everything `want` has, and nothing else.
fn covered(machine: &str, want: &Graph, got: &Graph) {
    let missing_states: Vec<_> = want.states.difference(&got.states).collect();
    let missing_choice: Vec<_> = want.choice.difference(&got.choice).collect();
    let missing_catch: Vec<_> = want.catch.difference(&got.catch).collect();
    assert!(
        missing_states.is_empty() && missing_choice.is_empty() && missing_catch.is_empty(),
        "no path test reaches in {machine}:\n  states: {missing_states:#?}\n  Choice edges: {missing_choice:#?}\n  Catch edges: {missing_catch:#?}"
    );
    // And nothing taken that the definition does not have (the reading is right).
    assert!(got.states.is_subset(&want.states));
    assert!(
        got.choice.is_subset(&want.choice),
        "{:?}",
        got.choice.difference(&want.choice).collect::<Vec<_>>()
    );
    assert!(
        got.catch.is_subset(&want.catch),
        "{:?}",
        got.catch.difference(&want.catch).collect::<Vec<_>>()
    );
}
