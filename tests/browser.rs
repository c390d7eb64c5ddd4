//! The console in a real browser: Debian's headless Chromium driven through WebDriver (Debian's
//! chromedriver, spoken to in plain W3C WebDriver JSON over HTTP), against a console of
//! `console_harness` on 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::console_harness::{Console, hitless_json, start};

/// A headless Chromium session.
struct Browser {
    agent: ureq::Agent,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.session).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// chromedriver: `HITLESS_CHROMEDRIVER`, else `chromedriver` on the PATH.
fn chromedriver() -> std::path::PathBuf {
    let driver = std::env::var_os("HITLESS_CHROMEDRIVER")
        .map_or_else(|| std::path::PathBuf::from("chromedriver"), std::path::PathBuf::from);
    let has = Command::new(&driver).arg("--version").output();
    assert!(
        has.is_ok_and(|o| o.status.success()),
        "no chromedriver ({}): `apt-get install chromium-driver`, as .ci/run does",
        driver.display()
    );
    driver
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it is true, for at most `limit`: waiting for a state the test names.
fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let base = format!("http://127.0.0.1:{port}");
        wait_until("chromedriver to be ready", Duration::from_secs(30), || {
            agent
                .get(format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|s| s["value"]["ready"] == true)
        });
        let profile = tempfile::tempdir().unwrap();
        let mut options = json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", format!("--user-data-dir={}", profile.path().display()),
        ]});
        if let Some(binary) = std::env::var_os("HITLESS_CHROMIUM") {
            options["binary"] = json!(binary.to_string_lossy());
        }
        let capabilities =
            json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let mut response = agent.post(format!("{base}/session")).send_json(&capabilities).unwrap();
        let created: Value = response.body_mut().read_json().unwrap();
        let id = created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        Browser { agent, session: format!("{base}/session/{id}"), driver, _profile: profile }
    }

    /// A WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let response = match method {
            "GET" => self.agent.get(&url).call(),
            _ => self.agent.post(&url).send_json(&body),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.body_mut().read_json().unwrap();
        assert!(status == 200, "WebDriver {method} {path} {body}: {status} {answer}");
        answer["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", Value::Null).as_str().unwrap().to_string()
    }

    /// The element `css` selects (the first).
    fn find(&self, css: &str) -> String {
        let found = self.call("POST", "/element", json!({"using": "css selector", "value": css}));
        found.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_string()
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.call("POST", &format!("/element/{element}/click"), json!({}));
    }

    fn type_in(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call("POST", &format!("/element/{element}/clear"), json!({}));
        self.call("POST", &format!("/element/{element}/value"), json!({"text": text}));
    }

    /// Runs `script` (a function body) in the page; what it returns.
    fn js(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", json!({"script": script, "args": []}))
    }

    /// Runs an async script that calls its last argument with the result.
    fn js_async(&self, script: &str) -> Value {
        self.call("POST", "/execute/async", json!({"script": script, "args": []}))
    }

    fn wait_for(&self, what: &str, condition: &str) {
        wait_until(what, Duration::from_secs(120), || self.js(&format!("return !!({condition});")) == json!(true));
    }

    fn login(&self, console: &Console, user: &str) {
        self.go(&format!("{}/login", console.base));
        self.type_in("input[name=name]", user);
        self.type_in("input[name=password]", crate::console_harness::PASSWORD);
        self.click("form[data-login] button");
        self.wait_for("the jobs page after signing in", "location.pathname === '/jobs'");
    }

    /// Walks the wizard on `fabric` with every offered device, the default parameters, and
    /// `speed` for the virtual devices; returns the job's id from the page it lands on.
    fn walk_wizard(&self, console: &Console, fabric: &str, speed: &str) -> String {
        self.go(&format!("{}/fabrics/{fabric}", console.base));
        self.click("a[data-action=upgrade]");
        self.wait_for("the assign step", "document.querySelector('[data-step=assign]')");
        self.click("form[data-image] button[type=submit]");
        self.wait_for("the parameters step", "document.querySelector('[data-step=parameters]')");
        self.click("[data-step=parameters] button[type=submit]");
        self.wait_for("the test run step", "document.querySelector('[data-step=test-run]')");
        let rows = self.js("return document.querySelectorAll('[data-step=test-run] tr[data-device]').length;");
        assert!(rows.as_u64().unwrap() > 0, "the test run lists the devices");
        self.click("[data-step=test-run] button[type=submit]");
        self.wait_for("the plan step", "document.querySelector('[data-step=plan]')");
        assert_eq!(self.js("return document.querySelector('[data-verdict]').getAttribute('data-verdict');"), "hitless");
        if !speed.is_empty() {
            self.type_in("form[data-confirm] input[name=speed]", speed);
        }
        self.click("form[data-confirm] button[type=submit]");
        self.wait_for("the job's page", "document.querySelector('section[data-job]')");
        self.js("return document.querySelector('section[data-job]').getAttribute('data-job');")
            .as_str()
            .unwrap()
            .to_string()
    }
}

#[test]
fn chromium_signs_in_uploads_walks_the_wizard_and_watches_the_job_live() {
    let hostile = std::fs::read_to_string(crate::util::root().join("scenarios/small-2spine-4leaf.yaml"))
        .unwrap()
        .replacen("name: small-2spine-4leaf", "name: \"<img src=x onerror=\\\"window.pwned=1\\\">\"", 1);
    let console = start(&[("hostile.yaml", &hostile)]);
    let browser = Browser::start();
    browser.login(&console, "ada");

    // An image uploaded through the page, with the seed's fields.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junos-browser.tgz");
    std::fs::write(&file, b"an image, as far as this test goes").unwrap();
    browser.go(&format!("{}/images", console.base));
    browser.type_in("form[data-upload] input[name=name]", "junos-browser-1");
    browser.type_in("form[data-upload] input[name=family]", "junos-qfx");
    browser.type_in("form[data-upload] input[name=platforms]", "qfx5110-48s");
    browser.type_in("form[data-upload] input[name=os_version]", "23.4R2");
    let input = browser.find("form[data-upload] input[type=file]");
    browser.call("POST", &format!("/element/{input}/value"), json!({"text": file.display().to_string()}));
    browser.click("form[data-upload] button[type=submit]");
    browser.wait_for("the uploaded image listed", "document.querySelector('tr[data-image=\"junos-browser-1\"]')");
    let images = console.get("/api/v1/images", &console.token("ada")).json();
    assert_eq!(images[0]["name"], "junos-browser-1");
    assert_eq!(images[0]["platforms"], json!(["qfx5110-48s"]));

    // The wizard, then the job watched live: no reload (a marker set on the page survives).
    browser.login(&console, "oscar");
    let job = browser.walk_wizard(&console, "small-2spine-4leaf", "300");
    browser.js("window.hitlessMarker = 'still this page'; return null;");
    let at_load = browser.js("return document.querySelector('[data-progress]').getAttribute('data-progress');");
    assert_ne!(at_load, "6/6", "the job was watched while it ran");
    browser.wait_for(
        "every device done",
        "document.querySelector('[data-progress]').getAttribute('data-progress') === '6/6'",
    );
    let states = browser
        .js("return Array.from(document.querySelectorAll('tr[data-device]')).map(r => r.getAttribute('data-state'));");
    assert_eq!(states.as_array().unwrap().len(), 6);
    assert!(states.as_array().unwrap().iter().all(|s| s == "Maintenance Mode Deactivated"), "{states}");
    assert_eq!(browser.js("return window.hitlessMarker;"), "still this page", "the page was not reloaded");
    let api = console.get(&format!("/api/v1/jobs/{job}"), &console.token("vera")).json();
    assert_eq!(api["job"]["state"], "finished");
    let cli: Value =
        serde_json::from_str(&hitless_json(&console.state(), &["status", &job, "--format", "json"])).unwrap();
    assert_eq!(cli["job"]["state"], "finished");

    // A device's log.
    browser.click("tr[data-device=leaf1] a");
    browser.wait_for("leaf1's log", "document.querySelector('table[data-logs=leaf1]')");
    let states = browser
        .js("return Array.from(document.querySelectorAll('tr[data-seq]')).map(r => r.getAttribute('data-state'));");
    assert!(states.as_array().unwrap().contains(&json!("Image Upgrade")), "{states}");

    // A second job, paused after its canary, cancelled from its page; the API and the CLI agree.
    let second = browser.walk_wizard(&console, "canary", "");
    assert_ne!(second, job);
    browser.wait_for("the canary's pause", "document.querySelector('button[data-action=cancel]') && !document.querySelector('button[data-action=cancel]').hidden && document.querySelector('[data-progress]').getAttribute('data-progress') === '1/6'");
    browser.click("button[data-action=cancel]");
    browser.wait_for("the job cancelled", "document.querySelector('section[data-job-state=cancelled]')");
    let api = console.get(&format!("/api/v1/jobs/{second}"), &console.token("oscar")).json();
    assert_eq!(api["job"]["state"], "cancelled");
    let cli: Value =
        serde_json::from_str(&hitless_json(&console.state(), &["status", &second, "--format", "json"])).unwrap();
    assert_eq!(cli["job"]["state"], "cancelled");

    // A POST without the CSRF token is refused, from the page's own origin.
    let forged = browser.js_async(
        "const done = arguments[arguments.length - 1];
         fetch('/api/v1/jobs', {method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({mode: 'upgrade', fabric: 'small-2spine-4leaf'})})
           .then(r => r.json().then(b => done([r.status, b.error.field])));",
    );
    assert_eq!(forged, json!([403, "csrf"]));

    // A viewer sees no way to start a job, and the API refuses one with the token (403).
    browser.click("header form button");
    browser.wait_for("the login page", "location.pathname === '/login'");
    browser.login(&console, "vera");
    browser.go(&format!("{}/fabrics/small-2spine-4leaf", console.base));
    assert_eq!(browser.js("return document.querySelector('a[data-action=upgrade]') === null;"), true);
    let refused = browser.js_async(
        "const done = arguments[arguments.length - 1];
         const csrf = document.querySelector('input[name=csrf]').value;
         fetch('/api/v1/jobs', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                body: JSON.stringify({mode: 'upgrade', fabric: 'small-2spine-4leaf'})})
           .then(r => done(r.status));",
    );
    assert_eq!(refused, 403);

    // A hostile scenario name is shown as text: nothing of it runs.
    browser.go(&format!("{}/fabrics", console.base));
    browser.wait_for("the fabrics page", "document.querySelector('tr[data-fabric=hostile]')");
    assert_eq!(browser.js("return typeof window.pwned;"), "undefined");
    let shown = browser.js("return document.querySelector('tr[data-fabric=hostile]').textContent;");
    assert!(shown.as_str().unwrap().contains("<img src=x onerror="), "{shown}");
    assert_eq!(browser.js("return document.querySelectorAll('main img').length;"), 0);

    // An expired session goes to the login page, and back after signing in.
    console.clock.fetch_add(7200, std::sync::atomic::Ordering::SeqCst);
    browser.go(&format!("{}/jobs/{job}", console.base));
    browser.wait_for("the login page", "location.pathname === '/login'");
    assert!(browser.url().ends_with(&format!("/login?next=%2Fjobs%2F{job}")), "{}", browser.url());
}
