//! Finding the deployed stack as `sam` does, so no ARN is copied by hand: its name
//! and region come from `samconfig.toml` (`[<config-env>.deploy.parameters]`, then
//! `[<config-env>.global.parameters]`; `--config-env`, default `default`), or from
//! `--stack`; the ARNs and names a command needs are the stack's outputs
//! (CloudFormation `DescribeStacks`, read once). A flag or its environment variable
//! still wins. When no stack is found the error names the stack and region it looked
//! for and where that name came from.

use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the deployed stack is, as the command line and `samconfig.toml` say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Where {
    /// The stack's name, if known.
    pub stack: Option<String>,
    /// Its region, when samconfig.toml names one.
    pub region: Option<String>,
    /// Where the name came from, for errors.
    pub from: String,
}

/// Reads `samconfig` (when it exists) for `config_env`; `stack` (from `--stack`) wins.
pub fn locate(stack: Option<String>, config_env: &str, samconfig: &Path) -> Result<Where> {
    let mut found = Where {
        from: "--stack".into(),
        ..Where::default()
    };
    if samconfig.exists() {
        let text = std::fs::read_to_string(samconfig)
            .with_context(|| format!("read {}", samconfig.display()))?;
        let doc: toml::Table = text
            .parse()
            .with_context(|| format!("{} is not TOML", samconfig.display()))?;
        let parameter = |name: &str| {
            ["deploy", "global"].iter().find_map(|command| {
                doc.get(config_env)?
                    .get(command)?
                    .get("parameters")?
                    .get(name)?
                    .as_str()
                    .map(str::to_string)
            })
        };
        found.region = parameter("region");
        if let Some(name) = parameter("stack_name") {
            found.stack = Some(name);
            found.from = format!("{} [{config_env}]", samconfig.display());
        }
    }
    if stack.is_some() {
        found.stack = stack;
        found.from = "--stack".into();
    }
    Ok(found)
}

static WHERE: OnceLock<Where> = OnceLock::new();
static OUTPUTS: OnceLock<Result<BTreeMap<String, String>, String>> = OnceLock::new();

/// Sets where the stack is for this process (once, from `main`), and the region
/// samconfig.toml names when the environment names none.
pub fn configure(stack: Option<String>, config_env: &str, samconfig: PathBuf) -> Result<()> {
    let found = locate(stack, config_env, &samconfig)?;
    let unset = |v: &str| std::env::var_os(v).is_none();
    if let Some(region) = &found.region {
        if unset("AWS_REGION") && unset("AWS_DEFAULT_REGION") {
            // Single-threaded still: no runtime or thread has started.
            std::env::set_var("AWS_REGION", region);
        }
    }
    let _ = WHERE.set(found);
    Ok(())
}

/// The stack's outputs, read once.
fn outputs() -> Result<&'static BTreeMap<String, String>> {
    let got = OUTPUTS.get_or_init(|| {
        let at = WHERE.get().cloned().unwrap_or_default();
        let Some(stack) = at.stack.clone() else {
            return Err(
                "no stack named: pass --stack, or run where samconfig.toml names one (stack_name)"
                    .into(),
            );
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            read_outputs(&config, &stack).await
        })
        .map_err(|e| format!("{e:#} (the stack's name is from {})", at.from))
    });
    got.as_ref().map_err(|e| anyhow!("{e}"))
}

/// `DescribeStacks` of `stack`: its outputs by key.
pub async fn read_outputs(
    config: &aws_config::SdkConfig,
    stack: &str,
) -> Result<BTreeMap<String, String>> {
    let region = config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "no region".into());
    let described = aws_sdk_cloudformation::Client::new(config)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            let e = aws_sdk_cloudformation::error::DisplayErrorContext(e);
            anyhow!("no stack {stack} found in {region}: {e}")
        })?;
    let found = described.stacks().first();
    let found = found.ok_or_else(|| anyhow!("no stack {stack} found in {region}"))?;
    Ok(found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

/// `value` (a flag or its environment variable) if given, else the stack's output
/// `output`; an error names all three ways when none gives it.
pub fn resolve(value: &Option<String>, output: &str, flag: &str, env: &str) -> Result<String> {
    if let Some(v) = value {
        return Ok(v.clone());
    }
    let outputs = outputs()
        .map_err(|e| anyhow!("no {output}: pass {flag}, set {env}, or deploy the stack ({e})"))?;
    outputs
        .get(output)
        .cloned()
        .ok_or_else(|| anyhow!("the stack has no {output} output: pass {flag} or set {env}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samconfig(text: &str) -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("samconfig.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        (dir, path)
    }

    mod tempdir {
        /// A directory of its own, removed when dropped.
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let n = N.fetch_add(1, Ordering::Relaxed);
                let dir = std::env::temp_dir()
                    .join(format!("stagegate-samconfig-{}-{n}", std::process::id()));
                let _ = std::fs::create_dir_all(&dir);
                Dir(dir)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn the_stack_is_found_as_sam_finds_it() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samconfig.toml");
        let at = locate(None, "staging", &repo).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(at.stack.as_deref(), Some("stagegate-staging"));
        assert!(at.from.ends_with("samconfig.toml [staging]"), "{}", at.from);
        let at = locate(None, "default", &repo).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(at.stack.as_deref(), Some("stagegate"));
        // deploy's parameters before global's; the region with them; --stack wins.
        let (_d, path) = samconfig("version = 0.1\n[prod.global.parameters]\nstack_name = \"g\"\n[prod.deploy.parameters]\nstack_name = \"d\"\nregion = \"eu-west-1\"\n");
        let at = locate(None, "prod", &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (at.stack.as_deref(), at.region.as_deref()),
            (Some("d"), Some("eu-west-1"))
        );
        let at = locate(Some("mine".into()), "prod", &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (at.stack.as_deref(), at.from.as_str()),
            (Some("mine"), "--stack")
        );
        // No file, another environment: no stack, no error until one is needed.
        let at = locate(None, "nowhere", &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(at.stack, None);
        let at = locate(None, "default", Path::new("/nonexistent/samconfig.toml"));
        assert_eq!(at.map(|w| w.stack).ok(), Some(None));
    }

    #[test]
    fn a_samconfig_that_is_not_toml_is_named() {
        let (_d, path) = samconfig("[default.global.parameters\nstack_name = ");
        let e = locate(None, "default", &path).unwrap_err();
        assert!(format!("{e:#}").contains("is not TOML"), "{e:#}");
    }
}

/// Against CloudFormation as moto implements it: a stack's outputs read back, and a
/// stack that is not there named with its region.
#[cfg(all(test, feature = "e2e"))]
mod moto {
    use super::read_outputs;

    #[tokio::test]
    async fn a_deployed_stacks_outputs_are_read_and_a_missing_stack_is_named() {
        let moto = testkit::Moto::start();
        let config = moto.sdk_config().await;
        let template = serde_json::json!({
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"StateMachineArn": {"Value": "arn:aws:states:us-east-1:123456789012:stateMachine:stagegate-staging"},
                        "ApprovalsTableName": {"Value": "stagegate-approvals"}}
        });
        aws_sdk_cloudformation::Client::new(&config)
            .create_stack()
            .stack_name("stagegate-staging")
            .template_body(template.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("create stack: {e:?}"));
        let outputs = read_outputs(&config, "stagegate-staging")
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(outputs["ApprovalsTableName"], "stagegate-approvals");
        assert!(outputs["StateMachineArn"].ends_with(":stateMachine:stagegate-staging"));
        let e = read_outputs(&config, "stagegate-nowhere")
            .await
            .unwrap_err();
        assert!(
            format!("{e:#}").contains("no stack stagegate-nowhere found in us-east-1"),
            "{e:#}"
        );
    }
}
