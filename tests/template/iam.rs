//! IAM: least privilege, statement by statement.

use crate::*;

/// Every IAM statement in the template, with where it is.
fn statements(t: &Yaml) -> Vec<(String, Yaml)> {
    fn walk(at: &str, v: &Yaml, out: &mut Vec<(String, Yaml)>) {
        match v {
            Yaml::Mapping(m) => {
                if m.contains_key("Effect") && m.contains_key("Action") {
                    out.push((at.to_string(), v.clone()));
                }
                for (k, v) in m {
                    walk(&format!("{at}.{}", k.as_str().unwrap_or("?")), v, out);
                }
            }
            Yaml::Sequence(s) => s.iter().for_each(|v| walk(at, v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("Resources", &t["Resources"], &mut out);
    out
}

fn actions(s: &Yaml) -> Vec<String> {
    match &s["Action"] {
        Yaml::String(a) => vec![a.clone()],
        Yaml::Sequence(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// No wildcard actions anywhere; `Resource: "*"` only for actions AWS cannot scope.
#[test]
fn iam_is_least_privilege() {
    let unscopable: BTreeSet<&str> = [
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "cloudformation:GetTemplateSummary",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        // The bake reads the app's alarms: CloudWatch returns composite alarms only
        // to DescribeAlarms allowed on "*" (read-only alarm metadata).
        "cloudwatch:DescribeAlarms",
    ]
    .into();
    let all = statements(&template());
    assert!(all.len() > 20, "found only {} statements", all.len());
    for (at, s) in &all {
        for a in actions(s) {
            assert!(!a.contains('*'), "{at}: wildcard action {a}");
        }
        let deny = s["Effect"].as_str() == Some("Deny");
        // In a key policy, "*" is the key the policy is attached to.
        let key_policy = at.contains(".KeyPolicy.");
        if s["Resource"].as_str() == Some("*") && !deny && !key_policy {
            for a in actions(s) {
                assert!(
                    unscopable.contains(a.as_str()),
                    "{at}: {a} on Resource \"*\""
                );
            }
        }
    }
}

/// A function's policy allows what its adapters call, and no function may touch the
/// deployed application except through CloudFormation's deployment role.
#[test]
fn only_the_deploying_functions_reach_cloudformation() {
    let t = template();
    let res = resources(&t);
    for (name, r) in &res {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let acts: BTreeSet<String> = statements_of(r).iter().flat_map(actions).collect();
        let cfn: Vec<_> = acts
            .iter()
            .filter(|a| a.starts_with("cloudformation:"))
            .collect();
        let stack_steps = [
            "CreateChangeSetFunction",
            "DescribeChangeSetFunction",
            "ValidateInfrastructureFunction",
            "DeployInfrastructureFunction",
            "AwaitStackFunction",
            "ResumeWaitFunction",
            "CaptureOutputsFunction",
        ];
        // A production function holds what its staging twin holds, on production's.
        let twin = name.strip_prefix("Production").unwrap_or(name);
        assert_eq!(
            !cfn.is_empty(),
            stack_steps.contains(&twin),
            "{name}: {cfn:?}"
        );
        let execute = acts.contains("cloudformation:ExecuteChangeSet");
        assert_eq!(
            execute,
            twin == "DeployInfrastructureFunction",
            "{name} may execute a change set"
        );
    }
}

fn statements_of(r: &Yaml) -> Vec<Yaml> {
    r["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|p| p["Statement"].as_sequence().cloned())
        .flatten()
        .map(|s| match &s["Fn::If"] {
            // `!If [Cond, statement, AWS::NoValue]`: the statement when it applies.
            Yaml::Sequence(branches) => branches[1].clone(),
            _ => s,
        })
        .collect()
}

/// Every function that reads or writes a waiter (`wait#…`) may touch only the keys of
/// its own resource, and only `resume-wait` and the waiting steps hold one.
#[test]
fn waiters_are_reachable_only_under_their_own_keys() {
    let t = template();
    let stack_key = "wait#stack#${AppStackName}";
    let amplify_key = "wait#amplify#${AmplifyAppId}#${AmplifyBranch}";
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("DeployInfrastructureFunction", vec![stack_key]),
        ("AwaitStackFunction", vec![stack_key]),
        ("DeployFrontendFunction", vec![amplify_key]),
        ("AwaitFrontendFunction", vec![amplify_key]),
        ("ResumeWaitFunction", vec![stack_key, amplify_key]),
    ]);
    for (name, r) in &resources(&t) {
        let keys: Vec<String> = statements_of(r)
            .iter()
            .filter_map(|s| {
                s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
                    .as_sequence()
                    .cloned()
            })
            .flatten()
            // `!Sub "…"`, or `!Sub ["…", {variables}]` (production's Amplify app).
            .filter_map(|k| {
                let sub = &k["Fn::Sub"];
                sub.as_str().or_else(|| sub[0].as_str()).map(str::to_string)
            })
            .collect();
        let production = name.starts_with("Production");
        let twin = name.strip_prefix("Production").unwrap_or(name);
        match expected.get(twin) {
            Some(want) => {
                let mut want: Vec<String> = want
                    .iter()
                    .map(|s| match production {
                        true => s
                            .replace("${AppStackName}", "${ProductionStackName}")
                            .replace("${AmplifyAppId}", "${ProductionAmplifyApp}")
                            .replace("${AmplifyBranch}", "${ProductionAmplifyBranch}"),
                        false => s.to_string(),
                    })
                    .collect();
                want.sort();
                let mut got = keys.clone();
                got.sort();
                got.dedup();
                assert_eq!(got, want, "{name}");
                // No table statement of theirs goes without the key condition.
                for s in statements_of(r) {
                    if actions(&s).iter().any(|a| a.starts_with("dynamodb:")) {
                        assert!(s["Condition"].is_mapping(), "{name}: {s:?}");
                    }
                }
            }
            None => assert!(keys.is_empty(), "{name} touches waiters: {keys:?}"),
        }
    }
}

/// The table keys a function's statements are limited to (`dynamodb:LeadingKeys`
/// under `ForAllValues:StringLike`), per action.
fn like_keys(r: &Yaml) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in statements_of(r) {
        let keys: BTreeSet<String> = s["Condition"]["ForAllValues:StringLike"]
            ["dynamodb:LeadingKeys"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        for a in actions(&s)
            .into_iter()
            .filter(|a| a.starts_with("dynamodb:"))
        {
            assert!(!keys.is_empty(), "{a} without a key condition: {s:?}");
            out.entry(a).or_default().extend(keys.iter().cloned());
        }
    }
    out
}

/// An action and the keys it is limited to.
type KeysOf<'a> = (&'a str, &'a [&'a str]);

/// The public functions (webhook, approval page) and the ones that write approvals or
/// claims reach only their own items of the table: a leaked role cannot rewrite
/// another item (another run's approval, the approvers, a waiter).
#[test]
fn the_public_and_approval_functions_reach_only_their_own_items() {
    let t = template();
    let res = resources(&t);
    let set = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
    let expected: [(&str, &[KeysOf]); 5] = [
        (
            "WebhookFunction",
            &[
                ("dynamodb:PutItem", &["webhook#*"]),
                ("dynamodb:DeleteItem", &["webhook#*"]),
            ],
        ),
        (
            "ApprovalPageFunction",
            &[
                ("dynamodb:GetItem", &["approval#*", "link#*", "approvers"]),
                ("dynamodb:PutItem", &["approval#*"]),
            ],
        ),
        (
            "NotifyFunction",
            &[
                ("dynamodb:PutItem", &["notified#*"]),
                ("dynamodb:DeleteItem", &["notified#*"]),
            ],
        ),
        (
            "RequestApprovalFunction",
            &[
                ("dynamodb:PutItem", &["approval#*", "link#*"]),
                ("dynamodb:GetItem", &["approvers", "newest#*", "approval#*"]),
            ],
        ),
        (
            "SlackInteractivityFunction",
            &[
                ("dynamodb:GetItem", &["approval#*", "approvers"]),
                ("dynamodb:PutItem", &["approval#*", "slack-request#*"]),
            ],
        ),
    ];
    for (name, want) in expected {
        let got = like_keys(&res[name]);
        let want: BTreeMap<String, BTreeSet<String>> =
            want.iter().map(|(a, k)| (a.to_string(), set(k))).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// The deployment role may be passed to CloudFormation and nothing else.
#[test]
fn the_deployment_role_is_passed_only_to_cloudformation() {
    let t = template();
    let mut passes = 0;
    for (at, s) in statements(&t) {
        if actions(&s).iter().any(|a| a == "iam:PassRole") {
            passes += 1;
            assert_eq!(
                s["Condition"]["StringEquals"]["iam:PassedToService"].as_str(),
                Some("cloudformation.amazonaws.com"),
                "{at}"
            );
        }
    }
    // Deploy Infrastructure's, staging's and production's (each its own role).
    assert_eq!(passes, 2);
}

/// Untrusted check code writes only its own build's scratch: the checks role's only
/// object access is `scratch/${aws:userid}/*`, the bucket denies it every write
/// outside `scratch/`, the bucket keeps versions (the manifest records them), and no
/// function but the pinning one reads scratch and writes the run's prefix.
#[test]
fn the_checks_role_writes_only_its_own_scratch() {
    let t = template();
    let res = resources(&t);
    let role = &res["ChecksRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    let objects: Vec<String> = role
        .as_sequence()
        .expect("statements")
        .iter()
        .filter(|s| {
            actions(s)
                .iter()
                .any(|a| a.starts_with("s3:") && a != "s3:ListBucket")
        })
        .map(|s| sub(&s["Resource"]))
        .collect();
    assert_eq!(
        objects,
        ["${ArtifactsBucket.Arn}/scratch/${!aws:userid}/*"],
        "the checks role's object access"
    );
    let bucket = &res["ArtifactsBucket"]["Properties"];
    assert_eq!(
        bucket["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
    let deny = res["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("bucket statements")
        .iter()
        .find(|s| s["Sid"].as_str() == Some("ChecksWriteOnlyTheirScratch"))
        .cloned()
        .expect("a deny for the checks role");
    assert_eq!(deny["Effect"].as_str(), Some("Deny"));
    assert_eq!(
        deny["Principal"]["AWS"]["Fn::GetAtt"].as_str(),
        Some("ChecksRole.Arn")
    );
    assert_eq!(
        sub(&deny["NotResource"]),
        "${ArtifactsBucket.Arn}/scratch/*"
    );
    assert!(actions(&deny).iter().any(|a| a == "s3:PutObject"));
    // Who reads a build's scratch: the pinning step, the suite report reader, and
    // Generate Checklist (a failed check's log).
    let readers: BTreeSet<&str> = res
        .iter()
        .filter(|(_, r)| {
            statements_of(r)
                .iter()
                .any(|s| sub(&s["Resource"]).contains("/scratch/"))
        })
        .map(|(name, _)| name.as_str())
        .filter(|n| *n != "ChecksRole")
        .collect();
    assert_eq!(
        readers,
        BTreeSet::from([
            "CreateChangeSetFunction",
            "GenerateChecklistFunction",
            "ReadSuiteReportFunction"
        ])
    );
}

/// A resource string as written, plain or `!Sub`.
fn sub(v: &Yaml) -> String {
    v.as_str()
        .or_else(|| v["Fn::Sub"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Every function that reads an artifact may list the bucket: S3 answers a `GetObject`
/// of a missing key with 404 only to a caller allowed `s3:ListBucket`, and with 403
/// AccessDenied to anyone else, so without it "not there yet" (no evidence signed, no
/// release live, a commit never staged) would read as a denial and fail the run. (moto
/// answers 404 either way: this is held here, not there.)
#[test]
fn every_function_that_reads_artifacts_may_tell_a_missing_key() {
    let t = template();
    let mut readers = 0;
    for (name, r) in resources(&t) {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let statements = statements_of(&r);
        let on = |s: &Yaml, object: bool| {
            let text = format!("{:?}", s["Resource"]);
            text.contains("ArtifactsBucket.Arn") && text.contains("ArtifactsBucket.Arn}/") == object
        };
        let reads = statements
            .iter()
            .any(|s| actions(s).iter().any(|a| a == "s3:GetObject") && on(s, true));
        if !reads {
            continue;
        }
        readers += 1;
        let lists = statements.iter().any(|s| {
            actions(s) == ["s3:ListBucket"] && on(s, false) && s.get("Condition").is_none()
        });
        assert!(lists, "{name} reads artifacts but may not list the bucket: a missing key would be AccessDenied");
    }
    assert!(readers >= 20, "found {readers} functions reading artifacts");
}
