//! The rehearsal's files: a run's own directory, the approval records kept on disk,
//! and the content hash standing in for a commit outside git.

use std::path::{Path, PathBuf};

/// Held while a rehearsal runs in a directory: the local stacks, the live releases,
/// the staged commits and the evidence key under `.stagegate/` are one world, so
/// rehearsals there take turns (a second one waits, and says so). An advisory lock on
/// `.stagegate/rehearsal.lock`, released when this value drops or the process dies,
/// however it dies.
pub(super) struct DirLock(#[allow(dead_code)] std::fs::File);

impl DirLock {
    /// Takes the lock of `root`, waiting (after `waiting()` is called) while another
    /// rehearsal holds it.
    pub(super) async fn take(root: &Path, waiting: impl FnOnce()) -> Result<DirLock, String> {
        use std::os::fd::AsRawFd as _;
        crate::private::create_dir_all(root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let path = root.join("rehearsal.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let fd = file.as_raw_fd();
        // SAFETY: flock on a descriptor this function owns (through `file`).
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(DirLock(file));
        }
        let busy = std::io::Error::last_os_error();
        if busy.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(format!("cannot lock {}: {busy}", path.display()));
        }
        waiting();
        let file = tokio::task::spawn_blocking(move || {
            // SAFETY: as above; this call waits until the holder lets go.
            match unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } {
                0 => Ok(file),
                _ => Err(std::io::Error::last_os_error()),
            }
        })
        .await
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
        Ok(DirLock(file))
    }
}

/// A new directory for this run under `runs`: `<name>` the first time, then
/// `<name>-2`, `<name>-3`… — a re-run of the same tag and commit keeps the earlier
/// run's files. The directory's name is also the execution's name.
pub(super) fn new_run_dir(runs: &Path, name: &str) -> Result<(String, PathBuf), String> {
    crate::private::create_dir_all(runs)
        .map_err(|e| format!("cannot create {}: {e}", runs.display()))?;
    for n in 1..10_000u32 {
        let id = if n == 1 {
            name.to_string()
        } else {
            format!("{name}-{n}")
        };
        let dir = runs.join(&id);
        // create_dir (not _all) fails if it exists: two rehearsals never share one.
        match crate::private::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!("{} holds too many runs of {name}", runs.display()))
}

/// Keeps every approval record of the run in `dir` (`<id>.json`, the latest version,
/// replaced atomically) as the table writes it: the table is in memory, and a
/// decision must outlive a rehearsal that is killed. The task token and the form key
/// are left out (they answer this process's tasks only).
pub(super) fn keep_decisions(
    table: &stagegate::testing::MemoryTable,
    dir: PathBuf,
) -> Result<(), String> {
    crate::private::create_dir_all(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    table.on_write(move |record| {
        let mut kept = record.clone();
        kept.task_token = String::new();
        kept.form_key = String::new();
        let name = stagegate::text::safe_name(&kept.id);
        let (tmp, path) = (
            dir.join(format!(".{name}.json")),
            dir.join(format!("{name}.json")),
        );
        let body = serde_json::to_vec_pretty(&kept).unwrap_or_default();
        let kept = crate::private::write(&tmp, &body).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = kept {
            eprintln!(
                "warning: the approval record could not be kept in {}: {e}",
                path.display()
            );
        }
    });
    Ok(())
}

/// A content hash standing in for a commit when the app is not in a git repository.
pub(super) fn content_sha(dir: &Path) -> String {
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
