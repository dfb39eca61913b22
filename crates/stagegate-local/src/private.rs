//! A run's files hold secrets — personal approval links (the outbox), task tokens (the
//! execution history) — so a run's directory is its owner's only (0700) and those
//! files are created owner-only (0600), whatever the umask.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Creates directory `path` (not its parents) owner-only; `AlreadyExists` if it is
/// there.
pub fn create_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(path)?;
    // The umask may have taken bits away; it cannot have added any.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// Creates `path` and its missing parents owner-only (existing ones keep their mode).
pub fn create_dir_all(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Writes `bytes` to `path`, created (or truncated) owner-only.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode through open: set it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_the_owners_only() {
        let base = std::env::temp_dir().join(format!("stagegate-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        create_dir_all(&base.join("runs")).unwrap();
        create_dir(&base.join("runs/r1")).unwrap();
        assert_eq!(mode(&base.join("runs")), 0o700);
        assert_eq!(mode(&base.join("runs/r1")), 0o700);
        let file = base.join("runs/r1/history.json");
        std::fs::write(&file, b"old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"{}").unwrap();
        assert_eq!(mode(&file), 0o600, "an existing file is made private too");
        assert_eq!(std::fs::read(&file).unwrap(), b"{}");
        assert_eq!(
            create_dir(&base.join("runs/r1")).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
