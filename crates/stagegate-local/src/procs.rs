//! The rehearsal's child processes (the app's checks, its backend): each runs in a
//! process group of its own, so ending it ends everything it started (`sh -c` and the
//! server `sh` runs), and every group still alive is ended when the rehearsal ends —
//! after success or failure ([`Group`]'s drop), on Ctrl-C, and on a panic
//! ([`end_all`], from the CLI's hook). No process outlives a rehearsal.
//!
//! A rehearsal killed outright (SIGKILL, the OOM killer) can do none of that, so each
//! live group is also written down in a ledger, `.stagegate/groups/<pgid>` (with its
//! leader's start time, so a reused pid is never mistaken for it): the next
//! rehearsal in that directory ends what the killed one left ([`keep_ledger_in`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use tokio::process::{Child, Command};

/// Where live groups are written down (`None`: nowhere, outside a rehearsal).
static LEDGER: Mutex<Option<PathBuf>> = Mutex::new(None);

fn ledger() -> MutexGuard<'static, Option<PathBuf>> {
    LEDGER.lock().unwrap_or_else(|p| p.into_inner())
}

static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// Groups killed by a drop, which could not wait for them to be gone: [`end_all`]
/// does.
static KILLED: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn groups() -> MutexGuard<'static, BTreeSet<i32>> {
    GROUPS.lock().unwrap_or_else(|p| p.into_inner())
}

fn killed() -> MutexGuard<'static, BTreeSet<i32>> {
    KILLED.lock().unwrap_or_else(|p| p.into_inner())
}

/// A live process group, ended (SIGKILL to the whole group) when dropped.
#[derive(Debug)]
pub struct Group {
    pgid: i32,
}

impl Group {
    /// The group's id (its leader's pid).
    pub fn id(&self) -> i32 {
        self.pgid
    }

    /// Asks the group to stop (SIGTERM), gives it `grace` to do so, then kills what
    /// is left and waits (boundedly) until it is gone: when this returns, no process
    /// of the group runs. `child` is the group's leader, reaped here.
    pub async fn end(self, child: &mut Child, grace: std::time::Duration) {
        signal(self.pgid, libc::SIGTERM);
        let _ = tokio::time::timeout(grace, child.wait()).await;
        let pgid = self.pgid;
        drop(self);
        // SIGKILL is delivered, not yet acted on: a member that outlived its leader
        // (the server `sh -c` started) can still be running for a moment.
        let deadline = tokio::time::Instant::now() + GONE_WITHIN;
        while members_alive(pgid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        killed().remove(&pgid);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        signal(self.pgid, libc::SIGKILL);
        groups().remove(&self.pgid);
        killed().insert(self.pgid);
        if let Some(dir) = ledger().as_ref() {
            let _ = std::fs::remove_file(dir.join(self.pgid.to_string()));
        }
    }
}

/// Sends `sig` to every process of group `pgid`.
fn signal(pgid: i32, sig: libc::c_int) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; it has no memory
    // effects, and an error (the group is already gone) is harmless.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Spawns `cmd` as the leader of a new process group, registered until its [`Group`]
/// is dropped.
pub fn spawn(cmd: &mut Command) -> std::io::Result<(Child, Group)> {
    cmd.process_group(0).kill_on_drop(true);
    let child = cmd.spawn()?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| std::io::Error::other("the child exited before it could be grouped"))?;
    groups().insert(pgid);
    if let Some(dir) = ledger().as_ref() {
        write_down(dir, pgid)?;
    }
    Ok((child, Group { pgid }))
}

/// Writes group `pgid` down in the ledger `dir`: its leader's start time, and this
/// process (the rehearsal that owns it) by pid and start time.
fn write_down(dir: &Path, pgid: i32) -> std::io::Result<()> {
    let me = std::process::id() as i32;
    let line = format!(
        "{} {me} {}",
        start_time(pgid).unwrap_or_default(),
        start_time(me).unwrap_or_default()
    );
    crate::private::write(&dir.join(pgid.to_string()), line.as_bytes())
}

/// Process `pid`'s start time (`/proc/<pid>/stat`'s 22nd field, in clock ticks since
/// boot): with the pid, it names one process for the whole uptime.
fn start_time(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after `(comm)` start at the 3rd, so the 22nd is the 20th of the rest.
    after_comm(&stat).nth(19).map(str::to_string)
}

/// The fields of a `/proc/<pid>/stat` line after `pid (comm)` — state, ppid, pgrp, … —
/// (comm may hold spaces and parentheses); none for a malformed line.
fn after_comm(stat: &str) -> std::str::SplitWhitespace<'_> {
    stat.rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
}

/// Whether the group a ledger entry names is still the one that was written down: its
/// leader is the same process (same pid and start time), or the leader is gone and
/// members of its group remain (Linux does not reuse a pid while a group holds it).
fn still_ours(pgid: i32, started: &str) -> bool {
    match start_time(pgid) {
        Some(now) => now == started,
        None => members_alive(pgid),
    }
}

/// Writes the groups spawned from now on into `dir`, after ending every group a
/// killed rehearsal left written down there. Returns how many groups it ended.
pub fn keep_ledger_in(dir: &Path) -> std::io::Result<usize> {
    crate::private::create_dir_all(dir)?;
    let ended = end_left_in(dir)?;
    *ledger() = Some(dir.to_path_buf());
    Ok(ended)
}

/// Ends every group written down in `dir` that is still the one written down, and
/// empties the ledger.
fn end_left_in(dir: &Path) -> std::io::Result<usize> {
    let mut ended = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let Some(pgid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let line = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let mut fields = line.split_whitespace();
        let (started, owner, owner_started) = (
            fields.next().unwrap_or_default(),
            fields
                .next()
                .and_then(|p| p.parse::<i32>().ok())
                .unwrap_or(0),
            fields.next().unwrap_or_default(),
        );
        // A rehearsal still running in this directory keeps its groups.
        if owner > 1 && start_time(owner).as_deref() == Some(owner_started) {
            continue;
        }
        if pgid > 1 && still_ours(pgid, started) {
            signal(pgid, libc::SIGKILL);
            ended.push(pgid);
        }
        std::fs::remove_file(entry.path())?;
    }
    let deadline = std::time::Instant::now() + GONE_WITHIN;
    while ended.iter().any(|&g| members_alive(g)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(ended.len())
}

/// How long a killed group may take to be gone before the rehearsal moves on.
const GONE_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a process of group `pgid` is still running (a zombie, already dead and
/// waiting to be reaped, does not count).
fn members_alive(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let mut rest = after_comm(&stat);
        let state = rest.next().unwrap_or("Z");
        let group = rest.nth(1).and_then(|g| g.parse::<i32>().ok());
        state != "Z" && group == Some(pgid)
    })
}

/// Kills every process group still registered and waits (boundedly) until they are
/// gone: the last word of a rehearsal that is interrupted or panics.
pub fn end_all() {
    let mut all: BTreeSet<i32> = std::mem::take(&mut *groups());
    all.append(&mut killed());
    for &pgid in &all {
        signal(pgid, libc::SIGKILL);
    }
    let deadline = std::time::Instant::now() + GONE_WITHIN;
    while all.iter().any(|&g| members_alive(g)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Process groups alive now (for tests and the report).
pub fn live() -> usize {
    groups().len()
}

/// Runs [`end_all`] before the default panic report, so a panic anywhere in a
/// rehearsal leaves no process behind.
pub fn end_all_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        end_all();
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    /// Running, or at least not yet a zombie waiting to be reaped.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| after_comm(&stat).next().is_some_and(|state| state != "Z"))
    }

    /// `script` run by `sh` in a group of its own; it starts a grandchild and prints
    /// its pid, which is returned with the group.
    async fn with_grandchild(script: &str) -> (Child, Group, i32) {
        use tokio::io::AsyncReadExt;
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).stdout(Stdio::piped());
        let (mut child, group) = spawn(&mut cmd).unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 32];
        let n = out.read(&mut buf).await.unwrap();
        let grandchild: i32 = String::from_utf8_lossy(&buf[..n]).trim().parse().unwrap();
        assert!(alive(grandchild));
        (child, group, grandchild)
    }

    #[tokio::test]
    async fn dropping_a_group_ends_the_grandchildren_too() {
        // `sh` starts a `sleep` of its own, in the background.
        let (mut child, group, grandchild) = with_grandchild("sleep 30 & echo $!; wait").await;
        drop(group);
        let _ = child.wait().await;
        // The kernel reaps the orphaned sleep through init; give it a moment.
        for _ in 0..50 {
            if !alive(grandchild) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!alive(grandchild), "the grandchild outlived its group");
    }

    /// What a killed rehearsal left (its groups never dropped) is ended by the next
    /// one that keeps its ledger in the same place; a stranger's process whose pid
    /// happens to be written there is not touched.
    #[tokio::test]
    async fn the_next_rehearsal_ends_the_groups_a_killed_one_left() {
        let dir = std::env::temp_dir().join(format!("stagegate-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::private::create_dir_all(&dir).unwrap();
        // (Not the process-wide ledger: other tests spawn groups meanwhile.)
        let (child, group, grandchild) = with_grandchild("sleep 30 & echo $!; wait").await;
        let pgid = group.id();
        write_down(&dir, pgid).unwrap();
        // Killed outright: nothing is dropped, nothing is ended.
        std::mem::forget(group);
        std::mem::forget(child);
        groups().remove(&pgid);
        // A stranger: a process of ours that is not in any rehearsal group, written
        // down with another start time (as a reused pid would be).
        let mut stranger = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let spid = i32::try_from(stranger.id()).unwrap();
        std::fs::write(dir.join(spid.to_string()), "1 0 0").unwrap();
        // Written down by a rehearsal still running (this process): kept.
        let (mut live, live_group, _) = with_grandchild("sleep 30 & echo $!; wait").await;
        write_down(&dir, live_group.id()).unwrap();
        // The group written down first is a killed rehearsal's: its owner is recorded
        // as a process that is gone (a start time no process has).
        let line = std::fs::read_to_string(dir.join(pgid.to_string())).unwrap();
        let leader = line.split_whitespace().next().unwrap().to_string();
        std::fs::write(dir.join(pgid.to_string()), format!("{leader} {spid} 1")).unwrap();

        assert_eq!(end_left_in(&dir).unwrap(), 1);
        assert!(
            !members_alive(pgid) && !alive(grandchild),
            "the left group is ended"
        );
        assert!(alive(spid), "the stranger is not touched");
        assert!(
            members_alive(live_group.id()),
            "a live rehearsal's group is kept"
        );
        let kept: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            kept,
            [std::ffi::OsString::from(live_group.id().to_string())]
        );
        drop(live_group);
        let _ = live.wait().await;
        let _ = stranger.kill();
        let _ = stranger.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn end_kills_members_that_ignore_sigterm_before_it_returns() {
        // The grandchild ignores SIGTERM: only the SIGKILL after the grace ends it,
        // and `end` returns only once it has.
        let script = "(trap '' TERM; exec sleep 30) & echo $!; wait";
        let (mut child, group, grandchild) = with_grandchild(script).await;
        let pgid = group.id();
        group
            .end(&mut child, std::time::Duration::from_millis(200))
            .await;
        assert!(!alive(grandchild), "end returned while the grandchild ran");
        assert!(!members_alive(pgid));
    }
}
