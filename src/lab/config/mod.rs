//! The emulated devices' configuration: a tree of statements under a schema of the hierarchies
//! a fabric upgrade touches (`system`, `chassis`, `interfaces`, `protocols` bgp/lldp/evpn,
//! `routing-options`, `policy-options`, and `apply-macro` anywhere at the top). What the schema
//! does not know is refused with Junos's own words (`syntax error`), never stored and never
//! silently ignored: a rehearsal must not pass where a switch would refuse.
//!
//! A statement is a path of words (`interfaces ae0 esi all-active`); a leaf holds one value and
//! setting it again replaces it (`system host-name`); a named entry (`group NAME`, an interface)
//! keeps its children; any statement can be deactivated. The tree reads and writes the four
//! formats Junos speaks — `set` lines, curly-brace text, XML and JSON — and compares two trees the
//! way `show | compare` does.

use std::fmt::Write as _;

use crate::netconf::xml::{self, Element};

mod parse;
mod render;
mod schema;
#[cfg(test)]
mod tests;

use parse::{Loaded, merge, parse_text, parse_xml, xml_key};
use render::{compare_nodes, json_children, quote, xml_children};
use schema::{Kind, SCHEMA, Spec, Value};

/// A statement in the tree: its value (a leaf's, a named entry's own name is its key), its
/// children in the schema's order (entries in the order they were made), and whether it is
/// deactivated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    value: Option<String>,
    children: Vec<(String, Node)>,
    inactive: bool,
}

/// Why a statement or a load was refused: Junos's message, and the word it stumbled on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// `syntax error`, `missing argument`, ...
    pub message: String,
    /// The offending word or line.
    pub element: String,
}

impl ConfigError {
    fn syntax(element: &str) -> ConfigError {
        ConfigError { message: "syntax error".into(), element: element.to_string() }
    }

    fn new(message: impl Into<String>, element: &str) -> ConfigError {
        ConfigError { message: message.into(), element: element.to_string() }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.message, self.element)
    }
}

/// One resolved step of a statement's path: the key in its parent, and the schema of what is
/// below it.
#[derive(Clone, Debug)]
struct Step {
    key: String,
    order: usize,
    kind: StepKind,
}

#[derive(Clone, Debug)]
enum StepKind {
    /// Children follow.
    Into,
    /// A named entry of a list: children follow.
    Entry,
    /// A flag: the path ends here.
    Flag,
    /// A leaf with this value.
    Leaf(String),
    /// An apply-macro (its keys below it).
    Macro,
    /// A key of an apply-macro, with an optional value.
    MacroData(Option<String>),
    /// A container that also takes a bare value.
    ValueContainer(Option<String>),
}

/// Splits a statement into words, keeping quoted strings whole (quotes removed).
fn words(line: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            chars.next();
            let mut word = String::new();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => word.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => word.push(c),
                }
            }
            if !closed {
                return Err(ConfigError::new("syntax error, unterminated string", line));
            }
            out.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(word);
        }
    }
    Ok(out)
}

fn check_value(value: &Value, word: &str) -> Result<(), ConfigError> {
    match value {
        Value::Any => Ok(()),
        Value::Number(min, max) => match word.parse::<u64>() {
            Ok(n) if (*min..=*max).contains(&n) => Ok(()),
            _ => Err(ConfigError::new(format!("value is not a number between {min} and {max}"), word)),
        },
        Value::Choice(choices) => {
            if choices.contains(&word) {
                Ok(())
            } else {
                Err(ConfigError::syntax(word))
            }
        }
    }
}

/// Resolves `words` against the schema. `need_leaf_value`: a `set` must give a leaf its value;
/// a `delete` may stop at the leaf.
fn resolve(words: &[String], need_leaf_value: bool) -> Result<Vec<Step>, ConfigError> {
    let mut steps = Vec::new();
    let mut specs: &'static [Spec] = SCHEMA;
    let mut entries: Option<&'static [Spec]> = None;
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if let Some(children) = entries.take() {
            steps.push(Step { key: word.clone(), order: usize::MAX, kind: StepKind::Entry });
            specs = children;
            i += 1;
            continue;
        }
        let Some((order, found)) = specs.iter().enumerate().find(|(_, s)| s.name == word) else {
            return Err(ConfigError::syntax(word));
        };
        i += 1;
        match found.kind {
            Kind::Flag => {
                steps.push(Step { key: word.clone(), order, kind: StepKind::Flag });
                if let Some(extra) = words.get(i) {
                    return Err(ConfigError::syntax(extra));
                }
            }
            Kind::Leaf(value) => {
                match words.get(i) {
                    Some(v) => {
                        check_value(&value, v)?;
                        steps.push(Step { key: word.clone(), order, kind: StepKind::Leaf(v.clone()) });
                        i += 1;
                    }
                    None if need_leaf_value => return Err(ConfigError::new("missing argument", word)),
                    None => steps.push(Step { key: word.clone(), order, kind: StepKind::Leaf(String::new()) }),
                }
                if let Some(extra) = words.get(i) {
                    return Err(ConfigError::syntax(extra));
                }
            }
            Kind::Container(children) => {
                steps.push(Step { key: word.clone(), order, kind: StepKind::Into });
                specs = children;
            }
            Kind::Named(children) => {
                steps.push(Step { key: word.clone(), order, kind: StepKind::Into });
                let Some(name) = words.get(i) else {
                    if need_leaf_value {
                        return Err(ConfigError::new("missing argument", word));
                    }
                    break;
                };
                steps.push(Step { key: name.clone(), order: usize::MAX, kind: StepKind::Entry });
                specs = children;
                i += 1;
            }
            Kind::Entries(_, children) => {
                steps.push(Step { key: word.clone(), order, kind: StepKind::Into });
                entries = Some(children);
            }
            Kind::Macro => {
                steps.push(Step { key: word.clone(), order, kind: StepKind::Into });
                let Some(name) = words.get(i) else {
                    if need_leaf_value {
                        return Err(ConfigError::new("missing argument", word));
                    }
                    break;
                };
                steps.push(Step { key: name.clone(), order: usize::MAX, kind: StepKind::Macro });
                i += 1;
                if let Some(key) = words.get(i) {
                    let value = words.get(i + 1).cloned();
                    steps.push(Step { key: key.clone(), order: usize::MAX, kind: StepKind::MacroData(value) });
                    if let Some(extra) = words.get(i + 2) {
                        return Err(ConfigError::syntax(extra));
                    }
                }
                break;
            }
            Kind::ValueContainer(value, children) => {
                // A bare value (`esi 00:11:...`) or a child statement (`esi all-active`).
                match words.get(i) {
                    Some(next) if children.iter().any(|c| c.name == next) => {
                        steps.push(Step { key: word.clone(), order, kind: StepKind::ValueContainer(None) });
                        specs = children;
                    }
                    Some(v) => {
                        check_value(&value, v)?;
                        steps.push(Step { key: word.clone(), order, kind: StepKind::ValueContainer(Some(v.clone())) });
                        i += 1;
                        if let Some(extra) = words.get(i) {
                            return Err(ConfigError::syntax(extra));
                        }
                    }
                    None => steps.push(Step { key: word.clone(), order, kind: StepKind::ValueContainer(None) }),
                }
            }
        }
    }
    if let Some(children) = entries
        && need_leaf_value
        && children.is_empty()
    {
        return Err(ConfigError::new("missing argument", words.last().map_or("", String::as_str)));
    }
    Ok(steps)
}

impl Node {
    fn child_mut(&mut self, key: &str, order: usize) -> &mut Node {
        if let Some(index) = self.children.iter().position(|(k, _)| k == key) {
            return &mut self.children[index].1;
        }
        // Schema statements in schema order; entries after them, in the order they came.
        let at = if order == usize::MAX {
            self.children.len()
        } else {
            self.children.iter().position(|(k, _)| order_of(self, k) > order).unwrap_or(self.children.len())
        };
        self.children.insert(at, (key.to_string(), Node::default()));
        &mut self.children[at].1
    }

    fn child(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    fn walk_mut(&mut self, steps: &[Step]) -> Option<&mut Node> {
        let mut node = self;
        for step in steps {
            let index = node.children.iter().position(|(k, _)| *k == step.key)?;
            node = &mut node.children[index].1;
        }
        Some(node)
    }
}

/// A child's position in the schema, so statements print in Junos's order.
fn order_of(_parent: &Node, key: &str) -> usize {
    // Within one parent the schema keywords are unique; their order is their index among the
    // specs of any parent that has them. Entries (not keywords) sort last.
    fn find(specs: &'static [Spec], key: &str, depth: u8) -> Option<usize> {
        if let Some(index) = specs.iter().position(|s| s.name == key) {
            return Some(index);
        }
        if depth == 0 {
            return None;
        }
        specs.iter().find_map(|s| match s.kind {
            Kind::Container(c) | Kind::Named(c) | Kind::Entries(_, c) | Kind::ValueContainer(_, c) => {
                find(c, key, depth - 1)
            }
            _ => None,
        })
    }
    find(SCHEMA, key, 6).unwrap_or(usize::MAX - 1)
}

/// A device's configuration tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    root: Node,
}

impl Config {
    /// Applies one statement: `set`, `delete`, `activate` or `deactivate` (`set ` may be left
    /// out, as in the set lines the lab started from). Returns a warning (Junos warns, not
    /// errs, when a statement to delete is not there).
    pub fn apply(&mut self, line: &str) -> Result<Option<String>, ConfigError> {
        let line = line.trim();
        let words = words(line)?;
        let Some((verb, rest)) = words.split_first() else { return Ok(None) };
        match verb.as_str() {
            "set" => self.set(rest).map(|()| None),
            "delete" => self.delete(rest),
            "activate" | "deactivate" => self.activate(rest, verb == "activate"),
            _ => Err(ConfigError::syntax(verb)),
        }
    }

    fn set(&mut self, words: &[String]) -> Result<(), ConfigError> {
        if words.is_empty() {
            return Err(ConfigError::new("missing argument", "set"));
        }
        let steps = resolve(words, true)?;
        let mut node = &mut self.root;
        for step in &steps {
            node = node.child_mut(&step.key, step.order);
            match &step.kind {
                StepKind::Leaf(value) => node.value = Some(value.clone()),
                StepKind::MacroData(value) => node.value = value.clone(),
                StepKind::ValueContainer(Some(value)) => node.value = Some(value.clone()),
                _ => {}
            }
        }
        Ok(())
    }

    fn delete(&mut self, words: &[String]) -> Result<Option<String>, ConfigError> {
        if words.is_empty() {
            // `delete` alone empties the configuration.
            self.root = Node::default();
            return Ok(None);
        }
        let steps = resolve(words, false)?;
        // `delete system host-name leaf1`: a leaf's value names what to delete; a bare value of
        // a value container too.
        let (parent_steps, last) = steps.split_at(steps.len() - 1);
        let last = &last[0];
        if let StepKind::ValueContainer(Some(value)) = &last.kind
            && let Some(node) = self.root.walk_mut(&steps)
            && node.value.as_deref() == Some(value.as_str())
        {
            node.value = None;
            return Ok(None);
        }
        let Some(parent) = self.root.walk_mut(parent_steps) else {
            return Ok(Some(format!("statement not found: {}", words.join(" "))));
        };
        let before = parent.children.len();
        parent.children.retain(|(k, _)| *k != last.key);
        if parent.children.len() == before {
            return Ok(Some(format!("statement not found: {}", words.join(" "))));
        }
        self.prune(parent_steps);
        Ok(None)
    }

    fn activate(&mut self, words: &[String], active: bool) -> Result<Option<String>, ConfigError> {
        let steps = resolve(words, false)?;
        match self.root.walk_mut(&steps) {
            Some(node) => {
                node.inactive = !active;
                Ok(None)
            }
            None => Err(ConfigError::new("statement not found", &words.join(" "))),
        }
    }

    /// Removes the keywords a delete left empty along `path` (`protocols bgp` once its last
    /// statement went, `apply-macro` once its last macro went), deepest first. Named entries
    /// (an interface, a group) stay: they are objects of their own.
    fn prune(&mut self, path: &[Step]) {
        for depth in (1..=path.len()).rev() {
            let (parents, last) = path[..depth].split_at(depth - 1);
            if !matches!(last[0].kind, StepKind::Into) {
                continue;
            }
            let Some(parent) = self.root.walk_mut(parents) else { continue };
            parent.children.retain(|(k, n)| *k != last[0].key || !n.children.is_empty() || n.value.is_some());
        }
    }

    /// Every statement as `set` lines (without `set `), deactivated ones followed by their
    /// `deactivate` line.
    pub fn set_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut inactive = Vec::new();
        fn walk(node: &Node, path: &mut Vec<String>, out: &mut Vec<String>, inactive: &mut Vec<String>) {
            for (key, child) in &node.children {
                path.push(quote(key));
                if child.inactive {
                    inactive.push(format!("deactivate {}", path.join(" ")));
                }
                let mut line = path.join(" ");
                if let Some(value) = &child.value {
                    line.push(' ');
                    line.push_str(&quote(value));
                }
                if child.children.is_empty() || child.value.is_some() {
                    out.push(line);
                }
                walk(child, path, out, inactive);
                path.pop();
            }
        }
        walk(&self.root, &mut Vec::new(), &mut out, &mut inactive);
        out.extend(inactive);
        out
    }

    /// The configuration in curly-brace text, as `show configuration` prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        fn walk(node: &Node, depth: usize, out: &mut String) {
            for (key, child) in &node.children {
                let pad = "    ".repeat(depth);
                let inactive = if child.inactive { "inactive: " } else { "" };
                let head = match &child.value {
                    Some(value) if child.children.is_empty() => format!("{} {}", quote(key), quote(value)),
                    _ => quote(key),
                };
                if child.children.is_empty() {
                    let _ = writeln!(out, "{pad}{inactive}{head};");
                } else {
                    let _ = writeln!(out, "{pad}{inactive}{} {{", quote(key));
                    if let Some(value) = &child.value {
                        let _ = writeln!(out, "{pad}    {};", quote(value));
                    }
                    walk(child, depth + 1, out);
                    let _ = writeln!(out, "{pad}}}");
                }
            }
        }
        walk(&self.root, 0, &mut out);
        out
    }

    /// The configuration as Junos XML (`<configuration>...</configuration>`).
    pub fn xml(&self) -> String {
        let mut out = String::from("<configuration>");
        xml_children(&self.root, SCHEMA, None, &mut out);
        out.push_str("</configuration>");
        out
    }

    /// The configuration as Junos JSON (`{"configuration": {...}}`).
    pub fn json(&self) -> String {
        let value = json_children(&self.root, SCHEMA, None);
        serde_json::json!({ "configuration": value }).to_string()
    }

    /// Loads `set` lines (`<configuration-set>`): each applied in turn; the first error refuses
    /// the whole load, and the configuration is as it was.
    pub fn load_set(&mut self, text: &str) -> Result<Vec<String>, ConfigError> {
        let mut next = self.clone();
        let mut warnings = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            warnings.extend(next.apply(line)?);
        }
        *self = next;
        Ok(warnings)
    }

    /// Loads curly-brace text with `action` (`merge`, `replace`, `override`, `update`).
    pub fn load_text(&mut self, text: &str, action: &str) -> Result<(), ConfigError> {
        let loaded = parse_text(text)?;
        self.load_tree(loaded, action)
    }

    /// Loads Junos XML (`<configuration>` and what is below it) with `action`.
    pub fn load_xml(&mut self, configuration: &Element, action: &str) -> Result<(), ConfigError> {
        let loaded = parse_xml(configuration)?;
        self.load_tree(loaded, action)
    }

    fn load_tree(&mut self, loaded: Loaded, action: &str) -> Result<(), ConfigError> {
        match action {
            "merge" | "" => {
                merge(&mut self.root, loaded.tree, &loaded.replace, &loaded.delete, &mut Vec::new());
                Ok(())
            }
            "replace" => {
                merge(&mut self.root, loaded.tree, &loaded.replace, &loaded.delete, &mut Vec::new());
                Ok(())
            }
            "override" | "update" => {
                self.root = loaded.tree;
                Ok(())
            }
            other => Err(ConfigError::new("invalid value for action", other)),
        }
    }

    /// The subtree of `filter` (a `<configuration>` with the wanted hierarchy), or everything.
    pub fn filtered(&self, filter: Option<&Element>) -> Config {
        let Some(filter) = filter.filter(|f| !f.children.is_empty()) else { return self.clone() };
        fn keep(node: &Node, filter: &Element, specs: &'static [Spec], out: &mut Node) {
            for wanted in &filter.children {
                let (key, sub_specs) = match xml_key(wanted, specs) {
                    Some(found) => found,
                    None => continue,
                };
                let Some(child) = node.child(&key) else { continue };
                let has_more = wanted.children.iter().any(|c| c.name != "name");
                let target = out.child_mut(&key, usize::MAX);
                if has_more {
                    target.value = child.value.clone();
                    target.inactive = child.inactive;
                    keep(child, wanted, sub_specs, target);
                } else {
                    *target = child.clone();
                }
            }
        }
        let mut out = Node::default();
        keep(&self.root, filter, SCHEMA, &mut out);
        Config { root: out }
    }

    /// The differences from `old` to `self` in the shape of `show | compare`: a `[edit PATH]`
    /// header, then `-` and `+` lines. Empty when they are the same.
    pub fn compare(&self, old: &Config) -> String {
        let mut out = String::new();
        compare_nodes(&old.root, &self.root, &mut Vec::new(), &mut out);
        out
    }
}
