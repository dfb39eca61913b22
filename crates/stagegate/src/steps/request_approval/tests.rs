//! Requesting approvals: personal links, hashed ids, who is asked and when nobody is;
//! the shared one-approval world that `deciding` uses too.

use super::*;
use crate::desk::{Decided, Decider, Desk, Form, Reconciled, Refusal, DELIVERY_ATTEMPTS};
use crate::links::{form_token, is_link_id};

use crate::testing::{
    approver, approvers, checklist_output, now, run_info, FixedClock, Flaky, MemoryChat,
    MemoryNotifier, MemoryRuns, MemoryTable,
};
use serde_json::json;

mod break_glass;
mod deciding;
mod emails;
mod slack;

/// Decisions sent per reconcile run in these tests (the step's own bound).
const RECONCILE_LIMIT: usize = 25;

/// One approval's world: the store, the mail, the task, a clock five minutes after
/// the request.
struct World {
    settings: Settings,
    table: MemoryTable,
    notifier: MemoryNotifier,
    callbacks: Flaky<MemoryRuns>,
    /// Slack, used when `settings.slack` is set.
    chat: MemoryChat,
}

impl World {
    fn new(settings: Settings) -> Self {
        Self::with(settings, approvers())
    }

    /// Two approvals needed, of `people`.
    fn two_of(people: Vec<Approver>) -> Self {
        let settings = Settings {
            required_approvals: 2,
            ..Settings::default()
        };
        Self::with(settings, people)
    }

    fn with(settings: Settings, people: Vec<Approver>) -> Self {
        World {
            settings,
            table: MemoryTable::with_approvers(people),
            notifier: Default::default(),
            callbacks: Flaky::new(MemoryRuns::default()),
            chat: MemoryChat::new("signing-secret"),
        }
    }

    fn step(&self) -> RequestApproval<MemoryTable, MemoryNotifier, MemoryChat, FixedClock> {
        RequestApproval {
            settings: self.settings.clone(),
            store: self.table.clone(),
            notifier: self.notifier.clone(),
            chat: Some(self.chat.clone()),
            clock: FixedClock(now()),
        }
    }

    fn desk(&self, minutes: i64) -> Desk<'_, MemoryTable, Flaky<MemoryRuns>, FixedClock> {
        Desk {
            pusher_may_approve: self.settings.pusher_may_approve,
            approvals: &self.table,
            runs: &self.callbacks,
            clock: FixedClock(now() + Duration::minutes(minutes)),
        }
    }

    fn input(&self, failed: &[&str]) -> Input {
        let mut cl = checklist_output();
        cl.failed_checks = failed.iter().map(|s| s.to_string()).collect();
        Input {
            token: "tok-1".into(),
            kind: ApprovalKind::Deployment,
            preflight: run_info(),
            checklist: Some(cl),
            frontend_url: None,
        }
    }

    /// Requests an approval; returns each approver's link id, from their own email.
    async fn request(&self, failed: &[&str]) -> BTreeMap<String, String> {
        self.step().run(self.input(failed)).await.unwrap();
        self.links()
    }

    /// Requests an approval of a candidate pushed by `pusher`; each approver's link id.
    async fn request_pushed_by(
        &self,
        pusher: Option<crate::ports::Pusher>,
    ) -> BTreeMap<String, String> {
        let mut input = self.input(&[]);
        input.preflight.candidate.pusher = pusher;
        self.step().run(input).await.unwrap();
        self.links()
    }

    fn links(&self) -> BTreeMap<String, String> {
        self.notifier
            .messages()
            .into_iter()
            .map(|(_, m)| {
                let start = m.body.find("/approvals/").unwrap() + "/approvals/".len();
                (
                    m.attributes["approver"].clone(),
                    m.body[start..start + 43].to_string(),
                )
            })
            .collect()
    }

    fn record(&self) -> ApprovalRecord {
        self.table.records().pop().unwrap()
    }

    /// The form token the review page would have given `link_id`'s holder.
    fn token(&self, link_id: &str) -> String {
        let hash = hash_id(link_id);
        let link = self
            .table
            .links()
            .into_iter()
            .find(|l| l.id_hash == hash)
            .unwrap();
        form_token(&self.record(), &link)
    }

    async fn click(
        &self,
        link_id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<Decided, Refusal> {
        self.desk(5)
            .decide_by_link(link_id, &self.token(link_id), form(approve, reason))
            .await
            .unwrap()
    }
}

fn form(approve: bool, reason: Option<&str>) -> Form {
    Form {
        approve,
        reason: reason.map(str::to_string),
        from: "203.0.113.7".into(),
        break_glass: false,
    }
}

#[tokio::test]
async fn each_approver_gets_their_own_email_with_their_own_link() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    assert_eq!(links.keys().collect::<Vec<_>>(), ["bob", "carol"]);
    assert_ne!(links["bob"], links["carol"]);
    assert!(links.values().all(|id| is_link_id(id)));
    for (topic, m) in w.notifier.messages() {
        assert_eq!(topic, Topic::Approvals);
        assert_eq!(m.attributes["kind"], "approval-request");
        let me = &m.attributes["approver"];
        let other = if me == "bob" { "carol" } else { "bob" };
        assert!(m.body.contains(&links[me.as_str()]));
        assert!(
            !m.body.contains(&links[other]),
            "{me}'s email has {other}'s link"
        );
        assert!(
            !m.body.contains("tok-1"),
            "the task token is never in an email"
        );
    }
}

#[tokio::test]
async fn only_the_hashes_of_link_ids_are_stored() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    let stored = serde_json::to_string(&(w.table.records(), w.table.links())).unwrap();
    for id in links.values() {
        assert!(!stored.contains(id.as_str()), "a link id is stored");
        assert!(stored.contains(&hash_id(id)));
    }
}

#[tokio::test]
async fn acceptance_asks_stakeholders_to_try_the_staging_url() {
    let w = World::with(
        Settings::default(),
        vec![
            approver("pat", None),
            Approver {
                decides: vec![ApprovalKind::Deployment],
                ..approver("dev", None)
            },
        ],
    );
    let input = Input {
        token: "tok-u".into(),
        kind: ApprovalKind::Acceptance,
        preflight: run_info(),
        checklist: None,
        frontend_url: Some("https://staging.example.test".into()),
    };
    let out = w.step().run(input).await.unwrap();
    assert_eq!(
        out.approvers,
        ["pat"],
        "only who decides acceptance is asked"
    );
    let (_, m) = w.notifier.messages().pop().unwrap();
    assert_eq!(m.subject, "Sign off rc-1.4.0 of acme/shop on staging?");
    assert_eq!(m.attributes["kind"], "acceptance-request");
    assert!(m.body.contains("Try it: https://staging.example.test"));
    assert_eq!(w.record().kind, ApprovalKind::Acceptance);
}

#[tokio::test]
async fn no_approvers_or_too_few_for_the_quorum_fail_by_name() {
    let w = World::with(Settings::default(), vec![]);
    let e = w.step().run(w.input(&[])).await.unwrap_err();
    assert_eq!(e.name, "NoApprovers");
    let w = World::with(
        Settings {
            required_approvals: 3,
            ..Settings::default()
        },
        approvers(),
    );
    let e = w.step().run(w.input(&[])).await.unwrap_err();
    assert_eq!(e.name, "NoApprovers");
    assert!(
        e.message.contains("3 approval(s) are required"),
        "{}",
        e.message
    );
    assert!(w.table.records().is_empty() && w.notifier.messages().is_empty());
}

/// A newer candidate started while this one ran its checks: nobody is asked to
/// approve the older one; it is superseded.
#[tokio::test]
async fn a_candidate_superseded_during_its_checks_asks_nobody() {
    use crate::ports::Newest;
    let w = World::new(Settings::default());
    let newer = Newest {
        tag: "rc-1.5.0".into(),
        version: "1.5.0".into(),
        execution_id: "arn:exec:newer".into(),
    };
    assert!(w.table.set_newest("acme/shop", &newer, None).await.unwrap());
    let e = w.step().run(w.input(&[])).await.unwrap_err();
    assert_eq!(e.name, "Superseded");
    assert!(
        e.message.contains("rc-1.5.0 replaces rc-1.4.0"),
        "{}",
        e.message
    );
    assert!(w.notifier.messages().is_empty() && w.table.records().is_empty());
}

#[tokio::test]
async fn a_deployment_approval_without_a_checklist_is_invalid_input() {
    let w = World::new(Settings::default());
    let mut input = w.input(&[]);
    input.checklist = None;
    assert_eq!(w.step().run(input).await.unwrap_err().name, "InvalidInput");
}

#[test]
fn link_ids_are_random_and_well_formed() {
    let a = new_link_id();
    let b = new_link_id();
    assert_ne!(a, b);
    assert!(is_link_id(&a) && is_link_id(&b));
}

#[test]
fn approvers_are_checked_field_by_field() {
    assert!(validate_approver(&approver("bob", Some("bob-gh"))).is_ok());
    for (bad, field) in [
        (approver("Bob", None), "approver id"),
        (
            Approver {
                email: "bob".into(),
                ..approver("bob", None)
            },
            "not an email",
        ),
        (approver("bob", Some("bob gh")), "GitHub login"),
        (
            Approver {
                decides: vec![],
                ..approver("bob", None)
            },
            "decides nothing",
        ),
    ] {
        let e = validate_approver(&bad).unwrap_err();
        assert!(e.contains(field), "{e}");
    }
}
