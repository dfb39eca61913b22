//! The built approval-page binary, driven as Lambda drives it (a Runtime API host,
//! Function URL events), against moto: a moto execution waits on a
//! `.waitForTaskToken` task; Wait for Approval (the `request-approval` step, with
//! the DynamoDB and SNS adapters) stores the approval and emails each approver their
//! own link through their filtered subscription; bob opens his link and approves on
//! the page; the execution resumes with his decision. Carol's click afterwards, and
//! a POST from another site, decide nothing.

use aws_dynamodb_port::DynamoTable;
use aws_s3_port::S3Artifacts;
use aws_sfn_port::{Runs, StepFunctions};
use aws_sns_port::{approver_filter_policy, SnsNotifier};
use serde_json::{json, Value};
use stagegate::ports::{Approvals as _, Artifacts as _, Executions as _, SystemClock};
use stagegate::steps::request_approval::RequestApproval;
use stagegate::testing::{approvers, checklist_output, run_info};
use stagegate::Settings;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use testkit::lambda::{function_url_event, LambdaProcess, URL_DOMAIN};
use testkit::Moto;

/// One request to the page from an approver's browser.
fn request(method: &str, link_id: &str, headers: Value, body: Option<&str>) -> Value {
    function_url_event(method, &format!("/approvals/{link_id}"), headers, body, "198.51.100.7")
}

async fn get(page: &LambdaProcess, link_id: &str) -> (i64, String) {
    page.call(request("GET", link_id, json!({}), None)).await
}

async fn post(page: &LambdaProcess, link_id: &str, origin: &str, form: &str) -> (i64, String) {
    let headers = json!({
        "content-type": "application/x-www-form-urlencoded",
        "origin": origin,
        "sec-fetch-site": if origin.ends_with(URL_DOMAIN) { "same-origin" } else { "cross-site" }
    });
    page.call(request("POST", link_id, headers, Some(form))).await
}

/// The link id in an approval email.
fn link_id(email: &str) -> String {
    let at = email.find("/approvals/").expect("a link in the email") + "/approvals/".len();
    email[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The CSRF token in the page's form.
fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[at..].chars().take_while(|c| *c != '"').collect()
}

/// A moto execution waiting at an approval-shaped task, the approvals table with bob
/// and carol, their filtered inboxes, and the run's checklist in S3.
struct Gate {
    moto: Moto,
    /// For the execution's output.
    client: aws_sdk_sfn::Client,
    table: DynamoTable,
    machine: String,
    sfn: StepFunctions,
    execution: String,
    /// The queue the task's token and input go to.
    tokens: String,
    notifier: SnsNotifier,
    /// Approver → their queue, subscribed to the approvals topic with their filter.
    inbox: BTreeMap<&'static str, String>,
}

impl Gate {
    async fn start() -> Gate {
        let moto = Moto::start();
        moto.run_state_machines().await;
        moto.create_approvals_table("approvals").await;
        moto.create_bucket("artifacts").await;
        let config = moto.sdk_config().await;
        let table = DynamoTable::from_config(&config, "approvals");
        let mut directory = table.directory().await.unwrap();
        directory.approvers = approvers();
        assert!(table.save_directory(&directory).await.unwrap());
        let topic = moto.create_topic("approvals").await;
        let notifications = moto.create_topic("notifications").await;
        let mut inbox = BTreeMap::new();
        for who in ["bob", "carol"] {
            let (url, arn) = moto.create_queue(&format!("inbox-{who}")).await;
            moto.subscribe_queue(&topic, &arn, &approver_filter_policy(who)).await;
            inbox.insert(who, url);
        }
        // The approval gate's shape: the token goes out, the execution waits.
        let (machine, tokens) = moto
            .approval_shaped_machine(
                "staging",
                json!({"kind": "deployment", "preflight.$": "$.preflight", "checklist.$": "$.checklist"}),
            )
            .await;
        let sfn = StepFunctions::from_config(&config, &machine);
        let name = "rc-1.4.0--0123456789ab";
        let execution = aws_sfn_port::execution_arn(&machine, name);
        let mut preflight = run_info();
        preflight.execution_id = execution.clone();
        preflight.run_id = name.into();
        let checklist = b"| Check | Result |\n|---|---|\n| ESLint | passed |".to_vec();
        S3Artifacts::from_config(&config, "artifacts")
            .put(&format!("runs/{name}/checklist.md"), "text/markdown", checklist)
            .await
            .unwrap();
        sfn.start(name, &json!({"preflight": preflight, "checklist": checklist_output()}))
            .await
            .unwrap();
        let notifier = SnsNotifier::from_config(&config, &topic, &notifications);
        let client = aws_sdk_sfn::Client::new(&config);
        Gate { moto, client, table, machine, sfn, execution, tokens, notifier, inbox }
    }

    /// Wait for Approval: the request step, with the AWS adapters, on the task's
    /// input. Its output, and each approver's link id from their own email.
    async fn request_approval(&self) -> (Value, BTreeMap<&'static str, String>) {
        let got = self.moto.receive(&self.tokens, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 1, "{got:?}");
        let input: Value = serde_json::from_str(&got[0]).unwrap();
        let settings = Settings {
            approval_base_url: format!("https://{URL_DOMAIN}/"),
            required_approvals: 1,
            ..Settings::default()
        };
        let request = RequestApproval {
            settings,
            store: self.table.clone(),
            notifier: self.notifier.clone(),
            chat: None::<stagegate::testing::MemoryChat>,
            clock: SystemClock,
        };
        let requested = stagegate::step::invoke(&request, input).await.unwrap();
        let mut links = BTreeMap::new();
        for (who, url) in &self.inbox {
            let mail = self.moto.receive(url, Duration::from_secs(5)).await;
            assert_eq!(mail.len(), 1, "{who}: {mail:?}");
            assert!(mail[0].contains(&format!("({who}")), "{who}'s mail: {}", mail[0]);
            links.insert(*who, link_id(&mail[0]));
        }
        (requested, links)
    }

    /// The built approval-page binary, configured as the template configures it.
    async fn page(&self) -> LambdaProcess {
        let env = self.moto.function_env(&[
            ("APPROVALS_TABLE", "approvals"),
            ("ARTIFACTS_BUCKET", "artifacts"),
            ("STATE_MACHINE_ARN", &self.machine),
            ("STAGEGATE_APPROVAL_BASE_URL", &format!("https://{URL_DOMAIN}/")),
            ("STAGEGATE_REQUIRED_APPROVALS", "1"),
        ]);
        LambdaProcess::spawn(Path::new(env!("CARGO_BIN_EXE_approval-page")), &env).await
    }

    /// The execution's output, once it has ended.
    async fn output(&self) -> Value {
        let out =
            self.client.describe_execution().execution_arn(&self.execution).send().await.unwrap();
        serde_json::from_str(out.output().unwrap()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_links_post_resumes_the_waiting_execution_once() {
    let gate = Gate::start().await;
    let (requested, links) = gate.request_approval().await;
    assert_eq!(requested["approvers"], json!(["bob", "carol"]));
    assert_ne!(links["bob"], links["carol"]);
    let page = gate.page().await;

    // Bob opens his link: the review, as him, with the checklist from S3.
    let (status, html) = get(&page, &links["bob"]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("bob"), "{html}");
    assert!(html.contains("ESLint"), "the checklist is on the page: {html}");
    let token = csrf(&html);
    // Carol opens hers too (her own form token).
    let (status, html) = get(&page, &links["carol"]).await;
    assert_eq!(status, 200, "{html}");
    let carol_token = csrf(&html);
    assert_ne!(carol_token, token);

    // A POST from another site is refused and decides nothing.
    let form = format!("decision=approve&csrf={token}");
    let (status, html) = post(&page, &links["bob"], "https://evil.example", &form).await;
    assert_eq!(status, 403, "{html}");
    assert!(gate.sfn.is_running(&gate.execution).await.unwrap());

    // Bob approves on the page: the execution resumes with his decision.
    let here = format!("https://{URL_DOMAIN}");
    let form = format!("decision=approve&reason=&csrf={token}");
    let (status, html) = post(&page, &links["bob"], &here, &form).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(gate.moto.stopped(&gate.execution).await, "SUCCEEDED");
    let output = gate.output().await;
    assert_eq!(output["decision"], "APPROVED");
    assert_eq!(output["approvers"], json!(["bob"]));

    // Carol, who had her page open too, decides afterwards: already decided,
    // recorded nowhere; opening her link again says so.
    let form = format!("decision=reject&reason=late&csrf={carol_token}");
    let (status, html) = post(&page, &links["carol"], &here, &form).await;
    assert_eq!(status, 409, "{html}");
    let (status, html) = get(&page, &links["carol"]).await;
    assert_eq!(status, 409, "{html}");
    assert!(!html.contains("name=\"csrf\""), "no form on a decided approval: {html}");
    let id = requested["approvalId"].as_str().unwrap();
    let record = gate.table.get(id).await.unwrap().unwrap();
    assert_eq!(record.votes.len(), 1, "{:?}", record.votes);
    assert_eq!(page.init_error(), None);
}
