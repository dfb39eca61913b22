//! `template.yaml` against `statemachine/production.asl.json`: the production state
//! machine, its own role and functions, its `v*` trigger and its limits.

use crate::*;

const PRODUCTION: &str = include_str!("../../statemachine/production.asl.json");

fn production_machine(t: &Yaml) -> Yaml {
    resources(t)["ProductionStateMachine"]["Properties"].clone()
}

fn production_substitutions(t: &Yaml) -> BTreeMap<String, Yaml> {
    production_machine(t)["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.clone()))
        .collect()
}

#[test]
fn every_production_placeholder_is_a_production_function_of_that_name() {
    let t = template();
    let res = resources(&t);
    let used: BTreeSet<String> = asl_engine::definition::placeholders(PRODUCTION)
        .into_iter()
        .collect();
    let subs = production_substitutions(&t);
    let given: BTreeSet<String> = subs.keys().cloned().collect();
    assert_eq!(used, given, "placeholders and DefinitionSubstitutions");
    for (key, value) in subs {
        let function = key.strip_suffix("Arn").unwrap_or_default();
        assert!(
            function.starts_with("Production"),
            "{key}: a production function"
        );
        assert_eq!(
            value["Fn::GetAtt"].as_str(),
            Some(format!("{function}.Arn").as_str()),
            "{key}"
        );
        let vars = &res[function]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            vars["STAGEGATE_STAGE"].as_str(),
            Some("production"),
            "{function}"
        );
    }
    assert_eq!(
        production_machine(&t)["DefinitionUri"].as_str(),
        Some("statemachine/production.asl.json")
    );
}

/// Its own role: it may invoke exactly the production functions its definition
/// invokes, nothing of staging's, and runs no build.
#[test]
fn the_production_machine_may_invoke_only_its_own_functions_and_builds_nothing() {
    let t = template();
    let policies = production_machine(&t)["Policies"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    let invocable: BTreeSet<String> = policies
        .iter()
        .filter_map(|p| p["LambdaInvokePolicy"]["FunctionName"]["Ref"].as_str())
        .map(str::to_string)
        .collect();
    let invoked: BTreeSet<String> = asl_engine::definition::placeholders(PRODUCTION)
        .into_iter()
        .filter_map(|p| p.strip_suffix("Arn").map(str::to_string))
        .collect();
    assert_eq!(invocable, invoked);
    let text = serde_json::to_string(&serde_json::to_value(&policies).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        !text.contains("codebuild:"),
        "the production role runs no build: {text}"
    );
    assert!(
        !PRODUCTION.contains("codebuild"),
        "the production definition builds nothing"
    );
}

#[test]
fn the_production_definition_loads_in_the_engine_with_the_templates_substitutions() {
    let t = template();
    let subs: BTreeMap<String, String> = production_substitutions(&t)
        .keys()
        .map(|k| {
            (
                k.clone(),
                format!("arn:aws:lambda:eu-west-1:123456789012:function:stagegate-{k}"),
            )
        })
        .collect();
    let text = asl_engine::definition::substitute(PRODUCTION, &subs).expect("substitutes");
    asl_engine::definition::StateMachine::from_json(&text).expect("the engine loads it");
}

/// `v*` tag events start production with the same trigger shape as staging's; the
/// webhook publishes them.
#[test]
fn v_tags_start_production_with_the_trigger_shape_and_the_webhook_publishes_them() {
    let t = template();
    let staging = &state_machine(&t)["Events"]["CandidateTagged"]["Properties"];
    let production = &production_machine(&t)["Events"]["ReleaseTagged"]["Properties"];
    assert_eq!(
        production["Pattern"]["detail-type"],
        staging["Pattern"]["detail-type"]
    );
    assert_eq!(
        production["Pattern"]["source"],
        staging["Pattern"]["source"]
    );
    assert_eq!(
        production["Pattern"]["detail"]["tag"][0]["prefix"]["Ref"].as_str(),
        Some("ProductionTagPrefix")
    );
    assert_eq!(production["InputTransformer"], staging["InputTransformer"]);
    let webhook = &resources(&t)["WebhookFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        webhook["STAGEGATE_PRODUCTION_TAG_PREFIX"]["Ref"].as_str(),
        Some("ProductionTagPrefix")
    );
}

/// A production run that ends abnormally reaches production's notify.
#[test]
fn abnormal_ends_of_production_reach_its_notify() {
    let t = template();
    let p = &resources(&t)["ProductionNotifyFunction"]["Properties"]["Events"]["ExecutionEnded"]
        ["Properties"]["Pattern"];
    let arn = p["detail"]["stateMachineArn"][0]["Fn::Sub"]
        .as_str()
        .unwrap_or_default();
    assert!(
        arn.ends_with(":stateMachine:${AWS::StackName}-production"),
        "{arn}"
    );
}

/// The longest soak and the longest production approval fit the 7-day run together,
/// as the production functions' settings require.
#[test]
fn the_longest_soak_and_production_approval_fit_the_run() {
    let t = template();
    let definition: serde_json::Value = serde_json::from_str(PRODUCTION).unwrap_or_default();
    assert_eq!(definition["TimeoutSeconds"].as_u64(), Some(7 * 86_400));
    let approval: u64 = t["Parameters"]["ProductionApprovalTimeoutSeconds"]["AllowedValues"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str()?.parse().ok())
        .max()
        .unwrap_or_default();
    let soak = t["Parameters"]["SoakSeconds"]["MaxValue"]
        .as_u64()
        .unwrap_or_default();
    assert_eq!(soak, stagegate::settings::MAX_SOAK_SECONDS);
    assert!(soak + approval <= stagegate::settings::MAX_APPROVAL_TIMEOUT_SECONDS);
}
