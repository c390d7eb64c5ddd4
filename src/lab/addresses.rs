//! Where a running `hitless lab` listens: recorded in the state directory so that `hitless
//! upgrade --driver junos` with the same state directory finds the emulated devices.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file, in the state directory.
const FILE: &str = "lab-addresses.json";

/// The path of the record in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// The addresses the last `hitless lab` with this state directory listened on (empty if none,
/// or if the record cannot be read: then the scenario's own addresses are all there is).
pub fn recorded(state_dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path(state_dir)).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
}

/// Records `addresses` atomically (written aside, then renamed into place).
pub fn record(state_dir: &Path, addresses: &BTreeMap<String, String>) -> std::io::Result<()> {
    let file = path(state_dir);
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(addresses).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, &file)
}

/// Forgets the record (the lab stopped).
pub fn forget(state_dir: &Path) {
    // A record left behind only points at ports nobody listens on; connecting then fails clearly.
    let _ = std::fs::remove_file(path(state_dir));
}
