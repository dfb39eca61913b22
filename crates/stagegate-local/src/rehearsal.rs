//! `stagegate rehearse`: the real staging definition, run by the embedded engine
//! against an app on this machine, with progress as it happens and a timeline at
//! the end. No AWS account, no Docker.

use crate::adapters::*;
use crate::app::App;
use crate::http::{self, Handler, Request, Response};
use crate::{registry, substitutions, EngineLink, STAGING_DEFINITION, STATE_MACHINE};
use asl_engine::{Clock, Details, Engine, EngineConfig, EventType, ExecutionStatus, HistoryEvent};
use serde_json::{json, Value};
use stagegate::candidate::Trigger;
use stagegate::functions::Ports;
use stagegate::memory::MemoryApprovals;
use stagegate::ports::{Message, Topic};
use stagegate::steps::approval::{self, Decided, Decision as Vote};
use stagegate::steps::approval_page;
use stagegate::Settings;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How the approval is decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve as "rehearsal-approver" (with a reason when checks failed).
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

/// The rehearsal's world: local adapters, with the engine answering task tokens and
/// listing executions.
pub type LocalWorld = Ports<
    DirArtifacts,
    Outbox,
    MemoryApprovals,
    EngineLink,
    EngineLink,
    LocalStacks,
    LocalHosting,
    LocalHttp,
    GitHistory,
    NoReleases,
>;

/// The phases shown in progress and in the timeline, in flow order.
pub const PHASES: &[&str] = &[
    "Preflight",
    "Pre-Deployment Checks",
    "Generate Checklist",
    "Wait for Approval",
    "Validate Infrastructure",
    "Deploy Infrastructure",
    "Capture Stack Outputs",
    "Deploy Frontend",
    "Integration Tests",
    "Test Results",
    "Performance Tests",
    "User Acceptance Testing",
    "Mark Release Ready",
    "Notify Success",
    "Notify Failure",
    "Notify Cancelled",
];

fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
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

/// Runs a rehearsal to its end.
pub async fn run(opts: Options) -> Result<Summary, String> {
    let app = App::load(&opts.app_dir)?;
    let faults = Faults::parse(&opts.fail)?;
    let history = GitHistory {
        dir: app.dir.clone(),
        tag_prefix: "rc-".into(),
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
        sha: sha.clone(),
        pushed_by: Some(pushed_by.clone()),
    };
    let candidate = trigger.validate("rc-").map_err(|e| e.message)?;
    let run_id = candidate.execution_name();
    let root = opts.work_dir.join(".stagegate");
    let run_dir = root.join("runs").join(&run_id);
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| format!("cannot create {}: {e}", run_dir.display()))?;

    // The approval page, bound first so its URL goes into the emails.
    let world_slot: Arc<std::sync::OnceLock<Arc<LocalWorld>>> = Arc::default();
    let page = approval_page(world_slot.clone());
    let (page_addr, page_task) = http::serve(opts.approval_port, page).await.map_err(|e| {
        format!(
            "cannot serve the approval page on 127.0.0.1:{}: {e}",
            opts.approval_port
        )
    })?;

    let settings = Settings {
        stack_name: app.config.stack_name.clone(),
        suites: app.config.suites.clone(),
        frontend_env: app.config.frontend.env.clone(),
        commands: app.config.commands.clone(),
        user_acceptance: app.config.user_acceptance,
        approval_base_url: format!("http://{page_addr}"),
        approval_timeout_seconds: if opts.decision == Decision::Timeout {
            TIMEOUT_WINDOW_SECONDS
        } else {
            86_400
        },
        max_polls: 120,
        execution_url: format!("file://{}/history.json", run_dir.display()),
        ..Settings::default()
    };
    let (approval_tx, mut approval_rx) = mpsc::unbounded_channel::<Message>();
    let listener: OutboxListener = Arc::new(move |topic, message, path| {
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
    let stacks = LocalStacks::open(
        app.clone(),
        root.clone(),
        root.join("stacks").join(&app.config.stack_name),
        faults.clone(),
    )
    .await?;
    let link = EngineLink::default();
    let clock_link = link.clone();
    let world: Arc<LocalWorld> = Arc::new(Ports {
        settings,
        clock: Box::new(move || clock_link.now()),
        artifacts: DirArtifacts { root: root.clone() },
        notifier: Outbox::new(run_dir.join("outbox"), listener),
        approvals: MemoryApprovals::default(),
        callbacks: link.clone(),
        executions: link,
        stacks,
        hosting: LocalHosting::new(
            app.dir.join(&app.config.frontend.dir),
            run_dir.join("site"),
            faults.clone(),
        ),
        http: LocalHttp,
        history,
        releases: NoReleases,
    });
    let _ = world_slot.set(world.clone());
    let builds = ProcessBuilds {
        app_dir: app.dir.clone(),
        artifacts_root: root.clone(),
        logs_dir: run_dir.join("logs"),
        faults: faults.clone(),
    };
    let engine = Engine::with_options(
        Arc::new(registry(world.clone(), builds)),
        Clock::system(),
        EngineConfig::default(),
        None,
    );
    let sm = engine
        .create_state_machine(STATE_MACHINE, STAGING_DEFINITION, &substitutions())
        .map_err(|e| e.to_string())?;
    world.callbacks.set(engine.clone(), sm.clone());

    say(&format!(
        "stagegate rehearsal of {} {} ({} {}, pushed by {pushed_by})",
        candidate.repository,
        candidate.tag,
        sha_note,
        &sha[..12]
    ));
    say(&format!("  app: {}", app.dir.display()));
    say(&format!("  run: {}", run_dir.display()));
    if let Some(f) = faults.first() {
        say(&format!(
            "  --fail {f}: {}",
            FAULTS
                .iter()
                .find(|x| x.0 == f)
                .map(|x| x.1)
                .unwrap_or_default()
        ));
    }
    let mut events = engine.subscribe();
    let input = json!({"repository": candidate.repository, "tag": candidate.tag, "sha": candidate.sha, "pushedBy": candidate.pushed_by});
    let arn = engine
        .start_execution(&sm, Some(&run_id), input)
        .map_err(|e| e.to_string())?;

    let started = Instant::now();
    let timeline: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let progress = {
        let arn = arn.clone();
        let timeline = timeline.clone();
        let suites = app.config.suites.clone();
        tokio::spawn(async move {
            while let Ok((exec, event)) = events.recv().await {
                if exec != arn {
                    continue;
                }
                report(&event, &timeline, &suites);
            }
        })
    };
    let decider = {
        let world = world.clone();
        let decision = opts.decision.clone();
        let pusher = pushed_by.clone();
        tokio::spawn(async move {
            while let Some(message) = approval_rx.recv().await {
                decide(&world, &decision, &message, &pusher).await;
            }
        })
    };
    let done = engine
        .wait_for_execution(&arn)
        .await
        .map_err(|e| e.to_string())?;
    // Let the progress task print the last events.
    tokio::time::sleep(Duration::from_millis(50)).await;
    progress.abort();
    decider.abort();
    let history = engine.get_execution_history(&arn).unwrap_or_default();
    let _ = std::fs::write(
        run_dir.join("history.json"),
        serde_json::to_vec_pretty(&history).unwrap_or_default(),
    );
    let _ = std::fs::write(
        run_dir.join("execution.json"),
        serde_json::to_vec_pretty(&done).unwrap_or_default(),
    );

    say("");
    say("Timeline");
    let marks = timeline.lock().map(|t| t.clone()).unwrap_or_default();
    for (i, (name, at)) in marks.iter().enumerate() {
        let end = marks.get(i + 1).map(|m| m.1).unwrap_or_else(Instant::now);
        say(&format!(
            "  {:<26} {:>8.1}s",
            name,
            end.duration_since(*at).as_secs_f64()
        ));
    }
    say(&format!(
        "  {:<26} {:>8.1}s",
        "total",
        started.elapsed().as_secs_f64()
    ));
    say("");
    say(&format!("Artifacts: {}", run_dir.display()));
    say(&format!("Outbox:    {}", run_dir.join("outbox").display()));
    say(&format!(
        "History:   {}",
        run_dir.join("history.json").display()
    ));
    if let Ok(Some(url)) = stagegate::ports::Hosting::url(&world.hosting)
        .await
        .map(Some)
    {
        if done.status == ExecutionStatus::Succeeded {
            say(&format!(
                "Staging:   {url} (served until this command exits)"
            ));
        }
    }
    let out = done.output.clone().unwrap_or(Value::Null);
    let outcome = match done.status {
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
        _ => {
            let history_state = last_state_input(&history);
            let error = done.error.clone().unwrap_or_default();
            if let Some(reason) = history_state
                .get("cancellation")
                .and_then(|c| c.get("reason"))
                .and_then(Value::as_str)
            {
                format!("cancelled: {reason}")
            } else {
                let stage = history_state
                    .get("failure")
                    .and_then(|f| f.get("stage"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                let why = history_state
                    .get("failure")
                    .and_then(|f| f.get("error"))
                    .map(stagegate::steps::notify::reason)
                    .unwrap_or_else(|| error.clone());
                format!("failed at {stage}: {why}")
            }
        }
    };
    say("");
    say(&format!("Result: {outcome}"));
    world.stacks.stop().await;
    world.hosting.stop().await;
    page_task.abort();
    Ok(Summary {
        status: done.status,
        outcome,
        error: done.error,
        run_dir,
    })
}

/// The state the last `*StateEntered` event saw (for the failure/cancellation keys).
fn last_state_input(history: &[HistoryEvent]) -> Value {
    history
        .iter()
        .rev()
        .find_map(|e| match &e.details {
            Details::StateEntered { input, .. }
                if input.get("failure").is_some() || input.get("cancellation").is_some() =>
            {
                Some(input.clone())
            }
            _ => None,
        })
        .unwrap_or(Value::Null)
}

fn report(event: &HistoryEvent, timeline: &Mutex<Vec<(String, Instant)>>, suites: &[String]) {
    let name = event.state_name().unwrap_or_default().to_string();
    let ty = event.event_type;
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
        Details::StateEntered { .. }
            if (name.starts_with("Run ") && name != "Run Test Suite") || name == "Package App" =>
        {
            say(&format!("  · {name}"))
        }
        Details::StateEntered { .. } if name.ends_with(" Failed") => say(&format!("  ✗ {name}")),
        Details::StateExited { output, .. } if name == "Preview Ready" => {
            let changes = output
                .get("preview")
                .and_then(|p| p.get("changes"))
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            say(&format!("  · change preview: {changes} resource change(s)"));
        }
        _ => {}
    }
    if ty == EventType::MapIterationSucceeded || ty == EventType::MapIterationFailed {
        if let Details::MapIteration { index, .. } = &event.details {
            let suite = suites.get(*index).map(String::as_str).unwrap_or("?");
            say(&format!(
                "  · suite {suite} {}",
                if ty == EventType::MapIterationSucceeded {
                    "ran"
                } else {
                    "could not run"
                }
            ));
        }
    }
}

async fn decide(world: &LocalWorld, decision: &Decision, message: &Message, pusher: &str) {
    let Some(id) = message
        .body
        .find("/approvals/")
        .map(|i| &message.body[i + "/approvals/".len()..])
        .map(|s| s.chars().take(43).collect::<String>())
    else {
        say("  ! the approval email has no link");
        return;
    };
    let link = format!("{}/approvals/{id}", world.settings.approval_base_url);
    let failed = message
        .body
        .lines()
        .find(|l| l.starts_with("Checks FAILED"))
        .map(str::to_string);
    let approver = if pusher.eq_ignore_ascii_case("rehearsal-approver") {
        "rehearsal-approver-2"
    } else {
        "rehearsal-approver"
    };
    let vote = match decision {
        Decision::Approve => Some(Vote {
            approver: approver.into(),
            approve: true,
            reason: failed
                .as_ref()
                .map(|f| format!("rehearsal --approve over failed checks ({f})")),
            from: "terminal".into(),
        }),
        Decision::Reject(reason) => Some(Vote {
            approver: approver.into(),
            approve: false,
            reason: Some(reason.clone()),
            from: "terminal".into(),
        }),
        Decision::Timeout => {
            say(&format!("  ⏳ nobody decides: the approval window is {TIMEOUT_WINDOW_SECONDS}s in this rehearsal (--timeout)"));
            None
        }
        Decision::Interactive => {
            say(&format!("  ⏸ waiting for a decision: open {link}"));
            say("    or type here: approve [reason]  |  reject <reason>");
            let line = tokio::task::spawn_blocking(|| {
                let mut s = String::new();
                std::io::stdin().read_line(&mut s).map(|_| s)
            })
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
            let line = line.trim();
            if line.is_empty() {
                // No terminal input (e.g. stdin closed): the page still works.
                return;
            }
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            let reason = (!rest.trim().is_empty()).then(|| rest.trim().to_string());
            match word {
                "approve" => Some(Vote {
                    approver: approver.into(),
                    approve: true,
                    reason,
                    from: "terminal".into(),
                }),
                "reject" => Some(Vote {
                    approver: approver.into(),
                    approve: false,
                    reason,
                    from: "terminal".into(),
                }),
                other => {
                    say(&format!(
                        "  ? '{other}' is neither approve nor reject; use the page: {link}"
                    ));
                    None
                }
            }
        }
    };
    let Some(vote) = vote else { return };
    let verb = if vote.approve { "approves" } else { "rejects" };
    match approval::decide(
        &world.settings,
        &world.approvals,
        &world.callbacks,
        world.callbacks.now(),
        &id,
        vote.clone(),
    )
    .await
    {
        Ok(Ok(Decided::Approved)) | Ok(Ok(Decided::Rejected)) => say(&format!(
            "  ✔ {} {verb}{}",
            vote.approver,
            vote.reason.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        Ok(Ok(Decided::Recorded { remaining })) => {
            say(&format!("  ✔ vote recorded; {remaining} more needed"))
        }
        Ok(Err(refusal)) => say(&format!("  ! {}: {}", refusal.title(), refusal.detail())),
        Err(e) => say(&format!("  ! the decision failed: {e}")),
    }
}

/// GET renders the review page; POST decides. Everything else is refused.
fn approval_page(world: Arc<std::sync::OnceLock<Arc<LocalWorld>>>) -> Handler {
    Arc::new(move |req: Request| {
        let world = world.clone();
        Box::pin(async move {
            let Some(world) = world.get().cloned() else {
                return Response::text(503, "starting");
            };
            let now = world.callbacks.now();
            let page = approval_page::page(
                &world.settings,
                &world.approvals,
                &world.callbacks,
                &world.artifacts,
                now,
                approval_page::PageRequest {
                    method: &req.method,
                    path: &req.path,
                    body: &req.body,
                    from: req.peer.ip().to_string(),
                },
            )
            .await;
            Response::new(page.status, page.content_type, page.body)
        })
    })
}
