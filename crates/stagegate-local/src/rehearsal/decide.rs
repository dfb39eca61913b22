//! Deciding a rehearsal's approvals: as `--approve`/`--reject`/`--timeout` say, or
//! on the terminal (the review page works too), through the same approval desk and
//! rules as the page and the CLI.

use super::{say, Decision, Rehearsal, TIMEOUT_WINDOW_SECONDS};
use stagegate::desk::{Decided, Decider, Form, Refusal};
use stagegate::ports::{ApprovalState, Message};
use std::time::Duration;
use tokio::sync::mpsc;

impl Rehearsal {
    /// `--fail tamper`: flips one byte of the run's pinned packaged template.
    async fn tamper(&self) {
        let path = self.c.run_dir.join("packaged.yaml");
        match tokio::fs::read(&path).await {
            Ok(mut bytes) if !bytes.is_empty() => {
                bytes[0] ^= 0x20;
                match tokio::fs::write(&path, bytes).await {
                    Ok(()) => say(&format!(
                        "  ⚠ --fail tamper: changed one byte of {}",
                        path.display()
                    )),
                    Err(e) => say(&format!(
                        "  ! --fail tamper: cannot write {}: {e}",
                        path.display()
                    )),
                }
            }
            _ => say(&format!(
                "  ! --fail tamper: no pinned template at {}",
                path.display()
            )),
        }
    }

    /// Answers an approval email (and the other approvers' emails of the same
    /// approval, already sent) as `decision` says, through the same desk and rules as
    /// the page.
    pub(super) async fn decide(
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
        if self.c.faults.has("validate-infrastructure")
            && messages
                .iter()
                .any(|m| m.attributes.get("kind").map(String::as_str) == Some("approval-request"))
        {
            // Another deployment lands while the candidate waits for approval: after
            // its preview, before Validate Infrastructure looks, however it is decided.
            self.stacks.simulate_other_deployment();
        }
        if self.c.faults.has("tamper")
            && messages
                .iter()
                .any(|m| m.attributes.get("kind").map(String::as_str) == Some("approval-request"))
        {
            // Someone rewrites one byte of the approved package while it waits: after
            // the manifest was sealed, before Validate Infrastructure re-hashes it.
            self.tamper().await;
        }
        let mut approval_id = None;
        for m in &messages {
            let Some(id) = link_id(&m.body) else {
                say("  ! an approval email has no link");
                continue;
            };
            let Ok(Ok((record, approver, _))) = self.world.desk().review(&id).await else {
                continue;
            };
            approval_id = Some(record.id.clone());
            if decision == &Decision::Interactive {
                say(&format!(
                    "  ⏸ {} decides on {}/approvals/{id}",
                    approver.id, self.world.settings.approval_base_url
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
                        let glass = self.breaks_glass(&approval_id).await;
                        let reason = match (glass, failed.is_empty()) {
                            (true, _) => Some("rehearsal --break-glass: deploy now".to_string()),
                            (false, false) => Some(format!(
                                "rehearsal --approve over failed checks ({})",
                                failed.join(", ")
                            )),
                            (false, true) => None,
                        };
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
        let record = self.world.desk().record(approval_id).await.ok().flatten()?;
        if record.state != ApprovalState::Pending {
            return None;
        }
        let approver = record
            .approvers
            .iter()
            .find(|a| !record.votes.iter().any(|v| v.approver == a.id))?;
        Some((Decider::Approver(approver.clone()), record.failed_checks))
    }

    /// `--break-glass`: whether this approval's approvals break the glass (a
    /// production approval, in a rehearsal asked to).
    async fn breaks_glass(&self, approval_id: &str) -> bool {
        let kind = match self.world.desk().record(approval_id).await {
            Ok(Some(record)) => record.kind,
            _ => return false,
        };
        self.break_glass && kind == stagegate::ports::ApprovalKind::Production
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
        let break_glass = approve && self.breaks_glass(approval_id).await;
        let Decider::Approver(approver) = &decider;
        if let (Some(slack), false, Some(_)) = (&self.slack, break_glass, &approver.slack) {
            return slack
                .decide(approval_id, approver, approve, reason.as_deref())
                .await;
        }
        let verb = match (approve, break_glass) {
            (true, true) => "breaks the glass and approves",
            (true, false) => "approves",
            (false, _) => "rejects",
        };
        let form = Form {
            approve,
            reason: reason.clone(),
            from: "terminal".into(),
            break_glass,
        };
        match self
            .world
            .desk()
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

/// The link id in an approval email.
fn link_id(body: &str) -> Option<String> {
    let start = body.find("/approvals/")? + "/approvals/".len();
    Some(body[start..].chars().take(43).collect())
}

/// The terminal's lines, read by one thread for the whole rehearsal, so a line typed
/// while nothing asks for one waits for the next prompt instead of being lost.
pub(super) fn terminal_lines() -> mpsc::UnboundedReceiver<String> {
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
