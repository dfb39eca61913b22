//! `stagegate rehearse`: the real staging definition, run by the embedded engine
//! against an app on this machine, with progress as it happens and a timeline at
//! the end. No AWS account, no Docker.
//!
//! [`run`] goes through named phases: [`Candidate::prepare`] (the app, the commit,
//! the run directory), [`Rehearsal::build`] (settings, adapters, the local world, the
//! approval page), [`Rehearsal::execute`] (start, follow, decide, wait),
//! [`Rehearsal::report`] (timeline, where everything went, the result) and
//! [`Rehearsal::shut_down`]. Deciding the approval emails is [`decide`]'s; what is
//! shown as the run goes is [`progress`]'s.

mod bake;
mod decide;
mod files;
mod progress;
mod promote;
mod slack;

use files::{content_sha, keep_decisions, new_run_dir};

use crate::adapters::*;
use crate::app::App;
use crate::server::{self, Handler};
use crate::world::{LocalWorld, Ports, Setup, Time};
use progress::{outbox_listener, report_event, say, Ending};
use serde_json::json;
use stagegate::ports::{Message, Pusher, Trigger};
use stagegate::steps::approval_page::ApprovalPage;
use stagegate::Settings;
use stagegate_https::HttpsClient;
use std::path::PathBuf;
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
    /// After a staging run that ends ready, promote it (`--promote`).
    pub promote: Option<Promote>,
    /// Ask and decide the staging approvals in Slack (the stand-in, `--slack`).
    pub slack: bool,
}

/// `--promote`: the production run of the commit staging made ready, on a second
/// local backend and site (the app's `production` in `stagegate.json`).
#[derive(Clone, Debug, Default)]
pub struct Promote {
    /// The soak, shortened for a rehearsal (production's default is a day).
    pub soak_seconds: u64,
    /// Production's deployment windows and freezes (`STAGEGATE_DEPLOY_WINDOWS`).
    pub calendar: Option<String>,
    /// The production approvers approve with break-glass (and a reason).
    pub break_glass: bool,
}

/// How a rehearsal ended.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The execution's status, as Step Functions names it: `SUCCEEDED`, `FAILED`,
    /// `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub outcome: String,
    pub error: Option<String>,
    pub run_dir: PathBuf,
}

/// The approval window `--timeout` uses.
pub const TIMEOUT_WINDOW_SECONDS: u64 = 3;

/// Runs a rehearsal to its end. Ctrl-C stops the run (it ends `ABORTED`, and the
/// end-of-run rule notifies everyone) and then everything the rehearsal started.
pub async fn run(opts: Options) -> Result<Summary, String> {
    let candidate = Candidate::prepare(&opts).await?;
    let rehearsal = Rehearsal::build(&opts, candidate).await?;
    let staging = rehearsal.staging_run();
    let finished = rehearsal.execute(&opts.decision, &staging).await;
    let mut summary = match finished {
        Ok(f) => rehearsal.report(f).await,
        Err(e) => {
            rehearsal.shut_down().await;
            return Err(e);
        }
    };
    if opts.promote.is_some() && summary.status == "SUCCEEDED" {
        summary = match rehearsal.promote(&opts.decision).await {
            Ok(s) => s,
            Err(e) => {
                rehearsal.shut_down().await;
                return Err(e);
            }
        };
    }
    if opts.serve && summary.status == "SUCCEEDED" {
        rehearsal.serve_until_interrupted().await;
    }
    rehearsal.shut_down().await;
    Ok(summary)
}

/// The functions' settings for a rehearsal of `app`: its own names, commands and
/// bake, and a day's approval window (a few seconds with `--timeout`).
fn settings_of(app: &App, opts: &Options) -> Settings {
    Settings {
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
        bake: bake::settings(app),
        ..Settings::default()
    }
}

/// What is rehearsed: the app, its settings, the candidate and where its run goes.
struct Candidate {
    app: App,
    faults: Faults,
    settings: Settings,
    repository: GitRepository,
    trigger: Trigger,
    candidate: stagegate::ports::Candidate,
    sha_note: &'static str,
    /// Tracked files differ from the commit: the working tree runs, under its name.
    tree_changed: bool,
    root: PathBuf,
    /// The run's name: the execution name, and its directory under `runs/`.
    run_id: String,
    run_dir: PathBuf,
    /// `--promote`: the production functions' settings.
    production: Option<Settings>,
    /// This directory's, for as long as the rehearsal lasts.
    _lock: files::DirLock,
}

impl Candidate {
    /// Phase 1: the app and its configuration, the commit (git `HEAD`, else a content
    /// hash), who pushed it, the validated candidate, and a clean run directory.
    async fn prepare(opts: &Options) -> Result<Candidate, String> {
        let app = App::load(&opts.app_dir)?;
        let faults = Faults::parse(&opts.fail)?;
        let settings = settings_of(&app, opts);
        let repository = GitRepository {
            dir: app.dir.clone(),
            tag_prefix: settings.tag_prefix.clone(),
        };
        let tree_changed = repository.changed().await;
        let (sha, sha_note) = match repository.head().await {
            Some(h) if tree_changed => (h, "uncommitted changes on git HEAD"),
            Some(h) => (h, "git HEAD"),
            None => (
                content_sha(&app.dir),
                "content hash: the app is not in a git repository",
            ),
        };
        let pushed_by = match repository.user().await {
            Some(u) => u,
            None => std::env::var("USER").unwrap_or_else(|_| "you".into()),
        };
        // The pusher rule compares git emails locally; outside git, the local user.
        let email = match repository.user_email().await {
            Some(e) => e,
            None => format!("{pushed_by}@localhost"),
        };
        let trigger = Trigger {
            repository: app.config.repository.clone(),
            tag: opts.tag.clone(),
            sha,
            pushed_by: Some(pushed_by),
            pusher: Some(Pusher::Email { email }),
            rollback: false,
        };
        let candidate = trigger
            .validate(&settings.tag_prefix)
            .map_err(|e| e.message)?;
        let root = opts.work_dir.join(".stagegate");
        let lock = files::DirLock::take(&root, || {
            say("Another rehearsal is running in this directory: waiting for it to end (its stacks, releases and evidence key are this one's too).");
        })
        .await?;
        let ledger = root.join("groups");
        let left = crate::procs::keep_ledger_in(&ledger)
            .map_err(|e| format!("cannot keep the process ledger {}: {e}", ledger.display()))?;
        if left > 0 {
            say(&format!(
                "Ended {left} process group(s) a killed rehearsal left running here."
            ));
        }
        let (run_id, run_dir) = new_run_dir(&root.join("runs"), &candidate.execution_name())?;
        let production = match &opts.promote {
            Some(p) => Some(promote::settings(&app, &settings, p)?),
            None => None,
        };
        Ok(Candidate {
            _lock: lock,
            production,
            app,
            faults,
            settings,
            repository,
            trigger,
            candidate,
            sha_note,
            tree_changed,
            root,
            run_id,
            run_dir,
        })
    }
}

/// One rehearsal, built: the local world, the adapters it stops at the end, and the
/// approval page being served.
struct Rehearsal {
    c: Candidate,
    world: LocalWorld,
    stacks: LocalStacks,
    hosting: LocalHosting,
    /// `--promote`: production's backend and site.
    production: Option<(LocalStacks, LocalHosting)>,
    /// `--promote --break-glass`: production approvals break the glass.
    break_glass: bool,
    /// Each stack's local health alarm, evaluated while the rehearsal runs.
    _watches: bake::Watches,
    /// Approval emails, as the outbox sends them, for the decider.
    approval_mail: Mutex<Option<mpsc::UnboundedReceiver<Message>>>,
    /// The terminal's lines (`Decision::Interactive`), read once for every run.
    terminal: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    /// The approval page's server.
    page: tokio::task::JoinHandle<()>,
    /// `--slack`: the stand-in and the interactivity endpoint.
    slack: Option<slack::Slack>,
    /// Ctrl-C (SIGINT) and SIGTERM, listened to from the start: a signal is never lost
    /// between two waits, and neither ends the rehearsal without its clean-up.
    interrupts: tokio::sync::Mutex<Option<(Signal, Signal)>>,
}

/// One execution to start and follow: the staging run, or the production one.
struct RunSpec {
    machine: String,
    name: String,
    input: serde_json::Value,
    /// Its directory: `history.json`, `execution.json`.
    dir: PathBuf,
    production: bool,
}

/// How the execution ended, with its history.
struct Finished {
    spec_dir: PathBuf,
    production: bool,
    done: Ending,
    /// The history, as `GetExecutionHistory` returns it.
    history: serde_json::Value,
    timeline: Vec<(String, Instant)>,
    started: Instant,
}

/// How often the rehearsal's reconcile runs (AWS: every five minutes).
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

impl Rehearsal {
    /// Phase 2: every adapter and step, built once. The approval page's port is bound
    /// first, so the links in the emails carry its address.
    async fn build(opts: &Options, c: Candidate) -> Result<Rehearsal, String> {
        // Listen to Ctrl-C (and SIGTERM) before anything starts a process.
        let interrupts = signal(SignalKind::interrupt())
            .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
            .ok();
        let (listener, page_addr) = bind_page(opts.approval_port).await?;
        let mut slack = slack::Slack::start_if(opts.slack).await?;
        let settings = Settings {
            approval_base_url: format!("http://{page_addr}"),
            execution_url: format!("file://{}/history.json", c.run_dir.display()),
            slack: slack.as_ref().map(|s| s.settings.clone()),
            ..c.settings.clone()
        };
        let (approval_tx, approval_rx) = mpsc::unbounded_channel::<Message>();
        let stacks = promote::open_stack(&c, c.app.clone()).await?;
        let site = c.run_dir.join("site");
        let frontend = c.app.dir.join(&c.app.config.frontend.dir);
        let hosting = LocalHosting::new(frontend, site, c.faults.clone());
        let artifacts = DirArtifacts {
            root: c.root.clone(),
        };
        let ports = Ports {
            artifacts: artifacts.clone(),
            notifier: Outbox::new(c.run_dir.join("outbox"), outbox_listener(approval_tx)),
            stacks: stacks.clone(),
            hosting: hosting.clone(),
            http: HttpsClient::new(),
            repository: c.repository.clone(),
            signer: LocalSigner::open(&c.root.join(EVIDENCE_KEY))?,
            alarms: LocalAlarms::sabotaging(Default::default(), bake::sabotaged(&c, &stacks)),
            chat: slack.as_ref().map(|s| s.chat.clone()),
        };
        let alarms = ports.alarms.store.clone();
        let builds = ProcessBuilds {
            app_dir: c.app.dir.clone(),
            artifacts_root: c.root.clone(),
            logs_dir: c.run_dir.join("logs"),
            faults: c.faults.clone(),
            role_id: settings.checks_role_id.clone(),
        };
        let production = match &c.production {
            Some(p) => Some(promote::site(&c, p).await?),
            None => None,
        };
        let world = LocalWorld::start(Setup {
            settings,
            approvers: slack::members(&slack, c.app.approvers()),
            ports,
            builds,
            time: Time::Real,
            status_events: vec![stacks.subscribe(), hosting.subscribe()],
            reconcile_every: Some(RECONCILE_EVERY),
            production: promote::setup(&production, &c.production),
            faults: stagegate::testing::Faults::default(),
        })?;
        keep_decisions(&world.table, c.run_dir.join("approvals"))?;
        let page = server::serve_on(listener, approval_page(&world, artifacts));
        slack::serve(&mut slack, &world).await?;
        let _watches = bake::watch(&c, &alarms, &stacks, production.as_ref().map(|p| &p.0));
        Ok(Rehearsal {
            c,
            world,
            stacks,
            hosting,
            production,
            break_glass: opts.promote.as_ref().is_some_and(|p| p.break_glass),
            _watches,
            approval_mail: Mutex::new(Some(approval_rx)),
            terminal: Mutex::new(None),
            page,
            slack,
            interrupts: tokio::sync::Mutex::new(interrupts),
        })
    }

    /// The staging run of the candidate.
    fn staging_run(&self) -> RunSpec {
        let c = &self.c;
        RunSpec {
            machine: self.world.state_machine.clone(),
            name: c.run_id.clone(),
            input: json!({"repository": c.trigger.repository, "tag": c.trigger.tag, "sha": c.trigger.sha, "pushedBy": c.candidate.pushed_by, "pusher": c.trigger.pusher}),
            dir: c.run_dir.clone(),
            production: false,
        }
    }

    /// Phase 3: starts the execution, shows its phases as they happen, answers the
    /// approval emails as `decision` says, and waits for the end.
    async fn execute(&self, decision: &Decision, spec: &RunSpec) -> Result<Finished, String> {
        if !spec.production {
            self.introduce();
        }
        let engine = &self.world.engine;
        let counted = self.world.metrics.lines().len();
        let mut events = engine.subscribe();
        let arn = engine
            .start_execution(&spec.machine, Some(&spec.name), spec.input.clone())
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let timeline: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let (faults, mut said) = (self.c.faults.clone(), false);
        let progress = {
            let (arn, timeline, production) = (arn.clone(), timeline.clone(), spec.production);
            tokio::spawn(async move {
                while let Ok((exec, event)) = events.recv().await {
                    if *exec == *arn {
                        let (state, input) = (event.state_name(), event.state_input());
                        bake::on_state(&faults, state, &mut said);
                        report_event(state, input, event.state_output(), &timeline, production);
                    }
                }
            })
        };
        let done = self.until_the_end(decision, &arn).await?;
        // Let the progress task print the last events.
        tokio::time::sleep(Duration::from_millis(50)).await;
        progress.abort();
        let history = engine
            .get_execution_history(&arn)
            .map(|h| serde_json::to_value(&h).unwrap_or_default())
            .unwrap_or_default();
        // Both hold task tokens: owner-only.
        let _ = crate::private::write(
            &spec.dir.join("history.json"),
            &serde_json::to_vec_pretty(&history).unwrap_or_default(),
        );
        let _ = crate::private::write(
            &spec.dir.join("execution.json"),
            &serde_json::to_vec_pretty(&done.description).unwrap_or_default(),
        );
        // This run's metrics, as the functions write them on AWS (EMF lines).
        let lines = self.world.metrics.lines();
        let metrics: String = lines[counted.min(lines.len())..]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        let _ = std::fs::write(spec.dir.join("metrics.jsonl"), metrics);
        let timeline = timeline.lock().map(|t| t.clone()).unwrap_or_default();
        Ok(Finished {
            spec_dir: spec.dir.clone(),
            production: spec.production,
            done,
            history,
            timeline,
            started,
        })
    }

    /// Answers the approval emails as `decision` says until the execution ends (or,
    /// should the outbox ever close, simply waits for it). Ctrl-C stops the run: it
    /// ends ABORTED, and the end-of-run rule tells everyone.
    async fn until_the_end(&self, decision: &Decision, arn: &str) -> Result<Ending, String> {
        let unusable = "the approval mailbox is unusable".to_string();
        let mut mail = self
            .approval_mail
            .lock()
            .map_err(|_| unusable.clone())?
            .take();
        let mut lines = self.terminal.lock().map_err(|_| unusable.clone())?.take();
        if lines.is_none() && decision == &Decision::Interactive {
            lines = Some(decide::terminal_lines());
        }
        let ended = self.follow(decision, arn, &mut mail, &mut lines).await;
        // Kept for the next run of this rehearsal (a promotion after staging).
        *self.approval_mail.lock().map_err(|_| unusable.clone())? = mail;
        *self.terminal.lock().map_err(|_| unusable)? = lines;
        ended
    }

    /// [`Rehearsal::until_the_end`] with the mailbox and the terminal's lines.
    async fn follow(
        &self,
        decision: &Decision,
        arn: &str,
        mail: &mut Option<mpsc::UnboundedReceiver<Message>>,
        lines: &mut Option<mpsc::UnboundedReceiver<String>>,
    ) -> Result<Ending, String> {
        let deciding = async {
            if let Some(mail) = mail.as_mut() {
                while let Some(message) = mail.recv().await {
                    self.decide(decision, &message, mail, lines.as_mut()).await;
                }
            }
        };
        let wait = async {
            let done = self.world.engine.wait_for_execution(arn).await;
            done.map(Ending::of).map_err(|e| e.to_string())
        };
        tokio::pin!(wait);
        let interrupted = self.interrupted();
        tokio::pin!(interrupted);
        tokio::pin!(deciding);
        tokio::select! {
            done = &mut wait => done,
            () = &mut deciding => tokio::select! {
                done = &mut wait => done,
                () = &mut interrupted => self.interrupt(arn, &mut wait).await,
            },
            () = &mut interrupted => self.interrupt(arn, &mut wait).await,
        }
    }
    /// Ctrl-C: stops the execution and waits for it (and for the end-of-run rule's
    /// notification) to end.
    async fn interrupt(
        &self,
        arn: &str,
        wait: &mut (impl std::future::Future<Output = Result<Ending, String>> + Unpin),
    ) -> Result<Ending, String> {
        say("");
        say("  ■ interrupted (Ctrl-C or SIGTERM): stopping the run");
        let _ = self.world.engine.stop_execution(
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
        if let Ok(url) = stagegate::ports::Hosting::url(&self.hosting).await {
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

    /// Phase 5: the backend, the site and the approval page stop (the world's rules
    /// stop when it is dropped).
    async fn shut_down(&self) {
        self.stacks.stop().await;
        self.hosting.stop().await;
        if let Some((stacks, hosting)) = &self.production {
            stacks.stop().await;
            hosting.stop().await;
        }
        self.page.abort();
    }
}

/// The review page, served on 127.0.0.1 as its Function URL serves it on AWS.
/// The approval page's listener on 127.0.0.1, bound first: the links carry its address.
async fn bind_page(port: u16) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), String> {
    let listener = server::bind(port)
        .await
        .map_err(|e| format!("cannot serve the approval page on 127.0.0.1:{port}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("the approval page's address: {e}"))?;
    Ok((listener, addr))
}

fn approval_page(world: &LocalWorld, artifacts: DirArtifacts) -> Handler {
    server::endpoint(Arc::new(ApprovalPage {
        settings: world.settings.clone(),
        store: world.table.clone(),
        runs: world.runs.clone(),
        artifacts,
        clock: world.runs.clone(),
    }))
}
