//! `stagegate rehearse`: the real staging definition, run by the embedded engine
//! against an app on this machine, with progress as it happens and a timeline at
//! the end. No AWS account, no Docker.
//!
//! [`run`] goes through named phases: [`Candidate::prepare`] (the app, the commit,
//! the run directory), [`Rehearsal::build`] (settings, adapters, the steps, the
//! engine, the approval page), [`Rehearsal::execute`] (start, follow, decide, wait),
//! [`Rehearsal::report`] (timeline, where everything went, the result) and
//! [`Rehearsal::shut_down`].

use crate::adapters::*;
use crate::app::App;
use crate::http;
use crate::{
    execution_status_rule, register, schedule, staging_registry, status_event_rule, substitutions,
    Adapters, Before, LocalStepFunctions, LocalStores, STAGING_DEFINITION, STATE_MACHINE,
};
use asl_engine::{
    Clock, Control, Details, Engine, EngineConfig, ExecutionDescription, ExecutionStatus,
    HistoryEvent,
};
use serde_json::{json, Value};
use stagegate::approvals::{Decided, Decider, Desk, Form, Refusal};
use stagegate::candidate::Trigger;
use stagegate::memory::{MemoryApprovals, StaticApprovers};
use stagegate::ports::{ApprovalState, Hosting, Message, Topic};
use stagegate::steps::approval::RECONCILE;
use stagegate::steps::approval_page::ApprovalPage;
use stagegate::steps::validate::ValidateInfrastructure;
use stagegate::Settings;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

/// How the approval is decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve as each approver emailed, until the quorum is reached (with a reason
    /// when checks failed).
    Approve,
    Reject(String),
    /// Shorten the approval window to a few seconds and let it expire.
    Timeout,
    /// Ask on the terminal and serve the review page; whichever answers first.
    Interactive,
}

pub struct Options {
    pub app_dir: PathBuf,
    pub tag: String,
    pub decision: Decision,
    pub fail: Vec<String>,
    /// Where `.stagegate/` goes.
    pub work_dir: PathBuf,
    /// Port of the approval page (0: any free port).
    pub approval_port: u16,
    /// After a run that ends ready, keep the staged frontend and backend up until
    /// Ctrl-C, so the printed Staging URL works.
    pub serve: bool,
}

/// How a rehearsal ended.
#[derive(Clone, Debug)]
pub struct Summary {
    pub status: ExecutionStatus,
    pub outcome: String,
    pub error: Option<String>,
    pub run_dir: PathBuf,
}

/// The approval window `--timeout` uses.
pub const TIMEOUT_WINDOW_SECONDS: u64 = 3;

/// The phases shown in progress and in the timeline, in flow order.
pub use stagegate::steps::PHASES;

fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

/// Runs a rehearsal to its end. Ctrl-C stops the run (it ends `ABORTED`, and the
/// end-of-run rule notifies everyone) and then everything the rehearsal started.
pub async fn run(opts: Options) -> Result<Summary, String> {
    let candidate = Candidate::prepare(&opts).await?;
    let rehearsal = Rehearsal::build(&opts, candidate).await?;
    let finished = rehearsal.execute(&opts.decision).await;
    let summary = match finished {
        Ok(f) => rehearsal.report(f).await,
        Err(e) => {
            rehearsal.shut_down().await;
            return Err(e);
        }
    };
    if opts.serve && summary.status == ExecutionStatus::Succeeded {
        rehearsal.serve_until_interrupted().await;
    }
    rehearsal.shut_down().await;
    Ok(summary)
}

/// What is rehearsed: the app, its settings, the candidate and where its run goes.
struct Candidate {
    app: App,
    faults: Faults,
    settings: Settings,
    history: GitHistory,
    trigger: Trigger,
    candidate: stagegate::candidate::Candidate,
    sha_note: &'static str,
    root: PathBuf,
    /// The run's name: the execution name, and its directory under `runs/`.
    run_id: String,
    run_dir: PathBuf,
}

impl Candidate {
    /// Phase 1: the app and its configuration, the commit (git `HEAD`, else a content
    /// hash), who pushed it, the validated candidate, and a clean run directory.
    async fn prepare(opts: &Options) -> Result<Candidate, String> {
        let app = App::load(&opts.app_dir)?;
        let faults = Faults::parse(&opts.fail)?;
        let settings = Settings {
            tag_prefix: app.config.tag_prefix.clone(),
            repository: Some(app.config.repository.clone()),
            stack_name: app.config.stack_name.clone(),
            suites: app.config.suites.clone(),
            command_suites: app.config.command_suites.clone(),
            frontend_env: app.config.frontend.env.clone(),
            commands: app.config.commands.clone(),
            user_acceptance: app.config.user_acceptance,
            approval_timeout_seconds: if opts.decision == Decision::Timeout {
                TIMEOUT_WINDOW_SECONDS
            } else {
                86_400
            },
            max_polls: 120,
            ..Settings::default()
        };
        let history = GitHistory {
            dir: app.dir.clone(),
            tag_prefix: settings.tag_prefix.clone(),
        };
        let (sha, sha_note) = match history.head().await {
            Some(h) => (h, "git HEAD"),
            None => (
                content_sha(&app.dir),
                "content hash: the app is not in a git repository",
            ),
        };
        let pushed_by = match history.user().await {
            Some(u) => u,
            None => std::env::var("USER").unwrap_or_else(|_| "you".into()),
        };
        let trigger = Trigger {
            repository: app.config.repository.clone(),
            tag: opts.tag.clone(),
            sha,
            pushed_by: Some(pushed_by),
        };
        let candidate = trigger
            .validate(&settings.tag_prefix)
            .map_err(|e| e.message)?;
        let root = opts.work_dir.join(".stagegate");
        let (run_id, run_dir) = new_run_dir(&root.join("runs"), &candidate.execution_name())?;
        Ok(Candidate {
            app,
            faults,
            settings,
            history,
            trigger,
            candidate,
            sha_note,
            root,
            run_id,
            run_dir,
        })
    }
}

/// A new directory for this run under `runs`: `<name>` the first time, then
/// `<name>-2`, `<name>-3`… — a re-run of the same tag and commit keeps the earlier
/// run's files. The directory's name is also the execution's name.
fn new_run_dir(runs: &Path, name: &str) -> Result<(String, PathBuf), String> {
    std::fs::create_dir_all(runs).map_err(|e| format!("cannot create {}: {e}", runs.display()))?;
    for n in 1..10_000u32 {
        let id = if n == 1 {
            name.to_string()
        } else {
            format!("{name}-{n}")
        };
        let dir = runs.join(&id);
        // create_dir (not _all) fails if it exists: two rehearsals never share one.
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!("{} holds too many runs of {name}", runs.display()))
}

/// A content hash standing in for a commit when the app is not in a git repository.
fn content_sha(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == ".stagegate" || name == "__pycache__" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(
            f.strip_prefix(dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update(std::fs::read(&f).unwrap_or_default());
    }
    hex::encode(&h.finalize()[..20])
}

/// One rehearsal, built: the engine with every step registered, the adapters it
/// stops at the end, and the approval page being served.
struct Rehearsal {
    c: Candidate,
    settings: Settings,
    engine: Engine,
    state_machine: String,
    desk: Desk<Arc<MemoryApprovals>, LocalStepFunctions, LocalStepFunctions>,
    stacks: Arc<LocalStacks>,
    hosting: Arc<LocalHosting>,
    /// Approval emails, as the outbox sends them, for the decider.
    approval_mail: Mutex<Option<mpsc::UnboundedReceiver<Message>>>,
    /// The approval page, the end-of-run rule, the reconcile schedule.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Ctrl-C (SIGINT) and SIGTERM, listened to from the start: a signal is never lost
    /// between two waits, and neither ends the rehearsal without its clean-up.
    interrupts: tokio::sync::Mutex<Option<(Signal, Signal)>>,
}

/// How the execution ended, with its history.
struct Finished {
    done: ExecutionDescription,
    history: Vec<HistoryEvent>,
    timeline: Vec<(String, Instant)>,
    started: Instant,
}

impl Rehearsal {
    /// Phase 2: every adapter and step, built once. The approval page's port is bound
    /// first, so the links in the emails carry its address.
    async fn build(opts: &Options, c: Candidate) -> Result<Rehearsal, String> {
        // Listen to Ctrl-C (and SIGTERM) before anything starts a process.
        let interrupts = signal(SignalKind::interrupt())
            .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
            .ok();
        let listener = http::bind(opts.approval_port).await.map_err(|e| {
            format!(
                "cannot serve the approval page on 127.0.0.1:{}: {e}",
                opts.approval_port
            )
        })?;
        let page_addr = listener
            .local_addr()
            .map_err(|e| format!("the approval page's address: {e}"))?;
        let settings = Settings {
            approval_base_url: format!("http://{page_addr}"),
            execution_url: format!("file://{}/history.json", c.run_dir.display()),
            ..c.settings.clone()
        };
        let (approval_tx, approval_rx) = mpsc::unbounded_channel::<Message>();
        let listener_fn: OutboxListener = Arc::new(move |topic, message, path| {
            say(&format!(
                "  ✉  [{}] {}  ({})",
                if topic == Topic::Approvals {
                    "approvers"
                } else {
                    "everyone"
                },
                message.subject,
                path.display()
            ));
            if topic == Topic::Approvals {
                let _ = approval_tx.send(message.clone());
            }
        });
        let stacks = Arc::new(
            LocalStacks::open(
                c.app.clone(),
                c.root.clone(),
                c.root.join("stacks").join(&c.app.config.stack_name),
                c.faults.clone(),
            )
            .await?,
        );
        let hosting = Arc::new(LocalHosting::new(
            c.app.dir.join(&c.app.config.frontend.dir),
            c.run_dir.join("site"),
            c.faults.clone(),
        ));
        let artifacts = Arc::new(DirArtifacts {
            root: c.root.clone(),
        });
        let adapters = Adapters {
            artifacts: artifacts.clone(),
            notifier: Arc::new(Outbox::new(c.run_dir.join("outbox"), listener_fn)),
            stacks: stacks.clone(),
            hosting: hosting.clone(),
            http: Arc::new(LocalHttp),
            history: Arc::new(c.history.clone()),
            releases: Arc::new(NoReleases),
        };
        let builds = ProcessBuilds {
            app_dir: c.app.dir.clone(),
            artifacts_root: c.root.clone(),
            logs_dir: c.run_dir.join("logs"),
            faults: c.faults.clone(),
        };
        let control = Control::new(Clock::system(), EngineConfig::default(), None);
        let sfn = LocalStepFunctions::new(control.clone());
        let stores = LocalStores {
            approvers: Arc::new(StaticApprovers(c.app.approvers())),
            ..LocalStores::default()
        };
        let mut registry = staging_registry(&settings, &sfn, &stores, &adapters, builds);
        if c.faults.has("validate-infrastructure") {
            // Another deployment lands while the candidate waits: just before Validate
            // Infrastructure looks, whatever the directory's earlier runs.
            let other = stacks.clone();
            registry = register(
                registry,
                Before {
                    step: ValidateInfrastructure::new(stacks.clone()),
                    before: move || other.simulate_other_deployment(),
                },
            );
        }
        let registry = Arc::new(registry);
        let engine = Engine::with_control(control, registry.clone());
        let state_machine = engine
            .create_state_machine(STATE_MACHINE, STAGING_DEFINITION, &substitutions())
            .map_err(|e| e.to_string())?;
        let page = ApprovalPage::new(
            &settings,
            stores.approvals.clone(),
            sfn.clone(),
            artifacts,
            sfn.clone(),
        );
        let tasks = vec![
            http::serve_on(listener, http::endpoint(Arc::new(page))),
            execution_status_rule(&engine, registry.clone()),
            status_event_rule(
                vec![stacks.subscribe(), hosting.subscribe()],
                registry.clone(),
            ),
            schedule(registry, RECONCILE, RECONCILE_EVERY),
        ];
        let desk = Desk::new(
            settings.pusher_may_approve,
            stores.approvals.clone(),
            sfn.clone(),
            sfn,
        );
        Ok(Rehearsal {
            c,
            settings,
            engine,
            state_machine,
            desk,
            stacks,
            hosting,
            approval_mail: Mutex::new(Some(approval_rx)),
            tasks,
            interrupts: tokio::sync::Mutex::new(interrupts),
        })
    }

    /// Phase 3: starts the execution, shows its phases as they happen, answers the
    /// approval emails as `decision` says, and waits for the end.
    async fn execute(&self, decision: &Decision) -> Result<Finished, String> {
        let c = &self.c;
        let sha = &c.candidate.sha;
        say(&format!(
            "stagegate rehearsal of {} {} ({} {}, pushed by {})",
            c.candidate.repository,
            c.candidate.tag,
            c.sha_note,
            &sha[..12],
            c.candidate.pushed_by
        ));
        say(&format!("  app: {}", c.app.dir.display()));
        say(&format!("  run: {}", c.run_dir.display()));
        for f in c.faults.stages() {
            say(&format!(
                "  --fail {f}: {}",
                FAULTS
                    .iter()
                    .find(|x| x.0 == f)
                    .map(|x| x.1)
                    .unwrap_or_default()
            ));
        }
        let mut events = self.engine.subscribe();
        let input = json!({"repository": c.trigger.repository, "tag": c.trigger.tag, "sha": c.trigger.sha, "pushedBy": c.candidate.pushed_by});
        let arn = self
            .engine
            .start_execution(&self.state_machine, Some(&c.run_id), input)
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let timeline: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let progress = {
            let arn = arn.clone();
            let timeline = timeline.clone();
            tokio::spawn(async move {
                while let Ok((exec, event)) = events.recv().await {
                    if *exec != *arn {
                        continue;
                    }
                    report_event(&event, &timeline);
                }
            })
        };
        let mail = self
            .approval_mail
            .lock()
            .map_err(|_| "the approval mailbox is unusable".to_string())?
            .take();
        let lines = (decision == &Decision::Interactive).then(terminal_lines);
        let decide = async {
            if let Some(mut mail) = mail {
                let mut lines = lines;
                while let Some(message) = mail.recv().await {
                    self.decide(decision, &message, &mut mail, lines.as_mut())
                        .await;
                }
            }
        };
        let wait = self.engine.wait_for_execution(&arn);
        tokio::pin!(wait);
        // The decider answers emails until the execution ends (or, should the outbox
        // ever close, the execution is simply waited for). Ctrl-C stops the run: it
        // ends ABORTED, and the end-of-run rule tells everyone.
        let interrupted = self.interrupted();
        tokio::pin!(interrupted);
        tokio::pin!(decide);
        let done = tokio::select! {
            done = &mut wait => done,
            () = &mut decide => tokio::select! {
                done = &mut wait => done,
                () = &mut interrupted => self.interrupt(&arn, &mut wait).await,
            },
            () = &mut interrupted => self.interrupt(&arn, &mut wait).await,
        }
        .map_err(|e| e.to_string())?;
        // Let the progress task print the last events.
        tokio::time::sleep(Duration::from_millis(50)).await;
        progress.abort();
        let history = self.engine.get_execution_history(&arn).unwrap_or_default();
        let _ = std::fs::write(
            c.run_dir.join("history.json"),
            serde_json::to_vec_pretty(&history).unwrap_or_default(),
        );
        let _ = std::fs::write(
            c.run_dir.join("execution.json"),
            serde_json::to_vec_pretty(&done).unwrap_or_default(),
        );
        let timeline = timeline.lock().map(|t| t.clone()).unwrap_or_default();
        Ok(Finished {
            done,
            history,
            timeline,
            started,
        })
    }

    /// Ctrl-C: stops the execution and waits for it (and for the end-of-run rule's
    /// notification) to end.
    async fn interrupt(
        &self,
        arn: &str,
        wait: &mut (impl std::future::Future<
            Output = Result<ExecutionDescription, asl_engine::EngineError>,
        > + Unpin),
    ) -> Result<ExecutionDescription, asl_engine::EngineError> {
        say("");
        say("  ■ interrupted (Ctrl-C or SIGTERM): stopping the run");
        let _ = self.engine.stop_execution(
            arn,
            Some("Interrupted"),
            Some("stopped with Ctrl-C (or SIGTERM) in the rehearsal"),
        );
        let done = wait.await;
        // The rule on abnormal ends sends its notification: let it land.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.outbox_has_outcome() {
                break;
            }
        }
        done
    }

    fn outbox_has_outcome(&self) -> bool {
        std::fs::read_dir(self.c.run_dir.join("outbox"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .ends_with("-notifications.txt")
            })
    }

    /// `--serve`: the staged frontend and backend stay up until Ctrl-C.
    async fn serve_until_interrupted(&self) {
        if let Ok(url) = self.hosting.url().await {
            say(&format!("Serving {url} and its backend until Ctrl-C."));
        }
        self.interrupted().await;
        say("  ■ stopping");
    }

    /// Resolves at the next Ctrl-C or SIGTERM (never, if signals cannot be listened
    /// to).
    async fn interrupted(&self) {
        let mut guard = self.interrupts.lock().await;
        match guard.as_mut() {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => futures::future::pending::<()>().await,
        }
    }

    /// Phase 4: the timeline, where everything went, and the result in one line.
    async fn report(&self, f: Finished) -> Summary {
        let c = &self.c;
        say("");
        say("Timeline");
        for (i, (name, at)) in f.timeline.iter().enumerate() {
            let end = f
                .timeline
                .get(i + 1)
                .map(|m| m.1)
                .unwrap_or_else(Instant::now);
            say(&format!(
                "  {:<26} {:>8.1}s",
                name,
                end.duration_since(*at).as_secs_f64()
            ));
        }
        say(&format!(
            "  {:<26} {:>8.1}s",
            "total",
            f.started.elapsed().as_secs_f64()
        ));
        say("");
        say(&format!("Artifacts: {}", c.run_dir.display()));
        say(&format!(
            "Outbox:    {}",
            c.run_dir.join("outbox").display()
        ));
        say(&format!(
            "History:   {}",
            c.run_dir.join("history.json").display()
        ));
        if f.done.status == ExecutionStatus::Succeeded {
            if let Ok(url) = self.hosting.url().await {
                say(&format!(
                    "Staging:   {url} (served until this command exits; --serve keeps it up)"
                ));
            }
        }
        let outcome = outcome(&c.candidate, &f.done, &f.history);
        say("");
        say(&format!("Result: {outcome}"));
        Summary {
            status: f.done.status,
            outcome,
            error: f.done.error,
            run_dir: c.run_dir.clone(),
        }
    }

    /// Phase 5: the backend, the site and the approval page stop.
    async fn shut_down(&self) {
        self.stacks.stop().await;
        self.hosting.stop().await;
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Answers an approval email (and the other approvers' emails of the same
    /// approval, already sent) as `decision` says, through the same desk and rules as
    /// the page.
    async fn decide(
        &self,
        decision: &Decision,
        first: &Message,
        mail: &mut mpsc::UnboundedReceiver<Message>,
        lines: Option<&mut mpsc::UnboundedReceiver<String>>,
    ) {
        // Every approver of one approval is emailed at once: gather their links.
        let mut messages = vec![first.clone()];
        while let Ok(m) = mail.try_recv() {
            messages.push(m);
        }
        let mut approval_id = None;
        for m in &messages {
            let Some(id) = link_id(&m.body) else {
                say("  ! an approval email has no link");
                continue;
            };
            let Ok(Ok((record, approver, _))) = self.desk.review(&id).await else {
                continue;
            };
            approval_id = Some(record.id.clone());
            if decision == &Decision::Interactive {
                say(&format!(
                    "  ⏸ {} decides on {}/approvals/{id}",
                    approver.id, self.settings.approval_base_url
                ));
            }
        }
        let Some(approval_id) = approval_id else {
            return;
        };
        match decision {
            Decision::Approve => loop {
                // Each approver asked approves in turn, until the quorum is reached.
                match self.next_decider(&approval_id).await {
                    Some((decider, failed)) => {
                        let reason = (!failed.is_empty()).then(|| {
                            format!(
                                "rehearsal --approve over failed checks ({})",
                                failed.join(", ")
                            )
                        });
                        if !self.answer(&approval_id, decider, true, reason).await {
                            return;
                        }
                    }
                    None => return,
                }
            },
            Decision::Reject(reason) => {
                if let Some((decider, _)) = self.next_decider(&approval_id).await {
                    self.answer(&approval_id, decider, false, Some(reason.clone()))
                        .await;
                }
            }
            Decision::Timeout => {
                say(&format!("  ⏳ nobody decides: the approval window is {TIMEOUT_WINDOW_SECONDS}s in this rehearsal (--timeout)"));
            }
            Decision::Interactive => {
                let Some(lines) = lines else { return };
                self.prompt(&approval_id, lines).await;
            }
        }
    }

    /// The terminal: each line decides for the next approver who has not decided
    /// yet, by the same rules as the page. A refused line is answered and the prompt
    /// stays; it ends when the approval is decided (here or on the page).
    async fn prompt(&self, approval_id: &str, lines: &mut mpsc::UnboundedReceiver<String>) {
        loop {
            let Some((decider, _)) = self.next_decider(approval_id).await else {
                return;
            };
            say(&format!(
                "    or type here, as {}: approve [reason]  |  reject <reason>",
                decider.identity()
            ));
            let line = loop {
                tokio::select! {
                    line = lines.recv() => match line {
                        Some(l) => break l,
                        // No terminal input (stdin closed): the page still works.
                        None => return,
                    },
                    () = tokio::time::sleep(Duration::from_millis(500)) => {
                        if self.next_decider(approval_id).await.is_none() {
                            return;
                        }
                    }
                }
            };
            let line = line.trim();
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            let reason = (!rest.trim().is_empty()).then(|| rest.trim().to_string());
            match word {
                "approve" => {
                    self.answer(approval_id, decider, true, reason).await;
                }
                "reject" => {
                    self.answer(approval_id, decider, false, reason).await;
                }
                "" => {}
                other => say(&format!("  ? '{other}' is neither approve nor reject")),
            }
        }
    }

    /// The next approver asked who has not decided, while the approval is pending,
    /// with the failed checks.
    async fn next_decider(&self, approval_id: &str) -> Option<(Decider, Vec<String>)> {
        let record = self.desk.record(approval_id).await.ok().flatten()?;
        if record.state != ApprovalState::Pending {
            return None;
        }
        let approver = record
            .approvers
            .iter()
            .find(|a| !record.votes.iter().any(|v| v.approver == a.id))?;
        Some((Decider::Approver(approver.clone()), record.failed_checks))
    }

    /// Decides as `decider`; `false` when the decision was refused or failed.
    async fn answer(
        &self,
        approval_id: &str,
        decider: Decider,
        approve: bool,
        reason: Option<String>,
    ) -> bool {
        let who = decider.identity();
        let verb = if approve { "approves" } else { "rejects" };
        let form = Form {
            approve,
            reason: reason.clone(),
            from: "terminal".into(),
        };
        match self
            .desk
            .decide_as(approval_id, decider, "terminal", form)
            .await
        {
            Ok(Ok(Decided::Recorded { remaining })) => {
                say(&format!(
                    "  ✔ {who} {verb}; {remaining} more approval(s) needed"
                ));
                true
            }
            Ok(Ok(Decided::Undelivered { .. })) => {
                say(&format!(
                    "  ✔ {who} {verb}; the decision is recorded and will be delivered"
                ));
                true
            }
            Ok(Ok(_)) => {
                say(&format!(
                    "  ✔ {who} {verb}{}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                ));
                true
            }
            Ok(Err(refusal)) => {
                say(&format!("  ! {}: {}", refusal.title(), refusal.detail()));
                matches!(refusal, Refusal::AlreadyVoted { .. })
            }
            Err(e) => {
                say(&format!("  ! the decision failed: {e}"));
                false
            }
        }
    }
}

/// How often the rehearsal's reconcile runs (AWS: every five minutes).
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// The link id in an approval email.
fn link_id(body: &str) -> Option<String> {
    let start = body.find("/approvals/")? + "/approvals/".len();
    Some(body[start..].chars().take(43).collect())
}

/// The terminal's lines, read by one thread for the whole rehearsal, so a line typed
/// while nothing asks for one waits for the next prompt instead of being lost.
fn terminal_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        while matches!(stdin.read_line(&mut line), Ok(n) if n > 0) {
            if tx.send(std::mem::take(&mut line)).is_err() {
                return;
            }
        }
    });
    rx
}

/// The result line: ready, duplicate, cancelled (why) or failed (where, why).
fn outcome(
    candidate: &stagegate::candidate::Candidate,
    done: &ExecutionDescription,
    history: &[HistoryEvent],
) -> String {
    let out = done.output.clone().unwrap_or(Value::Null);
    match done.status {
        ExecutionStatus::Succeeded
            if out
                .get("preflight")
                .and_then(|p| p.get("duplicateOf"))
                .is_some() =>
        {
            "duplicate: another run handles this tag and commit".to_string()
        }
        ExecutionStatus::Succeeded => format!(
            "{} {} is ready for production",
            candidate.repository, candidate.tag
        ),
        ExecutionStatus::Aborted => format!(
            "stopped: {}",
            done.cause
                .clone()
                .unwrap_or_else(|| "the run was stopped".into())
        ),
        _ => {
            let state = last_state_input(history);
            if let Some(reason) = state
                .get("cancellation")
                .and_then(|c| c.get("reason"))
                .and_then(Value::as_str)
            {
                return format!("cancelled: {reason}");
            }
            let stage = state
                .get("failure")
                .and_then(|f| f.get("stage"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            let why = state
                .get("failure")
                .and_then(|f| f.get("error"))
                .map(stagegate::steps::notify::reason)
                .unwrap_or_else(|| done.error.clone().unwrap_or_default());
            format!("failed at {stage}: {why}")
        }
    }
}

/// The state the last `*StateEntered` event saw (for the failure/cancellation keys).
fn last_state_input(history: &[HistoryEvent]) -> Value {
    history
        .iter()
        .rev()
        .find_map(|e| match &e.details {
            Details::StateEntered { input, .. } => {
                let input = input.value();
                (input.get("failure").is_some() || input.get("cancellation").is_some())
                    .then_some(input)
            }
            _ => None,
        })
        .unwrap_or(Value::Null)
}

/// The progress people follow, as the history happens: each phase once, in the order
/// it starts; each check with ✓ or ✗ (and the failed one's log excerpt); each suite
/// with its counts; a skipped deploy said as such.
fn report_event(event: &HistoryEvent, timeline: &Mutex<Vec<(String, Instant)>>) {
    let name = event.state_name().unwrap_or_default().to_string();
    let is_phase = PHASES.contains(&name.as_str());
    match &event.details {
        Details::StateEntered { .. } if is_phase => {
            if let Ok(mut t) = timeline.lock() {
                if !t.iter().any(|(n, _)| *n == name) {
                    t.push((name.clone(), Instant::now()));
                    say(&format!("▶ {name}"));
                }
            }
        }
        Details::StateEntered { input, .. } if name == "No Package or Preview" => {
            let why = stagegate::steps::notify::reason(&input.value());
            say(&format!("  ✗ Package & Preview: {why}"));
        }
        Details::StateEntered { .. } if name.ends_with(" Failed") && is_phase_failure(&name) => {
            say(&format!("  ✗ {name}"))
        }
        Details::StateExited { output, .. } if name == "Preview Ready" => {
            let changes = output
                .value()
                .get("preview")
                .and_then(|p| p.get("changes"))
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            say(&format!("  · change preview: {changes} resource change(s)"));
        }
        Details::StateExited { output, .. } if name == "Pre-Deployment Checks" => {
            report_checks(&output.value());
        }
        Details::StateExited { output, .. }
            if name == "Validate Infrastructure"
                && output.value()["validation"]["noChanges"] == Value::Bool(true) =>
        {
            say("  · no changes: deploy skipped");
        }
        Details::StateExited { output, .. } if name == "Integration Tests" => {
            report_suites(&output.value()["tests"]["suites"]);
        }
        Details::StateExited { output, .. } if name == "Command Suites" => {
            report_suites(&output.value()["tests"]["commands"]);
        }
        Details::StateExited { output, .. } if name == "Performance Tests" => {
            report_load(&output.value());
        }
        _ => {}
    }
}

/// `<Stage> Failed` states of the top level (not the checks' own `ESLint Failed`...,
/// which the ✓/✗ lines report).
fn is_phase_failure(name: &str) -> bool {
    let stage = name.trim_end_matches(" Failed");
    PHASES.contains(&stage) || stage == "Package & Preview"
}

fn report_checks(output: &Value) {
    let Some(checks) = output["checks"].as_array() else {
        return;
    };
    let passed = checks.iter().filter(|c| c["status"] == "SUCCEEDED").count();
    say(&format!("  checks: {passed}/{} passed", checks.len()));
    for c in checks {
        let Ok(check) =
            serde_json::from_value::<stagegate::steps::checklist::CheckResult>(c.clone())
        else {
            continue;
        };
        if check.passed() {
            say(&format!("  ✓ {}", check.name));
            continue;
        }
        say(&format!("  ✗ {} ({})", check.name, check.status));
        if let Some(log) = check.log_link() {
            for line in log_excerpt(Path::new(&log), 4) {
                say(&format!("      │ {line}"));
            }
            say(&format!("      log: {log}"));
        }
    }
}

/// The last `n` non-empty lines of a log (the part that says why it failed).
fn log_excerpt(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.chars().take(160).collect())
        .collect()
}

/// Each load test's figures (a broken budget fails the state: its notification says
/// which and by how much).
fn report_load(output: &Value) {
    for m in output["performance"]["measurements"]
        .as_array()
        .into_iter()
        .flatten()
    {
        say(&format!(
            "  ✓ load {}: {} requests by {} users, p50 {} ms, p95 {} ms, p99 {} ms, {} errors",
            m["name"].as_str().unwrap_or("?"),
            m["requests"],
            m["users"],
            m["p50Ms"],
            m["p95Ms"],
            m["p99Ms"],
            m["errors"]
        ));
    }
}

fn report_suites(suites: &Value) {
    for suite in suites.as_array().into_iter().flatten() {
        let name = suite["suite"].as_str().unwrap_or("?");
        let passed = suite["passed"].as_u64().unwrap_or(0);
        let failed = suite["failed"].as_u64().unwrap_or(0);
        let mark = if failed == 0 { "✓" } else { "✗" };
        say(&format!(
            "  {mark} suite {name}: {passed}/{} passed",
            passed + failed
        ));
        for case in suite["cases"].as_array().into_iter().flatten() {
            if case["passed"] == Value::Bool(false) {
                say(&format!(
                    "      ✗ {}: {}",
                    case["name"].as_str().unwrap_or("?"),
                    case["message"].as_str().unwrap_or("")
                ));
            }
        }
    }
}
