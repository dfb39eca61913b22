//! Artifacts as files under the rehearsal's `.stagegate/` (`runs/<run>/...`).

use super::safe_join;
use stagegate::ports::{Artifacts, PortResult, Stored};
use stagegate::PortError;
use std::path::PathBuf;

/// Artifacts as files under a root directory.
#[derive(Clone, Debug)]
pub struct DirArtifacts {
    pub root: PathBuf,
}

impl Artifacts for DirArtifacts {
    async fn put(&self, key: &str, _content_type: &str, body: Vec<u8>) -> PortResult<String> {
        let path = safe_join(&self.root, key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                PortError::new(format!("create {}", parent.display()), e.to_string())
            })?;
        }
        tokio::fs::write(&path, body)
            .await
            .map_err(|e| PortError::new(format!("write {}", path.display()), e.to_string()))?;
        Ok(path.display().to_string())
    }
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let path = safe_join(&self.root, key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PortError::new(
                format!("read {}", path.display()),
                e.to_string(),
            )),
        }
    }
    /// Files keep no versions: the manifest's digests alone bind them locally.
    async fn read(&self, key: &str) -> PortResult<Option<Stored>> {
        Ok(self.get(key).await?.map(|body| Stored {
            body,
            version: None,
        }))
    }
}
