//! `rehearse --promote`: after the staging run ends ready, the production run of the
//! same commit through `statemachine/production.asl.json`, on a second local backend
//! (the app's `production.stackName`) and site (branch `production`), with the app's
//! production approvers, a shortened soak, and the deployment calendar the flags
//! give (`--outside-window`, `--freeze`, `--break-glass`).

use super::{new_run_dir, say, Candidate, Decision, Promote, Rehearsal, RunSpec, Summary};
use crate::adapters::{LocalHosting, LocalStacks};
use crate::app::App;
use crate::world::Production;
use serde_json::json;
use stagegate::ports::ApprovalKind;
use stagegate::windows::Calendar;
use stagegate::Settings;
use stagegate_https::HttpsClient;

/// The production functions' settings for the app: its production stack, smoke
/// suites, the soak and the calendar, the quorum of its production approvers.
pub(super) fn settings(app: &App, staging: &Settings, p: &Promote) -> Result<Settings, String> {
    let file = app.dir.join("stagegate.json");
    let Some(production) = &app.config.production else {
        return Err(format!(
            "{}: production is missing: --promote deploys to its stackName and runs its smokeSuites",
            file.display()
        ));
    };
    let deciders = app
        .approvers()
        .iter()
        .filter(|a| a.decides.contains(&ApprovalKind::Production))
        .count() as u32;
    if deciders == 0 {
        return Err(format!(
            "{}: approvers: nobody decides \"production\" (--promote asks them)",
            file.display()
        ));
    }
    let calendar = match &p.calendar {
        Some(json) => {
            Some(Calendar::parse(json).map_err(|e| format!("the deployment calendar: {e}"))?)
        }
        None => None,
    };
    Ok(Settings {
        repository: staging.repository.clone(),
        stack_name: production.stack_name.clone(),
        suites: production.smoke_suites.clone(),
        frontend_env: staging.frontend_env.clone(),
        approval_timeout_seconds: staging.approval_timeout_seconds,
        max_polls: staging.max_polls,
        // Two when there are two to ask (the production default); else everyone.
        required_approvals: deciders.min(2),
        soak_seconds: p.soak_seconds,
        calendar,
        bake: staging.bake.clone(),
        ..Settings::production()
    })
}

/// The app's local stack (`app`'s stack name) as earlier rehearsals in this directory
/// left it, its backend started again (or, if that fails, to be deployed afresh).
pub(super) async fn open_stack(c: &Candidate, app: App) -> Result<LocalStacks, String> {
    let dir = c.root.join("stacks").join(&app.config.stack_name);
    LocalStacks::open(app, c.root.clone(), dir, c.faults.clone()).await
}

/// Production's own backend and site.
pub(super) async fn site(
    c: &Candidate,
    settings: &Settings,
) -> Result<(LocalStacks, LocalHosting), String> {
    let mut app = c.app.clone();
    app.config.stack_name = settings.stack_name.clone();
    let stacks = open_stack(c, app).await?;
    let frontend = c.app.dir.join(&c.app.config.frontend.dir);
    let site = c.run_dir.join("production-site");
    Ok((
        stacks,
        LocalHosting::on_branch(frontend, site, c.faults.clone(), "production"),
    ))
}

/// What the world runs production with, when the rehearsal promotes.
pub(super) fn setup(
    site: &Option<(LocalStacks, LocalHosting)>,
    settings: &Option<Settings>,
) -> Option<Production<LocalStacks, LocalHosting, HttpsClient>> {
    let ((stacks, hosting), settings) = (site.as_ref()?, settings.as_ref()?);
    Some(Production {
        settings: settings.clone(),
        stacks: stacks.clone(),
        hosting: hosting.clone(),
        http: HttpsClient::new(),
        status_events: vec![stacks.subscribe(), hosting.subscribe()],
    })
}

impl Rehearsal {
    /// The production run: `v<version>` at the staged commit, followed, decided and
    /// reported as the staging run was.
    pub(super) async fn promote(&self, decision: &Decision) -> Result<Summary, String> {
        let c = &self.c;
        let machine = self
            .world
            .production_machine
            .clone()
            .ok_or("the rehearsal has no production state machine")?;
        let tag = format!("v{}", c.candidate.version);
        let name = format!("{tag}--{}", &c.candidate.sha[..12]);
        let (name, dir) = new_run_dir(&c.root.join("runs"), &name)?;
        say("");
        say(&format!(
            "Promoting {} {} as {tag} (run {})",
            c.candidate.repository,
            c.candidate.tag,
            dir.display()
        ));
        let input = json!({"repository": c.trigger.repository, "tag": tag, "sha": c.trigger.sha,
                           "pushedBy": c.candidate.pushed_by, "pusher": c.trigger.pusher});
        let spec = RunSpec {
            machine,
            name,
            input,
            dir,
            production: true,
        };
        let finished = self.execute(decision, &spec).await?;
        Ok(self.report(finished).await)
    }
}
