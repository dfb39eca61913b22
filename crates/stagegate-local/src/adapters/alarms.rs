//! CloudWatch, locally: one alarm per local stack, `<stack>-health`, evaluated as
//! CloudWatch evaluates a metric alarm: every [`PROBE_EVERY`] the backend's health
//! path is probed, and the alarm is `ALARM` while more than its threshold (percent)
//! of the last [`WINDOW`] probes failed (no backend, no answer, or not 2xx), `OK`
//! otherwise. The bake reads it through the same port as CloudWatch's.

use super::LocalStacks;
use stagegate::ports::{Alarm, AlarmState, Alarms, Http, HttpRequest, PortResult};
use stagegate::testing::MemoryAlarms;
use stagegate_https::HttpsClient;
use std::collections::VecDeque;
use std::time::Duration;

/// The app's alarms, locally: the store the evaluators write ([`evaluate`]; a test's
/// hand in the path tests). With `--fail bake` it also holds the stacks whose
/// candidate carries the bake fault: the bake's first read of the alarms after that
/// candidate deployed stops its backend, so the fault strikes while it bakes, never
/// earlier or later.
#[derive(Clone, Default)]
pub struct LocalAlarms {
    pub store: MemoryAlarms,
    sabotage: Vec<LocalStacks>,
}

impl LocalAlarms {
    pub fn new(store: MemoryAlarms) -> LocalAlarms {
        LocalAlarms {
            store,
            sabotage: Vec::new(),
        }
    }

    /// `--fail bake`: these stacks' backends stop on the bake's first read.
    pub fn sabotaging(store: MemoryAlarms, stacks: Vec<LocalStacks>) -> LocalAlarms {
        LocalAlarms {
            store,
            sabotage: stacks,
        }
    }
}

impl Alarms for LocalAlarms {
    async fn alarms(&self, prefix: &str) -> PortResult<Vec<Alarm>> {
        for stacks in &self.sabotage {
            if stacks.take_bake_fault() {
                stacks.stop().await;
            }
        }
        self.store.alarms(prefix).await
    }
}

/// How often the local alarm probes.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How many probes it evaluates.
pub const WINDOW: usize = 4;
/// How long a probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The alarm `<stack>-health` after `probes` (newest last; `true`: it answered 2xx).
pub fn health_alarm(stack: &str, probes: &VecDeque<bool>, threshold: f64) -> Alarm {
    let failed = probes.iter().filter(|ok| !**ok).count();
    let rate = if probes.is_empty() {
        0.0
    } else {
        100.0 * failed as f64 / probes.len() as f64
    };
    let breached = rate > threshold;
    let reason = format!(
        "Threshold Crossed: {failed} of the last {} probes of the backend's health path failed ({rate}%), {} the threshold ({threshold}%).",
        probes.len(),
        if breached { "more than" } else { "not more than" }
    );
    Alarm {
        name: format!("{stack}-health"),
        arn: format!("arn:aws:cloudwatch:local:000000000000:alarm:{stack}-health"),
        state: if breached { AlarmState::Alarm } else { AlarmState::Ok },
        watches: format!(
            "local probes of the backend's health path, failed % of the last {WINDOW} every {} ms > {threshold}",
            PROBE_EVERY.as_millis()
        ),
        threshold: Some(threshold),
        value: breached.then_some(rate),
        reason,
        composite: false,
    }
}

/// Evaluates `<stack>-health` into `alarms` until the task is aborted. Before the
/// stack is first deployed there is nothing to probe, and the alarm stays OK.
pub fn evaluate(
    stacks: LocalStacks,
    alarms: MemoryAlarms,
    stack: String,
    threshold: f64,
) -> tokio::task::JoinHandle<()> {
    alarms.put(health_alarm(&stack, &VecDeque::new(), threshold));
    tokio::spawn(async move {
        let http = HttpsClient::new();
        let mut probes = VecDeque::with_capacity(WINDOW);
        let mut deployed = false;
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            let url = stacks.health_url();
            deployed |= url.is_some();
            if !deployed {
                continue;
            }
            let ok = match url {
                Some(url) => probe(&http, &url).await,
                None => false,
            };
            if probes.len() == WINDOW {
                probes.pop_front();
            }
            probes.push_back(ok);
            alarms.put(health_alarm(&stack, &probes, threshold));
        }
    })
}

async fn probe(http: &HttpsClient, url: &str) -> bool {
    let request = HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![],
        body: None,
    };
    match tokio::time::timeout(PROBE_TIMEOUT, http.send(&request)).await {
        Ok(Ok(r)) => (200..300).contains(&r.status),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_goes_off_past_its_threshold_and_names_what_breached() {
        let probes: VecDeque<bool> = [true, false, false, false].into();
        let a = health_alarm("shop-staging", &probes, 50.0);
        assert_eq!(
            (a.name.as_str(), a.state),
            ("shop-staging-health", AlarmState::Alarm)
        );
        assert_eq!(a.value, Some(75.0));
        assert!(a.reason.contains("3 of the last 4 probes"), "{}", a.reason);
        let probes: VecDeque<bool> = [true, true, false, false].into();
        let a = health_alarm("shop-staging", &probes, 50.0);
        assert_eq!((a.state, a.value), (AlarmState::Ok, None));
        assert_eq!(
            health_alarm("s", &VecDeque::new(), 50.0).state,
            AlarmState::Ok
        );
    }
}
