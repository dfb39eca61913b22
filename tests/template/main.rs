//! `template.yaml` against `statemachine/staging.asl.json` (and, in [`production`],
//! `statemachine/production.asl.json`) and `functions/`: the
//! cross-references no linter checks. cfn-lint and `sam validate --lint` check the
//! template alone, asl-validator the definition alone; these tests check that they
//! agree with each other and with the code.

mod alarms;
mod dashboard;
mod docs;
mod functions;
mod iam;
mod production;
mod samconfig;
mod sizes;

use serde_yaml::Value as Yaml;
use stagegate::flow::{Invoked, FUNCTIONS};
use std::collections::{BTreeMap, BTreeSet};

const TEMPLATE: &str = include_str!("../../template.yaml");
const DEFINITION: &str = include_str!("../../statemachine/staging.asl.json");

/// The template as YAML, with short-form intrinsics (`!Ref X`) turned into their
/// long form (`{"Ref": X}`), so lookups need not care which form was written.
fn template() -> Yaml {
    fn long_form(v: Yaml) -> Yaml {
        match v {
            Yaml::Tagged(t) => {
                let tag = t.tag.to_string();
                let name = tag.trim_start_matches('!');
                let key = if name == "Ref" || name == "Condition" {
                    name.to_string()
                } else {
                    format!("Fn::{name}")
                };
                let mut m = serde_yaml::Mapping::new();
                m.insert(Yaml::String(key), long_form(t.value));
                Yaml::Mapping(m)
            }
            Yaml::Mapping(m) => {
                Yaml::Mapping(m.into_iter().map(|(k, v)| (k, long_form(v))).collect())
            }
            Yaml::Sequence(s) => Yaml::Sequence(s.into_iter().map(long_form).collect()),
            other => other,
        }
    }
    long_form(serde_yaml::from_str(TEMPLATE).expect("template.yaml is YAML"))
}

fn resources(t: &Yaml) -> BTreeMap<String, Yaml> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect()
}

fn state_machine(t: &Yaml) -> Yaml {
    resources(t)["StagingStateMachine"]["Properties"].clone()
}

fn substitutions(t: &Yaml) -> BTreeMap<String, Yaml> {
    state_machine(t)["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect()
}

/// `XFunction` for `{"Fn::GetAtt": "XFunction.Arn"}`.
fn getatt_function(v: &Yaml) -> Option<String> {
    let s = v["Fn::GetAtt"].as_str()?;
    s.strip_suffix(".Arn").map(str::to_string)
}

/// The functions the definition invokes: each `${XFunctionArn}` it uses.
fn invoked_functions() -> BTreeSet<String> {
    asl_engine::definition::placeholders(DEFINITION)
        .into_iter()
        .filter_map(|p| p.strip_suffix("Arn").map(str::to_string))
        .filter(|p| p.ends_with("Function"))
        .collect()
}

/// The functions the state machine's role may invoke (SAM's `LambdaInvokePolicy`).
fn invocable_functions(t: &Yaml) -> BTreeSet<String> {
    state_machine(t)["Policies"]
        .as_sequence()
        .expect("Policies")
        .iter()
        .filter_map(|p| p["LambdaInvokePolicy"]["FunctionName"]["Ref"].as_str())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_placeholder_in_the_definition_has_a_substitution_and_none_is_unused() {
    let t = template();
    let used: BTreeSet<String> = asl_engine::definition::placeholders(DEFINITION)
        .into_iter()
        .collect();
    let given: BTreeSet<String> = substitutions(&t).keys().cloned().collect();
    assert_eq!(
        used.difference(&given).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "placeholders without a DefinitionSubstitutions entry"
    );
    assert_eq!(
        given.difference(&used).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "DefinitionSubstitutions entries the definition does not use"
    );
}

#[test]
fn every_function_substitution_is_the_arn_of_the_function_of_that_name() {
    let t = template();
    let res = resources(&t);
    for (key, value) in substitutions(&t) {
        if let Some(function) = key.strip_suffix("Arn").filter(|k| k.ends_with("Function")) {
            assert_eq!(getatt_function(&value).as_deref(), Some(function), "{key}");
            assert_eq!(
                res[function]["Type"].as_str(),
                Some("AWS::Serverless::Function"),
                "{function}"
            );
        }
    }
}

#[test]
fn the_state_machine_may_invoke_exactly_the_functions_the_definition_invokes() {
    let t = template();
    assert_eq!(invoked_functions(), invocable_functions(&t));
    let by_state = FUNCTIONS.iter().filter(|(_, how)| *how == Invoked::ByState);
    assert_eq!(invoked_functions().len(), by_state.count());
}

#[test]
fn the_state_machine_may_run_the_checks_project_and_only_it() {
    let t = template();
    let subs = substitutions(&t);
    assert_eq!(
        subs["ChecksProjectName"]["Ref"].as_str(),
        Some("ChecksProject")
    );
    let statements: Vec<Yaml> = state_machine(&t)["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|p| p["Statement"].as_sequence().cloned())
        .flatten()
        .collect();
    let codebuild = statements
        .iter()
        .find(|s| {
            s["Action"]
                .as_sequence()
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("codebuild:StartBuild")))
        })
        .expect("a codebuild:StartBuild statement");
    assert_eq!(
        codebuild["Resource"]["Fn::GetAtt"].as_str(),
        Some("ChecksProject.Arn")
    );
}

#[test]
fn functions_run_on_arm64_al2023_with_json_logs_and_tracing() {
    let t = template();
    let g = &t["Globals"]["Function"];
    assert_eq!(g["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(g["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(g["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"));
    assert_eq!(g["Tracing"].as_str(), Some("Active"));
    let sm = state_machine(&t);
    assert_eq!(sm["Logging"]["Level"].as_str(), Some("ALL"));
    // Every event, but no execution data: state inputs carry task tokens.
    assert_eq!(sm["Logging"]["IncludeExecutionData"].as_bool(), Some(false));
    assert_eq!(sm["Tracing"]["Enabled"].as_bool(), Some(true));
    assert_eq!(
        sm["DefinitionUri"].as_str(),
        Some("statemachine/staging.asl.json")
    );
}

#[test]
fn the_definition_loads_in_the_engine_with_the_templates_substitutions() {
    let t = template();
    let subs: BTreeMap<String, String> = substitutions(&t)
        .keys()
        .map(|k| {
            let v = match k.strip_suffix("Arn") {
                Some(f) => {
                    format!("arn:aws:lambda:eu-west-1:123456789012:function:stagegate-{f}-AbC123")
                }
                None => "stagegate-checks".to_string(),
            };
            (k.clone(), v)
        })
        .collect();
    let text = asl_engine::definition::substitute(DEFINITION, &subs).expect("substitutes");
    asl_engine::definition::StateMachine::from_json(&text).expect("the engine loads it");
}

#[test]
fn the_rule_starts_runs_with_the_trigger_shape_and_the_tag_prefix() {
    let t = template();
    let ev = &state_machine(&t)["Events"]["CandidateTagged"]["Properties"];
    assert_eq!(
        ev["Pattern"]["detail-type"][0].as_str(),
        Some(aws_eventbridge_port::DETAIL_TYPE)
    );
    assert_eq!(
        ev["Pattern"]["source"][0].as_str(),
        Some(aws_eventbridge_port::SOURCE)
    );
    assert_eq!(
        ev["Pattern"]["detail"]["tag"][0]["prefix"]["Ref"].as_str(),
        Some("TagPrefix")
    );
    let template = ev["InputTransformer"]["InputTemplate"].as_str().unwrap();
    let filled = template
        .replace("<repository>", "\"acme/shop\"")
        .replace("<tag>", "\"rc-1.4.0\"")
        .replace("<sha>", "\"0123456789abcdef0123456789abcdef01234567\"")
        .replace("<pushedBy>", "\"dana\"");
    // The pusher the webhook vouched for travels to the run; unknown is null.
    for (pusher, expected) in [
        (
            r#"{"kind": "github", "id": 583231, "login": "dana"}"#,
            Some(stagegate::ports::Pusher::GitHub {
                id: 583231,
                login: "dana".into(),
            }),
        ),
        ("null", None),
    ] {
        let trigger: stagegate::ports::Trigger =
            serde_json::from_str(&filled.replace("<pusher>", pusher))
                .expect("the input is a trigger");
        assert!(trigger.validate("rc-").is_ok());
        assert_eq!(trigger.pusher, expected);
    }
    // What the webhook publishes has the field, so the transformer finds it.
    let published = serde_json::to_value(stagegate::ports::Trigger {
        repository: "acme/shop".into(),
        tag: "rc-1.4.0".into(),
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        pushed_by: None,
        pusher: None,
        rollback: false,
    })
    .unwrap_or_default();
    assert!(published.get("pusher").is_some(), "{published}");
}

/// The two public Function URLs have reserved concurrency, from parameters that
/// default to a small number and can turn it off (0).
#[test]
fn the_public_functions_have_reserved_concurrency() {
    let t = template();
    let res = resources(&t);
    for (function, param, condition) in [
        (
            "WebhookFunction",
            "WebhookReservedConcurrency",
            "ReservesWebhookConcurrency",
        ),
        (
            "ApprovalPageFunction",
            "ApprovalPageReservedConcurrency",
            "ReservesApprovalPageConcurrency",
        ),
        // Deciding from Slack shares the page's limit: both are how people decide.
        (
            "SlackInteractivityFunction",
            "ApprovalPageReservedConcurrency",
            "ReservesApprovalPageConcurrency",
        ),
    ] {
        let p = &res[function]["Properties"];
        assert!(p["FunctionUrlConfig"].is_mapping(), "{function} is public");
        let reserved = p["ReservedConcurrentExecutions"]["Fn::If"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{function}: ReservedConcurrentExecutions"));
        assert_eq!(reserved[0].as_str(), Some(condition));
        assert_eq!(reserved[1]["Ref"].as_str(), Some(param));
        let default = t["Parameters"][param]["Default"].as_u64().unwrap();
        assert!((1..=10).contains(&default), "{param} defaults to {default}");
    }
    // Every other function with a URL would be public too: there are exactly three.
    let public: Vec<&String> = res
        .iter()
        .filter(|(_, r)| r["Properties"]["FunctionUrlConfig"].is_mapping())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        public,
        [
            "ApprovalPageFunction",
            "SlackInteractivityFunction",
            "WebhookFunction"
        ]
    );
}

/// Approvers are subscribed one by one with a filter on their id (`stagegate
/// approvers`): the template subscribes nobody to the approvals topic, where an
/// unfiltered subscription would receive everyone's personal links.
#[test]
fn nobody_is_subscribed_to_the_approvals_topic_without_a_filter() {
    let t = template();
    for (name, r) in resources(&t) {
        if r["Type"].as_str() == Some("AWS::SNS::Subscription") {
            assert_ne!(
                r["Properties"]["TopicArn"]["Ref"].as_str(),
                Some("ApprovalsTopic"),
                "{name} subscribes to the approvals topic"
            );
        }
    }
}

/// Links in approval emails point at the approval page's Function URL.
#[test]
fn approval_links_point_at_the_approval_page() {
    let t = template();
    let vars = &resources(&t)["RequestApprovalFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        vars["STAGEGATE_APPROVAL_BASE_URL"]["Fn::GetAtt"].as_str(),
        Some("ApprovalPageFunctionUrl.FunctionUrl")
    );
}

/// A run that ends FAILED, TIMED_OUT or ABORTED reaches Notify through a rule on
/// this state machine's status changes, so every run ends with a notification.
#[test]
fn abnormal_ends_of_the_state_machine_reach_notify() {
    let t = template();
    let ev = &resources(&t)["NotifyFunction"]["Properties"]["Events"]["ExecutionEnded"];
    assert_eq!(ev["Type"].as_str(), Some("EventBridgeRule"));
    let p = &ev["Properties"]["Pattern"];
    assert_eq!(p["source"][0].as_str(), Some("aws.states"));
    assert_eq!(
        p["detail-type"][0].as_str(),
        Some("Step Functions Execution Status Change")
    );
    let statuses: Vec<&str> = p["detail"]["status"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(statuses, ["FAILED", "TIMED_OUT", "ABORTED"]);
    assert!(p["detail"]["stateMachineArn"][0]["Fn::Sub"]
        .as_str()
        .unwrap()
        .ends_with(":stateMachine:${AWS::StackName}-staging"));
}

/// The approval timeout parameter allows only waits that fit the 7-day run, and with
/// user acceptance (two waits) only those that fit twice; the settings agree.
#[test]
fn approval_waits_fit_the_execution_timeout() {
    let t = template();
    let definition: serde_json::Value = serde_json::from_str(DEFINITION).unwrap();
    let run = definition["TimeoutSeconds"].as_u64().unwrap();
    let allowed: Vec<u64> = t["Parameters"]["ApprovalTimeoutSeconds"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    let max = *allowed.iter().max().unwrap();
    assert_eq!(max, stagegate::settings::MAX_APPROVAL_TIMEOUT_SECONDS);
    assert!(max < run, "one wait fits the run");
    let rule = &t["Rules"]["ApprovalWaitsFitTheRun"];
    assert_eq!(
        rule["RuleCondition"]["Fn::Equals"][0]["Ref"].as_str(),
        Some("UserAcceptance")
    );
    let with_acceptance: Vec<u64> = rule["Assertions"][0]["Assert"]["Fn::Contains"][0]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    let max2 = *with_acceptance.iter().max().unwrap();
    assert_eq!(
        max2,
        stagegate::settings::MAX_APPROVAL_TIMEOUT_WITH_ACCEPTANCE_SECONDS
    );
    assert!(2 * max2 < run, "both waits fit the run");
    assert!(with_acceptance.iter().all(|v| allowed.contains(v)));
}

/// `ChecksCompute`: the checks on CodeBuild's EC2 compute by default, or on its Lambda
/// compute (arm64 Lambda image, its 15-minute limit), each branch a consistent set.
#[test]
fn the_checks_run_on_ec2_or_lambda_compute_as_chosen() {
    let t = template();
    let p = &t["Parameters"]["ChecksCompute"];
    assert_eq!(p["Default"].as_str(), Some("container"));
    let allowed: Vec<_> = p["AllowedValues"]
        .as_sequence()
        .expect("AllowedValues")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(allowed, ["container", "lambda"]);
    let cond = &t["Conditions"]["ChecksOnLambda"]["Fn::Equals"];
    assert_eq!(cond[0]["Ref"].as_str(), Some("ChecksCompute"));
    assert_eq!(cond[1].as_str(), Some("lambda"));

    let project = &resources(&t)["ChecksProject"]["Properties"];
    let env = &project["Environment"];
    // (on Lambda, otherwise) for each property that depends on the choice.
    let choice = |v: &Yaml| -> (String, String) {
        let f = v["Fn::If"]
            .as_sequence()
            .expect("an Fn::If on ChecksOnLambda");
        assert_eq!(f[0].as_str(), Some("ChecksOnLambda"));
        let s = |y: &Yaml| match y {
            Yaml::Number(n) => n.to_string(),
            other => other.as_str().expect("a scalar").to_string(),
        };
        (s(&f[1]), s(&f[2]))
    };
    let (ty_l, ty_c) = choice(&env["Type"]);
    let (cpu_l, cpu_c) = choice(&env["ComputeType"]);
    let (img_l, img_c) = choice(&env["Image"]);
    let (min_l, min_c) = choice(&project["TimeoutInMinutes"]);
    assert_eq!(
        (
            ty_c.as_str(),
            cpu_c.as_str(),
            img_c.as_str(),
            min_c.as_str()
        ),
        (
            "LINUX_CONTAINER",
            "BUILD_GENERAL1_SMALL",
            "aws/codebuild/standard:7.0",
            "30"
        )
    );
    // Lambda compute: a Lambda environment type with a Lambda compute size and an
    // image for the same architecture, and no timeout above Lambda's 15 minutes.
    assert_eq!(ty_l, "ARM_LAMBDA_CONTAINER");
    assert!(cpu_l.starts_with("BUILD_LAMBDA_"), "{cpu_l}");
    assert!(
        img_l.starts_with("aws/codebuild/amazonlinux-aarch64-lambda-standard:"),
        "{img_l}"
    );
    assert!(min_l.parse::<u32>().expect("minutes") <= 15, "{min_l}");
}

/// The stack's and the Amplify job's status events reach `resume-wait`, each kind by
/// its own rule, with a dead-letter queue; every terminal stack status the domain
/// knows is in the rule, and none that a deployment passes through.
#[test]
fn deploy_status_events_reach_resume_wait() {
    use stagegate::status_events::{
        stack_state, StackState, AMPLIFY_STATUS_CHANGE, STACK_STATUS_CHANGE,
    };
    let t = template();
    let f = &resources(&t)["ResumeWaitFunction"]["Properties"];
    let stack = &f["Events"]["StackSettled"];
    let amplify = &f["Events"]["FrontendJobEnded"];
    for (ev, source, kind) in [
        (stack, "aws.cloudformation", STACK_STATUS_CHANGE),
        (amplify, "aws.amplify", AMPLIFY_STATUS_CHANGE),
    ] {
        assert_eq!(ev["Type"].as_str(), Some("EventBridgeRule"));
        let p = &ev["Properties"]["Pattern"];
        assert_eq!(p["source"][0].as_str(), Some(source));
        assert_eq!(p["detail-type"][0].as_str(), Some(kind));
        assert!(ev["Properties"]["DeadLetterConfig"]["Arn"].is_mapping());
    }
    let statuses: Vec<&str> = stack["Properties"]["Pattern"]["detail"]["status-details"]["status"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        statuses.contains(&"UPDATE_COMPLETE") && statuses.contains(&"UPDATE_ROLLBACK_COMPLETE")
    );
    for s in &statuses {
        assert!(
            matches!(stack_state(s), StackState::Complete | StackState::Failed),
            "{s} ends no deployment"
        );
    }
    let prefix = stack["Properties"]["Pattern"]["resources"][0]["prefix"]["Fn::Sub"]
        .as_str()
        .unwrap();
    assert!(prefix.ends_with(":stack/${AppStackName}/"), "{prefix}");
    let job = &amplify["Properties"]["Pattern"]["detail"];
    assert_eq!(job["appId"][0]["Ref"].as_str(), Some("AmplifyAppId"));
    assert_eq!(job["branchName"][0]["Ref"].as_str(), Some("AmplifyBranch"));
}

/// A command suite's build gets the variables the README promises and puts its JUnit
/// report where `read-suite-report` reads it, also after a failed command.
#[test]
fn command_suites_get_their_variables_and_upload_their_report() {
    let t = template();
    let res = resources(&t);
    let spec = res["ChecksProject"]["Properties"]["Source"]["BuildSpec"]
        .as_str()
        .unwrap();
    let post = spec.find("post_build:").expect("a post_build phase");
    let upload = spec
        .find("suites/$STAGEGATE_SUITE.junit.xml")
        .expect("the report's upload");
    assert!(upload > post, "the upload runs after a failed command too");
    // Every check's whole log goes where Generate Checklist reads it, also after a
    // failed command.
    let log = format!(
        "s3://$STAGEGATE_ARTIFACTS_BUCKET/${{STAGEGATE_ARTIFACTS_PREFIX}}{}",
        stagegate::manifest::CHECK_LOG
    );
    let at = spec.find(&log).expect("the check log's upload");
    assert!(
        at > post,
        "the log's upload runs after a failed command too"
    );
    assert!(spec.contains("set -o pipefail; sh -c \"$STAGEGATE_COMMAND\" 2>&1 | tee"));
    assert!(spec.contains("s3://$STAGEGATE_ARTIFACTS_BUCKET/${STAGEGATE_ARTIFACTS_PREFIX}"));
    assert!(spec.contains("export STAGEGATE_JUNIT="));
    assert!(spec.contains("STAGEGATE_OUTPUT_%s"));
    let preflight = &res["PreflightFunction"];
    let vars = &t["Globals"]["Function"]["Environment"]["Variables"];
    let from = |v: &Yaml| {
        v["STAGEGATE_COMMAND_SUITES"]["Ref"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(
        from(vars).or_else(|| from(&preflight["Properties"]["Environment"]["Variables"])),
        Some("CommandSuites".to_string())
    );
    assert_eq!(
        t["Parameters"]["CommandSuites"]["Default"].as_str(),
        Some("")
    );
}
