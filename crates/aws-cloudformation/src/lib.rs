//! [`Stacks`] on AWS CloudFormation.
//!
//! - Change sets are `CREATE` for a new stack (or one left in `REVIEW_IN_PROGRESS`)
//!   and `UPDATE` otherwise, always with `CAPABILITY_IAM`, `CAPABILITY_NAMED_IAM` and
//!   `CAPABILITY_AUTO_EXPAND` (what SAM's transform and nested apps need).
//! - On an update, every parameter the new template declares and the request does
//!   not set keeps its previous value (`UsePreviousValue`), as `sam deploy` does;
//!   otherwise CloudFormation would silently fall back to the template defaults.
//! - "The submitted information didn't contain changes" is not a failure: it is
//!   [`ChangeSetStatus::NoChanges`].
//! - A stack's failure reason is the *first* failed resource of its latest operation
//!   (the root cause), not the cascade of "Resource update cancelled" after it.

use aws_common::port_error;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus as CfnStatus, ChangeSetType, ExecutionStatus, Parameter,
    RollbackConfiguration, RollbackTrigger,
};
use aws_sdk_cloudformation::Client;
use stagegate::error::PortError;
use stagegate::ports::{
    ChangeSet, ChangeSetRequest, ChangeSetStatus, PortResult, ResourceChange, StackInfo, Stacks,
};
use std::collections::{BTreeMap, BTreeSet};

/// CloudFormation, with the artifacts bucket that relative template keys live in.
#[derive(Clone, Debug)]
pub struct CfnStacks {
    client: Client,
    bucket: String,
    region: String,
    role_arn: Option<String>,
}

impl CfnStacks {
    /// From the shared AWS configuration (its region locates template URLs).
    pub fn from_config(config: &aws_types::SdkConfig, bucket: impl Into<String>) -> Self {
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        Self::new(Client::new(config), bucket, region)
    }

    /// `bucket` and `region` turn a template key (`runs/<run>/packaged.yaml`, as the
    /// package check uploads it) into the HTTPS URL CloudFormation needs.
    pub fn new(client: Client, bucket: impl Into<String>, region: impl Into<String>) -> Self {
        CfnStacks {
            client,
            bucket: bucket.into(),
            region: region.into(),
            role_arn: None,
        }
    }

    /// The role CloudFormation assumes to deploy the application (`RoleARN` on the
    /// change set): stagegate itself then needs no permission on the app's resources.
    pub fn with_deployment_role(mut self, role_arn: Option<String>) -> Self {
        self.role_arn = role_arn.filter(|r| !r.is_empty());
        self
    }

    /// The `TemplateURL` for a template location: `https://` as is, `s3://bucket/key`
    /// and bare keys (in the artifacts bucket) as virtual-hosted S3 URLs.
    pub fn template_url(&self, uri: &str) -> Result<String, PortError> {
        let (bucket, key) = if uri.starts_with("https://") {
            return Ok(uri.to_string());
        } else if let Some(rest) = uri.strip_prefix("s3://") {
            rest.split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                .ok_or_else(|| {
                    PortError::new(
                        "locate the template",
                        format!("'{uri}' is not s3://bucket/key"),
                    )
                })?
        } else if uri.contains("://") || uri.is_empty() {
            return Err(PortError::new(
                "locate the template",
                format!(
                    "'{uri}' is neither an https:// or s3:// URL nor a key in the artifacts bucket"
                ),
            ));
        } else {
            (self.bucket.as_str(), uri.trim_start_matches('/'))
        };
        Ok(format!(
            "https://{bucket}.s3.{}.amazonaws.com/{key}",
            self.region
        ))
    }

    /// The parameters to send: requested values, previous values for the rest of
    /// what the template declares (updates only).
    async fn parameters(
        &self,
        template_url: &str,
        request: &ChangeSetRequest,
        previous: &BTreeSet<String>,
    ) -> PortResult<Vec<Parameter>> {
        let summary = self
            .client
            .get_template_summary()
            .template_url(template_url)
            .send()
            .await
            .map_err(|e| port_error("read the packaged template's parameters", &e))?;
        let mut out = Vec::new();
        for declared in summary.parameters() {
            let Some(key) = declared.parameter_key() else {
                continue;
            };
            if let Some(value) = request.parameters.get(key) {
                out.push(
                    Parameter::builder()
                        .parameter_key(key)
                        .parameter_value(value)
                        .build(),
                );
            } else if previous.contains(key) {
                out.push(
                    Parameter::builder()
                        .parameter_key(key)
                        .use_previous_value(true)
                        .build(),
                );
            }
        }
        Ok(out)
    }

    async fn describe_stack(
        &self,
        name: &str,
    ) -> PortResult<Option<aws_sdk_cloudformation::types::Stack>> {
        match self.client.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out.stacks().first().cloned()),
            // CloudFormation says "Stack with id X does not exist" as a ValidationError.
            Err(e) if is_missing_stack(&e) => Ok(None),
            Err(e) => Err(port_error(format!("describe stack {name}"), &e)),
        }
    }
}

/// The artifacts bucket and the deployment role, from the deployment.
impl From<&aws_common::Context> for CfnStacks {
    fn from(ctx: &aws_common::Context) -> Self {
        let d = &ctx.deployment;
        Self::from_config(&ctx.aws, &d.artifacts_bucket)
            .with_deployment_role(d.deployment_role_arn.clone())
    }
}

fn is_missing_stack<E, R>(e: &aws_sdk_cloudformation::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata,
{
    match e {
        aws_sdk_cloudformation::error::SdkError::ServiceError(s) => {
            s.err().code() == Some("ValidationError")
                && s.err()
                    .message()
                    .is_some_and(|m| m.contains("does not exist"))
        }
        _ => false,
    }
}

/// What CloudFormation says when a change set would change nothing.
fn means_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

fn stack_version(stack: &aws_sdk_cloudformation::types::Stack) -> String {
    let at = stack
        .last_updated_time()
        .or(stack.creation_time())
        .map(|t| t.to_string())
        .unwrap_or_default();
    format!("{}@{at}", stack.stack_id().unwrap_or_default())
}

impl Stacks for CfnStacks {
    async fn create_change_set(&self, request: &ChangeSetRequest) -> PortResult<String> {
        let existing = self.describe_stack(&request.stack_name).await?;
        let creating = existing
            .as_ref()
            .is_none_or(|s| s.stack_status().map(|st| st.as_str()) == Some("REVIEW_IN_PROGRESS"));
        let previous: BTreeSet<String> = if creating {
            BTreeSet::new()
        } else {
            existing
                .iter()
                .flat_map(|s| s.parameters())
                .filter_map(|p| p.parameter_key().map(str::to_string))
                .collect()
        };
        let url = self.template_url(&request.template_uri)?;
        let parameters = self.parameters(&url, request, &previous).await?;
        let out = self
            .client
            .create_change_set()
            .stack_name(&request.stack_name)
            .change_set_name(&request.change_set_name)
            .change_set_type(if creating {
                ChangeSetType::Create
            } else {
                ChangeSetType::Update
            })
            .template_url(url)
            .set_role_arn(self.role_arn.clone())
            .set_parameters(Some(parameters))
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .capabilities(Capability::CapabilityAutoExpand)
            .description("Created by stagegate for review; executed only after approval")
            .rollback_configuration(rollback_configuration(request))
            .send()
            .await
            .map_err(|e| {
                port_error(format!("create change set {}", request.change_set_name), &e)
            })?;
        out.id().map(str::to_string).ok_or_else(|| {
            PortError::new(
                "create change set",
                "CloudFormation returned no change set id",
            )
        })
    }

    async fn describe_change_set(&self, id: &str) -> PortResult<ChangeSet> {
        let mut changes = Vec::new();
        let mut pages = self
            .client
            .describe_change_set()
            .change_set_name(id)
            .into_paginator()
            .send();
        loop {
            let out = match pages.next().await {
                Some(page) => {
                    page.map_err(|e| port_error(format!("describe change set {id}"), &e))?
                }
                None => {
                    return Err(PortError::new(
                        format!("describe change set {id}"),
                        "CloudFormation returned no page",
                    ))
                }
            };
            for change in out.changes() {
                let Some(rc) = change.resource_change() else {
                    continue;
                };
                changes.push(ResourceChange {
                    action: rc
                        .action()
                        .map(|a| a.as_str().to_string())
                        .unwrap_or_default(),
                    logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
                    resource_type: rc.resource_type().unwrap_or_default().to_string(),
                    replacement: rc
                        .replacement()
                        .map(|r| r.as_str().to_string())
                        .unwrap_or_default(),
                });
            }
            let reason = out.status_reason().map(str::to_string);
            let status = match out.status() {
                Some(CfnStatus::CreateComplete) => ChangeSetStatus::Ready,
                Some(CfnStatus::CreatePending) | Some(CfnStatus::CreateInProgress) => {
                    ChangeSetStatus::Pending
                }
                Some(CfnStatus::Failed) if reason.as_deref().is_some_and(means_no_changes) => {
                    ChangeSetStatus::NoChanges
                }
                _ => ChangeSetStatus::Failed,
            };
            if out.next_token().is_none() || status != ChangeSetStatus::Ready {
                return Ok(ChangeSet {
                    id: out.change_set_id().unwrap_or(id).to_string(),
                    stack_name: out.stack_name().unwrap_or_default().to_string(),
                    executable: out.execution_status() == Some(&ExecutionStatus::Available),
                    status,
                    status_reason: reason,
                    changes,
                });
            }
        }
    }

    async fn execute_change_set(&self, id: &str) -> PortResult<()> {
        self.client
            .execute_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|e| port_error(format!("execute change set {id}"), &e))?;
        Ok(())
    }

    async fn stack(&self, name: &str) -> PortResult<Option<StackInfo>> {
        Ok(self.describe_stack(name).await?.map(|s| StackInfo {
            status: s
                .stack_status()
                .map(|st| st.as_str().to_string())
                .unwrap_or_default(),
            status_reason: s.stack_status_reason().map(str::to_string),
            version: stack_version(&s),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| {
                    Some((
                        o.output_key()?.to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect::<BTreeMap<_, _>>(),
        }))
    }

    async fn failure_reason(&self, name: &str) -> PortResult<Option<String>> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| port_error(format!("describe stack events of {name}"), &e))?;
        // Events come newest first. Walk back to the start of the latest operation
        // (the stack's own *_IN_PROGRESS "User Initiated" event) and keep the oldest
        // failure seen on the way: that is the cause; later ones are its cascade.
        let mut cause = None;
        for ev in out.stack_events() {
            let status = ev.resource_status().map(|s| s.as_str()).unwrap_or_default();
            let is_stack = ev.resource_type() == Some("AWS::CloudFormation::Stack")
                && ev.logical_resource_id() == Some(name);
            if is_stack && ev.resource_status_reason() == Some("User Initiated") {
                break;
            }
            let reason = ev.resource_status_reason().unwrap_or_default();
            let cascade = reason.contains("cancelled") || reason.is_empty();
            if status.ends_with("_FAILED") && !is_stack && !cascade {
                cause = Some(format!(
                    "{} ({}): {reason}",
                    ev.logical_resource_id().unwrap_or("?"),
                    ev.resource_type().unwrap_or("?")
                ));
            }
        }
        Ok(cause)
    }
}

/// The request's rollback triggers as CloudFormation takes them (always sent: an
/// omitted configuration would keep the previous operation's triggers).
fn rollback_configuration(request: &ChangeSetRequest) -> RollbackConfiguration {
    let triggers = request
        .rollback_triggers
        .iter()
        .map(|arn| {
            RollbackTrigger::builder()
                .arn(arn)
                .r#type("AWS::CloudWatch::Alarm")
                .build()
        })
        .collect();
    RollbackConfiguration::builder()
        .set_rollback_triggers(Some(triggers))
        .monitoring_time_in_minutes(request.monitoring_minutes.min(180) as i32)
        .build()
}

#[cfg(test)]
mod tests;
