//! `hitless serve` through HTTP, as a browser or a pipeline would use it: a console started by
//! each test (`console_harness`), jobs on the virtual driver.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::console_harness::{Auth, answer, hidden, hitless_json, never, start, start_with, state_is};
use crate::util::root;

#[test]
fn an_upgrade_started_through_the_api_streams_the_cli_s_json_and_the_cli_sees_the_job() {
    let console = start(&[]);
    let oscar = console.token("oscar");
    let started = console.post("/api/v1/jobs", &oscar, json!({"mode": "upgrade", "fabric": "small-2spine-4leaf"}));
    assert_eq!(started.status, 201, "{}", started.body);
    let job = started.json()["job"].as_str().unwrap().to_string();
    assert_eq!(started.json()["devices"].as_array().unwrap().len(), 6);
    let streamed = console.follow(&job, &oscar, None, &never);
    // Ids are the journal's positions, 1, 2, 3, ... with none missing.
    let ids: Vec<i64> = streamed.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    // Each event is what `hitless logs --format json` says of the same entry, with the job's id
    // (as `upgrade --format json` prints it).
    let logs = hitless_json(&console.state(), &["logs", &job, "--format", "json"]);
    let cli: Vec<Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(cli.len(), streamed.len());
    for ((_, event), mut line) in streamed.iter().zip(cli) {
        line["job"] = json!(job);
        assert_eq!(*event, line);
    }
    // A dropped stream resumed with Last-Event-ID continues after that event, without gaps.
    let rest = console.follow(&job, &oscar, Some(10), &never);
    assert_eq!(rest.first().map(|(id, _)| *id), Some(11));
    assert_eq!(rest.len(), streamed.len() - 10);
    assert_eq!(
        rest.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        streamed[10..].iter().map(|(_, e)| e.clone()).collect::<Vec<_>>()
    );
    // The API and the CLI agree on the job.
    let detail = console.get(&format!("/api/v1/jobs/{job}"), &oscar).json();
    assert_eq!(detail["job"]["state"], "finished");
    assert_eq!(detail["progress"], json!({"done": 6, "total": 6}));
    let status: Value =
        serde_json::from_str(&hitless_json(&console.state(), &["status", &job, "--format", "json"])).unwrap();
    assert_eq!(status["job"], detail["job"]);
    assert_eq!(status["devices"], detail["devices"]);
    // The journal says who started it.
    let first = &streamed[0].1;
    assert_eq!(first["by"], "oscar on test-host");
}

#[test]
fn refusals_are_json_with_a_status_and_the_field_at_fault_and_change_nothing() {
    let console = start(&[]);
    let oscar = console.token("oscar");
    let cases: &[(Value, u16, Value)] = &[
        (json!({"mode": "upgrade", "fabric": "no-such"}), 404, json!("fabric")),
        (json!({"mode": "upgrade", "fabric": "../etc/passwd"}), 404, json!("fabric")),
        (
            json!({"mode": "upgrade", "fabric": "canary", "parameters": {"drain": false}}),
            422,
            json!("parameters.drain"),
        ),
        (json!({"mode": "upgrade", "fabric": "canary", "parameters": {"canary": "many"}}), 422, json!("parameters")),
        (
            json!({"mode": "upgrade", "fabric": "canary", "assign": [{"image": "junos-qfx-99", "devices": "all"}]}),
            422,
            json!("assign"),
        ),
        (
            json!({"mode": "upgrade", "fabric": "canary", "assign": [{"image": "junos-qfx-18.4R2", "devices": ["nope"]}]}),
            422,
            json!("assign"),
        ),
        (json!({"mode": "upgrade", "fabric": "canary", "driver": "junos"}), 422, json!("driver")),
        (json!({"mode": "upgrade", "fabric": "canary", "speed": -1}), 400, json!("speed")),
    ];
    for (body, status, field) in cases {
        let refused = console.post("/api/v1/jobs", &oscar, body.clone());
        assert_eq!(refused.status, *status, "{body}: {}", refused.body);
        assert_eq!(refused.field(), *field, "{body}: {}", refused.body);
        assert!(!refused.json()["error"]["message"].as_str().unwrap().is_empty());
    }
    let malformed = console.send("POST", "/api/v1/jobs", &oscar, Some(json!({"mode": "upgrade"})), true);
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(malformed.json()["error"]["message"].as_str().unwrap().contains("fabric"), "{}", malformed.body);
    let unknown = console.get("/api/v1/nothing-here", &oscar);
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"]["message"].is_string());
    assert_eq!(console.get("/api/v1/jobs", &oscar).json(), json!([]), "nothing was started");
    // A second job on the same devices, while the first is paused after its canary: refused.
    let first = console.post("/api/v1/jobs", &oscar, json!({"mode": "upgrade", "fabric": "canary"}));
    assert_eq!(first.status, 201, "{}", first.body);
    let job = first.json()["job"].as_str().unwrap().to_string();
    console.follow(&job, &oscar, None, &state_is("paused"));
    let second = console.post("/api/v1/jobs", &oscar, json!({"mode": "upgrade", "fabric": "canary"}));
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(second.body.contains(&job), "{}", second.body);
    assert_eq!(console.get("/api/v1/jobs", &oscar).json().as_array().unwrap().len(), 1);
    // Unknown job and device.
    assert_eq!(console.get("/api/v1/jobs/job-9999", &oscar).status, 404);
    let device = console.get(&format!("/api/v1/jobs/{job}/devices/nope/logs"), &oscar);
    assert_eq!((device.status, device.field()), (404, json!("device")));
    let logs = console.get(&format!("/api/v1/jobs/{job}/devices/leaf1/logs"), &oscar).json();
    assert!(logs.as_array().unwrap().iter().all(|e| e["device"] == "leaf1"));
}

#[test]
fn roles_sessions_and_csrf_decide_who_may_change_what() {
    let console = start(&[]);
    let body = json!({"mode": "upgrade", "fabric": "small-2spine-4leaf"});
    // Nobody: 401 from the API, the login page from a page (and back after).
    assert_eq!(console.post("/api/v1/jobs", &Auth::Nobody, body.clone()).status, 401);
    assert_eq!(console.get("/api/v1/jobs", &Auth::Nobody).status, 401);
    assert_eq!(console.get("/api/v1/jobs", &Auth::Token("hitless_00_ff".into())).status, 401);
    let page = console.get("/fabrics/canary", &Auth::Nobody);
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/login?next=%2Ffabrics%2Fcanary")));
    // A viewer sees and plans, and may not start a job.
    let vera = console.token("vera");
    assert_eq!(console.get("/api/v1/fabrics", &vera).status, 200);
    let plan = console.post("/api/v1/plans", &vera, json!({"fabric": "small-2spine-4leaf"}));
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert_eq!(plan.json()["hitless"], true);
    assert_eq!(plan.json()["batches"].as_array().unwrap().len(), 4);
    let refused = console.post("/api/v1/jobs", &vera, body.clone());
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("operator"), "{}", refused.body);
    // A session's POST without its CSRF token is refused, with it accepted.
    let oscar = console.login("oscar");
    let forged = console.send("POST", "/api/v1/jobs", &oscar, Some(body.clone()), false);
    assert_eq!((forged.status, forged.field()), (403, json!("csrf")), "{}", forged.body);
    let Auth::Session { cookie, .. } = &oscar else { unreachable!() };
    let wrong = Auth::Session { cookie: cookie.clone(), csrf: "0".repeat(64) };
    assert_eq!(console.post("/api/v1/jobs", &wrong, body.clone()).status, 403);
    let page_forged = console.form("/jobs/job-0001/cancel", &oscar, &[]);
    assert_eq!(page_forged.status, 403, "a form without the token is refused too");
    assert_eq!(console.get("/api/v1/jobs", &oscar).json(), json!([]), "nothing was started");
    let started = console.post("/api/v1/jobs", &oscar, body);
    assert_eq!(started.status, 201, "{}", started.body);
    // Signed out, the cookie is worth nothing.
    let Auth::Session { csrf, .. } = &oscar else { unreachable!() };
    let out = console.form("/logout", &oscar, &[("csrf", csrf)]);
    assert_eq!(out.status, 303);
    assert_eq!(console.get("/api/v1/jobs", &oscar).status, 401);
    // A wrong password is a 401 page, and opens no session.
    let wrong = console.form("/login", &Auth::Nobody, &[("name", "oscar"), ("password", "not the password")]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.cookie.is_none());
}

#[test]
fn an_idle_session_ends_and_the_browser_goes_to_the_login_page() {
    let console = start(&[]);
    let vera = console.login("vera");
    assert_eq!(console.get("/fabrics", &vera).status, 200);
    console.clock.fetch_add(3599, Ordering::SeqCst);
    assert_eq!(console.get("/fabrics", &vera).status, 200, "used within the hour: still open");
    console.clock.fetch_add(3601, Ordering::SeqCst);
    let expired = console.get("/fabrics", &vera);
    assert_eq!((expired.status, expired.location.as_deref()), (303, Some("/login?next=%2Ffabrics")));
    assert_eq!(console.get("/api/v1/fabrics", &vera).status, 401);
}

#[test]
fn a_paused_job_under_other_user_approval_is_approved_by_someone_else_and_the_journal_says_who() {
    let console = start(&[]);
    let (oscar, olga) = (console.token("oscar"), console.token("olga"));
    let body = json!({"mode": "upgrade", "fabric": "canary", "parameters": {"approval": "other-user"}});
    let started = console.post("/api/v1/jobs", &oscar, body);
    assert_eq!(started.status, 201, "{}", started.body);
    let job = started.json()["job"].as_str().unwrap().to_string();
    console.follow(&job, &oscar, None, &state_is("paused"));
    let own = console.post(&format!("/api/v1/jobs/{job}/approve"), &oscar, json!({}));
    assert_eq!(own.status, 403, "{}", own.body);
    assert!(own.body.contains("someone else must approve"), "{}", own.body);
    assert_eq!(console.get(&format!("/api/v1/jobs/{job}"), &oscar).json()["job"]["state"], "paused");
    let viewer = console.post(&format!("/api/v1/jobs/{job}/approve"), &console.token("vera"), json!({}));
    assert_eq!(viewer.status, 403);
    let approved = console.post(&format!("/api/v1/jobs/{job}/approve"), &olga, json!({}));
    assert_eq!(approved.status, 200, "{}", approved.body);
    let events = console.follow(&job, &olga, None, &never);
    assert_eq!(console.get(&format!("/api/v1/jobs/{job}"), &olga).json()["job"]["state"], "finished");
    let approval = events.iter().find(|(_, e)| e["step"] == "approve").expect("the approval is journaled");
    assert_eq!(approval.1["by"], "olga on test-host");
    // Approving a finished job is a conflict, not a second run.
    assert_eq!(console.post(&format!("/api/v1/jobs/{job}/approve"), &olga, json!({})).status, 409);
}

#[test]
fn a_job_is_cancelled_from_its_page_and_the_cli_sees_it_cancelled() {
    let console = start(&[]);
    let oscar = console.login("oscar");
    let started = console.post("/api/v1/jobs", &oscar, json!({"mode": "upgrade", "fabric": "canary"}));
    assert_eq!(started.status, 201, "{}", started.body);
    let job = started.json()["job"].as_str().unwrap().to_string();
    console.follow(&job, &console.token("oscar"), None, &state_is("paused"));
    let page = console.get(&format!("/jobs/{job}"), &oscar);
    assert!(page.body.contains(&format!("data-job=\"{job}\"")), "{}", page.body);
    assert!(page.body.contains("data-progress=\"1/6\""), "the canary is done: {}", page.body);
    let Auth::Session { csrf, .. } = &oscar else { unreachable!() };
    let cancelled = console.form(&format!("/jobs/{job}/cancel"), &oscar, &[("csrf", csrf)]);
    assert_eq!((cancelled.status, cancelled.location), (303, Some(format!("/jobs/{job}"))), "{}", cancelled.body);
    let status: Value =
        serde_json::from_str(&hitless_json(&console.state(), &["status", &job, "--format", "json"])).unwrap();
    assert_eq!(status["job"]["state"], "cancelled");
}

#[test]
fn the_wizard_walks_from_assignment_to_a_live_job_page_without_javascript() {
    let console = start(&[]);
    let oscar = console.login("oscar");
    let Auth::Session { csrf, .. } = oscar.clone() else { unreachable!() };
    let assign = console.get("/upgrade/small-2spine-4leaf", &oscar);
    assert_eq!(assign.status, 200);
    assert!(assign.body.contains("data-step=\"assign\""));
    let mut fields = vec![("csrf", csrf.as_str()), ("image", "junos-qfx-18.4R2")];
    for device in ["leaf1", "leaf2", "leaf3", "leaf4"] {
        assert!(assign.body.contains(&format!("value=\"{device}\"")), "{device} is offered");
        fields.push(("device", device));
    }
    let parameters = console.form("/upgrade/small-2spine-4leaf/parameters", &oscar, &fields);
    assert_eq!(parameters.status, 200, "{}", parameters.body);
    assert!(parameters.body.contains("data-step=\"parameters\""));
    let request = hidden(&parameters.body, "request");
    let test_run = console.form(
        "/upgrade/small-2spine-4leaf/test-run",
        &oscar,
        &[
            ("csrf", &csrf),
            ("request", &request),
            ("from", "parameters"),
            ("abort", "on"),
            ("max_batch_size", "2"),
            ("pause", "never"),
        ],
    );
    assert_eq!(test_run.status, 200, "{}", test_run.body);
    assert!(test_run.body.contains("data-step=\"test-run\""));
    assert_eq!(
        test_run.body.matches("data-action=\"upgrade\"").count(),
        4,
        "four devices to upgrade: {}",
        test_run.body
    );
    let request = hidden(&test_run.body, "request");
    let carried: Value = serde_json::from_str(&request).unwrap();
    assert_eq!(carried["parameters"]["max_batch_size"], 2);
    let plan = console.form("/upgrade/small-2spine-4leaf/plan", &oscar, &[("csrf", &csrf), ("request", &request)]);
    assert!(
        plan.body.contains("data-step=\"plan\"") && plan.body.contains("data-verdict=\"hitless\""),
        "{}",
        plan.body
    );
    assert_eq!(plan.body.matches("<tr data-batch=").count(), 2, "four leafs in batches of two: {}", plan.body);
    let request = hidden(&plan.body, "request");
    // The plan's report, as `hitless report` makes it: with its pictures, of this plan.
    let report = console.form("/upgrade/small-2spine-4leaf/report", &oscar, &[("csrf", &csrf), ("request", &request)]);
    assert_eq!(report.status, 200);
    assert!(
        report.body.contains("<svg") && report.body.contains("leaf1"),
        "{}",
        &report.body[..report.body.len().min(500)]
    );
    let start = console.form(
        "/upgrade/small-2spine-4leaf/start",
        &oscar,
        &[("csrf", &csrf), ("request", &request), ("speed", "")],
    );
    assert_eq!(start.status, 303, "{}", start.body);
    let location = start.location.unwrap();
    let job = location.strip_prefix("/jobs/").unwrap().to_string();
    console.follow(&job, &console.token("oscar"), None, &never);
    let page = console.get(&location, &oscar);
    assert!(page.body.contains("data-step=\"upgrade\""));
    assert!(page.body.contains("data-progress=\"4/4\""), "{}", page.body);
    for device in ["leaf1", "leaf2", "leaf3", "leaf4"] {
        assert!(
            page.body.contains(&format!("data-device=\"{device}\" data-state=\"Maintenance Mode Deactivated\"")),
            "{device}: {}",
            page.body
        );
    }
    assert!(!page.body.contains("data-device=\"spine1\""), "only the devices chosen are in the job");
    let log = console.get(&format!("/jobs/{job}/devices/leaf1"), &oscar);
    assert!(log.body.contains("data-logs=\"leaf1\"") && log.body.contains("Image Upgrade"), "{}", log.body);
    let report = console.get(&format!("/jobs/{job}/report"), &oscar);
    assert_eq!(report.status, 200);
}

#[test]
fn images_are_uploaded_edited_and_deleted_by_admins_only() {
    let console = start(&[]);
    let (ada, vera) = (console.token("ada"), console.token("vera"));
    let file = b"not really a junos image, but bytes all the same".to_vec();
    let boundary = "hitless-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [
        ("name", "junos-test-1"),
        ("vendor", "juniper"),
        ("family", "junos-qfx"),
        ("platforms", "qfx5110-48s, qfx10002-36q"),
        ("os_version", "23.4R2"),
    ] {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"j.tgz\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend(&file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let upload = |auth: &Auth| {
        let Auth::Token(token) = auth else { unreachable!() };
        answer(
            console
                .agent
                .post(format!("{}/api/v1/images", console.base))
                .header("Authorization", format!("Bearer {token}"))
                .content_type(format!("multipart/form-data; boundary={boundary}"))
                .send(&body[..]),
        )
    };
    assert_eq!(upload(&vera).status, 403);
    let added = upload(&ada);
    assert_eq!(added.status, 201, "{}", added.body);
    use sha2::Digest;
    let sha256: String = sha2::Sha256::digest(&file).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(added.json()["sha256"], sha256);
    assert_eq!(added.json()["platforms"], json!(["qfx5110-48s", "qfx10002-36q"]));
    assert_eq!(upload(&ada).status, 409, "the name is taken");
    let rename = console.send("PATCH", "/api/v1/images/junos-test-1", &ada, Some(json!({"name": "other"})), true);
    assert_eq!((rename.status, rename.field()), (422, json!("name")));
    let edit =
        console.send("PATCH", "/api/v1/images/junos-test-1", &ada, Some(json!({"vendor": "Juniper Networks"})), true);
    assert_eq!(edit.status, 200, "{}", edit.body);
    assert_eq!(edit.json()["vendor"], "Juniper Networks");
    assert_eq!(
        console.send("PATCH", "/api/v1/images/junos-test-1", &vera, Some(json!({"vendor": "x"})), true).status,
        403
    );
    let page = console.get("/images", &console.login("vera"));
    assert!(
        page.body.contains("data-image=\"junos-test-1\"") && !page.body.contains("data-upload"),
        "viewers see no upload form"
    );
    assert_eq!(console.send("DELETE", "/api/v1/images/junos-test-1", &ada, None, true).status, 204);
    assert_eq!(console.get("/api/v1/images/junos-test-1", &ada).status, 404);
}

#[test]
fn a_hostile_scenario_is_shown_escaped_on_every_page() {
    let hostile = std::fs::read_to_string(root().join("scenarios/small-2spine-4leaf.yaml"))
        .unwrap()
        .replacen("name: small-2spine-4leaf", "name: \"<script>alert(1)</script>\"", 1)
        .replacen("description:", "description: \"<img src=x onerror=alert(2)>\" #", 1);
    assert!(hostile.contains("<script>"), "the name was replaced");
    let console = start(&[("hostile.yaml", &hostile)]);
    let vera = console.login("vera");
    for path in ["/fabrics", "/fabrics/hostile"] {
        let page = console.get(path, &vera);
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains("<script>alert") && !page.body.contains("<img src=x"), "{path}: {}", page.body);
        assert!(page.body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{path}: {}", page.body);
    }
    let missing = console.get("/fabrics/%3Cscript%3E", &vera);
    assert_eq!(missing.status, 404);
    assert!(!missing.body.contains("<script>"), "{}", missing.body);
}

#[test]
fn the_openapi_document_lists_every_endpoint_and_each_is_served() {
    let console = start(&[]);
    let ada = console.token("ada");
    let document = console.get("/api/v1/openapi.json", &ada).json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 12, "{paths:?}");
    for (path, operations) in paths {
        let concrete = path.replace("{name}", "none").replace("{id}", "job-0000").replace("{device}", "none");
        for method in operations.as_object().unwrap().keys() {
            let url = format!("/api/v1{concrete}");
            let answered = match method.as_str() {
                "get" => console.get(&url, &ada),
                "post" => console.send("POST", &url, &ada, Some(json!({})), true),
                "patch" => console.send("PATCH", &url, &ada, Some(json!({})), true),
                "delete" => console.send("DELETE", &url, &ada, None, true),
                other => panic!("{other}"),
            };
            // Served: not the fallback, not a method the route lacks.
            assert_ne!(answered.status, 405, "{method} {path}");
            assert!(!answered.body.contains("no such API endpoint"), "{method} {path}: {}", answered.body);
        }
    }
}

#[test]
fn plain_http_off_loopback_needs_tls_or_insecure_and_insecure_says_so_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let service = hitless::workflow::service::Service::open(Some(dir.path())).unwrap();
    let config = hitless::console::Config::new("0.0.0.0:0".parse().unwrap(), "h".into());
    let caller = hitless::workflow::upgrade::Caller {
        operator: String::new(),
        lease: hitless::workflow::service::LeaseHolder { pid: 1, host: "h".into(), token: "t".into(), started: 0 },
        holder: std::sync::Arc::new(|_| hitless::workflow::jobs::Holder::Unknown),
        now: std::sync::Arc::new(|| 0),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let refused =
        runtime.block_on(hitless::console::serve(service, config, caller, async {}, |_| panic!("it must not listen")));
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("0.0.0.0:0 is not a loopback address") && message.contains("--tls-cert"), "{message}");
    let console = start_with(&[], |config| {
        config.bind = "0.0.0.0:0".parse().unwrap();
        config.insecure = true;
    });
    for path in ["/login", "/fabrics"] {
        let auth = if path == "/login" { Auth::Nobody } else { console.login("vera") };
        let page = console.get(path, &auth);
        assert!(page.body.contains("data-insecure"), "{path}: {}", page.body);
    }
    let quiet = start(&[]);
    assert!(!quiet.get("/login", &Auth::Nobody).body.contains("data-insecure"), "loopback is not announced");
}

#[test]
fn over_tls_the_console_serves_https_and_its_session_cookie_is_secure() {
    use std::io::{Read, Write};
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let console = start_with(&[], |config| config.tls = Some((cert.clone(), key.clone())));
    let port: u16 = console.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(generated.cert.der().clone()).unwrap();
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let ask = |request: String| {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(std::sync::Arc::new(client.clone()), name).unwrap();
        let socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut tls = rustls::StreamOwned::new(connection, socket);
        tls.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        // The server closes after answering (Connection: close); a TLS close without
        // close_notify is tolerated.
        let _ = tls.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    };
    let page = ask("GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into());
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("data-login") && !page.contains("data-insecure"), "{page}");
    let body = format!("name=vera&password={}", crate::console_harness::PASSWORD.replace(' ', "+"));
    let signed = ask(format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let cookie = signed
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("{signed}"));
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // Plain HTTP to the TLS port gets no page.
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut plain = Vec::new();
    let _ = socket.read_to_end(&mut plain);
    assert!(!String::from_utf8_lossy(&plain).contains("data-login"), "a page went out in clear");
}

#[test]
fn admins_manage_users_on_their_page_and_a_token_is_shown_once_and_works() {
    let console = start(&[]);
    let vera = console.login("vera");
    let Auth::Session { csrf: vera_csrf, .. } = vera.clone() else { unreachable!() };
    assert_eq!(console.get("/users", &vera).status, 403);
    let added = console.form(
        "/users",
        &vera,
        &[("csrf", &vera_csrf), ("name", "mallory"), ("role", "admin"), ("password", "a long enough password")],
    );
    assert_eq!(added.status, 403, "a viewer adds nobody");
    let ada = console.login("ada");
    let Auth::Session { csrf, .. } = ada.clone() else { unreachable!() };
    let weak =
        console.form("/users", &ada, &[("csrf", &csrf), ("name", "nina"), ("role", "operator"), ("password", "short")]);
    assert_eq!(weak.status, 422, "{}", weak.body);
    let added = console.form(
        "/users",
        &ada,
        &[("csrf", &csrf), ("name", "nina"), ("role", "operator"), ("password", "a long enough password")],
    );
    assert_eq!((added.status, added.location.as_deref()), (303, Some("/users")), "{}", added.body);
    let page = console.get("/users", &ada);
    assert!(page.body.contains("data-user=\"nina\""), "{}", page.body);
    let issued = console.form("/users/nina/token", &ada, &[("csrf", &csrf)]);
    assert!(issued.body.contains("data-token"), "{}", issued.body);
    let start = issued.body.find("<code>hitless_").unwrap() + "<code>".len();
    let token = &issued.body[start..start + issued.body[start..].find('<').unwrap()];
    assert_eq!(console.get("/api/v1/jobs", &Auth::Token(token.to_string())).status, 200);
    assert!(!console.get("/users", &ada).body.contains(token), "shown once");
    let myself = console.form("/users/ada/delete", &ada, &[("csrf", &csrf)]);
    assert_eq!(myself.status, 409);
    let removed = console.form("/users/nina/delete", &ada, &[("csrf", &csrf)]);
    assert_eq!(removed.status, 303);
    assert_eq!(console.get("/api/v1/jobs", &Auth::Token(token.to_string())).status, 401, "her token went with her");
}

#[test]
fn every_endpoint_answers_as_documented_including_test_runs_resume_cancel_and_an_incompatible_image() {
    let two_images = std::fs::read_to_string(root().join("scenarios/small-2spine-4leaf.yaml")).unwrap().replacen(
        "images:\n",
        "images:\n  - {name: junos-ex-1, vendor: juniper, family: junos-ex, platforms: [ex4300-48t], version: 21.4R3}\n",
        1,
    );
    let console = start(&[("two-images.yaml", &two_images)]);
    let oscar = console.token("oscar");
    // A fabric in full.
    let fabric = console.get("/api/v1/fabrics/two-images", &oscar).json();
    assert_eq!(fabric["devices"].as_array().unwrap().len(), 6);
    assert_eq!(fabric["images"].as_array().unwrap().len(), 2);
    assert_eq!(fabric["targets"].as_array().unwrap().len(), 6);
    // An image that does not fit a named device: 422 on the assignment, nothing started.
    let unfit = console.post(
        "/api/v1/jobs",
        &oscar,
        json!({"mode": "upgrade", "fabric": "two-images", "assign": [{"image": "junos-ex-1", "devices": ["leaf1"]}]}),
    );
    assert_eq!((unfit.status, unfit.field()), (422, json!("assign")), "{}", unfit.body);
    assert!(unfit.body.contains("leaf1"), "{}", unfit.body);
    // The wizard offers it to no device, and says why.
    let page = console.get("/upgrade/two-images", &console.login("oscar"));
    assert!(page.body.contains("data-unfit=\"leaf1\""), "{}", page.body);
    // A test run: rows, nothing recorded, nothing changed.
    let rows = console.post("/api/v1/jobs", &oscar, json!({"mode": "test-run", "fabric": "small-2spine-4leaf"}));
    assert_eq!(rows.status, 200, "{}", rows.body);
    let rows = rows.json();
    assert_eq!(rows["mode"], "test-run");
    assert_eq!(rows["rows"].as_array().unwrap().len(), 6);
    assert!(rows["rows"].as_array().unwrap().iter().all(|r| r["simulated"] == true && r["problems"] == json!([])));
    assert_eq!(console.get("/api/v1/jobs", &oscar).json(), json!([]));
    // Paused after the canary: resume is refused (it waits for approval), cancel through the API.
    let started = console.post("/api/v1/jobs", &oscar, json!({"mode": "upgrade", "fabric": "canary"}));
    let job = started.json()["job"].as_str().unwrap().to_string();
    console.follow(&job, &oscar, None, &state_is("paused"));
    let resume = console.post(&format!("/api/v1/jobs/{job}/resume"), &oscar, json!({}));
    assert_eq!(resume.status, 409, "{}", resume.body);
    assert!(resume.body.contains("approve"), "{}", resume.body);
    let cancelled = console.post(&format!("/api/v1/jobs/{job}/cancel"), &oscar, json!({}));
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["job"]["state"], "cancelled");
    assert_eq!(console.post(&format!("/api/v1/jobs/{job}/cancel"), &oscar, json!({})).status, 409);
    assert_eq!(console.post(&format!("/api/v1/jobs/{job}/resume"), &oscar, json!({})).status, 409);
    let report = console.get(&format!("/api/v1/jobs/{job}/report"), &oscar);
    assert_eq!(report.status, 200);
    assert!(report.body.contains(&job));
    // Bodies past the limit are refused before they are read (raw: the answer comes while the
    // client would still be sending).
    use std::io::{Read, Write};
    let Auth::Token(token) = &oscar else { unreachable!() };
    let address = console.base.strip_prefix("http://").unwrap().to_string();
    let mut socket = std::net::TcpStream::connect(&address).unwrap();
    let head = format!(
        "POST /api/v1/plans HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        3 << 20
    );
    let mut writer = socket.try_clone().unwrap();
    // Sent from another thread: the server answers (and may stop reading) before it all went.
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&vec![b' '; 3 << 20]);
    });
    // The answer's head is enough (the server need not close a connection it refused a body on).
    socket.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap() == 1 {
        answer.push(byte[0]);
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
    sending.join().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
