//! Property test of Slack's interactivity endpoint: whatever a stranger posts — any
//! body, any timestamp and signature headers, a well-formed decision signed with the
//! wrong secret — the answer is a response, never a panic, and nothing is decided,
//! no form is opened and no message is touched without a valid signature.

use proptest::prelude::*;
use stagegate::ports::Approvals;
use stagegate::step::Endpoint;
use stagegate::steps::slack_interactivity::SlackInteractivity;
use stagegate::testing::{
    form_body, now, pending_record, signed, slack_approvers, slack_settings, submission,
    FixedClock, MemoryChat, MemoryRuns, MemoryTable, SIGNING_SECRET, TEAM,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
}

type Endpoint_ = SlackInteractivity<MemoryTable, MemoryRuns, MemoryChat, FixedClock>;

fn endpoint(table: &MemoryTable, runs: &MemoryRuns, chat: &MemoryChat) -> Endpoint_ {
    SlackInteractivity {
        settings: slack_settings("https://slack.test/api"),
        store: table.clone(),
        runs: runs.clone(),
        chat: Some(chat.clone()),
        clock: FixedClock(now()),
    }
}

async fn answer(
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> (u16, MemoryTable, MemoryRuns, MemoryChat) {
    let table = MemoryTable::with_approvers(slack_approvers());
    let mut record = pending_record("appr-1", "rc-1.4.0", "tok-1");
    record.approvers = slack_approvers();
    table
        .create(&record, &[])
        .await
        .expect("the record is stored");
    let (runs, chat) = (MemoryRuns::default(), MemoryChat::new(SIGNING_SECRET));
    let mut request = http::Request::builder().method("POST").uri("/");
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let Ok(request) = request.body(body) else {
        // Not an HTTP request at all (a header no client could send): nothing to answer.
        return (400, table, runs, chat);
    };
    let status = endpoint(&table, &runs, &chat)
        .handle(request)
        .await
        .status()
        .as_u16();
    (status, table, runs, chat)
}

fn untouched(table: &MemoryTable, runs: &MemoryRuns, chat: &MemoryChat) -> bool {
    table.records().iter().all(|r| r.votes.is_empty())
        && runs.successes().is_empty()
        && runs.failures().is_empty()
        && chat.calls().is_empty()
}

fn header() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("x-slack-request-timestamp".to_string()),
            Just("x-slack-signature".to_string()),
            Just("content-type".to_string()),
            "[a-z-]{1,20}",
        ],
        prop_oneof![
            Just(now().timestamp().to_string()),
            "v0=[0-9a-f]{64}",
            "v0=[0-9a-f]{0,70}",
            ".{0,80}",
        ],
    )
}

proptest! {
    #[test]
    fn no_body_and_no_headers_without_a_valid_signature_decide_anything(
        headers in proptest::collection::vec(header(), 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let (status, table, runs, chat) = runtime().block_on(answer(headers, body));
        prop_assert!([400, 401, 413].contains(&status), "status {status}");
        prop_assert!(untouched(&table, &runs, &chat));
    }

    #[test]
    fn a_real_decision_signed_with_any_other_secret_or_time_decides_nothing(
        secret in "[ -~]{0,40}",
        skew in prop_oneof![-100_000i64..-301, 301i64..100_000],
        approve in any::<bool>(),
        reason in proptest::option::of(".{0,100}"),
    ) {
        prop_assume!(secret != SIGNING_SECRET);
        let body = form_body(&submission(TEAM, "U0CAROL", "appr-1", approve, reason.as_deref()));
        let rt = runtime();
        for request in [
            signed(&secret, now().timestamp(), body.clone()),
            signed(SIGNING_SECRET, now().timestamp() + skew, body.clone()),
        ] {
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            let (status, table, runs, chat) = rt.block_on(answer(headers, request.body().clone()));
            prop_assert_eq!(status, 401);
            prop_assert!(untouched(&table, &runs, &chat));
        }
    }
}
