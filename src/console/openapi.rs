//! `GET /api/v1/openapi.json`: the API described as OpenAPI 3.1, made from [`ENDPOINTS`], the
//! same table a test holds the router to (every endpoint listed is served, and answers as its
//! role says).

use serde_json::{Value, json};

/// One endpoint: method, path (under `/api/v1`), what it does, the least role, whether it
/// changes state (and so needs `X-CSRF-Token` from a session), its JSON body, its success status.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub role: &'static str,
    pub changes: bool,
    pub body: Option<&'static str>,
    pub success: u16,
}

const fn endpoint(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    role: &'static str,
    body: Option<&'static str>,
    success: u16,
) -> Endpoint {
    let changes = !matches!(method.as_bytes(), b"get") && !matches!(path.as_bytes(), b"/plans");
    Endpoint { method, path, summary, role, changes, body, success }
}

/// Every endpoint of the API.
pub const ENDPOINTS: &[Endpoint] = &[
    endpoint("get", "/openapi.json", "This document.", "viewer", None, 200),
    endpoint("get", "/images", "The image catalog.", "viewer", None, 200),
    endpoint(
        "post",
        "/images",
        "Adds an image: multipart fields name, vendor, family, platforms, os_version, file.",
        "admin",
        Some("multipart"),
        201,
    ),
    endpoint("get", "/images/{name}", "One image.", "viewer", None, 200),
    endpoint(
        "patch",
        "/images/{name}",
        "Changes an image's vendor, family, platforms or os_version (never its name).",
        "admin",
        Some("ImagePatch"),
        200,
    ),
    endpoint("delete", "/images/{name}", "Removes an image (refused while an open job uses it).", "admin", None, 204),
    endpoint(
        "get",
        "/fabrics",
        "The scenarios of --scenarios, each with its devices and open job.",
        "viewer",
        None,
        200,
    ),
    endpoint(
        "get",
        "/fabrics/{name}",
        "One fabric: devices, roles, running versions, images, selection, open job.",
        "viewer",
        None,
        200,
    ),
    endpoint("post", "/plans", "Plans and simulates a request; changes nothing.", "viewer", Some("PlanRequest"), 200),
    endpoint("get", "/jobs", "Every job.", "viewer", None, 200),
    endpoint(
        "post",
        "/jobs",
        "mode test-run: the test run's rows (nothing changed, nothing recorded); mode upgrade: starts the job (201, its id).",
        "operator",
        Some("JobRequest"),
        201,
    ),
    endpoint("get", "/jobs/{id}", "A job, its devices and its progress.", "viewer", None, 200),
    endpoint(
        "get",
        "/jobs/{id}/events",
        "The job's journal as server-sent events; Last-Event-ID resumes.",
        "viewer",
        None,
        200,
    ),
    endpoint(
        "post",
        "/jobs/{id}/approve",
        "Approves a paused job and runs the rest in this process.",
        "operator",
        None,
        200,
    ),
    endpoint(
        "post",
        "/jobs/{id}/cancel",
        "Cancels a job (a running one stops starting new work).",
        "operator",
        None,
        200,
    ),
    endpoint(
        "post",
        "/jobs/{id}/resume",
        "Resumes a halted or interrupted job in this process.",
        "operator",
        None,
        200,
    ),
    endpoint("get", "/jobs/{id}/devices/{device}/logs", "One device's journal entries.", "viewer", None, 200),
    endpoint("get", "/jobs/{id}/report", "The job's report page (HTML).", "viewer", None, 200),
];

fn schemas() -> Value {
    let assign =
        json!({"description": "upgrade.assign in the scenario's own form: [{image, devices: all | [names] | {role}}]"});
    let parameters = json!({
        "type": "object",
        "description": "upgrade fields for this request only",
        "properties": crate::workflow::tailor::PARAMETERS.iter().map(|p| (p.to_string(), json!({}))).collect::<serde_json::Map<_, _>>(),
        "additionalProperties": false
    });
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["message"], "properties": {
            "message": {"type": "string"}, "field": {"type": ["string", "null"]}}}}},
        "PlanRequest": {"type": "object", "required": ["fabric"], "additionalProperties": false, "properties": {
            "fabric": {"type": "string"}, "assign": assign, "parameters": parameters, "allow_loss": {"type": "boolean"}}},
        "JobRequest": {"type": "object", "required": ["mode", "fabric"], "additionalProperties": false, "properties": {
            "mode": {"enum": ["test-run", "upgrade"]}, "fabric": {"type": "string"}, "assign": assign, "parameters": parameters,
            "allow_loss": {"type": "boolean"}, "driver": {"enum": ["virtual", "junos", "native", "default"]},
            "speed": {"type": "number", "exclusiveMinimum": 0}}},
        "ImagePatch": {"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string", "description": "may only repeat the current name"},
            "vendor": {"type": "string"}, "family": {"type": "string"},
            "platforms": {"type": "array", "items": {"type": "string"}}, "os_version": {"type": "string"}}}
    })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for e in ENDPOINTS {
        let parameters: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut operation = json!({
            "summary": e.summary,
            "description": format!("Least role: {}.{}", e.role, if e.changes { " A session's request carries X-CSRF-Token." } else { "" }),
            "parameters": parameters,
            "responses": {
                e.success.to_string(): {"description": "done"},
                "default": {"description": "refused or failed; nothing changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        match e.body {
            Some("multipart") => {
                operation["requestBody"] = json!({"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
                    "name": {"type": "string"}, "vendor": {"type": "string"}, "family": {"type": "string"},
                    "platforms": {"type": "string"}, "os_version": {"type": "string"}, "file": {"type": "string", "format": "binary"}}}}}})
            }
            Some(schema) => {
                operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
            }
            None => {}
        }
        let path = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        path[e.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "hitless", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Plan, simulate, run and watch hitless upgrades of a switch fabric."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "`hitless user token NAME`"},
                "session": {"type": "apiKey", "in": "cookie", "name": super::auth::COOKIE}
            }
        }
    })
}
