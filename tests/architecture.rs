//! The architecture's invariants, checked on the source: modules import only downward (no
//! cycles), and what ARCHITECTURE.md says is absent from a module is absent.

use std::collections::{BTreeMap, BTreeSet};

use crate::util::root;

/// The layers, lowest first. A module may import modules of its own layer or of a lower one;
/// within a layer the imports must not form a cycle.
const LAYERS: &[&[&str]] = &[
    &["util"],
    &[
        "version",
        "model",
        "image",
        "timing",
        "traffic",
        "faults",
        "health",
        "maintenance",
        "method",
        "select",
        "journal",
        "window",
        "snapshot",
        "inventory",
    ],
    &["scenario"],
    &["plan", "simulate", "containerlab"],
    &["exec"],
    &["netconf", "store", "driver", "lab"],
    &["workflow", "view"],
    &["console"],
    &["cli"],
];

/// Texts that may appear (outside comments) only under the given source paths.
const CONFINED: &[(&str, &[&str])] = &[
    ("rusqlite", &["src/store/"]),
    ("russh", &["src/driver/ssh.rs", "src/lab/ssh.rs", "src/lab/sftp.rs"]),
    ("crate::netconf", &["src/netconf/", "src/driver/junos/", "src/lab/"]),
    ("anyhow", &["src/cli/"]),
    ("axum", &["src/console/"]),
    ("hyper", &["src/driver/eos/https.rs", "src/lab/eapi.rs"]),
    ("tokio_rustls", &["src/driver/eos/https.rs", "src/lab/eapi.rs"]),
    ("clap", &["src/cli/"]),
    ("hitless_sim", &["src/simulate/"]),
    ("SystemTime::now", &["src/cli/"]),
    ("std::env::var", &["src/cli/", "src/store/mod.rs"]),
    ("tracing_subscriber", &["src/cli/"]),
    ("libc::", &["src/cli/"]),
];

/// Words the simulator crate's code never uses: it knows nodes, links, flows and timers.
const FOREIGN_TO_SIM: &[&str] = &["junos", "netconf", "russh", "xml", "image", "batch", "hitless::"];

/// Every `.rs` file under `dir`, as (path relative to the root, text).
fn sources(dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
                out.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file belongs to (`src/store/jobs.rs` is `store`), if any.
fn module_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then_some(name)
}

/// Code lines with comments removed: `//` comments, `//!` and `///` docs.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let code = match line.find("//") {
            // A `//` inside a string literal (a URL) is rare here; such lines keep their code.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

/// The crate modules a line names: `crate::foo::...` and `crate::{foo, bar::...}`.
fn imported(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != "self" {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every broken layering rule in `files`: upward imports, unknown modules, and cycles.
fn layering_violations(files: &[(String, String)]) -> Vec<String> {
    let mut violations = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        let Some(from) = module_of(path) else { continue };
        let Some(from_layer) = layer_of(from) else {
            violations.push(format!("{path}: module `{from}` is in no layer; add it to LAYERS and ARCHITECTURE.md"));
            continue;
        };
        for (line, code) in code_lines(text) {
            for to in imported(code) {
                if to == from {
                    continue;
                }
                match layer_of(&to) {
                    None => violations.push(format!("{path}:{line}: `crate::{to}` is in no layer")),
                    Some(to_layer) if to_layer > from_layer => violations.push(format!(
                        "{path}:{line}: `{from}` (layer {from_layer}) imports `{to}` (layer {to_layer}), above it"
                    )),
                    Some(_) => {
                        edges.entry(from.to_string()).or_default().insert(to);
                    }
                }
            }
        }
    }
    violations.extend(cycles(&edges));
    violations
}

/// One message per cycle found in the module graph (depth-first search, white/grey/black).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        colour.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match colour.get(next.as_str()).copied().unwrap_or(0) {
                0 => visit(next, edges, colour, path, out),
                1 => {
                    let start = path.iter().position(|m| m == next).unwrap();
                    out.push(format!("import cycle: {} -> {next}", path[start..].join(" -> ")));
                }
                _ => {}
            }
        }
        path.pop();
        colour.insert(node.to_string(), 2);
    }
    let mut colour = BTreeMap::new();
    let mut out = Vec::new();
    for node in edges.keys() {
        if colour.get(node.as_str()).copied().unwrap_or(0) == 0 {
            visit(node, edges, &mut colour, &mut Vec::new(), &mut out);
        }
    }
    out
}

/// Every confined text found outside its allowed paths.
fn confinement_violations(files: &[(String, String)]) -> Vec<String> {
    let mut violations = Vec::new();
    for (path, text) in files {
        for (line, code) in code_lines(text) {
            for (needle, allowed) in CONFINED {
                if code.contains(needle) && !allowed.iter().any(|a| path.starts_with(a)) {
                    violations.push(format!("{path}:{line}: `{needle}` belongs only in {}", allowed.join(", ")));
                }
            }
        }
    }
    violations
}

#[test]
fn modules_import_only_downward_and_without_cycles() {
    let files = sources("src");
    assert!(files.len() > 50, "the sources were found");
    let violations = layering_violations(&files);
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
}

#[test]
fn the_layer_check_catches_an_upward_import_and_a_cycle() {
    let mut files = sources("src");
    files.push(("src/model/upward.rs".into(), "use crate::store::Store;\n".into()));
    let violations = layering_violations(&files);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].starts_with("src/model/upward.rs:1: `model` (layer 1) imports `store`"), "{violations:?}");

    // Two modules of one layer that import each other.
    let mut files = sources("src");
    files.push(("src/faults/loop.rs".into(), "fn f() { crate::health::HealthReport::default(); }\n".into()));
    files.push(("src/health/loop.rs".into(), "use crate::{faults::Fault, version};\n".into()));
    let violations = layering_violations(&files);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    let cycle = &violations[0];
    assert!(
        cycle.starts_with("import cycle: ") && cycle.contains("faults -> health") || cycle.contains("health -> faults")
    );
    assert!(cycle.contains("faults") && cycle.contains("health"), "{cycle}");

    // Comments are not imports; a module nobody placed is reported.
    let files = vec![
        ("src/model/x.rs".to_string(), "/// see crate::cli\n// crate::store\nfn f() {}\n".to_string()),
        ("src/newthing.rs".to_string(), "fn g() {}\n".to_string()),
    ];
    let violations = layering_violations(&files);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].contains("module `newthing` is in no layer"), "{violations:?}");
}

#[test]
fn sql_ssh_netconf_anyhow_clap_and_clocks_stay_where_they_belong() {
    let violations = confinement_violations(&sources("src"));
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let planted = vec![("src/plan/x.rs".to_string(), "let c = rusqlite::Connection::open(p);\n".to_string())];
    assert_eq!(confinement_violations(&planted).len(), 1);
}

#[test]
fn the_simulator_crate_knows_nothing_of_devices_images_or_batches() {
    let files = sources("sim/src");
    assert!(files.len() >= 5);
    for (path, text) in &files {
        for (line, code) in code_lines(text) {
            let lower = code.to_ascii_lowercase();
            for word in FOREIGN_TO_SIM {
                assert!(!lower.contains(word), "{path}:{line}: the sim crate mentions {word:?}: {code}");
            }
        }
    }
    let manifest = std::fs::read_to_string(root().join("sim/Cargo.toml")).unwrap();
    assert!(!manifest.contains("hitless ="), "the sim crate depends on nothing of hitless");
}

#[test]
fn architecture_md_maps_every_layer_in_pipeline_order() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut previous: Option<(usize, &str)> = None;
    for layer in LAYERS {
        let positions: Vec<(usize, &str)> = layer
            .iter()
            .map(|module| {
                let heading = format!("### `src/{module}");
                let at = text.find(&heading).unwrap_or_else(|| panic!("ARCHITECTURE.md has no heading {heading}`"));
                (at, *module)
            })
            .collect();
        let first = positions.iter().min().unwrap();
        if let Some((end, module)) = previous {
            assert!(first.0 > end, "ARCHITECTURE.md maps {} before {module}, a lower layer", first.1);
        }
        previous = positions.iter().max().copied();
    }
}

/// Where code decides on an event's words (`message` tested with `starts_with`, `contains`,
/// `ends_with`, `==` or `!=`) outside the journal's own module, line by line.
fn message_decisions(files: &[(String, String)]) -> Vec<String> {
    let tests = [".starts_with(", ".contains(", ".ends_with(", " == ", " != ", ".strip_prefix("];
    let mut found = Vec::new();
    for (path, text) in files {
        if path == "src/journal.rs" {
            continue;
        }
        for (number, line) in code_lines(text) {
            // A device's own error words (`NetconfError::Rpc { message }`) are the driver's to
            // read; they are no journal message.
            if line.contains("NetconfError::Rpc") {
                continue;
            }
            let decides = line.match_indices("message").any(|(at, _)| {
                let after = &line[at + "message".len()..];
                tests.iter().any(|t| after.starts_with(t))
            });
            if decides {
                found.push(format!("{path}:{number}: decides on a message: {}", line.trim()));
            }
        }
    }
    found
}

/// Nothing outside the journal's own module reads an event's message to decide anything:
/// decisions go by typed states and steps; messages are for people.
#[test]
fn no_code_decides_on_a_journal_message() {
    let violations = message_decisions(&sources("src"));
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let planted = vec![(
        "src/view/x.rs".to_string(),
        "let paused = events.iter().filter(|e| e.message.starts_with(\"paused\"));\n".to_string(),
    )];
    assert_eq!(message_decisions(&planted).len(), 1);
}

/// Every line of a front end (`src/cli/`, `src/console/`) that names the store: front ends reach the state only
/// through `workflow` (its `Service`), so a second front end asks the same things the same way.
fn front_end_store_uses(files: &[(String, String)]) -> Vec<String> {
    let mut violations = Vec::new();
    let front_end = |path: &str| path.starts_with("src/cli/") || path.starts_with("src/console/");
    for (path, text) in files.iter().filter(|(path, _)| front_end(path)) {
        for (line, code) in code_lines(text) {
            if imported(code).iter().any(|m| m == "store") {
                violations.push(format!("{path}:{line}: a front end names the store: {}", code.trim()));
            }
        }
    }
    violations
}

#[test]
fn front_ends_import_nothing_from_the_store() {
    let files = sources("src");
    assert!(files.iter().any(|(path, _)| path.starts_with("src/cli/")), "the CLI's sources were found");
    let violations = front_end_store_uses(&files);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let planted = vec![
        ("src/cli/x.rs".to_string(), "let jobs = crate::store::jobs::list(&store)?;\n".to_string()),
        ("src/cli/y.rs".to_string(), "use crate::{store::Store, workflow};\n".to_string()),
        ("src/workflow/z.rs".to_string(), "use crate::store::Store;\n".to_string()),
        ("src/console/w.rs".to_string(), "use crate::store::StoreError;\n".to_string()),
    ];
    assert_eq!(front_end_store_uses(&planted).len(), 3);
}

/// Every public library function (`pub fn`, not `pub(crate)`) outside the CLI whose error is a
/// bare `String`: library errors are typed.
fn string_errors(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files.iter().filter(|(path, _)| !path.starts_with("src/cli/")) {
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if !(trimmed.starts_with("pub fn ") || trimmed.starts_with("pub async fn ")) {
                continue;
            }
            // The signature, up to its body or its end.
            let mut signature = String::new();
            for next in &lines[index..] {
                signature.push_str(next.trim());
                signature.push(' ');
                if next.contains('{') || next.trim_end().ends_with(';') {
                    break;
                }
            }
            let returns = signature.split("->").nth(1).unwrap_or("");
            let returns = returns.split(['{', ';']).next().unwrap_or("").trim().replace(' ', "");
            if returns.starts_with("Result<") && returns.ends_with(",String>") {
                found.push(format!("{path}:{}: {}", index + 1, trimmed));
            }
        }
    }
    found
}

#[test]
fn no_library_api_returns_a_string_error() {
    let found = string_errors(&sources("src"));
    assert!(found.is_empty(), "library errors are typed:\n{}", found.join("\n"));
    let planted = vec![
        ("src/plan/x.rs".to_string(), "pub fn parse(text: &str)\n    -> Result<Plan, String> {\n".to_string()),
        ("src/plan/y.rs".to_string(), "pub(crate) fn inner() -> Result<(), String> {\n".to_string()),
        ("src/plan/z.rs".to_string(), "pub fn fine() -> Result<Map<String, String>, PlanError> {\n".to_string()),
    ];
    assert_eq!(string_errors(&planted).len(), 1, "{:?}", string_errors(&planted));
}
