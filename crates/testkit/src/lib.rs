//! Test tools that stand in for what AWS runs, for the tests that need more than a
//! mock:
//!
//! - [`Moto`]: a moto server (`moto_server`, a real implementation of the AWS APIs that
//!   nobody on this project wrote) on 127.0.0.1 and a free port, started by the test
//!   and stopped when it is dropped, with the resources `template.yaml` declares
//!   (the approvals table and its indexes, the event bus rule) made from the template
//!   itself.
//! - [`lambda::LambdaProcess`]: a built function binary driven over the Lambda Runtime
//!   API, as Lambda drives it.
//!
//! If moto cannot start, the test fails and says how to install it: these tests never
//! pass without the thing they test against.

mod iam;
pub mod lambda;
mod remote;
pub use remote::Remote;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every variable `template.yaml` gives every function, with a test's default.
pub const DEPLOYMENT: &[(&str, &str)] = &[
    ("ARTIFACTS_BUCKET", "artifacts"),
    ("APPROVALS_TABLE", "approvals"),
    (
        "APPROVALS_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:approvals",
    ),
    (
        "NOTIFICATIONS_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:notifications",
    ),
    (
        "STATE_MACHINE_ARN",
        "arn:aws:states:us-east-1:123456789012:stateMachine:staging",
    ),
    ("EVENT_BUS_NAME", "stagegate"),
    (
        "WEBHOOK_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:stagegate/webhook",
    ),
    ("AMPLIFY_APP_ID", "d1example"),
    ("AMPLIFY_BRANCH", "staging"),
    ("STAGEGATE_REPOSITORY", "acme/shop"),
    (
        "EVIDENCE_KEY_ARN",
        "arn:aws:kms:us-east-1:123456789012:key/evidence",
    ),
];

/// The moto version CI installs (`.ci/run`) and these tests are written against.
pub const MOTO_VERSION: &str = "5.2.6";

/// The workspace root (where `template.yaml` is).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A moto server, stopped (with everything it started) when dropped.
pub struct Moto {
    port: u16,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The whole process group: moto and any worker it forked.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (the OS picks it; it is free when this returns), never
/// one this process was given before: two servers started by parallel tests would
/// otherwise race for a port the OS handed out twice, and one test would talk to the
/// other's server until it stopped.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..100 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"));
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no port on 127.0.0.1 this process was not given before")
}

impl Moto {
    /// Starts `moto_server` on 127.0.0.1 and waits until it answers.
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    /// A moto server that lets the first `unauthenticated` requests through (to set
    /// up users, policies and resources), then evaluates every request against the
    /// caller's IAM policies (`INITIAL_NO_AUTH_ACTION_COUNT`). moto 5.2.6 checks
    /// actions and resources (with `*`); it ignores condition operators other than
    /// `StringEquals` (`dynamodb:LeadingKeys` with `ForAllValues:StringLike` is not
    /// evaluated) and does not substitute policy variables (`${aws:userid}`).
    pub fn start_enforcing_iam(unauthenticated: u32) -> Moto {
        Self::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", &unauthenticated.to_string())])
    }

    fn start_with(env: &[(&str, &str)]) -> Moto {
        use std::os::unix::process::CommandExt as _;
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "moto_server cannot start ({e}): install it with `pip install 'moto[server]=={MOTO_VERSION}'`"
                )
            });
        let mut moto = Moto { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Our server, not another process that took the port first: ours exits
            // when it cannot bind it.
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited ({status}) before answering on 127.0.0.1:{port}");
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on 127.0.0.1:{port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What a function binary is given to run against moto: the variables
    /// `template.yaml` gives every function (its deployment's resources, with names
    /// of this test's choosing, `resources` overriding the defaults) and what it needs
    /// to reach moto instead of AWS.
    pub fn function_env(&self, resources: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = DEPLOYMENT
            .iter()
            .map(|(k, v)| {
                let v = resources
                    .iter()
                    .find(|(name, _)| name == k)
                    .map_or(*v, |r| r.1);
                (k.to_string(), v.to_string())
            })
            .collect();
        for (k, v) in resources {
            if !DEPLOYMENT.iter().any(|(name, _)| name == k) {
                env.push((k.to_string(), v.to_string()));
            }
        }
        env.extend(self.env());
        env
    }

    /// What a child process (a function binary) needs to reach moto instead of AWS.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The SDK configuration the adapters use, pointed at this server.
    pub async fn sdk_config(&self) -> aws_types::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "testkit",
            ))
            .load()
            .await
    }

    /// The SDK configuration of someone else: the access key `key` (an IAM user's).
    pub async fn sdk_config_as(&self, key: &(String, String)) -> aws_types::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                key.0.clone(),
                key.1.clone(),
                None,
                None,
                "testkit-user",
            ))
            .load()
            .await
    }

    /// Makes moto run state machines (it only records them by default).
    pub async fn run_state_machines(&self) {
        use stagegate::ports::{Http, HttpRequest};
        let request = HttpRequest {
            method: "POST".into(),
            url: format!("{}/moto-api/config", self.endpoint()),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(r#"{"stepfunctions": {"execute_state_machine": true}}"#.into()),
        };
        let r = stagegate_https::HttpsClient::new()
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("moto config: {e}"));
        assert!(r.status < 300, "moto config: {} {}", r.status, r.body);
    }

    /// The approvals table as `template.yaml` declares it (key, attributes, global
    /// indexes), read from the template itself.
    pub async fn create_approvals_table(&self, name: &str) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
            ProjectionType, ScalarAttributeType,
        };
        let t = template();
        let p = &t["Resources"]["ApprovalsTable"]["Properties"];
        let key = |k: &serde_yaml::Value| {
            KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().unwrap_or_default())
                .key_type(KeyType::from(k["KeyType"].as_str().unwrap_or_default()))
                .build()
                .expect("a key element")
        };
        let client = aws_sdk_dynamodb::Client::new(&self.sdk_config().await);
        let mut req = client
            .create_table()
            .table_name(name)
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest);
        for a in p["AttributeDefinitions"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(a["AttributeName"].as_str().unwrap_or_default())
                    .attribute_type(ScalarAttributeType::from(
                        a["AttributeType"].as_str().unwrap_or_default(),
                    ))
                    .build()
                    .expect("an attribute"),
            );
        }
        for k in p["KeySchema"].as_sequence().into_iter().flatten() {
            req = req.key_schema(key(k));
        }
        for g in p["GlobalSecondaryIndexes"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let mut index = GlobalSecondaryIndex::builder()
                .index_name(g["IndexName"].as_str().unwrap_or_default())
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                );
            for k in g["KeySchema"].as_sequence().into_iter().flatten() {
                index = index.key_schema(key(k));
            }
            req = req.global_secondary_indexes(index.build().expect("an index"));
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
        let ttl = p["TimeToLiveSpecification"]["AttributeName"]
            .as_str()
            .unwrap_or_default();
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .attribute_name(ttl)
                    .enabled(true)
                    .build()
                    .expect("a TTL"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("TTL of {name}: {e:?}"));
    }

    /// A queue; its URL and ARN.
    pub async fn create_queue(&self, name: &str) -> (String, String) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk_config().await);
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create queue {name}: {e:?}"))
            .queue_url()
            .unwrap_or_default()
            .to_string();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .ok()
            .and_then(|a| {
                a.attributes()
                    .and_then(|m| m.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
                    .cloned()
            })
            .unwrap_or_default();
        (url, arn)
    }

    /// The message bodies in queue `url` now (waits up to `wait` for the first).
    pub async fn receive(&self, url: &str, wait: Duration) -> Vec<String> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk_config().await);
        let deadline = Instant::now() + wait;
        loop {
            let out = receive_batch(&sqs, url).await;
            let bodies: Vec<String> = out
                .messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_string))
                .collect();
            if !bodies.is_empty() || Instant::now() >= deadline {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The custom bus and the rule `template.yaml` starts runs with (its event
    /// pattern, the tag prefix parameter's default filled in), targeting queue
    /// `target_arn` instead of the state machine, to see what it matches.
    pub async fn create_candidate_rule(&self, bus: &str, target_arn: &str) {
        let t = template();
        let ev = &t["Resources"]["StagingStateMachine"]["Properties"]["Events"]["CandidateTagged"]
            ["Properties"]["Pattern"];
        let prefix = t["Parameters"]["TagPrefix"]["Default"]
            .as_str()
            .unwrap_or("rc-");
        let mut pattern: Value = serde_json::to_value(ev).expect("a JSON pattern");
        pattern["detail"]["tag"] = serde_json::json!([{"prefix": prefix}]);
        let events = aws_sdk_eventbridge::Client::new(&self.sdk_config().await);
        events
            .create_event_bus()
            .name(bus)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bus {bus}: {e:?}"));
        self.create_rule(bus, "candidate-tagged", &pattern, target_arn)
            .await;
    }

    /// Puts `event` (an EventBridge event as a rule sees it: `source`, `detail-type`,
    /// `resources`, `detail`) on the default bus, as an AWS service would.
    pub async fn put_event(&self, event: &Value) {
        let events = aws_sdk_eventbridge::Client::new(&self.sdk_config().await);
        let resources = event["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string));
        let mut entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(event["source"].as_str().unwrap_or_default())
            .detail_type(event["detail-type"].as_str().unwrap_or_default())
            .detail(event["detail"].to_string());
        for r in resources {
            entry = entry.resources(r);
        }
        let out = events
            .put_events()
            .entries(entry.build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("put event {event}: {e:?}"));
        assert_eq!(out.failed_entry_count(), 0, "put event {event}: {out:?}");
    }

    /// Rule `name` on `bus` with `pattern`, targeting queue `target_arn`.
    pub async fn create_rule(&self, bus: &str, name: &str, pattern: &Value, target_arn: &str) {
        let events = aws_sdk_eventbridge::Client::new(&self.sdk_config().await);
        events
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("put rule {name}: {e:?}"));
        events
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(target_arn)
                    .build()
                    .expect("a target"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("put targets {name}: {e:?}"));
    }

    /// A bucket.
    pub async fn create_bucket(&self, name: &str) {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk_config().await)
                .force_path_style(true)
                .build(),
        );
        s3.create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
    }

    /// A topic; its ARN.
    pub async fn create_topic(&self, name: &str) -> String {
        aws_sdk_sns::Client::new(&self.sdk_config().await)
            .create_topic()
            .name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create topic {name}: {e:?}"))
            .topic_arn()
            .unwrap_or_default()
            .to_string()
    }

    /// Subscribes queue `queue_arn` to `topic_arn` with `filter_policy`, delivering
    /// raw message bodies (what an email would show).
    pub async fn subscribe_queue(&self, topic_arn: &str, queue_arn: &str, filter_policy: &str) {
        aws_sdk_sns::Client::new(&self.sdk_config().await)
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("FilterPolicy", filter_policy)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap_or_else(|e| panic!("subscribe {queue_arn}: {e:?}"));
    }

    /// A state machine from `definition`; its ARN. Call [`Self::run_state_machines`]
    /// first to have moto run it.
    pub async fn create_state_machine(&self, name: &str, definition: &Value) -> String {
        aws_sdk_sfn::Client::new(&self.sdk_config().await)
            .create_state_machine()
            .name(name)
            .definition(definition.to_string())
            .role_arn("arn:aws:iam::123456789012:role/stagegate")
            .send()
            .await
            .unwrap_or_else(|e| panic!("create state machine {name}: {e:?}"))
            .state_machine_arn()
            .to_string()
    }

    /// A state machine shaped like the approval gate: one `.waitForTaskToken` task
    /// that sends `message` (with `"token.$": "$$.Task.Token"` added) to a new queue
    /// -- where the real machine invokes the RequestApproval function -- then
    /// succeeds with the task's answer. Makes moto run state machines. The machine's
    /// ARN and the queue's URL.
    pub async fn approval_shaped_machine(&self, name: &str, message: Value) -> (String, String) {
        self.run_state_machines().await;
        let (queue, _) = self.create_queue(&format!("{name}-tokens")).await;
        let mut body = message;
        body["token.$"] = Value::from("$$.Task.Token");
        let definition = serde_json::json!({
            "StartAt": "Wait for Approval",
            "States": {
                "Wait for Approval": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue, "MessageBody": body},
                    "TimeoutSeconds": 600,
                    "Next": "Approved"
                },
                "Approved": {"Type": "Succeed"}
            }
        });
        (self.create_state_machine(name, &definition).await, queue)
    }

    /// The status of execution `arn` once it has stopped running (waits up to 10 s;
    /// `RUNNING` if it has not stopped by then).
    pub async fn stopped(&self, arn: &str) -> String {
        let sfn = aws_sdk_sfn::Client::new(&self.sdk_config().await);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap_or_else(|e| panic!("describe {arn}: {e:?}"));
            if d.status().as_str() != "RUNNING" || Instant::now() > deadline {
                return d.status().as_str().to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A secret with `value`; its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config().await)
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create secret {name}: {e:?}"))
            .arn()
            .unwrap_or_default()
            .to_string()
    }
}

/// Up to ten messages of queue `url`, as they are now.
async fn receive_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap_or_else(|e| panic!("receive from {url}: {e:?}"))
}

/// `template.yaml` as YAML (short-form tags such as `!Ref` read as plain values).
pub fn template() -> serde_yaml::Value {
    fn plain(v: serde_yaml::Value) -> serde_yaml::Value {
        match v {
            serde_yaml::Value::Tagged(t) => plain(t.value),
            serde_yaml::Value::Mapping(m) => {
                serde_yaml::Value::Mapping(m.into_iter().map(|(k, v)| (k, plain(v))).collect())
            }
            serde_yaml::Value::Sequence(s) => {
                serde_yaml::Value::Sequence(s.into_iter().map(plain).collect())
            }
            other => other,
        }
    }
    let text = std::fs::read_to_string(workspace().join("template.yaml"))
        .unwrap_or_else(|e| panic!("template.yaml: {e}"));
    plain(serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("template.yaml: {e}")))
}
