//! A scenario tailored to one request of a front end that cannot edit files (the console and the
//! API): other assignments (`upgrade.assign`) and other parameters (health checks, canary,
//! pause, window, ...) for this one plan or job, the file itself untouched.
//!
//! The result is a new scenario text (JSON, which the YAML loader reads as it reads YAML), so
//! that it is checked exactly as a file would be, and so that the job keeps the text it ran
//! with: a job re-entered later loads the scenario as it was tailored, not as the file is now.

use std::path::Path;

use serde_json::{Map, Value};

/// The `upgrade` fields a request may set, and nothing else (the fabric, the images, the
/// simulation and `drain` stay as the file says).
pub const PARAMETERS: [&str; 9] = [
    "max_batch_size",
    "health_checks",
    "abort_on_health_check_failure",
    "canary",
    "pause",
    "on_failure",
    "approval",
    "window",
    "maintenance",
];

/// What a request changes.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tailoring {
    /// Replaces `upgrade.assign`, in the scenario's own form (`[{image, devices}]`).
    #[serde(default)]
    pub assign: Option<Value>,
    /// Sets these `upgrade` fields (only those of [`PARAMETERS`]); `null` removes one.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

/// Why a scenario could not be tailored.
#[derive(Debug, thiserror::Error)]
pub enum TailorError {
    /// The text is not YAML at all (the loader says more).
    #[error("{path}: not a YAML document: {message}")]
    Syntax {
        /// The scenario file.
        path: String,
        /// The parser's words.
        message: String,
    },
    /// The document is not a mapping, or its `upgrade` is not one.
    #[error("{path}: {what} is not a mapping, so it cannot be tailored")]
    NotMapping {
        /// The scenario file.
        path: String,
        /// `the scenario` or `upgrade`.
        what: &'static str,
    },
    /// A parameter no request may set.
    #[error("parameters.{field} cannot be set here: the parameters are {}", PARAMETERS.join(", "))]
    UnknownParameter {
        /// The field.
        field: String,
    },
}

impl TailorError {
    /// The request field the error is about, for a front end that points at it.
    pub fn field(&self) -> Option<String> {
        match self {
            TailorError::UnknownParameter { field } => Some(format!("parameters.{field}")),
            _ => None,
        }
    }
}

/// `text` (the scenario file at `path`) with `tailoring` applied; `text` itself when there is
/// nothing to apply, so a request that changes nothing keeps the file's own positions.
pub fn tailor(text: &str, path: &Path, tailoring: &Tailoring) -> Result<String, TailorError> {
    if tailoring.assign.is_none() && tailoring.parameters.is_empty() {
        return Ok(text.to_string());
    }
    if let Some(field) = tailoring.parameters.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
        return Err(TailorError::UnknownParameter { field: field.clone() });
    }
    let shown = path.display().to_string();
    let mut root: Value = serde_saphyr::from_str(text)
        .map_err(|e| TailorError::Syntax { path: shown.clone(), message: e.to_string() })?;
    let Value::Object(document) = &mut root else {
        return Err(TailorError::NotMapping { path: shown, what: "the scenario" });
    };
    let upgrade = document.entry("upgrade").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(upgrade) = upgrade else {
        return Err(TailorError::NotMapping { path: shown, what: "upgrade" });
    };
    if let Some(assign) = &tailoring.assign {
        upgrade.insert("assign".to_string(), assign.clone());
    }
    for (field, value) in &tailoring.parameters {
        match (value, upgrade.get_mut(field)) {
            (Value::Null, _) => {
                upgrade.remove(field);
            }
            // The health checks are limits set one by one: a request's limits change those it
            // names, and the file's others stay (a form that shows four of them must not reset
            // the rest to their defaults).
            (Value::Object(given), Some(Value::Object(file))) if field == "health_checks" => {
                for (limit, value) in given {
                    file.insert(limit.clone(), value.clone());
                }
            }
            (value, _) => {
                upgrade.insert(field.clone(), value.clone());
            }
        }
    }
    Ok(serde_json::to_string_pretty(&root).expect("a JSON value encodes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str =
        "name: t\nfabric: {devices: []}\nupgrade:\n  assign:\n    - {image: a, devices: all}\n  canary: 1\n";

    #[test]
    fn nothing_to_apply_keeps_the_text() {
        assert_eq!(tailor(SCENARIO, Path::new("t.yaml"), &Tailoring::default()).unwrap(), SCENARIO);
    }

    #[test]
    fn assignments_and_parameters_replace_the_files_and_null_removes() {
        let tailoring = Tailoring {
            assign: Some(serde_json::json!([{"image": "b", "devices": ["leaf1"]}])),
            parameters: serde_json::from_str(r#"{"canary": null, "on_failure": "rollback"}"#).unwrap(),
        };
        let text = tailor(SCENARIO, Path::new("t.yaml"), &tailoring).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["upgrade"]["assign"][0]["image"], "b");
        assert_eq!(value["upgrade"]["on_failure"], "rollback");
        assert!(value["upgrade"].get("canary").is_none());
        assert_eq!(value["name"], "t");
    }

    #[test]
    fn health_check_limits_are_changed_one_by_one_and_the_file_s_others_kept() {
        let file = "name: t\nupgrade:\n  health_checks: {sample_seconds: 30, alarms_max: 2}\n";
        let tailoring = Tailoring {
            assign: None,
            parameters: serde_json::from_str(r#"{"health_checks": {"alarms_max": 0, "bgp_peers_down_max": 1}}"#)
                .unwrap(),
        };
        let value: Value = serde_json::from_str(&tailor(file, Path::new("t.yaml"), &tailoring).unwrap()).unwrap();
        assert_eq!(
            value["upgrade"]["health_checks"],
            serde_json::json!({"sample_seconds": 30, "alarms_max": 0, "bgp_peers_down_max": 1})
        );
    }

    #[test]
    fn only_the_parameters_may_be_set() {
        let tailoring = Tailoring { assign: None, parameters: serde_json::from_str(r#"{"drain": false}"#).unwrap() };
        let error = tailor(SCENARIO, Path::new("t.yaml"), &tailoring).unwrap_err();
        assert_eq!(error.field().as_deref(), Some("parameters.drain"));
    }
}
