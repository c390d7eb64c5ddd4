//! The fabrics the console offers: the scenario files of `--scenarios DIR` (`NAME.yaml` or
//! `NAME.yml`), each named by its file's stem. A file that does not load is listed with its
//! error, not hidden.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde::Serialize;

use super::ApiError;
use crate::scenario::Scenario;
use crate::workflow::service::Service;
use crate::workflow::tailor::{Tailoring, tailor};

/// The most scenario files listed.
const MAX_FABRICS: usize = 1000;

/// A fabric as listed.
#[derive(Clone, Debug, Serialize)]
pub struct FabricEntry {
    /// The file's stem: how URLs and requests name it.
    pub name: String,
    /// The scenario's own name (None when it does not load).
    pub scenario: Option<String>,
    /// Its devices.
    pub devices: usize,
    /// Devices its upgrade section selects for an upgrade.
    pub targets: usize,
    /// Why it does not load, when it does not.
    pub error: Option<String>,
    /// The open job on it, if any (running, paused or halted).
    pub open_job: Option<String>,
}

/// A name a request may use for a fabric: letters, digits, `.`, `_`, `-`, not starting with a
/// dot (so nothing outside the directory, and no hidden file).
fn valid(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The file of fabric `name`, if the directory has one.
fn file(dir: &Path, name: &str) -> Option<PathBuf> {
    if !valid(name) {
        return None;
    }
    ["yaml", "yml"].iter().map(|ext| dir.join(format!("{name}.{ext}"))).find(|p| p.is_file())
}

/// Every fabric of `dir`, by name.
pub fn list(service: &Service, dir: Option<&Path>) -> Result<Vec<FabricEntry>, ApiError> {
    let Some(dir) = dir else { return Ok(Vec::new()) };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read --scenarios {}: {e}", dir.display()))
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let ext = path.extension()?.to_str()?;
            if !matches!(ext, "yaml" | "yml") {
                return None;
            }
            path.file_stem()?.to_str().map(str::to_string)
        })
        .filter(|n| valid(n))
        .collect();
    names.sort();
    names.dedup();
    names.truncate(MAX_FABRICS);
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match load(service, dir, &name, &Tailoring::default()) {
            Ok(loaded) => out.push(FabricEntry {
                open_job: open_job(service, &loaded.scenario)?,
                scenario: Some(loaded.scenario.name.clone()),
                devices: loaded.scenario.fabric.len(),
                targets: loaded.scenario.selection.targets.len(),
                error: None,
                name,
            }),
            Err(error) => out.push(FabricEntry {
                name,
                scenario: None,
                devices: 0,
                targets: 0,
                error: Some(error.message),
                open_job: None,
            }),
        }
    }
    Ok(out)
}

/// The open job on `scenario`'s fabric.
pub fn open_job(service: &Service, scenario: &Scenario) -> Result<Option<String>, ApiError> {
    let fingerprint = scenario.fabric.fingerprint();
    let jobs = service.jobs()?;
    Ok(jobs.into_iter().rev().find(|j| j.fabric == fingerprint && j.state.is_open()).map(|j| j.id))
}

/// A fabric loaded for a request: the scenario, tailored, and the text it was loaded from (which
/// a job keeps).
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Its text.
    pub text: String,
}

/// Fabric `name` of `dir` with `tailoring` applied, checked as a file would be.
pub fn load(service: &Service, dir: &Path, name: &str, tailoring: &Tailoring) -> Result<Loaded, ApiError> {
    let path = file(dir, name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no fabric {name:?}: the console's fabrics are the scenario files of {} (GET /api/v1/fabrics lists them)",
            dir.display()
        ))
        .at("fabric")
    })?;
    let original = Scenario::read(&path).map_err(crate::workflow::WorkflowError::from)?;
    let text = tailor(&original, &path, tailoring).map_err(crate::workflow::WorkflowError::from)?;
    let scenario = Scenario::from_yaml_with(&text, &path, &service.catalog()).map_err(|e| {
        let field = match (&tailoring.assign, tailoring.parameters.is_empty()) {
            (_, false) => "parameters",
            (Some(_), true) => "assign",
            (None, true) => "fabric",
        };
        ApiError::from(crate::workflow::WorkflowError::from(e)).at(field)
    })?;
    Ok(Loaded { scenario, text })
}

/// The directory, or the error saying the console has none.
pub fn dir(config: &super::Config) -> Result<&Path, ApiError> {
    config.scenarios.as_deref().ok_or_else(|| {
        ApiError::not_found(
            "this console has no fabrics: start it with --scenarios DIR (a directory of scenario files)",
        )
        .at("fabric")
    })
}
