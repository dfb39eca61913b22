//! The one list of functions against the crates, the template and the registry; the
//! deployment every function is given.

use crate::*;
use stagegate::flow::{function_names, production_name, PRODUCTION_FUNCTIONS};
use std::path::Path;

/// The one list of functions (`stagegate::flow::FUNCTIONS`) is the crates under
/// `functions/`, the template's functions (each built from its binary, named after
/// it), and what the local world registers: every function but the two behind
/// Function URLs.
#[tokio::test]
async fn one_list_of_functions_is_the_crates_the_template_and_the_registry() {
    let t = template();
    let built: BTreeSet<(String, String)> = resources(&t)
        .into_iter()
        .filter_map(|(name, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()?
                .to_string();
            assert_eq!(
                r["Metadata"]["BuildMethod"].as_str(),
                Some("rust-cargolambda"),
                "{name}"
            );
            assert_eq!(r["Properties"]["CodeUri"].as_str(), Some("."), "{name}");
            Some((binary, name))
        })
        .collect();
    let list: BTreeSet<String> = function_names().map(str::to_string).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let crates: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("functions/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(crates, list, "functions/ and stagegate::flow::FUNCTIONS");
    // Each function once for staging (`<Name>Function`), and each production one
    // again (`Production<Name>Function`), from the same binary.
    let resource = |name: &str| {
        let key = stagegate::step::substitution_key(name);
        key.strip_suffix("Arn").unwrap_or_default().to_string()
    };
    let staging = FUNCTIONS
        .iter()
        .filter(|(_, how)| *how != Invoked::InProduction)
        .map(|(name, _)| (name.to_string(), resource(name)));
    let production = PRODUCTION_FUNCTIONS
        .iter()
        .map(|name| (name.to_string(), resource(&production_name(name))));
    let expected: BTreeSet<(String, String)> = staging.chain(production).collect();
    assert_eq!(built, expected, "template.yaml");
    let registered: BTreeSet<String> = registered_functions().into_iter().collect();
    let production = PRODUCTION_FUNCTIONS.iter().map(|n| production_name(n));
    let not_by_url: BTreeSet<String> = FUNCTIONS
        .iter()
        .filter(|(_, how)| *how != Invoked::ByUrl && *how != Invoked::InProduction)
        .map(|(name, _)| name.to_string())
        .chain(production)
        .collect();
    assert_eq!(registered, not_by_url, "the local registry");
}

/// The deployment's resources a production function has its own of: its frontend,
/// the role that deploys its stack, its state machine.
const PRODUCTION_RESOURCES: &[&str] = &[
    "AMPLIFY_APP_ID",
    "AMPLIFY_BRANCH",
    "DEPLOYMENT_ROLE_ARN",
    "STATE_MACHINE_ARN",
];

/// What a local world registers in its engine.
fn registered_functions() -> Vec<String> {
    use stagegate::testing::*;
    use stagegate_local::{LocalWorld, Setup, Time};
    let ports = stagegate_paths::flow::doubles();
    let world = LocalWorld::start(Setup {
        settings: stagegate::Settings::default(),
        approvers: approvers(),
        ports,
        builds: NoBuilds,
        time: Time::Virtual,
        status_events: vec![],
        reconcile_every: None,
        faults: Default::default(),
        production: Some(stagegate_local::Production {
            settings: stagegate::Settings::production(),
            stacks: MemoryStacks::default(),
            hosting: MemoryHosting::default(),
            http: MemoryHttp::default(),
            status_events: vec![],
        }),
    })
    .expect("a local world");
    world.functions()
}

/// Builds that never run (the registry is only listed).
struct NoBuilds;

impl asl_engine::BuildRunner for NoBuilds {
    fn run(
        &self,
        _: asl_engine::BuildRequest,
    ) -> futures::future::BoxFuture<'static, Result<asl_engine::BuildResult, asl_engine::StateError>>
    {
        Box::pin(async {
            Err(asl_engine::StateError::new(
                "States.TaskFailed",
                "no builds here",
            ))
        })
    }
}

/// Every function is given every variable its context reads (`aws_common::Context`):
/// the deployment's resources in `Globals`, so no function fails its init for one it
/// lacks, and none is read from anywhere else.
#[test]
fn every_function_is_given_the_whole_deployment() {
    let t = template();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .expect("Globals.Function.Environment.Variables");
    for name in aws_common::Deployment::VARIABLES {
        assert!(
            globals.contains_key(*name),
            "{name} is not in Globals: every function's context reads it"
        );
    }
    for (name, r) in resources(&t) {
        let Some(own) = r["Properties"]["Environment"]["Variables"].as_mapping() else {
            continue;
        };
        // A production function replaces exactly production's own resources.
        let production = name.starts_with("Production");
        if production {
            assert_eq!(
                own.get("STAGEGATE_STAGE").and_then(Yaml::as_str),
                Some("production"),
                "{name}"
            );
        }
        for key in own.keys().filter_map(|k| k.as_str()) {
            let its_own = production && PRODUCTION_RESOURCES.contains(&key);
            assert!(
                its_own || !aws_common::Deployment::VARIABLES.contains(&key),
                "{name} sets {key} itself; it is in Globals"
            );
        }
    }
}

/// Every `main.rs` under `functions/` only wires: it loads the typed context once
/// (`stagegate_lambda::context()`), reads no variable of its own, builds its step with
/// named fields and serves it, in at most 15 lines.
#[test]
fn every_main_loads_the_context_once_and_serves_in_15_lines() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let mut mains = 0;
    for name in function_names() {
        let path = dir.join(name).join("main.rs");
        let text = std::fs::read_to_string(&path).expect("a main.rs per function");
        mains += 1;
        let lines = text.lines().count();
        assert!(lines <= 15, "{name}: {lines} lines");
        assert_eq!(
            text.matches("stagegate_lambda::context()").count(),
            1,
            "{name}"
        );
        for forbidden in ["env::var", "std::env", "from_config(", "\"\""] {
            assert!(!text.contains(forbidden), "{name} has {forbidden}");
        }
        assert!(text.contains("serve"), "{name} serves its step");
    }
    assert_eq!(mains, FUNCTIONS.len());
}
