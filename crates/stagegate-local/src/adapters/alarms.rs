//! CloudWatch, locally: one alarm per local stack, `<stack>-health`, evaluated as
//! CloudWatch evaluates a metric alarm: every [`PROBE_EVERY`] the backend's health
//! path is probed, and the alarm is `ALARM` while more than its threshold (percent)
//! of the last [`WINDOW`] probes failed (no backend, no answer, or not 2xx), `OK`
//! otherwise. The bake reads it through the same port as CloudWatch's.

use super::LocalStacks;
use stagegate::ports::{Alarm, AlarmState, Alarms, PortResult};
use stagegate::testing::MemoryAlarms;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        let mut probes = VecDeque::with_capacity(WINDOW);
        let (mut deployed, mut seen) = (false, stacks.deployments());
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            // A deploy since the last probe is a new release: a fresh window. Counted,
            // not seen: a fast run may deploy and stop its backend between two probes.
            let now = stacks.deployments();
            if now != seen {
                (seen, deployed) = (now, true);
                probes.clear();
            }
            let url = stacks.health_url();
            deployed |= url.is_some();
            if !deployed {
                continue;
            }
            let ok = match url {
                Some(url) => probe(&url).await,
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

/// One `GET` of a local backend's health URL (`http://127.0.0.1:PORT/PATH`): whether
/// it answered 2xx within [`PROBE_TIMEOUT`]. Plain HTTP/1.1 on a socket, nothing to
/// initialise: the first probe after a deploy is as quick as the others (an HTTPS
/// client loads the system's CA roots on its first request, which held a debug
/// build's first probe back long enough for a short bake to miss its alarm).
async fn probe(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        // `HTTP/1.x 2xx`
        Some(head.starts_with(b"HTTP/1.") && head[9] == b'2')
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, exchange).await,
        Ok(Some(true))
    )
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
