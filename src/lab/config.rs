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

/// What a statement is.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `disable;`
    Flag,
    /// `host-name VALUE;`: one value, replaced when set again.
    Leaf(Value),
    /// `system { ... }`
    Container(&'static [Spec]),
    /// `group NAME { ... }`: entries named after the keyword (XML `<group><name>`).
    Named(&'static [Spec]),
    /// `interfaces { NAME { ... } }`: entries named directly (XML `<interfaces><interface>`).
    Entries(&'static str, &'static [Spec]),
    /// `apply-macro NAME { KEY [VALUE]; }`
    Macro,
    /// A container that also takes one bare value (`esi 00:11:...; esi { all-active; }`).
    ValueContainer(Value, &'static [Spec]),
}

/// The values a leaf accepts.
#[derive(Clone, Copy, Debug)]
enum Value {
    /// Any word (quoted when it has spaces).
    Any,
    /// A whole number in a range.
    Number(u64, u64),
    /// One of these words.
    Choice(&'static [&'static str]),
}

/// One statement of the schema.
#[derive(Clone, Copy, Debug)]
struct Spec {
    name: &'static str,
    kind: Kind,
    /// The XML element when it is not the keyword (XML names cannot start with a digit), and the
    /// element that holds a leaf's value inside it.
    xml: Option<(&'static str, &'static str)>,
}

const fn spec(name: &'static str, kind: Kind) -> Spec {
    Spec { name, kind, xml: None }
}

/// `ether-options 802.3ad ae0` is `<ieee-802.3ad><bundle>ae0</bundle></ieee-802.3ad>` in XML.
const IEEE_802_3AD: Spec =
    Spec { name: "802.3ad", kind: Kind::Leaf(Value::Any), xml: Some(("ieee-802.3ad", "bundle")) };

const FLAG: Kind = Kind::Flag;
const ANY: Kind = Kind::Leaf(Value::Any);

const MACRO: Spec = spec("apply-macro", Kind::Macro);

const FAMILY_INET: &[Spec] = &[spec("address", Kind::Named(&[spec("primary", FLAG)]))];
const FAMILY: &[Spec] = &[
    spec("inet", Kind::Container(FAMILY_INET)),
    spec("inet6", Kind::Container(FAMILY_INET)),
    spec(
        "ethernet-switching",
        Kind::Container(&[
            spec("interface-mode", Kind::Leaf(Value::Choice(&["access", "trunk"]))),
            spec("vlan", Kind::Container(&[spec("members", ANY)])),
        ]),
    ),
];
const UNIT: &[Spec] = &[spec("description", ANY), spec("family", Kind::Container(FAMILY))];
const INTERFACE: &[Spec] = &[
    spec("description", ANY),
    spec("disable", FLAG),
    spec("mtu", Kind::Leaf(Value::Number(256, 16_000))),
    spec("esi", Kind::ValueContainer(Value::Any, &[spec("all-active", FLAG), spec("single-active", FLAG)])),
    spec("ether-options", Kind::Container(&[IEEE_802_3AD, spec("speed", ANY), spec("auto-negotiation", FLAG)])),
    spec(
        "aggregated-ether-options",
        Kind::Container(&[
            spec("minimum-links", Kind::Leaf(Value::Number(1, 64))),
            spec(
                "lacp",
                Kind::Container(&[
                    spec("active", FLAG),
                    spec("passive", FLAG),
                    spec("periodic", Kind::Leaf(Value::Choice(&["fast", "slow"]))),
                    spec("system-id", ANY),
                ]),
            ),
        ]),
    ),
    spec("unit", Kind::Named(UNIT)),
];

const NEIGHBOR: &[Spec] =
    &[spec("description", ANY), spec("peer-as", Kind::Leaf(Value::Number(1, 4_294_967_295))), spec("shutdown", FLAG)];
const GROUP: &[Spec] = &[
    spec("type", Kind::Leaf(Value::Choice(&["internal", "external"]))),
    spec("description", ANY),
    spec("local-address", ANY),
    spec("local-as", Kind::Leaf(Value::Number(1, 4_294_967_295))),
    spec("peer-as", Kind::Leaf(Value::Number(1, 4_294_967_295))),
    spec("family", Kind::Container(&[spec("evpn", Kind::Container(&[spec("signaling", FLAG)]))])),
    spec("multipath", Kind::Container(&[spec("multiple-as", FLAG)])),
    spec("bfd-liveness-detection", Kind::Container(&[spec("minimum-interval", Kind::Leaf(Value::Number(1, 255_000)))])),
    spec("export", ANY),
    spec("import", ANY),
    spec("cluster", ANY),
    spec("shutdown", FLAG),
    spec("neighbor", Kind::Named(NEIGHBOR)),
];
const GRACEFUL_SHUTDOWN: &[Spec] =
    &[spec("sender", Kind::Container(&[spec("local-preference", Kind::Leaf(Value::Number(0, 4_294_967_295)))]))];
const PROTOCOLS: &[Spec] = &[
    spec(
        "bgp",
        Kind::Container(&[
            spec("graceful-shutdown", Kind::Container(GRACEFUL_SHUTDOWN)),
            spec("group", Kind::Named(GROUP)),
        ]),
    ),
    spec(
        "lldp",
        Kind::Container(&[
            spec("disable", FLAG),
            spec("interface", Kind::Named(&[spec("disable", FLAG)])),
            spec("port-id-subtype", Kind::Leaf(Value::Choice(&["interface-name", "locally-assigned"]))),
        ]),
    ),
    spec(
        "evpn",
        Kind::Container(&[
            spec("encapsulation", Kind::Leaf(Value::Choice(&["vxlan", "mpls"]))),
            spec("extended-vni-list", ANY),
        ]),
    ),
];
const TERM: &[Spec] = &[
    spec("from", Kind::Container(&[spec("protocol", ANY), spec("route-filter", ANY), spec("community", ANY)])),
    spec(
        "then",
        Kind::Container(&[
            spec("accept", FLAG),
            spec("reject", FLAG),
            spec("local-preference", Kind::Leaf(Value::Number(0, 4_294_967_295))),
            spec("as-path-prepend", ANY),
            spec("community", Kind::Container(&[spec("add", ANY)])),
            spec("next", Kind::Leaf(Value::Choice(&["policy", "term"]))),
        ]),
    ),
];
const LOGIN_USER: &[Spec] = &[
    spec("uid", Kind::Leaf(Value::Number(100, 64_000))),
    spec("class", ANY),
    spec(
        "authentication",
        Kind::Container(&[spec("encrypted-password", ANY), spec("ssh-ed25519", ANY), spec("ssh-rsa", ANY)]),
    ),
];
const SCHEMA: &[Spec] = &[
    MACRO,
    spec(
        "system",
        Kind::Container(&[
            spec("host-name", ANY),
            spec("domain-name", ANY),
            spec("root-authentication", Kind::Container(&[spec("encrypted-password", ANY)])),
            spec("login", Kind::Container(&[spec("user", Kind::Named(LOGIN_USER))])),
            spec(
                "services",
                Kind::Container(&[
                    spec(
                        "ssh",
                        Kind::Container(&[spec(
                            "root-login",
                            Kind::Leaf(Value::Choice(&["allow", "deny", "deny-password"])),
                        )]),
                    ),
                    spec("netconf", Kind::Container(&[spec("ssh", FLAG), spec("rfc-compliant", FLAG)])),
                ]),
            ),
            spec("name-server", Kind::Named(&[])),
            spec("ntp", Kind::Container(&[spec("server", Kind::Named(&[]))])),
        ]),
    ),
    spec(
        "chassis",
        Kind::Container(&[
            spec("redundancy", Kind::Container(&[spec("graceful-switchover", FLAG)])),
            spec(
                "aggregated-devices",
                Kind::Container(&[spec(
                    "ethernet",
                    Kind::Container(&[spec("device-count", Kind::Leaf(Value::Number(1, 1024)))]),
                )]),
            ),
        ]),
    ),
    spec("interfaces", Kind::Entries("interface", INTERFACE)),
    spec(
        "routing-options",
        Kind::Container(&[
            spec("nonstop-routing", FLAG),
            spec("router-id", ANY),
            spec("autonomous-system", Kind::Leaf(Value::Number(1, 4_294_967_295))),
        ]),
    ),
    spec("protocols", Kind::Container(PROTOCOLS)),
    spec(
        "policy-options",
        Kind::Container(&[
            spec("policy-statement", Kind::Named(&[spec("term", Kind::Named(TERM))])),
            spec("community", Kind::Named(&[spec("members", ANY)])),
        ]),
    ),
];

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

/// Quotes a word when Junos would.
fn quote(word: &str) -> String {
    if word.is_empty() || word.chars().any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '"' | '#')) {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_string()
    }
}

fn compare_nodes(old: &Node, new: &Node, path: &mut Vec<String>, out: &mut String) {
    let mut header_written = false;
    let mut header = |out: &mut String, path: &[String]| {
        if !header_written {
            let _ = writeln!(out, "[edit{}{}]", if path.is_empty() { "" } else { " " }, path.join(" "));
            header_written = true;
        }
    };
    for (key, old_child) in &old.children {
        match new.child(key) {
            None => {
                header(out, path);
                render_statement(key, old_child, 1, "-", out);
            }
            Some(new_child)
                if new_child.value != old_child.value
                    && (new_child.children.is_empty() && old_child.children.is_empty()) =>
            {
                header(out, path);
                render_statement(key, old_child, 1, "-", out);
                render_statement(key, new_child, 1, "+", out);
            }
            Some(_) => {}
        }
    }
    for (key, new_child) in &new.children {
        if old.child(key).is_none() {
            header(out, path);
            render_statement(key, new_child, 1, "+", out);
        }
    }
    for (key, new_child) in &new.children {
        if let Some(old_child) = old.child(key)
            && old_child != new_child
            && !(new_child.children.is_empty() && old_child.children.is_empty())
        {
            if old_child.inactive != new_child.inactive {
                header(out, path);
                let verb = if new_child.inactive { "!    inactive:" } else { "!    active:" };
                let _ = writeln!(out, "{verb} {} {{ ... }}", quote(key));
            }
            path.push(quote(key));
            compare_nodes(old_child, new_child, path, out);
            path.pop();
        }
    }
}

fn render_statement(key: &str, node: &Node, depth: usize, sign: &str, out: &mut String) {
    let pad = "    ".repeat(depth);
    let pad = &pad[1..];
    let inactive = if node.inactive { "inactive: " } else { "" };
    if node.children.is_empty() {
        let value = node.value.as_ref().map(|v| format!(" {}", quote(v))).unwrap_or_default();
        let _ = writeln!(out, "{sign}{pad}{inactive}{}{value};", quote(key));
        return;
    }
    let _ = writeln!(out, "{sign}{pad}{inactive}{} {{", quote(key));
    if let Some(value) = &node.value {
        let _ = writeln!(out, "{sign}{pad}    {};", quote(value));
    }
    for (child_key, child) in &node.children {
        render_statement(child_key, child, depth + 1, sign, out);
    }
    let _ = writeln!(out, "{sign}{pad}}}");
}

/// What the schema says of `key` among `specs`, for XML and JSON: the XML element name, and the
/// specs below.
fn xml_children(
    node: &Node,
    specs: &'static [Spec],
    entries: Option<(&'static str, &'static [Spec])>,
    out: &mut String,
) {
    for (key, child) in &node.children {
        let inactive = if child.inactive { " inactive=\"inactive\"" } else { "" };
        if let Some((element, children)) = entries {
            let _ = write!(out, "<{element}{inactive}><name>{}</name>", xml::escape(key));
            xml_children(child, children, None, out);
            let _ = write!(out, "</{element}>");
            continue;
        }
        let Some(found) = specs.iter().find(|s| s.name == key) else { continue };
        match found.kind {
            Kind::Flag => {
                let _ = write!(out, "<{key}{inactive}/>");
            }
            Kind::Leaf(_) => {
                let value = xml::escape(child.value.as_deref().unwrap_or_default());
                match found.xml {
                    Some((element, inner)) => {
                        let _ = write!(out, "<{element}{inactive}><{inner}>{value}</{inner}></{element}>");
                    }
                    None => {
                        let _ = write!(out, "<{key}{inactive}>{value}</{key}>");
                    }
                }
            }
            Kind::Container(children) => {
                let _ = write!(out, "<{key}{inactive}>");
                xml_children(child, children, None, out);
                let _ = write!(out, "</{key}>");
            }
            Kind::ValueContainer(_, children) => {
                let _ = write!(out, "<{key}{inactive}>");
                if let Some(value) = &child.value {
                    let _ = write!(out, "<identifier>{}</identifier>", xml::escape(value));
                }
                xml_children(child, children, None, out);
                let _ = write!(out, "</{key}>");
            }
            Kind::Named(children) => {
                for (name, entry) in &child.children {
                    let inactive = if entry.inactive { " inactive=\"inactive\"" } else { "" };
                    let _ = write!(out, "<{key}{inactive}><name>{}</name>", xml::escape(name));
                    xml_children(entry, children, None, out);
                    let _ = write!(out, "</{key}>");
                }
            }
            Kind::Entries(element, children) => {
                let _ = write!(out, "<{key}{inactive}>");
                xml_children(child, children, Some((element, children)), out);
                let _ = write!(out, "</{key}>");
            }
            Kind::Macro => {
                for (name, entry) in &child.children {
                    let _ = write!(out, "<apply-macro><name>{}</name>", xml::escape(name));
                    for (data, datum) in &entry.children {
                        let _ = write!(out, "<data><name>{}</name>", xml::escape(data));
                        if let Some(value) = &datum.value {
                            let _ = write!(out, "<value>{}</value>", xml::escape(value));
                        }
                        out.push_str("</data>");
                    }
                    out.push_str("</apply-macro>");
                }
            }
        }
    }
}

fn json_children(
    node: &Node,
    specs: &'static [Spec],
    entries: Option<(&'static str, &'static [Spec])>,
) -> serde_json::Value {
    use serde_json::{Map, Value as J, json};
    let mut map = Map::new();
    if let Some((element, children)) = entries {
        let list: Vec<J> = node
            .children
            .iter()
            .map(|(name, entry)| {
                let mut object = json_children(entry, children, None);
                if let J::Object(o) = &mut object {
                    o.insert("name".into(), json!(name));
                }
                object
            })
            .collect();
        map.insert(element.into(), J::Array(list));
        return J::Object(map);
    }
    for (key, child) in &node.children {
        let Some(found) = specs.iter().find(|s| s.name == key) else { continue };
        let value = match found.kind {
            Kind::Flag => json!([null]),
            Kind::Leaf(_) => match found.xml {
                Some((element, inner)) => {
                    map.insert(element.into(), json!({ inner: child.value.clone().unwrap_or_default() }));
                    continue;
                }
                None => json!(child.value.clone().unwrap_or_default()),
            },
            Kind::Container(children) => json_children(child, children, None),
            Kind::ValueContainer(_, children) => {
                let mut object = json_children(child, children, None);
                if let (J::Object(o), Some(value)) = (&mut object, &child.value) {
                    o.insert("identifier".into(), json!(value));
                }
                object
            }
            Kind::Named(children) => J::Array(
                child
                    .children
                    .iter()
                    .map(|(name, entry)| {
                        let mut object = json_children(entry, children, None);
                        if let J::Object(o) = &mut object {
                            o.insert("name".into(), json!(name));
                        }
                        object
                    })
                    .collect(),
            ),
            Kind::Entries(element, children) => json_children(child, children, Some((element, children))),
            Kind::Macro => J::Array(
                child
                    .children
                    .iter()
                    .map(|(name, entry)| {
                        let data: Vec<J> = entry
                            .children
                            .iter()
                            .map(|(k, d)| match &d.value {
                                Some(v) => json!({"name": k, "value": v}),
                                None => json!({"name": k}),
                            })
                            .collect();
                        json!({"name": name, "data": data})
                    })
                    .collect(),
            ),
        };
        map.insert(key.clone(), value);
    }
    J::Object(map)
}

/// A loaded tree, with the paths marked `replace:` (their subtree replaces the old one) and
/// `delete:` (removed).
struct Loaded {
    tree: Node,
    replace: Vec<Vec<String>>,
    delete: Vec<Vec<String>>,
}

fn merge(into: &mut Node, from: Node, replace: &[Vec<String>], delete: &[Vec<String>], path: &mut Vec<String>) {
    for (key, child) in from.children {
        path.push(key.clone());
        if delete.contains(path) {
            into.children.retain(|(k, _)| *k != key);
        } else if replace.contains(path) {
            let order = order_of(into, &key);
            let order = if order >= usize::MAX - 1 { usize::MAX } else { order };
            *into.child_mut(&key, order) = child;
        } else {
            let order = order_of(into, &key);
            let order = if order >= usize::MAX - 1 { usize::MAX } else { order };
            let target = into.child_mut(&key, order);
            if child.value.is_some() {
                target.value = child.value.clone();
            }
            target.inactive = child.inactive;
            merge(target, child, replace, delete, path);
        }
        path.pop();
    }
}

/// Parses curly-brace text into a tree, checking every statement against the schema.
fn parse_text(text: &str) -> Result<Loaded, ConfigError> {
    // Tokens: words (quoted strings whole), `{`, `}`, `;`; comments removed.
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' => {
                chars.next();
                if chars.peek() == Some(&'*') {
                    let mut last = ' ';
                    for c in chars.by_ref() {
                        if last == '*' && c == '/' {
                            break;
                        }
                        last = c;
                    }
                } else {
                    let mut word = String::from("/");
                    while let Some(&c) = chars.peek() {
                        if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    tokens.push(word);
                }
            }
            '{' | '}' | ';' => {
                tokens.push(c.to_string());
                chars.next();
            }
            '"' => {
                chars.next();
                let mut word = String::from("\"");
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => word.extend(chars.next()),
                        '"' => break,
                        c => word.push(c),
                    }
                }
                tokens.push(word);
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(word);
            }
        }
    }
    let unquote = |t: &str| t.strip_prefix('"').map_or(t.to_string(), str::to_string);
    let mut config = Config::default();
    let mut replace = Vec::new();
    let mut delete = Vec::new();
    let mut context: Vec<Vec<String>> = Vec::new(); // the words of each open block
    let mut statement: Vec<String> = Vec::new();
    let mut inactive_next = false;
    let mut inactive_paths = Vec::new();
    let mut marks: Vec<(String, usize)> = Vec::new();
    for token in tokens {
        match token.as_str() {
            "{" | ";" => {
                let mut path: Vec<String> = context.iter().flatten().cloned().collect();
                let start = path.len();
                path.append(&mut statement);
                if path.len() == start {
                    return Err(ConfigError::syntax(&token));
                }
                let steps = resolve(&path, token == ";" && !marks.iter().any(|(m, _)| m == "delete"))?;
                let keys: Vec<String> = steps.iter().map(|s| s.key.clone()).collect();
                for (mark, _) in marks.drain(..) {
                    match mark.as_str() {
                        "replace" => replace.push(keys.clone()),
                        "delete" => delete.push(keys.clone()),
                        _ => {}
                    }
                }
                if std::mem::take(&mut inactive_next) {
                    inactive_paths.push(keys.clone());
                }
                if !delete.contains(&keys) {
                    let words: Vec<String> = path.clone();
                    if token == ";" || !steps.iter().any(|s| matches!(s.kind, StepKind::Leaf(_))) {
                        let _ = config.set_steps(&steps, &words);
                    }
                } else {
                    // A `delete:` still needs its path in the tree for the merge to find it.
                    let mut node = &mut config.root;
                    for step in &steps {
                        node = node.child_mut(&step.key, step.order);
                    }
                }
                if token == "{" {
                    context.push(path[start..].to_vec());
                }
            }
            "}" => {
                if !statement.is_empty() {
                    return Err(ConfigError::syntax(&statement.join(" ")));
                }
                if context.pop().is_none() {
                    return Err(ConfigError::syntax("}"));
                }
            }
            "replace:" | "delete:" => marks.push((token.trim_end_matches(':').to_string(), context.len())),
            "inactive:" => inactive_next = true,
            _ => statement.push(unquote(&token)),
        }
    }
    if !context.is_empty() || !statement.is_empty() {
        return Err(ConfigError::new("syntax error, expecting '}'", "end of input"));
    }
    for path in inactive_paths {
        let steps: Vec<Step> = path.iter().map(|k| Step { key: k.clone(), order: 0, kind: StepKind::Flag }).collect();
        if let Some(node) = config.root.walk_mut(&steps) {
            node.inactive = true;
        }
    }
    Ok(Loaded { tree: config.root, replace, delete })
}

impl Config {
    fn set_steps(&mut self, steps: &[Step], _words: &[String]) -> Result<(), ConfigError> {
        let mut node = &mut self.root;
        for step in steps {
            node = node.child_mut(&step.key, step.order);
            match &step.kind {
                StepKind::Leaf(value) if !value.is_empty() => node.value = Some(value.clone()),
                StepKind::MacroData(value) => node.value = value.clone(),
                StepKind::ValueContainer(Some(value)) => node.value = Some(value.clone()),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The key of XML element `element` among `specs`: a keyword, or for a list entry its
/// `<name>`; and the specs below it.
fn xml_key(element: &Element, specs: &'static [Spec]) -> Option<(String, &'static [Spec])> {
    let found = specs.iter().find(|s| s.name == element.name || s.xml.is_some_and(|x| x.0 == element.name))?;
    let below = match found.kind {
        Kind::Container(c) | Kind::Named(c) | Kind::Entries(_, c) | Kind::ValueContainer(_, c) => c,
        _ => &[],
    };
    Some((found.name.to_string(), below))
}

/// Parses Junos XML (`<configuration>`) into a tree, honouring `operation="delete"`,
/// `operation="replace"`, `replace="replace"`, `delete="delete"` and `inactive="inactive"`.
fn parse_xml(configuration: &Element) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded { tree: Node::default(), replace: Vec::new(), delete: Vec::new() };
    let mut path = Vec::new();
    parse_xml_children(
        configuration,
        SCHEMA,
        None,
        &mut loaded.tree,
        &mut path,
        &mut loaded.replace,
        &mut loaded.delete,
    )?;
    Ok(loaded)
}

fn marks(element: &Element) -> (bool, bool, bool) {
    let attribute = |name: &str| element.attribute(name);
    let delete = attribute("operation") == Some("delete") || attribute("delete") == Some("delete");
    let replace = attribute("operation") == Some("replace") || attribute("replace") == Some("replace");
    let inactive = attribute("inactive") == Some("inactive");
    (delete, replace, inactive)
}

#[allow(clippy::too_many_arguments)]
fn parse_xml_children(
    element: &Element,
    specs: &'static [Spec],
    entries: Option<(&'static str, &'static [Spec])>,
    node: &mut Node,
    path: &mut Vec<String>,
    replace: &mut Vec<Vec<String>>,
    delete: &mut Vec<Vec<String>>,
) -> Result<(), ConfigError> {
    for child in &element.children {
        let (is_delete, is_replace, inactive) = marks(child);
        if let Some((entry_element, children)) = entries {
            if child.name != entry_element {
                return Err(ConfigError::syntax(&child.name));
            }
            let name = child.text_of("name").ok_or_else(|| ConfigError::new("missing name", &child.name))?.to_string();
            path.push(name.clone());
            let target = node.child_mut(&name, usize::MAX);
            target.inactive = inactive;
            mark(path, is_delete, is_replace, replace, delete);
            let rest = Element {
                children: child.children.iter().filter(|c| c.name != "name").cloned().collect(),
                ..child.clone()
            };
            parse_xml_children(&rest, children, None, target, path, replace, delete)?;
            path.pop();
            continue;
        }
        let Some((order, found)) =
            specs.iter().enumerate().find(|(_, s)| s.name == child.name || s.xml.is_some_and(|x| x.0 == child.name))
        else {
            return Err(ConfigError::syntax(&child.name));
        };
        path.push(found.name.to_string());
        let target = node.child_mut(found.name, order);
        // A list's marks belong to its entry, not to its keyword.
        if !matches!(found.kind, Kind::Named(_) | Kind::Macro) {
            target.inactive = inactive;
            mark(path, is_delete, is_replace, replace, delete);
        }
        match found.kind {
            Kind::Flag => {}
            Kind::Leaf(value) => {
                let inner = found.xml.and_then(|(_, inner)| child.text_of(inner));
                let text = inner.unwrap_or(child.text.trim());
                if !is_delete {
                    if text.is_empty() {
                        return Err(ConfigError::new("missing argument", &child.name));
                    }
                    check_value(&value, text)?;
                }
                if !text.is_empty() {
                    target.value = Some(text.to_string());
                }
            }
            Kind::Container(children) => parse_xml_children(child, children, None, target, path, replace, delete)?,
            Kind::ValueContainer(_, children) => {
                if let Some(identifier) = child.text_of("identifier") {
                    target.value = Some(identifier.to_string());
                }
                let rest = Element {
                    children: child.children.iter().filter(|c| c.name != "identifier").cloned().collect(),
                    ..child.clone()
                };
                parse_xml_children(&rest, children, None, target, path, replace, delete)?;
            }
            Kind::Named(children) => {
                let name =
                    child.text_of("name").ok_or_else(|| ConfigError::new("missing name", &child.name))?.to_string();
                path.push(name.clone());
                let entry = target.child_mut(&name, usize::MAX);
                entry.inactive = inactive;
                mark(path, is_delete, is_replace, replace, delete);
                let rest = Element {
                    children: child.children.iter().filter(|c| c.name != "name").cloned().collect(),
                    ..child.clone()
                };
                parse_xml_children(&rest, children, None, entry, path, replace, delete)?;
                path.pop();
            }
            Kind::Entries(element_name, children) => {
                parse_xml_children(child, children, Some((element_name, children)), target, path, replace, delete)?;
            }
            Kind::Macro => {
                let name =
                    child.text_of("name").ok_or_else(|| ConfigError::new("missing name", &child.name))?.to_string();
                let entry = target.child_mut(&name, usize::MAX);
                for data in child.children.iter().filter(|c| c.name == "data") {
                    let key = data.text_of("name").ok_or_else(|| ConfigError::new("missing name", "data"))?;
                    entry.child_mut(key, usize::MAX).value = data.text_of("value").map(str::to_string);
                }
            }
        }
        path.pop();
    }
    Ok(())
}

fn mark(
    path: &[String],
    is_delete: bool,
    is_replace: bool,
    replace: &mut Vec<Vec<String>>,
    delete: &mut Vec<Vec<String>>,
) {
    if is_delete {
        delete.push(path.to_vec());
    }
    if is_replace {
        replace.push(path.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lines: &[&str]) -> Config {
        let mut c = Config::default();
        for line in lines {
            c.apply(line).unwrap();
        }
        c
    }

    #[test]
    fn a_leaf_set_twice_keeps_the_last_value_and_unknown_statements_are_syntax_errors() {
        let mut c = config(&["set system host-name a", "set system host-name b"]);
        assert_eq!(c.set_lines(), ["system host-name b"]);
        assert_eq!(c.apply("set system colour red").unwrap_err(), ConfigError::syntax("colour"));
        assert_eq!(c.apply("set interfaces ae0 mtu 9999999").unwrap_err().element, "9999999");
        assert_eq!(c.apply("set system host-name").unwrap_err().message, "missing argument");
        assert_eq!(c.apply("set interfaces ae0 disable now").unwrap_err(), ConfigError::syntax("now"));
        assert_eq!(c.set_lines(), ["system host-name b"], "a refused statement changes nothing");
    }

    #[test]
    fn set_text_xml_and_json_say_the_same_configuration() {
        let c = config(&[
            "set system host-name leaf1",
            "set interfaces ae0 esi 00:11:22:33:44:55:66:77:88:99",
            "set interfaces ae0 esi all-active",
            "set interfaces ae0 description \"to server 1\"",
            "set protocols bgp group overlay neighbor 10.0.0.1 peer-as 65001",
            "set apply-macro hitless-restore lag-ae0",
            "deactivate protocols bgp group overlay",
        ]);
        let lines = c.set_lines();
        assert!(lines.contains(&"interfaces ae0 esi 00:11:22:33:44:55:66:77:88:99".to_string()), "{lines:?}");
        assert!(lines.contains(&"interfaces ae0 description \"to server 1\"".to_string()), "{lines:?}");
        assert!(lines.contains(&"deactivate protocols bgp group overlay".to_string()), "{lines:?}");
        // Text round trip.
        let mut again = Config::default();
        again.load_text(&c.text(), "merge").unwrap();
        assert_eq!(again.set_lines(), lines, "{}", c.text());
        // XML round trip.
        let xml = crate::netconf::xml::parse(&c.xml()).unwrap();
        let mut back = Config::default();
        back.load_xml(&xml, "merge").unwrap();
        assert_eq!(back.set_lines(), lines, "{}", c.xml());
        let json: serde_json::Value = serde_json::from_str(&c.json()).unwrap();
        assert_eq!(json["configuration"]["interfaces"]["interface"][0]["name"], "ae0");
        assert_eq!(json["configuration"]["system"]["host-name"], "leaf1");
    }

    #[test]
    fn loads_merge_replace_and_override_and_compare_says_what_changed() {
        let old = config(&[
            "set system host-name leaf1",
            "set protocols lldp interface all",
            "set interfaces xe-0/0/1 disable",
        ]);
        let mut new = old.clone();
        new.load_text("system { host-name leaf9; } interfaces { replace: xe-0/0/1 { mtu 9000; } }", "merge").unwrap();
        assert_eq!(
            new.set_lines(),
            ["system host-name leaf9", "interfaces xe-0/0/1 mtu 9000", "protocols lldp interface all"]
        );
        let diff = new.compare(&old);
        assert!(diff.contains("[edit system]\n-   host-name leaf1;\n+   host-name leaf9;"), "{diff}");
        assert!(new.compare(&new).is_empty());
        let mut over = old.clone();
        over.load_text("system { host-name only; }", "override").unwrap();
        assert_eq!(over.set_lines(), ["system host-name only"]);
        assert!(over.load_text("system { host-name }", "merge").is_err());
        assert!(over.load_text("system { unknown-thing; }", "merge").is_err());
    }

    #[test]
    fn deletes_of_missing_statements_warn_and_a_filter_keeps_one_hierarchy() {
        let mut c = config(&["set system host-name leaf1", "set system domain-name example.net"]);
        assert!(c.apply("delete protocols bgp").unwrap().is_some(), "Junos warns: statement not found");
        let xml = crate::netconf::xml::parse("<configuration><system><domain-name/></system></configuration>").unwrap();
        assert_eq!(c.filtered(Some(&xml)).set_lines(), ["system domain-name example.net"]);
        c.apply("delete system").unwrap();
        assert!(c.set_lines().is_empty());
    }
}
