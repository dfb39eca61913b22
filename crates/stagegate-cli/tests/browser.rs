//! A real browser on a rehearsal's review page: headless Chromium, driven through
//! chromedriver (WebDriver), opens the personal link the lead's email carries,
//! submits the plain HTML form, and the rehearsal continues to the end. Before it
//! decides, the review page is looked at as a desktop (1280 px) and a phone (390 px)
//! would show it: its checklist in HTML tables with no Markdown table syntax, nothing
//! wider than the screen, and no serious or critical accessibility violation by
//! axe-core (run in the page through WebDriver; `cargo xtask setup` installs it).
//! Screenshots of the review at both widths and of the answer are kept in
//! `target/test-artifacts/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (CI installs them): run with
//! `cargo test -p stagegate-cli --features e2e --test browser`. If either is missing
//! the test fails and says so; it never passes without a browser.

use serde_json::{json, Value};
use stagegate::ports::{Http, HttpRequest, HttpResponse};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One HTTP request to the chromedriver on 127.0.0.1.
async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<HttpResponse, stagegate::PortError> {
    let request = HttpRequest {
        method: method.into(),
        url: url.into(),
        headers: headers.to_vec(),
        body: body.map(str::to_string),
    };
    stagegate_https::HttpsClient::new().send(&request).await
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A child process in a process group of its own, killed with everything it started
/// (chromedriver's Chromium, the rehearsal's backend) when dropped, whatever the test
/// does.
struct Reaped(Child);

impl Reaped {
    fn spawn(cmd: &mut Command) -> Reaped {
        use std::os::unix::process::CommandExt as _;
        Reaped(
            cmd.process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("{cmd:?}: {e}")),
        )
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        // Ask first (the rehearsal ends its own process groups on SIGTERM), then
        // the whole group: `kill -KILL -<pgid>`.
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// One WebDriver call; the JSON `value` of the answer.
async fn webdriver(port: u16, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    let r = request(
        method,
        &format!("http://127.0.0.1:{port}{path}"),
        &[("Content-Type".into(), "application/json".into())],
        body.as_deref(),
    )
    .await
    .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}"));
    let v: Value = serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}: {}", r.body));
    assert!(
        (200..300).contains(&r.status),
        "chromedriver {method} {path}: {} {v}",
        r.status
    );
    v["value"].clone()
}

async fn screenshot(port: u16, session: &str, name: &str) -> PathBuf {
    use base64::Engine as _;
    let png = webdriver(port, "GET", &format!("/session/{session}/screenshot"), None).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap_or_default())
        .expect("a base64 PNG");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = artifacts().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// Runs `script` in the page (WebDriver's context, which the page's CSP does not
/// govern) and returns its value.
async fn run_script(port: u16, session: &str, script: &str, asynchronous: bool) -> Value {
    let how = if asynchronous { "async" } else { "sync" };
    let body = json!({"script": script, "args": []});
    webdriver(
        port,
        "POST",
        &format!("/session/{session}/execute/{how}"),
        Some(body),
    )
    .await
}

/// The review page of `link` at a desktop's and a phone's width: HTML tables, no
/// Markdown table syntax, nothing wider than the screen, no serious or critical
/// axe-core violation; a screenshot of each.
async fn look_at_widths(port: u16, session: &str, link: &str) {
    let axe = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/tools/node/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run `cargo xtask setup` (it installs axe-core)",
            axe.display()
        )
    });
    for (width, mobile) in [(1280, false), (390, true)] {
        let metrics = json!({"cmd": "Emulation.setDeviceMetricsOverride",
            "params": {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}});
        let cdp = format!("/session/{session}/goog/cdp/execute");
        webdriver(port, "POST", &cdp, Some(metrics)).await;
        let url = json!({"url": link});
        webdriver(port, "POST", &format!("/session/{session}/url"), Some(url)).await;
        let page = run_script(
            port,
            session,
            "return {tables: document.querySelectorAll('table').length, text: document.body.innerText, wide: document.documentElement.scrollWidth, screen: window.innerWidth}",
            false,
        )
        .await;
        let text = page["text"].as_str().unwrap_or_default();
        assert!(
            page["tables"].as_u64() >= Some(2),
            "checks and changes as HTML tables at {width} px: {page}"
        );
        assert!(
            !text.contains("|---") && !text.contains("| "),
            "Markdown table syntax at {width} px: {text}"
        );
        assert!(
            page["wide"].as_u64() <= page["screen"].as_u64(),
            "wider than the screen at {width} px: {page}"
        );
        screenshot(port, session, &format!("review-page-{width}.png")).await;
        run_script(port, session, &format!("{axe}\n;return true;"), false).await;
        let violations = run_script(
            port,
            session,
            "const done = arguments[arguments.length - 1]; axe.run(document).then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')), e => done(['axe failed: ' + e]));",
            true,
        )
        .await;
        assert_eq!(violations, json!([]), "accessibility at {width} px");
    }
    let reset = json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}});
    webdriver(
        port,
        "POST",
        &format!("/session/{session}/goog/cdp/execute"),
        Some(reset),
    )
    .await;
}

/// Opens `link`, checks who the page says is deciding, and clicks Approve.
async fn approve_in_the_browser(port: u16, session: &str, link: &str, who: &str, shot: &str) {
    webdriver(
        port,
        "POST",
        &format!("/session/{session}/url"),
        Some(json!({"url": link})),
    )
    .await;
    let text = webdriver(
        port,
        "POST",
        &format!("/session/{session}/execute/sync"),
        Some(json!({"script": "return document.body.innerText", "args": []})),
    )
    .await;
    // (The script runs in the WebDriver's own context: the page itself has none and
    // its CSP allows none.)
    let text = text.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains(&format!("You are deciding as {who}")),
        "the page names the approver: {text}"
    );
    screenshot(port, session, shot).await;
    let button = webdriver(
        port,
        "POST",
        &format!("/session/{session}/element"),
        Some(json!({"using": "css selector", "value": "button[value=approve]"})),
    )
    .await;
    let element = button
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .expect("the Approve button")
        .to_string();
    webdriver(
        port,
        "POST",
        &format!("/session/{session}/element/{element}/click"),
        Some(json!({})),
    )
    .await;
    // The form posts and the answer page loads; wait for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let title = webdriver(port, "GET", &format!("/session/{session}/title"), None).await;
        if title == "Approved" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the answer page after the click is {title}, not Approved"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `stagegate rehearse` of the example app, its output read line by line.
struct Rehearsal {
    process: Reaped,
    lines: mpsc::Receiver<String>,
}

impl Rehearsal {
    fn start(work: &Path) -> Rehearsal {
        let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop");
        let mut process = Reaped::spawn(
            Command::new(env!("CARGO_BIN_EXE_stagegate"))
                .args(["rehearse", "--app", app.to_str().unwrap_or_default()])
                .current_dir(work)
                // Nobody types: the browser decides.
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = process.0.stdout.take().expect("stdout");
        let (lines_tx, lines) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("rehearsal: {line}");
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        Rehearsal { process, lines }
    }

    /// What follows `marker` on the first line that has it, within two minutes.
    fn after(&self, marker: &str, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the rehearsal never showed {what}"));
            if let Some(i) = line.find(marker) {
                return line[i + marker.len()..].trim().to_string();
            }
        }
    }

    /// The personal link the rehearsal shows for `who`.
    fn link_of(&self, who: &str) -> String {
        self.after(&format!("⏸ {who} decides on "), &format!("{who}'s link"))
    }
}

/// Headless Chromium in a WebDriver session of its own chromedriver.
struct Browser {
    _driver: Reaped,
    port: u16,
    session: String,
}

impl Browser {
    async fn start(profile: &Path) -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Reaped::spawn(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = format!("http://127.0.0.1:{port}/status");
        while request("GET", &status, &[], None).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let options = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1000,1200",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        let session = webdriver(port, "POST", "/session", Some(options)).await["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_string();
        Browser {
            _driver: driver,
            port,
            session,
        }
    }

    async fn approve(&self, link: &str, who: &str, shot: &str) {
        approve_in_the_browser(self.port, &self.session, link, who, shot).await
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        screenshot(self.port, &self.session, name).await
    }

    async fn close(&self) {
        webdriver(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_approves_on_the_review_page_and_the_rehearsal_continues() {
    let work = std::env::temp_dir().join(format!("stagegate-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("scratch dir");
    let mut rehearsal = Rehearsal::start(&work);
    let browser = Browser::start(&work.join("chromium-profile")).await;

    let lead = rehearsal.link_of("lead");
    look_at_widths(browser.port, &browser.session, &lead).await;
    browser.approve(&lead, "lead", "review-page.png").await;
    browser.screenshot("review-page-approved.png").await;
    // User acceptance: the pm signs off in the same browser.
    let pm = rehearsal.link_of("pm");
    browser.approve(&pm, "pm", "sign-off-page.png").await;
    browser.close().await;

    let result = rehearsal.after("Result: ", "a result after the approvals");
    assert_eq!(result, "acme/shop rc-0.1.0 is ready for production");
    let status = rehearsal.process.0.wait().expect("the rehearsal ends");
    assert_eq!(status.code(), Some(0));
    println!(
        "screenshots: {}",
        artifacts().join("review-page.png").display()
    );
    // Passed: the run and the browser profile go (a failure keeps them to look at).
    let _ = std::fs::remove_dir_all(&work);
}
