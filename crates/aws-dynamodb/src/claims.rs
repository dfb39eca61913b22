//! Once-only claims (webhook deliveries, runs, notifications) and each repository's
//! newest candidate.

use super::{conditional, json_attr, n, number, s, to_json, DynamoTable, Written};
use aws_common::port_error;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use chrono::{DateTime, Utc};
use stagegate::ports::{Candidates, Claim, Claims, Hold, Newest, PortResult};

impl DynamoTable {
    /// A put of `hold` (`#owner` names the attribute in the condition the caller adds).
    fn owned(&self, hold: &Hold<'_>) -> PutItemFluentBuilder {
        self.put(hold.key)
            .item("owner", s(hold.owner))
            .item("expiresAt", n(hold.expires_at.timestamp()))
            .expression_attribute_names("#owner", "owner")
    }
}

impl Claims for DynamoTable {
    async fn claim(&self, key: &str, expires_at: DateTime<Utc>) -> PortResult<bool> {
        let put = self
            .put(key)
            .item("expiresAt", n(expires_at.timestamp()))
            .condition_expression("attribute_not_exists(pk)");
        let written = conditional(put, false, format!("claim {key}")).await?;
        Ok(matches!(written, Written::Yes))
    }

    async fn release(&self, key: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .send()
            .await
            .map_err(|e| port_error(format!("release {key}"), &e))?;
        Ok(())
    }

    async fn claim_for(&self, hold: &Hold<'_>) -> PortResult<Claim> {
        // Free, or already ours (a retried call).
        let put = self
            .owned(hold)
            .condition_expression("attribute_not_exists(pk) OR #owner = :owner")
            .expression_attribute_values(":owner", s(hold.owner));
        Ok(
            match conditional(put, true, format!("claim {}", hold.key)).await? {
                Written::Yes => Claim::Mine,
                Written::Refused(item) => Claim::HeldBy(
                    item.as_ref()
                        .and_then(|i| i.get("owner"))
                        .and_then(|o| o.as_s().ok())
                        .cloned()
                        .unwrap_or_default(),
                ),
            },
        )
    }

    async fn take_over(&self, hold: &Hold<'_>, from: &str) -> PortResult<bool> {
        let put = self
            .owned(hold)
            .condition_expression("#owner = :from")
            .expression_attribute_values(":from", s(from));
        let written = conditional(put, false, format!("take over {}", hold.key)).await?;
        Ok(matches!(written, Written::Yes))
    }
}

fn newest_key(repository: &str) -> String {
    format!("newest#{repository}")
}

impl Candidates for DynamoTable {
    async fn newest(&self, repository: &str) -> PortResult<Option<(Newest, u64)>> {
        let what = format!("read the newest candidate of {repository}");
        let Some(item) = self.item(newest_key(repository), what).await? else {
            return Ok(None);
        };
        let revision = number(&item, "revision").unwrap_or(0);
        Ok(Some((
            json_attr(&item, "newest", "newest candidate")?,
            revision,
        )))
    }

    async fn set_newest(
        &self,
        repository: &str,
        newest: &Newest,
        revision: Option<u64>,
    ) -> PortResult<bool> {
        let mut put = self
            .put(newest_key(repository))
            .item("newest", s(to_json(newest, "the newest candidate")?))
            .item("revision", n(revision.map_or(1, |r| r + 1)));
        put = match revision {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(r) => put
                .condition_expression("revision = :r")
                .expression_attribute_values(":r", n(r)),
        };
        let what = format!("record the newest candidate of {repository}");
        Ok(matches!(conditional(put, false, what).await?, Written::Yes))
    }
}
