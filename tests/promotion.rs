//! Production beside staging in the [`Flow`]: its own stack, site and settings (the
//! production functions' defaults, two smoke suites), its own approvers (dana and
//! erin, a quorum of two), and the moves of a promotion: a staged commit, a `v*` tag,
//! the production approvals.

use crate::flow::{Flow, SUITES};
use serde_json::json;
use stagegate::desk::Decided;
use stagegate::ports::{ApprovalKind, Approver};
use stagegate::testing::*;
use stagegate::testing::{Faults, Faulty};
use stagegate::Settings;
use stagegate_local::Production;
use std::collections::BTreeMap;

/// The production smoke suites (the example's read-only ones).
pub const SMOKE: &[&str] = &["auth", "content"];

/// Production's own doubles.
#[derive(Clone)]
pub struct ProductionSite {
    pub settings: Settings,
    pub stacks: MemoryStacks,
    pub hosting: MemoryHosting,
    pub http: MemoryHttp,
}

impl Default for ProductionSite {
    fn default() -> Self {
        Self::new()
    }
}

impl ProductionSite {
    pub fn new() -> Self {
        let site = ProductionSite {
            settings: Settings {
                suites: SMOKE.iter().map(|s| s.to_string()).collect(),
                frontend_env: BTreeMap::from([("ApiUrl".into(), "VITE_API_URL".into())]),
                ..Settings::production()
            },
            stacks: MemoryStacks::default(),
            hosting: MemoryHosting::on_branch("production"),
            http: MemoryHttp::default(),
        };
        for s in SUITES {
            let url = format!("https://production.example.test/{s}");
            site.http.route(&url, 200, &format!("{s} ok"));
        }
        site
    }

    /// What the world runs production with, its stores under `faults`.
    pub fn setup(
        &self,
        faults: &Faults,
    ) -> Production<Faulty<MemoryStacks>, Faulty<MemoryHosting>, MemoryHttp> {
        Production {
            settings: self.settings.clone(),
            stacks: Faulty::new(self.stacks.clone(), faults.clone()),
            hosting: Faulty::new(self.hosting.clone(), faults.clone()),
            http: self.http.clone(),
            status_events: vec![
                self.stacks.events.subscribe(),
                self.hosting.events.subscribe(),
            ],
        }
    }
}

/// The production approvers: dana and erin decide promotions and nothing else.
pub fn production_approvers() -> Vec<Approver> {
    ["dana", "erin"]
        .into_iter()
        .map(|id| Approver {
            decides: vec![ApprovalKind::Production],
            ..approver(id, Some(&format!("{id}-gh")))
        })
        .collect()
}

impl Flow {
    /// Stages `sha` as `tag`: a staging run approved by bob that ends ready.
    pub async fn stage(&self, tag: &str, sha: &str) -> String {
        let arn = self.start(tag, sha).await;
        self.approve(tag).await;
        let (done, _) = self.finish(&arn).await;
        assert_eq!(done.status.to_string(), "SUCCEEDED", "staging {tag}");
        arn
    }

    /// Starts a production run for `tag` (`v1.4.0`) at `sha`, as a pushed tag would.
    pub fn promote(&self, tag: &str, sha: &str) -> String {
        let name = format!("{tag}--{}", &sha[..12]);
        let machine = self.world.production_machine.clone().unwrap_or_default();
        self.engine
            .start_execution(
                &machine,
                Some(&name),
                json!({"repository": "acme/shop", "tag": tag, "sha": sha, "pushedBy": "ana", "pusher": github_pusher("ana")}),
            )
            .unwrap_or_else(|e| panic!("promote: {e}"))
    }

    /// Asks for a rollback of staging (or, `production`, of production) to `tag` at
    /// `sha`, as `stagegate rollback` does, its run named by the release and the
    /// minute (`minute`, 0-59, of 09:00 UTC). The CLI's pusher is the caller's AWS
    /// principal; here ana's GitHub id, so the approvers' fixtures compare with it
    /// (the pusher rule is one rule whatever the identity: `tests/paths/approvals.rs`).
    pub fn request_rollback(&self, production: bool, tag: &str, sha: &str, minute: u32) -> String {
        let name = format!("rollback--{tag}--{}--20260101T09{minute:02}", &sha[..12]);
        let machine = match production {
            true => self.world.production_machine.clone().unwrap_or_default(),
            false => self.state_machine.clone(),
        };
        let pusher = github_pusher("ana");
        self.engine
            .start_execution(
                &machine,
                Some(&name),
                json!({"repository": "acme/shop", "tag": tag, "sha": sha, "pushedBy": "ana", "pusher": pusher, "rollback": true}),
            )
            .unwrap_or_else(|e| panic!("rollback: {e}"))
    }

    /// `approver`'s decision of the promotion of `tag`, through their own link.
    pub async fn decide_production(&self, tag: &str, approver: &str, approve: bool) -> Decided {
        let id = self.link(tag, "approval-request", approver).await;
        let reason = (!approve).then_some("the error budget is spent");
        self.decide(&id, approve, reason)
            .await
            .unwrap_or_else(|r| panic!("{approver} deciding {tag}: {r:?}"))
    }

    /// The production quorum: dana, then erin, approve `tag`.
    pub async fn approve_production(&self, tag: &str) {
        self.decide_production(tag, "dana", true).await;
        assert_eq!(
            self.decide_production(tag, "erin", true).await,
            Decided::Approved
        );
    }
}
