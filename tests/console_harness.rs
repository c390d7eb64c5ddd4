//! A console for tests: `hitless serve` on 127.0.0.1 (a free port) over a temporary state
//! directory, with the bundled scenarios `small-2spine-4leaf` and `canary` (and any others a
//! test gives) as its fabrics, four users (ada admin, oscar and olga operators, vera viewer) and
//! a clock the test turns; and a plain HTTP client for it. Used by the integration tests and the
//! browser interop tests alike.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hitless::console::Config;
use hitless::workflow::jobs::Holder;
use hitless::workflow::service::{LeaseHolder, Service};
use hitless::workflow::upgrade::Caller;
use hitless::workflow::users::Role;
use serde_json::Value;

use crate::util::root;

pub const PASSWORD: &str = "correct horse battery";

/// How a request is authenticated.
#[derive(Clone)]
pub enum Auth {
    Nobody,
    Token(String),
    Session { cookie: String, csrf: String },
}

pub struct Console {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub clock: Arc<AtomicI64>,
    pub agent: ureq::Agent,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    tokens: std::collections::BTreeMap<&'static str, String>,
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn start(extra: &[(&str, &str)]) -> Console {
    start_with(extra, |_| {})
}

/// As [`start`], with the console's configuration changed by `configure` first.
pub fn start_with(extra: &[(&str, &str)], configure: impl FnOnce(&mut Config)) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    for name in ["small-2spine-4leaf", "canary"] {
        std::fs::copy(root().join(format!("scenarios/{name}.yaml")), scenarios.join(format!("{name}.yaml"))).unwrap();
    }
    for (name, text) in extra {
        std::fs::write(scenarios.join(name), text).unwrap();
    }
    let clock = Arc::new(AtomicI64::new(1_800_000_000));
    let mut tokens = std::collections::BTreeMap::new();
    {
        let service = Service::open(Some(&state)).unwrap();
        for (name, role) in
            [("ada", Role::Admin), ("oscar", Role::Operator), ("olga", Role::Operator), ("vera", Role::Viewer)]
        {
            service.add_user(name, role, PASSWORD, 0).unwrap();
            tokens.insert(name, service.issue_token(name, 0).unwrap());
        }
    }
    let service = Service::open(Some(&state)).unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "test-host".into());
    config.scenarios = Some(scenarios);
    configure(&mut config);
    let now = Arc::clone(&clock);
    let caller = Caller {
        operator: String::new(),
        lease: LeaseHolder {
            pid: std::process::id(),
            host: "test-host".into(),
            token: "console-test".into(),
            started: 0,
        },
        holder: Arc::new(|_| Holder::Unknown),
        now: Arc::new(move || now.load(Ordering::SeqCst)),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, address) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime
            .block_on(hitless::console::serve(
                service,
                config,
                caller,
                async {
                    let _ = stopped.await;
                },
                move |at| ready.send(at).unwrap(),
            ))
            .unwrap();
    });
    let at: std::net::SocketAddr = address.recv().unwrap();
    // A console listening on every address is asked on loopback.
    let at = std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), at.port());
    // No pooled connections: each request on a connection of its own, so a test never races the
    // server closing an idle one.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_idle_connections(0)
        .build()
        .into();
    Console { base: format!("http://{at}"), dir, clock, agent, stop: Some(stop), thread: Some(thread), tokens }
}

/// The headers that authenticate as `auth` (with a session's CSRF token when `csrf`).
fn headers(auth: &Auth, csrf: bool) -> Vec<(&'static str, String)> {
    match auth {
        Auth::Nobody => Vec::new(),
        Auth::Token(token) => vec![("Authorization", format!("Bearer {token}"))],
        Auth::Session { cookie, csrf: token } if csrf => {
            vec![("Cookie", cookie.clone()), ("X-CSRF-Token", token.clone())]
        }
        Auth::Session { cookie, .. } => vec![("Cookie", cookie.clone())],
    }
}

/// An answer: status, headers we look at, body.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub cookie: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The error's field, for a refusal.
    pub fn field(&self) -> Value {
        self.json()["error"]["field"].clone()
    }
}

pub fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.unwrap();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (location, cookie) = (header("location"), header("set-cookie"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer { status, location, cookie, body }
}

impl Console {
    pub fn token(&self, user: &str) -> Auth {
        Auth::Token(self.tokens[user].clone())
    }

    pub fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    pub fn get(&self, path: &str, auth: &Auth) -> Answer {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (name, value) in headers(auth, false) {
            request = request.header(name, value);
        }
        answer(request.call())
    }

    /// A JSON POST (or PATCH/DELETE) to the API; a session's carries its CSRF header unless
    /// `csrf` is false.
    pub fn send(&self, method: &str, path: &str, auth: &Auth, body: Option<Value>, csrf: bool) -> Answer {
        let url = format!("{}{path}", self.base);
        if method == "DELETE" {
            let mut request = self.agent.delete(url);
            for (name, value) in headers(auth, csrf) {
                request = request.header(name, value);
            }
            return answer(request.call());
        }
        let mut request = match method {
            "POST" => self.agent.post(url),
            "PATCH" => self.agent.patch(url),
            other => panic!("{other}"),
        };
        for (name, value) in headers(auth, csrf) {
            request = request.header(name, value);
        }
        match body {
            Some(body) => answer(request.content_type("application/json").send(body.to_string())),
            None => answer(request.send_empty()),
        }
    }

    pub fn post(&self, path: &str, auth: &Auth, body: Value) -> Answer {
        self.send("POST", path, auth, Some(body), true)
    }

    /// A form POST of a page, with the session's cookie (and its CSRF token unless told not).
    pub fn form(&self, path: &str, auth: &Auth, fields: &[(&str, &str)]) -> Answer {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Auth::Session { cookie, .. } = auth {
            request = request.header("Cookie", cookie);
        }
        answer(request.send_form(fields.iter().copied()))
    }

    /// Signs `user` in through the login page: the session cookie and the page's CSRF token.
    pub fn login(&self, user: &str) -> Auth {
        let signed = self.form("/login", &Auth::Nobody, &[("name", user), ("password", PASSWORD), ("next", "/jobs")]);
        assert_eq!(signed.status, 303, "{}", signed.body);
        assert_eq!(signed.location.as_deref(), Some("/jobs"));
        let set = signed.cookie.expect("a session cookie");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        let cookie = set.split(';').next().unwrap().to_string();
        let page = self.get("/jobs", &Auth::Session { cookie: cookie.clone(), csrf: String::new() });
        assert_eq!(page.status, 200);
        let csrf = hidden(&page.body, "csrf");
        Auth::Session { cookie, csrf }
    }

    /// The job's events as its stream gives them after `after`, up to its `end` (or, when
    /// `until` says so of a job detail, up to that state): each event's data, parsed.
    pub fn follow(
        &self,
        job: &str,
        auth: &Auth,
        after: Option<i64>,
        until: &dyn Fn(&Value) -> bool,
    ) -> Vec<(i64, Value)> {
        let mut request = self.agent.get(format!("{}/api/v1/jobs/{job}/events", self.base));
        if let Auth::Token(token) = auth {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(after) = after {
            request = request.header("Last-Event-ID", after.to_string());
        }
        let response = request.call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        let reader = BufReader::new(response.into_body().into_reader());
        let (mut events, mut id, mut kind) = (Vec::new(), None, String::new());
        if until(&self.get(&format!("/api/v1/jobs/{job}"), auth).json()) {
            return events;
        }
        for line in reader.lines() {
            let line = line.unwrap();
            if let Some(value) = line.strip_prefix("id: ") {
                id = Some(value.parse::<i64>().unwrap());
            } else if let Some(value) = line.strip_prefix("event: ") {
                kind = value.to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if kind == "end" {
                    break;
                }
                events.push((id.take().expect("every event has an id"), serde_json::from_str(data).unwrap()));
                if until(&self.get(&format!("/api/v1/jobs/{job}"), auth).json()) {
                    break;
                }
            } else if line.is_empty() {
                kind.clear();
            }
        }
        events
    }
}

/// The value of hidden field `name` in a page, unescaped.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no field {name} in {page}")) + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end]
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn never(_: &Value) -> bool {
    false
}

pub fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |detail: &Value| detail["job"]["state"] == state
}

pub fn hitless_json(state: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hitless"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}
