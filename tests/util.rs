//! Running the `hitless` binary from tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The outcome of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `hitless ARGS` with the repository root as working directory.
pub fn hitless(args: &[&str]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_hitless"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the hitless binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every bundled scenario, sorted by file name.
pub fn bundled_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the bundled scenarios are there");
    files
}

/// A scenario path relative to the root, as a user would type it.
pub fn relative(path: &Path) -> String {
    path.strip_prefix(root()).expect("under the root").display().to_string()
}

/// Writes `text` to `name` in a fresh temporary directory; keep the directory alive.
pub fn write_temp(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the file");
    (dir, path)
}

/// Runs `hitless ARGS` on a terminal (a pseudo-terminal of `script`, util-linux's, which every
/// Debian has) `columns` wide, typing `input` into it: for what happens only on a terminal
/// (prompts, tables sized to it). Output is the terminal's (stdout and stderr together).
pub fn on_terminal(args: &[&str], columns: u16, input: &str) -> Run {
    use std::io::Write as _;
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = format!("stty cols {columns} rows 50; exec {}", quote(env!("CARGO_BIN_EXE_hitless")));
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs (it makes the terminal)");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("typed");
    let output = child.wait_with_output().expect("script ends");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// An inventory host for each device of `scenario`, all at `address`, with the network OS
/// `network_os` gives a device's name.
pub fn hosts_of(
    scenario: &hitless::scenario::Scenario,
    address: &str,
    network_os: impl Fn(&str) -> Option<String>,
) -> Vec<hitless::inventory::Host> {
    let devices = scenario.fabric.devices();
    devices
        .iter()
        .map(|d| hitless::inventory::Host {
            name: d.name.clone(),
            address: address.into(),
            user: None,
            groups: Default::default(),
            network_os: network_os(&d.name),
        })
        .collect()
}
