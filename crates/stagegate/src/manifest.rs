//! What an approval binds: every artifact the deployment will use, with its SHA-256
//! and its store version, in one `manifest.json` whose own SHA-256 the approver is
//! shown and Validate Infrastructure checks after approval.
//!
//! The check commands (untrusted: any `rc-*` tag's code) write only their own build's
//! scratch prefix ([`scratch_prefix`]: IAM's `${aws:userid}` of that CodeBuild build).
//! [`pin`] — run by a trusted function, never by the checks' role — copies the package
//! build's output out of its scratch into the run's prefix, code under content
//! addresses (`runs/<run>/code/<sha256>`), and rewrites the packaged template to name
//! those copies. [`seal`] adds the checklist and writes the manifest; [`verify`] reads
//! every object again and names the first that differs. [`evidence`] binds a whole
//! run, signed, at its end. See `docs/security.md`.

pub mod evidence;
pub mod live;
pub mod staged;

use crate::error::{names, StepError};
use crate::flow::ManifestRef;
use crate::ports::{Artifacts, Stored};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where every check build's own writable prefix starts.
pub const SCRATCH: &str = "scratch/";

/// What a check build writes into its scratch besides its output: its whole log (the
/// buildspec's `tee`, the rehearsal's builds alike), read by Generate Checklist.
pub const CHECK_LOG: &str = "check.log";

/// Where the run keeps the log of the check named `check`: `logs/<slug>.log` under
/// the run's prefix (`eslint`, `unit-tests`, `package-preview`).
pub fn log_key(run_prefix: &str, check: &str) -> String {
    let mut slug = String::new();
    for c in check.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    format!("{run_prefix}logs/{}.log", slug.trim_end_matches('-'))
}

/// One artifact as approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub key: String,
    pub sha256: String,
    pub size: u64,
    /// The store's version of these bytes (S3 version id); absent locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub run_id: String,
    /// The approved commit: what Amplify builds the frontend from (its bundle is not
    /// a stored artifact; see `docs/security.md`).
    pub commit: String,
    pub artifacts: Vec<Entry>,
}

/// Hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The scratch prefix of the check build `build_id` (`<project>:<uuid>`): CodeBuild
/// runs each build as the session `AWSCodeBuild-<uuid>` of the checks role, so IAM's
/// `${aws:userid}` for it is `<role id>:AWSCodeBuild-<uuid>`, and the checks role's
/// policy lets it write `scratch/${aws:userid}/*` and nothing else.
pub fn scratch_prefix(role_id: &str, build_id: &str) -> Result<String, String> {
    let uuid = build_id.rsplit_once(':').map_or("", |(_, u)| u);
    let well_formed = |s: &str, extra: char| {
        !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == extra)
    };
    if !well_formed(uuid, '-') {
        return Err(format!(
            "'{build_id}' is not a CodeBuild build id (<project>:<uuid>)"
        ));
    }
    if !well_formed(role_id, '_') {
        return Err(format!("'{role_id}' is not an IAM role id"));
    }
    Ok(format!("{SCRATCH}{role_id}:AWSCodeBuild-{uuid}/"))
}

fn changed(message: String) -> StepError {
    StepError::new(names::ARTIFACT_CHANGED, message)
}

fn incomplete(message: String) -> StepError {
    StepError::new(names::PACKAGE_INCOMPLETE, message)
}

/// Writes `body` under `key` and reads it back: the entry is what the store holds.
async fn store(
    artifacts: &impl Artifacts,
    key: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Entry, StepError> {
    let expected = sha256(&body);
    artifacts.put(key, content_type, body).await?;
    let Some(Stored { body, version }) = artifacts.read(key).await? else {
        return Err(changed(format!("{key}: gone right after it was written")));
    };
    let entry = Entry {
        key: key.to_string(),
        sha256: sha256(&body),
        size: body.len() as u64,
        version,
    };
    if entry.sha256 != expected {
        return Err(changed(format!("{key}: changed while it was written")));
    }
    Ok(entry)
}

/// Every object key in `template` that starts with `scratch`, longest first.
fn scratch_keys(template: &str, scratch: &str) -> Vec<String> {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || "/._-:".contains(c);
    let mut keys: Vec<String> = template
        .match_indices(scratch)
        .map(|(at, _)| {
            let rest = &template[at..];
            let end = rest.find(|c| !is_key_char(c)).unwrap_or(rest.len());
            rest[..end].to_string()
        })
        .filter(|k| k.len() > scratch.len())
        .collect();
    keys.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    keys.dedup();
    keys
}

/// Pins the package build's output (under `scratch`) into the run (`run_prefix`):
/// each object the packaged template names is copied to `code/<sha256>`, the template
/// rewritten to name the copies, and the suites' definitions and performance budgets
/// copied beside it. Returns what it stored, also written to `pinned.json`.
pub async fn pin(
    artifacts: &impl Artifacts,
    scratch: &str,
    run_prefix: &str,
    suites: &[String],
) -> Result<Vec<Entry>, StepError> {
    let template_key = format!("{scratch}packaged.yaml");
    let Some(template) = artifacts.get(&template_key).await? else {
        return Err(incomplete(format!(
            "the package command wrote no packaged template to {template_key}"
        )));
    };
    let mut template = String::from_utf8(template)
        .map_err(|_| incomplete(format!("{template_key} is not UTF-8 text")))?;
    // Another build's scratch is writable by that build's code: never deploy from it.
    if let Some(at) = template
        .match_indices(SCRATCH)
        .map(|(at, _)| at)
        .find(|&at| !template[at..].starts_with(scratch))
    {
        let other: String = template[at..].chars().take(80).collect();
        return Err(incomplete(format!(
            "the packaged template names {other}, outside this build's own output ({scratch})"
        )));
    }
    let mut entries = Vec::new();
    for key in scratch_keys(&template, scratch) {
        let Some(body) = artifacts.get(&key).await? else {
            return Err(incomplete(format!(
                "the packaged template names {key}, which the package command did not upload"
            )));
        };
        let name = key.rsplit('/').next().unwrap_or_default();
        let extension = name
            .rsplit_once('.')
            .map_or(String::new(), |(_, e)| format!(".{e}"));
        let pinned = format!("{run_prefix}code/{}{extension}", sha256(&body));
        entries.push(store(artifacts, &pinned, "application/octet-stream", body).await?);
        template = template.replace(&key, &pinned);
    }
    let packaged = format!("{run_prefix}packaged.yaml");
    entries.push(store(artifacts, &packaged, "text/yaml", template.into_bytes()).await?);
    let copies = suites
        .iter()
        .map(|s| format!("suites/{s}.json"))
        .chain(["performance.json".to_string()]);
    for file in copies {
        if let Some(body) = artifacts.get(&format!("{scratch}{file}")).await? {
            let key = format!("{run_prefix}{file}");
            entries.push(store(artifacts, &key, "application/json", body).await?);
        }
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let list = serde_json::to_vec_pretty(&entries).map_err(|e| incomplete(e.to_string()))?;
    artifacts
        .put(
            &format!("{run_prefix}pinned.json"),
            "application/json",
            list,
        )
        .await?;
    Ok(entries)
}

/// Writes the run's manifest: what [`pin`] stored plus `also` (the checklist), and
/// returns where it is with its digest.
pub async fn seal(
    artifacts: &impl Artifacts,
    run_id: &str,
    commit: &str,
    run_prefix: &str,
    also: &[&str],
) -> Result<ManifestRef, StepError> {
    let pinned_key = format!("{run_prefix}pinned.json");
    let mut entries: Vec<Entry> = match artifacts.get(&pinned_key).await? {
        None => Vec::new(),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| changed(format!("{pinned_key}: not a list of pinned artifacts: {e}")))?,
    };
    for key in also {
        let Some(entry) = entry_of(artifacts, key).await? else {
            return Err(changed(format!(
                "{key}: missing when the manifest was sealed"
            )));
        };
        entries.push(entry);
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let manifest = Manifest {
        run_id: run_id.to_string(),
        commit: commit.to_string(),
        artifacts: entries,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| changed(e.to_string()))?;
    let key = format!("{run_prefix}manifest.json");
    let entry = store(artifacts, &key, "application/json", bytes).await?;
    Ok(ManifestRef {
        key,
        digest: entry.sha256,
    })
}

/// Reads the approved manifest and every object it lists again: `ArtifactChanged`
/// naming the first object whose bytes or version differ, or that is gone.
pub async fn verify(
    artifacts: &impl Artifacts,
    approved: &ManifestRef,
) -> Result<Manifest, StepError> {
    let (manifest, differences) = differences(artifacts, approved).await?;
    match (manifest, differences.into_iter().next()) {
        (Some(manifest), None) => Ok(manifest),
        (_, Some(first)) => Err(changed(first)),
        (None, None) => Err(changed(format!("{}: unreadable", approved.key))),
    }
}

/// Every way the store differs from the approved manifest, one line each (the
/// manifest itself first): empty when it holds exactly what was approved. The
/// manifest, when it could be read.
pub async fn differences(
    artifacts: &impl Artifacts,
    approved: &ManifestRef,
) -> Result<(Option<Manifest>, Vec<String>), StepError> {
    let Some(bytes) = artifacts.get(&approved.key).await? else {
        return Ok((
            None,
            vec![format!("{}: the manifest is gone", approved.key)],
        ));
    };
    let mut found = Vec::new();
    if sha256(&bytes) != approved.digest {
        found.push(format!(
            "{}: the manifest is not the one approved (sha256 {} was approved)",
            approved.key, approved.digest
        ));
    }
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            found.push(format!("{}: unreadable: {e}", approved.key));
            return Ok((None, found));
        }
    };
    found.extend(entry_differences(artifacts, &manifest.artifacts).await?);
    Ok((Some(manifest), found))
}

/// Every entry whose object is gone, or whose bytes or version differ.
pub async fn entry_differences(
    artifacts: &impl Artifacts,
    entries: &[Entry],
) -> Result<Vec<String>, StepError> {
    let mut found = Vec::new();
    for entry in entries {
        let Some(now) = artifacts.read(&entry.key).await? else {
            found.push(format!("{}: gone since approval", entry.key));
            continue;
        };
        let digest = sha256(&now.body);
        if digest != entry.sha256 {
            found.push(format!(
                "{}: sha256 {digest}, approved {}",
                entry.key, entry.sha256
            ));
        } else if now.version != entry.version {
            found.push(format!(
                "{}: rewritten since approval (version {}, approved {})",
                entry.key,
                now.version.as_deref().unwrap_or("none"),
                entry.version.as_deref().unwrap_or("none")
            ));
        }
    }
    Ok(found)
}

/// The entry of `key` as the store holds it now, or `None` if there is no object.
pub async fn entry_of(artifacts: &impl Artifacts, key: &str) -> Result<Option<Entry>, StepError> {
    Ok(artifacts
        .read(key)
        .await?
        .map(|Stored { body, version }| Entry {
            key: key.to_string(),
            sha256: sha256(&body),
            size: body.len() as u64,
            version,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryArtifacts;

    const SCRATCH_OF_BUILD: &str = "scratch/AROAEXAMPLE:AWSCodeBuild-1f2e/";

    fn packaged_build() -> MemoryArtifacts {
        let store = MemoryArtifacts::default();
        let s = SCRATCH_OF_BUILD;
        let template = format!(
            "Resources:\n  Api:\n    Properties:\n      CodeUri: s3://bucket/{s}code/4f2a\n  Site:\n    Properties:\n      TemplateURL: https://s3.eu-west-1.amazonaws.com/bucket/{s}code/9c1b.template\n      Again: s3://bucket/{s}code/4f2a\n"
        );
        store.put_sync(&format!("{s}packaged.yaml"), "text/yaml", template);
        store.put_sync(&format!("{s}code/4f2a"), "x", "api code");
        store.put_sync(&format!("{s}code/9c1b.template"), "x", "nested");
        store.put_sync(&format!("{s}suites/auth.json"), "x", "{\"cases\": []}");
        store
    }

    async fn pinned_and_sealed(store: &MemoryArtifacts) -> ManifestRef {
        pin(
            store,
            SCRATCH_OF_BUILD,
            "runs/r/",
            &["auth".into(), "ai".into()],
        )
        .await
        .unwrap();
        store.put_sync("runs/r/checklist.md", "text/markdown", "# checklist");
        seal(store, "r", "abc123", "runs/r/", &["runs/r/checklist.md"])
            .await
            .unwrap()
    }

    #[test]
    fn a_builds_scratch_is_its_iam_user_id() {
        assert_eq!(
            scratch_prefix("AROAEXAMPLE", "checks:1f2e-77").unwrap(),
            "scratch/AROAEXAMPLE:AWSCodeBuild-1f2e-77/"
        );
        for bad in ["checks", "checks:", "checks:../x", "checks:a/b"] {
            let e = scratch_prefix("AROAEXAMPLE", bad).unwrap_err();
            assert!(e.contains("not a CodeBuild build id"), "{bad}: {e}");
        }
        assert!(scratch_prefix("AROA/x", "c:1").is_err());
    }

    #[tokio::test]
    async fn pinning_copies_code_to_content_addresses_and_rewrites_the_template() {
        let store = packaged_build();
        let entries = pin(
            &store,
            SCRATCH_OF_BUILD,
            "runs/r/",
            &["auth".into(), "ai".into()],
        )
        .await
        .unwrap();
        let api = format!("runs/r/code/{}", sha256(b"api code"));
        let nested = format!("runs/r/code/{}.template", sha256(b"nested"));
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let mut code = [api.as_str(), nested.as_str()];
        code.sort();
        assert_eq!(
            keys,
            [
                code[0],
                code[1],
                "runs/r/packaged.yaml",
                "runs/r/suites/auth.json"
            ]
        );
        let template = String::from_utf8(store.get_sync("runs/r/packaged.yaml").unwrap()).unwrap();
        assert!(!template.contains("scratch/"), "{template}");
        assert_eq!(template.matches(&api).count(), 2, "{template}");
        assert!(template.contains(&format!("bucket/{nested}")), "{template}");
        assert!(entries.iter().all(|e| e.version.is_some()));
        assert!(store.get_sync("runs/r/pinned.json").is_some());
    }

    #[tokio::test]
    async fn a_template_naming_another_builds_scratch_is_refused() {
        let store = packaged_build();
        store.put_sync(
            &format!("{SCRATCH_OF_BUILD}packaged.yaml"),
            "text/yaml",
            "CodeUri: s3://bucket/scratch/AROAEXAMPLE:AWSCodeBuild-other/evil.zip\n",
        );
        let e = pin(&store, SCRATCH_OF_BUILD, "runs/r/", &[])
            .await
            .unwrap_err();
        assert_eq!(e.name, "PackageIncomplete");
        assert!(
            e.message.contains("AWSCodeBuild-other/evil.zip"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn a_missing_package_or_object_is_package_incomplete() {
        let e = pin(
            &MemoryArtifacts::default(),
            SCRATCH_OF_BUILD,
            "runs/r/",
            &[],
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "PackageIncomplete");
        assert!(e.message.contains("packaged.yaml"), "{}", e.message);
        let store = packaged_build();
        let gone = format!("{SCRATCH_OF_BUILD}code/9c1b.template");
        let store2 = MemoryArtifacts::default();
        for key in store.keys().into_iter().filter(|k| *k != gone) {
            store2.put_sync(&key, "x", store.get_sync(&key).unwrap());
        }
        let e = pin(&store2, SCRATCH_OF_BUILD, "runs/r/", &[])
            .await
            .unwrap_err();
        assert!(e.message.contains("9c1b.template"), "{}", e.message);
    }

    #[tokio::test]
    async fn the_sealed_manifest_verifies_until_one_byte_changes() {
        let store = packaged_build();
        let approved = pinned_and_sealed(&store).await;
        assert_eq!(
            approved.digest,
            sha256(&store.get_sync(&approved.key).unwrap())
        );
        let manifest = verify(&store, &approved).await.unwrap();
        assert_eq!(manifest.commit, "abc123");
        assert!(manifest
            .artifacts
            .iter()
            .any(|e| e.key == "runs/r/checklist.md"));

        let code = manifest.artifacts[0].key.clone();
        let mut bytes = store.get_sync(&code).unwrap();
        bytes[0] ^= 1;
        store.put_sync(&code, "x", bytes);
        let e = verify(&store, &approved).await.unwrap_err();
        assert_eq!(e.name, "ArtifactChanged");
        assert!(
            e.message.starts_with(&format!("{code}: sha256 ")),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn the_same_bytes_written_again_or_a_changed_manifest_are_changes_too() {
        let store = packaged_build();
        let approved = pinned_and_sealed(&store).await;
        let same = store.get_sync("runs/r/packaged.yaml").unwrap();
        store.put_sync("runs/r/packaged.yaml", "text/yaml", same);
        let e = verify(&store, &approved).await.unwrap_err();
        assert!(
            e.message.contains("rewritten since approval"),
            "{}",
            e.message
        );

        let store = packaged_build();
        let approved = pinned_and_sealed(&store).await;
        store.put_sync(&approved.key, "application/json", "{}");
        let e = verify(&store, &approved).await.unwrap_err();
        assert!(e.message.contains("not the one approved"), "{}", e.message);
    }
}
