//! The emulated devices' configuration: a tree of statements that takes any configuration
//! Junos takes, in the four forms Junos speaks — `set` lines, curly-brace text, XML and JSON —
//! and compares two trees the way `show | compare` does.
//!
//! Each statement keeps the shape it came in ([`Shape`]): a flag, a leaf of one or more words, a
//! leaf-list, a container, a list of named entries. A schema ([`schema`]) covers the hierarchies
//! a fabric upgrade touches (`system`, `chassis`, `interfaces`, `vlans`, `protocols` bgp/lldp/evpn,
//! `routing-options`, `policy-options`, `groups`, `apply-macro`): there a value has a type
//! (`mtu 99999999` is refused as Junos refuses it) and a keyword its place and XML name. What the
//! schema does not know is kept and shown, not refused: a rehearsal stage must take the
//! configuration a real switch takes. What no Junos takes (an unterminated string, an unbalanced
//! brace, a verb that is not one) is refused with Junos's words.
//!
//! Secrets (`authentication-key`, `encrypted-password`, ...) are concealed as Junos conceals them
//! ([`secret`]) the moment they enter the tree; no form of the tree shows them in clear.

use crate::netconf::xml::Element;

mod inherit;
mod parse;
mod render;
mod schema;
mod secret;
#[cfg(test)]
mod tests;

use parse::{Loaded, merge};
use schema::{Kind, LEAF_LIST_WORDS, LIST_WORDS, SCHEMA, SECRET_WORDS, Spec, Value};

/// How a statement is written, and so how each form shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Shape {
    /// `system { ... }`: statements below.
    #[default]
    Container,
    /// `disable;` (`<disable/>`, `[null]` in JSON).
    Flag,
    /// `host-name leaf1;`, or several words (`route-filter 10.0.0.0/8 exact;`).
    Leaf(Vec<String>),
    /// `members [ a b ];`: each value set adds one.
    LeafList(Vec<String>),
    /// `group NAME { ... }`: the children are entries named by their key; the XML element is the
    /// keyword, with the entry's `<name>`.
    List,
    /// `interfaces { NAME { ... } }`: the children are entries; each is this XML element.
    Entries(String),
    /// `apply-macro NAME { KEY VALUE; }`.
    Macro,
}

/// A statement in the tree. Two statements are equal when they say the same: how one is
/// written (its schema position, XML name, one-line form) is not part of it.
#[derive(Clone, Debug, Default)]
pub struct Node {
    shape: Shape,
    /// Statements, or a list's entries: the schema's keywords in the schema's order among
    /// themselves, everything else (and every entry) where it came.
    children: Vec<(String, Node)>,
    /// A value container's bare value (`esi 00:11:...`).
    identifier: Option<String>,
    /// The XML element and inner element when they are not the keyword (`802.3ad`).
    xml: Option<(&'static str, &'static str)>,
    /// The keyword's position in the schema (usize::MAX: after the schema's keywords).
    order: usize,
    inactive: bool,
    /// An annotation (`/* ... */` before the statement).
    comment: Option<String>,
    /// Written on one line with what is below it (`family inet {`, `then accept;`): each child
    /// is shown after this statement's words rather than in a block of its own.
    flat: bool,
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.shape == other.shape
            && self.children == other.children
            && self.identifier == other.identifier
            && self.inactive == other.inactive
            && self.comment == other.comment
    }
}

impl Eq for Node {}

/// Keywords Junos always writes on one line with the statement below them (`family inet`).
const FLAT_WORDS: &[&str] = &["family"];

/// Why a statement or a load was refused: Junos's message, and the word it stumbled on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// `syntax error`, `missing argument`, ...
    pub message: String,
    /// The offending word or line.
    pub element: String,
    /// The hierarchy the statement was in, as Junos's `<error-path>` names it (`[edit
    /// interfaces xe-0/0/0]`); empty at the top or when unknown.
    pub path: Vec<String>,
    /// The word is a value (its keyword is the word before it).
    of_value: bool,
}

impl ConfigError {
    fn syntax(element: &str) -> ConfigError {
        ConfigError { message: "syntax error".into(), element: element.to_string(), path: Vec::new(), of_value: false }
    }

    fn new(message: impl Into<String>, element: &str) -> ConfigError {
        ConfigError { message: message.into(), element: element.to_string(), path: Vec::new(), of_value: false }
    }

    /// The error placed in the statement `words`: the hierarchy above the keyword it is about
    /// (for a value, the keyword before it).
    fn within(mut self, words: &[String]) -> ConfigError {
        if let Some(at) = words.iter().position(|w| *w == self.element) {
            // A value is about its keyword: the hierarchy is the one above that.
            let end = if self.of_value { at.saturating_sub(1) } else { at };
            self.path = words[..end].to_vec();
        }
        self
    }

    /// `[edit PATH]`, as Junos writes the hierarchy of an error.
    pub fn edit_path(&self) -> String {
        if self.path.is_empty() { "[edit]".to_string() } else { format!("[edit {}]", self.path.join(" ")) }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.message, self.element)
    }
}

/// One resolved step of a statement's path: the key in its parent and what to make of it.
#[derive(Clone, Debug)]
struct Step {
    key: String,
    order: usize,
    act: Act,
}

#[derive(Clone, Debug)]
enum Act {
    /// Go into the statement, making it with this shape if it is not there.
    Into(Shape),
    /// Go into an entry of the list above.
    Entry,
    /// The path ends in a flag.
    Flag,
    /// The path ends in a leaf with these words.
    Leaf(Vec<String>, Option<(&'static str, &'static str)>),
    /// The path ends in a leaf-list; these values are added.
    LeafList(Vec<String>),
    /// The path ends in a value container's bare value.
    Identifier(String),
}

/// How the words of a statement end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A `set` line: a leaf needs its value; words the schema does not know are read with the
    /// list and leaf-list keywords.
    Set,
    /// Curly-brace text, a statement ending in `;`; `bare` when a leaf may come without its
    /// value (under `delete:`).
    Statement { bare: bool },
    /// Curly-brace text, a statement opening a block.
    Block,
}

/// Splits a statement into words, keeping quoted strings whole (quotes removed) and `[`, `]`
/// as words of their own.
fn words(line: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '[' || c == ']' {
            out.push(c.to_string());
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
                if c.is_whitespace() || c == ']' {
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
            _ => Err(ConfigError {
                of_value: true,
                ..ConfigError::new(format!("Value {word} is not within range ({min}..{max})"), word)
            }),
        },
        Value::Choice(choices) => {
            if choices.contains(&word) {
                Ok(())
            } else {
                Err(ConfigError { of_value: true, ..ConfigError::syntax(word) })
            }
        }
    }
}

/// The values of a leaf-list statement: `a`, or `[ a b ]`.
fn list_values(rest: &[String]) -> Result<Vec<String>, ConfigError> {
    match rest.split_first() {
        Some((open, inner)) if open == "[" => match inner.split_last() {
            Some((close, values)) if close == "]" && !values.iter().any(|v| v == "[" || v == "]") => {
                Ok(values.to_vec())
            }
            _ => Err(ConfigError::new("syntax error, expecting ']'", &rest.join(" "))),
        },
        _ if rest.iter().any(|v| v == "[" || v == "]") => Err(ConfigError::syntax(&rest.join(" "))),
        _ => Ok(rest.to_vec()),
    }
}

/// Where resolution stands: in the schema, just before an entry's name, or past the schema.
#[derive(Clone, Copy)]
enum Ctx {
    Schema(&'static [Spec]),
    EntryOf(&'static [Spec]),
    Generic,
}

/// The children a container-like kind's entries or statements follow.
fn below(kind: Kind) -> &'static [Spec] {
    match kind {
        Kind::Container(c) | Kind::Named(c) | Kind::Entries(_, c) | Kind::ValueContainer(_, c) => c,
        Kind::Groups => SCHEMA,
        _ => &[],
    }
}

/// Resolves the words of a statement against the schema and, past it, against the shapes
/// already in the tree (`root`), and past those by the statement's own form.
fn resolve(root: &Node, words: &[String], mode: Mode) -> Result<Vec<Step>, ConfigError> {
    let mut steps = Vec::new();
    let mut ctx = Ctx::Schema(SCHEMA);
    let mut node: Option<&Node> = Some(root);
    let need_value = !matches!(mode, Mode::Statement { bare: true });
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let rest = &words[i + 1..];
        if word == "[" || word == "]" {
            return Err(ConfigError::syntax(word));
        }
        let existing = node.and_then(|n| n.child(word));
        // `apply-groups` may appear at any level, even where entries are named.
        let among_entries =
            matches!(steps.last(), Some(Step { act: Act::Into(Shape::Entries(e)), .. }) if !e.is_empty());
        let here = match ctx {
            Ctx::Schema(_) => true,
            Ctx::EntryOf(_) => among_entries,
            Ctx::Generic => false,
        };
        if matches!(word.as_str(), "apply-groups" | "apply-groups-except") && here {
            let values = list_values(rest)?;
            if values.is_empty() && need_value {
                return Err(ConfigError::new("missing argument", word));
            }
            steps.push(Step { key: word.clone(), order: usize::MAX, act: Act::LeafList(values) });
            return Ok(steps);
        }
        match ctx {
            Ctx::EntryOf(children) => {
                steps.push(Step { key: word.clone(), order: usize::MAX, act: Act::Entry });
                ctx = Ctx::Schema(children);
                node = existing;
                i += 1;
                continue;
            }
            Ctx::Schema(specs) => {
                let Some((order, found)) = specs.iter().enumerate().find(|(_, s)| s.name == word) else {
                    ctx = Ctx::Generic;
                    continue;
                };
                let end = |act: Act| Step { key: word.clone(), order, act };
                match found.kind {
                    Kind::Flag => {
                        if let Some(extra) = rest.first() {
                            return Err(ConfigError::syntax(extra));
                        }
                        steps.push(end(Act::Flag));
                        return Ok(steps);
                    }
                    Kind::Leaf(value) => match rest {
                        [] if need_value || mode == Mode::Block => {
                            return Err(ConfigError::new("missing argument", word));
                        }
                        [] => {
                            steps.push(end(Act::Leaf(Vec::new(), found.xml)));
                            return Ok(steps);
                        }
                        [v] => {
                            check_value(&value, v)?;
                            steps.push(end(Act::Leaf(vec![v.clone()], found.xml)));
                            return Ok(steps);
                        }
                        [_, extra, ..] => return Err(ConfigError::syntax(extra)),
                    },
                    Kind::Words => {
                        if rest.is_empty() && need_value {
                            return Err(ConfigError::new("missing argument", word));
                        }
                        steps.push(end(Act::Leaf(rest.to_vec(), None)));
                        return Ok(steps);
                    }
                    Kind::LeafList(value) => {
                        let values = list_values(rest)?;
                        if values.is_empty() && need_value {
                            return Err(ConfigError::new("missing argument", word));
                        }
                        for v in &values {
                            check_value(&value, v)?;
                        }
                        steps.push(end(Act::LeafList(values)));
                        return Ok(steps);
                    }
                    Kind::Container(children) => {
                        steps.push(end(Act::Into(Shape::Container)));
                        ctx = Ctx::Schema(children);
                    }
                    Kind::Named(_) | Kind::Groups | Kind::Entries(..) => {
                        let shape = match found.kind {
                            Kind::Entries(element, _) => Shape::Entries(element.to_string()),
                            Kind::Groups => Shape::Entries(String::new()),
                            _ => Shape::List,
                        };
                        steps.push(end(Act::Into(shape)));
                        // A list shows nothing without an entry (`set groups` names none).
                        if rest.is_empty()
                            && mode == Mode::Set
                            && matches!(found.kind, Kind::Named(_) | Kind::Groups | Kind::Entries("", _))
                        {
                            return Err(ConfigError::new("missing argument", word));
                        }
                        ctx = Ctx::EntryOf(below(found.kind));
                    }
                    Kind::Macro => {
                        steps.push(end(Act::Into(Shape::Macro)));
                        let Some((name, data)) = rest.split_first() else {
                            if mode == Mode::Set {
                                return Err(ConfigError::new("missing argument", word));
                            }
                            return Ok(steps);
                        };
                        steps.push(Step { key: name.clone(), order: usize::MAX, act: Act::Entry });
                        match data {
                            [] => {}
                            [key] if mode != Mode::Block => {
                                steps.push(Step { key: key.clone(), order: usize::MAX, act: Act::Flag });
                            }
                            [key, value] if mode != Mode::Block => steps.push(Step {
                                key: key.clone(),
                                order: usize::MAX,
                                act: Act::Leaf(vec![value.clone()], None),
                            }),
                            [first, ..] => return Err(ConfigError::syntax(first)),
                        }
                        return Ok(steps);
                    }
                    Kind::ValueContainer(value, children) => match rest.first() {
                        Some(next) if children.iter().any(|c| c.name == next) => {
                            steps.push(end(Act::Into(Shape::Container)));
                            ctx = Ctx::Schema(children);
                        }
                        Some(v) if mode != Mode::Block => {
                            check_value(&value, v)?;
                            if let Some(extra) = rest.get(1) {
                                return Err(ConfigError::syntax(extra));
                            }
                            steps.push(end(Act::Identifier(v.clone())));
                            return Ok(steps);
                        }
                        Some(v) => return Err(ConfigError::syntax(v)),
                        None => steps.push(end(Act::Into(Shape::Container))),
                    },
                }
                node = existing;
                i += 1;
            }
            Ctx::Generic => {
                // No Junos keyword starts with `@` (JSON keeps `@` for attributes), is blank, or
                // begins or ends with a space.
                if word.starts_with('@') || word.trim().is_empty() || word.trim() != word {
                    return Err(ConfigError::syntax(word));
                }
                let generic = |act: Act| Step { key: word.clone(), order: usize::MAX, act };
                // A shape already in the tree decides, where it can.
                if let Some(found) = existing {
                    match &found.shape {
                        Shape::List | Shape::Macro | Shape::Entries(_) if !rest.is_empty() => {
                            steps.push(generic(Act::Into(found.shape.clone())));
                            steps.push(Step { key: rest[0].clone(), order: usize::MAX, act: Act::Entry });
                            node = found.child(&rest[0]);
                            i += 2;
                            continue;
                        }
                        Shape::Container if !rest.is_empty() || mode != Mode::Set => {
                            steps.push(generic(Act::Into(Shape::Container)));
                            node = Some(found);
                            i += 1;
                            continue;
                        }
                        Shape::LeafList(_) if !rest.is_empty() && mode != Mode::Block => {
                            steps.push(generic(Act::LeafList(list_values(rest)?)));
                            return Ok(steps);
                        }
                        // A keyword written twice in one block of text holds several values.
                        Shape::Leaf(old)
                            if matches!(mode, Mode::Statement { .. }) && old.len() == 1 && rest.len() == 1 =>
                        {
                            steps.push(generic(Act::LeafList(vec![old[0].clone(), rest[0].clone()])));
                            return Ok(steps);
                        }
                        _ => {}
                    }
                }
                let first = rest.first().map(String::as_str);
                if first == Some("[") || (LEAF_LIST_WORDS.contains(&word.as_str()) && mode != Mode::Block) {
                    let values = list_values(rest)?;
                    if values.is_empty() && need_value {
                        return Err(ConfigError::new("missing argument", word));
                    }
                    steps.push(generic(Act::LeafList(values)));
                    return Ok(steps);
                }
                if LIST_WORDS.contains(&word.as_str()) && !rest.is_empty() {
                    // `interface all;`, `file messages { ... }`, `class best-effort queue-num 0;`:
                    // an entry, and what follows its name is a statement in it.
                    steps.push(generic(Act::Into(Shape::List)));
                    steps.push(Step { key: rest[0].clone(), order: usize::MAX, act: Act::Entry });
                    if rest.len() == 1 {
                        return Ok(steps);
                    }
                    node = existing.and_then(|n| n.child(&rest[0]));
                    i += 2;
                    continue;
                }
                match mode {
                    Mode::Block => match rest.len() {
                        0 => {
                            steps.push(generic(Act::Into(Shape::Container)));
                            return Ok(steps);
                        }
                        1 => {
                            steps.push(generic(Act::Into(Shape::List)));
                            steps.push(Step { key: rest[0].clone(), order: usize::MAX, act: Act::Entry });
                            return Ok(steps);
                        }
                        _ => {
                            steps.push(generic(Act::Into(Shape::Container)));
                            node = None;
                            i += 1;
                        }
                    },
                    // `a b [ c d ];`: a leaf-list further down.
                    Mode::Statement { .. } if rest.iter().skip(1).any(|w| w == "[") => {
                        steps.push(generic(Act::Into(Shape::Container)));
                        node = existing;
                        i += 1;
                    }
                    Mode::Statement { .. } => {
                        steps.push(generic(if rest.is_empty() { Act::Flag } else { Act::Leaf(rest.to_vec(), None) }));
                        return Ok(steps);
                    }
                    Mode::Set => match rest.len() {
                        0 => {
                            steps.push(generic(Act::Flag));
                            return Ok(steps);
                        }
                        1 => {
                            steps.push(generic(Act::Leaf(rest.to_vec(), None)));
                            return Ok(steps);
                        }
                        _ => {
                            steps.push(generic(Act::Into(Shape::Container)));
                            node = existing;
                            i += 1;
                        }
                    },
                }
            }
        }
    }
    Ok(steps)
}

impl Node {
    fn with_shape(shape: Shape, order: usize) -> Node {
        Node { shape, order, ..Node::default() }
    }

    /// Marks the blocks along `keys` (below this node), from the `from`-th on, as written on
    /// one line with what follows them.
    fn flatten(&mut self, keys: &[String], from: usize) {
        let mut node = self;
        for (i, key) in keys.iter().enumerate() {
            let Some(next) = node.child_mut(key) else { return };
            node = next;
            if i >= from && i + 1 < keys.len() && node.is_block() {
                node.flat = true;
            }
        }
    }

    /// The child `key`, made with `shape` at its place if it is not there.
    fn child_or_insert(&mut self, key: &str, order: usize, shape: Shape) -> &mut Node {
        if let Some(index) = self.children.iter().position(|(k, _)| k == key) {
            return &mut self.children[index].1;
        }
        // The schema's keywords keep the schema's order among themselves; everything else stays
        // where it came (so a configuration read in is written back in its own order).
        let at = if key.starts_with("apply-groups") {
            // Junos writes a block's `apply-groups` first (at the top, after `version` and
            // `groups`).
            self.children
                .iter()
                .position(|(k, _)| !k.starts_with("apply-groups") && k != "version" && k != "groups")
                .unwrap_or(self.children.len())
        } else if order == usize::MAX {
            self.children.len()
        } else {
            self.children
                .iter()
                .position(|(_, n)| n.order != usize::MAX && n.order > order)
                .unwrap_or(self.children.len())
        };
        let mut node = Node::with_shape(shape, order);
        node.flat = order != usize::MAX && FLAT_WORDS.contains(&key);
        self.children.insert(at, (key.to_string(), node));
        &mut self.children[at].1
    }

    fn child(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    fn child_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.children.iter_mut().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    fn walk_mut(&mut self, keys: &[String]) -> Option<&mut Node> {
        let mut node = self;
        for key in keys {
            node = node.child_mut(key)?;
        }
        Some(node)
    }

    /// Whether the statement holds statements (or entries) rather than a value.
    fn is_block(&self) -> bool {
        matches!(self.shape, Shape::Container | Shape::List | Shape::Entries(_) | Shape::Macro)
    }

    /// Makes this node a leaf of `words` (concealed when its keyword names a secret).
    fn become_leaf(&mut self, key: &str, words: Vec<String>, xml: Option<(&'static str, &'static str)>) {
        let words = if SECRET_WORDS.contains(&key) && !words.is_empty() {
            vec![secret::conceal(&words.join(" "))]
        } else {
            words
        };
        self.shape = Shape::Leaf(words);
        self.xml = xml;
        self.children.clear();
        self.identifier = None;
    }

    /// Adds `values` to this leaf-list, the statement `key` — unless `key` names a secret: a
    /// secret is one concealed value, never a list shown in clear.
    fn add_values_of(&mut self, key: &str, values: Vec<String>) {
        if SECRET_WORDS.contains(&key) {
            self.become_leaf(key, vec![values.join(" ")], None);
        } else {
            self.add_values(values);
        }
    }

    /// Adds `values` to this leaf-list (making it one).
    fn add_values(&mut self, values: Vec<String>) {
        match &mut self.shape {
            Shape::LeafList(old) => {
                for v in values {
                    if !old.contains(&v) {
                        old.push(v);
                    }
                }
            }
            _ => {
                self.shape = Shape::LeafList(values);
                self.children.clear();
            }
        }
    }

    /// Applies resolved steps below this node; returns the node at the end.
    fn apply(&mut self, steps: &[Step]) -> &mut Node {
        let mut node = self;
        for step in steps {
            let shape = match &step.act {
                Act::Into(shape) => shape.clone(),
                Act::Flag => Shape::Flag,
                Act::Leaf(..) => Shape::Leaf(Vec::new()),
                Act::LeafList(_) => Shape::LeafList(Vec::new()),
                Act::Entry | Act::Identifier(_) => Shape::Container,
            };
            node = node.child_or_insert(&step.key, step.order, shape);
            match &step.act {
                Act::Into(shape) => {
                    if !node.is_block() {
                        node.shape = shape.clone();
                    }
                }
                Act::Entry => {
                    if !node.is_block() {
                        node.shape = Shape::Container;
                    }
                }
                Act::Flag => {
                    if !node.is_block() {
                        node.shape = Shape::Flag;
                    }
                }
                Act::Leaf(words, xml) => {
                    if !words.is_empty() {
                        node.become_leaf(&step.key, words.clone(), *xml);
                    }
                }
                Act::LeafList(values) => node.add_values_of(&step.key, values.clone()),
                Act::Identifier(value) => {
                    if !node.is_block() {
                        node.shape = Shape::Container;
                    }
                    node.identifier = Some(value.clone());
                }
            }
        }
        node
    }
}

/// A device's configuration tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    root: Node,
}

impl Config {
    /// Applies one statement: `set`, `delete`, `activate`, `deactivate` or `annotate`. Returns a
    /// warning (Junos warns, not errs, when a statement to delete is not there).
    pub fn apply(&mut self, line: &str) -> Result<Option<String>, ConfigError> {
        let line = line.trim();
        let words = words(line)?;
        let Some((verb, rest)) = words.split_first() else { return Ok(None) };
        match verb.as_str() {
            "set" => self.set(rest).map(|()| None),
            "delete" => Ok(self.delete(rest)),
            "activate" | "deactivate" => self.activate(rest, verb == "activate"),
            "annotate" => self.annotate(rest),
            _ => Err(ConfigError::syntax(verb)),
        }
    }

    fn set(&mut self, words: &[String]) -> Result<(), ConfigError> {
        if words.is_empty() {
            return Err(ConfigError::new("missing argument", "set"));
        }
        let steps = resolve(&self.root, words, Mode::Set).map_err(|e| e.within(words))?;
        self.root.apply(&steps);
        Ok(())
    }

    /// The keys of the statement `words` names in the tree, and any values it names in a leaf
    /// or leaf-list at its end; None when it is not there.
    fn locate(&self, words: &[String]) -> Option<(Vec<String>, Vec<String>)> {
        let mut node = &self.root;
        let mut keys = Vec::new();
        for (i, word) in words.iter().enumerate() {
            match node.child(word) {
                Some(child) => {
                    keys.push(word.clone());
                    node = child;
                }
                None => {
                    let named = list_values(&words[i..]).ok()?;
                    return match &node.shape {
                        Shape::Leaf(value) if *value == named => Some((keys, Vec::new())),
                        Shape::LeafList(values) if named.iter().all(|v| values.contains(v)) => Some((keys, named)),
                        _ if node.identifier.as_deref() == Some(word.as_str()) && i + 1 == words.len() => {
                            Some((keys, vec![word.clone()]))
                        }
                        _ => None,
                    };
                }
            }
        }
        Some((keys, Vec::new()))
    }

    fn delete(&mut self, words: &[String]) -> Option<String> {
        if words.is_empty() {
            // `delete` alone empties the configuration.
            self.root = Node::default();
            return None;
        }
        let not_found = || Some(format!("statement not found: {}", words.join(" ")));
        let Some((keys, values)) = self.locate(words) else { return not_found() };
        let Some(node) = self.root.walk_mut(&keys) else { return not_found() };
        if !values.is_empty() {
            match &mut node.shape {
                Shape::LeafList(old) => {
                    old.retain(|v| !values.contains(v));
                    if !old.is_empty() {
                        return None;
                    }
                }
                _ => {
                    node.identifier = None;
                    return None;
                }
            }
        }
        let (parents, last) = keys.split_at(keys.len() - 1);
        if let Some(parent) = self.root.walk_mut(parents) {
            parent.children.retain(|(k, _)| *k != last[0]);
        }
        self.prune(parents);
        None
    }

    fn activate(&mut self, words: &[String], active: bool) -> Result<Option<String>, ConfigError> {
        let found = self.locate(words).filter(|(_, values)| values.is_empty());
        match found.and_then(|(keys, _)| self.root.walk_mut(&keys)) {
            Some(node) => {
                node.inactive = !active;
                Ok(None)
            }
            None => Err(ConfigError::new("statement not found", &words.join(" "))),
        }
    }

    /// `annotate STATEMENT "comment"`: the comment is shown before the statement.
    fn annotate(&mut self, words: &[String]) -> Result<Option<String>, ConfigError> {
        let Some((comment, path)) = words.split_last() else {
            return Err(ConfigError::new("missing argument", "annotate"));
        };
        let found = self.locate(path).filter(|(keys, values)| values.is_empty() && !keys.is_empty());
        match found.and_then(|(keys, _)| self.root.walk_mut(&keys)) {
            Some(node) => {
                node.comment = (!comment.is_empty()).then(|| comment.clone());
                Ok(None)
            }
            None => Err(ConfigError::new("statement not found", &path.join(" "))),
        }
    }

    /// Removes the containers a delete left empty along `keys`, deepest first. Entries (an
    /// interface, a group) stay: they are objects of their own.
    fn prune(&mut self, keys: &[String]) {
        for depth in (1..=keys.len()).rev() {
            let (parents, last) = keys[..depth].split_at(depth - 1);
            let Some(parent) = self.root.walk_mut(parents) else { continue };
            if matches!(parent.shape, Shape::List | Shape::Entries(_) | Shape::Macro) {
                continue;
            }
            parent
                .children
                .retain(|(k, n)| *k != last[0] || !n.is_block() || !n.children.is_empty() || n.identifier.is_some());
        }
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
        let loaded = parse::text(text)?;
        self.load_tree(loaded, action)
    }

    /// Loads Junos XML (`<configuration>` and what is below it) with `action`.
    pub fn load_xml(&mut self, configuration: &Element, action: &str) -> Result<(), ConfigError> {
        let loaded = parse::xml(configuration)?;
        self.load_tree(loaded, action)
    }

    /// Loads Junos JSON (`{"configuration": {...}}`, or what is inside it) with `action`.
    pub fn load_json(&mut self, text: &str, action: &str) -> Result<(), ConfigError> {
        let loaded = parse::json(text)?;
        self.load_tree(loaded, action)
    }

    fn load_tree(&mut self, loaded: Loaded, action: &str) -> Result<(), ConfigError> {
        match action {
            "merge" | "replace" | "" => {
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
        let mut out = Node::default();
        render::keep(&self.root, filter, &mut out);
        Config { root: out }
    }

    /// The differences from `old` to `self` in the shape of `show | compare`: a `[edit PATH]`
    /// header, then `-` and `+` lines. Empty when they are the same.
    pub fn compare(&self, old: &Config) -> String {
        let mut out = String::new();
        render::compare_nodes(&old.root, &self.root, &mut Vec::new(), &mut out);
        out
    }

    /// Every statement as `set` lines (without `set `), deactivated ones followed by their
    /// `deactivate` line.
    pub fn set_lines(&self) -> Vec<String> {
        render::set_lines(&self.root)
    }

    /// The configuration in curly-brace text, as `show configuration` prints it.
    pub fn text(&self) -> String {
        render::text(&self.root)
    }

    /// The configuration as Junos XML (`<configuration>...</configuration>`).
    pub fn xml(&self) -> String {
        let mut out = String::from("<configuration>");
        render::xml(&self.root, &mut out);
        out.push_str("</configuration>");
        out
    }

    /// The configuration as Junos JSON (`{"configuration": {...}}`).
    pub fn json(&self) -> String {
        format!("{{\"configuration\":{}}}", render::json(&self.root))
    }
}
