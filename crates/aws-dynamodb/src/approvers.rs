//! The approvers item: who may decide what, and their SNS subscriptions, written only
//! over the version that was read.

use super::{conditional, json_attr, n, number, to_json, DynamoTable, Written, APPROVERS_KEY};
use stagegate::ports::{ApprovalKind, Approver, Approvers, PortResult};
use std::collections::BTreeMap;

/// The approvers as stored: who they are, and the SNS subscription of each (the
/// email subscription filtered on their id), and the item's version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    pub approvers: Vec<Approver>,
    /// Approver id → subscription ARN (or `pending confirmation`).
    pub subscriptions: BTreeMap<String, String>,
    /// Bumped on every change: a change is written only over the version it read.
    pub version: u64,
}

impl DynamoTable {
    /// The approvers item (empty when none was ever written).
    pub async fn directory(&self) -> PortResult<Directory> {
        let Some(item) = self
            .item(APPROVERS_KEY.into(), "read the approvers")
            .await?
        else {
            return Ok(Directory::default());
        };
        Ok(Directory {
            approvers: json_attr(&item, "approvers", "approvers")?,
            subscriptions: json_attr(&item, "subscriptions", "approver subscriptions")?,
            version: number(&item, "version").unwrap_or(0),
        })
    }

    /// Writes `directory` if the stored version is still `directory.version`; the
    /// stored version becomes one more. `false` when someone changed it meanwhile.
    pub async fn save_directory(&self, directory: &Directory) -> PortResult<bool> {
        let mut put = self
            .put(APPROVERS_KEY)
            .item(
                "approvers",
                super::s(to_json(&directory.approvers, "approvers")?),
            )
            .item(
                "subscriptions",
                super::s(to_json(&directory.subscriptions, "approvers")?),
            )
            .item("version", n(directory.version + 1));
        put = if directory.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", n(directory.version))
        };
        let written = conditional(put, false, "save the approvers").await?;
        Ok(matches!(written, Written::Yes))
    }
}

impl Approvers for DynamoTable {
    async fn deciding(&self, kind: ApprovalKind) -> PortResult<Vec<Approver>> {
        Ok(self
            .directory()
            .await?
            .approvers
            .into_iter()
            .filter(|a| a.decides.contains(&kind))
            .collect())
    }
}
