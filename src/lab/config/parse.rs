//! Configuration read in: curly-brace text, XML and JSON into a tree, merged into the candidate
//! with Junos's `replace:`, `delete:` and `inactive:` marks (`operation="..."` and attributes in
//! XML, `@` in JSON).

use super::render::STATEMENT_ELEMENT;
use super::*;

/// A loaded tree, with the paths marked `replace:` (their subtree replaces the old one) and
/// `delete:` (removed).
#[derive(Default)]
pub(super) struct Loaded {
    pub(super) tree: Node,
    pub(super) replace: Vec<Vec<String>>,
    pub(super) delete: Vec<Vec<String>>,
}

impl Loaded {
    fn mark(&mut self, path: &[String], delete: bool, replace: bool) {
        if delete {
            self.delete.push(path.to_vec());
        }
        if replace {
            self.replace.push(path.to_vec());
        }
    }
}

pub(super) fn merge(
    into: &mut Node,
    from: Node,
    replace: &[Vec<String>],
    delete: &[Vec<String>],
    path: &mut Vec<String>,
) {
    for (key, child) in from.children {
        path.push(key.clone());
        if delete.contains(path) {
            match (&child.shape, into.child_mut(&key)) {
                (Shape::LeafList(values), Some(old)) if !values.is_empty() => {
                    if let Shape::LeafList(old_values) = &mut old.shape {
                        old_values.retain(|v| !values.contains(v));
                        if old_values.is_empty() {
                            into.children.retain(|(k, _)| *k != key);
                        }
                    }
                }
                _ => into.children.retain(|(k, _)| *k != key),
            }
        } else if replace.contains(path) {
            let (order, shape) = (child.order, child.shape.clone());
            *into.child_or_insert(&key, order, shape) = child;
        } else {
            let target = into.child_or_insert(&key, child.order, child.shape.clone());
            if child.inactive {
                target.inactive = true;
            }
            target.flat |= child.flat;
            if child.comment.is_some() {
                target.comment.clone_from(&child.comment);
            }
            match child.shape {
                Shape::Leaf(ref words) if !words.is_empty() => {
                    target.shape = child.shape.clone();
                    target.xml = child.xml;
                    target.children.clear();
                }
                Shape::Leaf(_) => {}
                Shape::LeafList(values) => target.add_values(values),
                Shape::Flag => {
                    if !target.is_block() {
                        target.shape = Shape::Flag;
                    }
                }
                shape => {
                    if !target.is_block() {
                        target.shape = shape;
                    }
                    if child.identifier.is_some() {
                        target.identifier = child.identifier.clone();
                    }
                    merge(target, Node { children: child.children, ..Node::default() }, replace, delete, path);
                }
            }
        }
        path.pop();
    }
}

/// The tokens of curly-brace text: words (a quoted one keeps a leading `"`), `{`, `}`, `;`,
/// `[`, `]`, and annotations (`/* ... */`, kept with a leading `/*`). `#` comments go.
fn tokens(text: &str) -> Result<Vec<String>, ConfigError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let ends_word = |c: char| c.is_whitespace() || matches!(c, '{' | '}' | ';' | '[' | ']');
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
                    chars.next();
                    let mut comment = String::new();
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        if c == '*' && chars.peek() == Some(&'/') {
                            chars.next();
                            closed = true;
                            break;
                        }
                        comment.push(c);
                    }
                    if !closed {
                        return Err(ConfigError::new("syntax error, unterminated comment", "/*"));
                    }
                    tokens.push(format!("/*{}", comment.trim()));
                } else {
                    let mut word = String::from("/");
                    while let Some(&c) = chars.peek() {
                        if ends_word(c) {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    tokens.push(word);
                }
            }
            '{' | '}' | ';' | '[' | ']' => {
                tokens.push(c.to_string());
                chars.next();
            }
            '"' => {
                chars.next();
                let mut word = String::from("\"");
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
                    return Err(ConfigError::new("syntax error, unterminated string", &word));
                }
                tokens.push(word);
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if ends_word(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(word);
            }
        }
    }
    Ok(tokens)
}

/// Parses curly-brace text into a tree: each statement resolved against the schema and the
/// shapes the text has made so far.
pub(super) fn text(text: &str) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded::default();
    let mut context: Vec<Vec<String>> = Vec::new(); // the words of each open block
    let mut depths: Vec<usize> = Vec::new(); // the steps to each open block
    let mut statement: Vec<String> = Vec::new();
    let mut inactive = false;
    let mut comment: Option<String> = None;
    let mut marks: (bool, bool) = (false, false); // delete:, replace:
    for token in tokens(text)? {
        match token.as_str() {
            "{" | ";" => {
                if statement.is_empty() {
                    return Err(ConfigError::syntax(&token));
                }
                let mut path: Vec<String> = context.iter().flatten().cloned().collect();
                path.extend(statement.iter().cloned());
                let block = token == "{";
                let mode = if block { Mode::Block } else { Mode::Statement { bare: marks.0 } };
                let steps = resolve(&loaded.tree, &path, mode).map_err(|e| e.within(&path))?;
                if block && !matches!(steps.last().map(|s| &s.act), Some(Act::Into(_) | Act::Entry)) {
                    return Err(ConfigError::syntax(&statement.join(" ")));
                }
                let keys: Vec<String> = steps.iter().map(|s| s.key.clone()).collect();
                loaded.tree.apply(&steps);
                // Blocks this one statement passes through were written on its line.
                loaded.tree.flatten(&keys, depths.last().copied().unwrap_or(0));
                let Some(node) = loaded.tree.walk_mut(&keys) else { return Err(ConfigError::syntax(&token)) };
                if std::mem::take(&mut inactive) {
                    node.inactive = true;
                }
                if let Some(comment) = comment.take() {
                    node.comment = Some(comment);
                }
                let (delete, replace) = std::mem::take(&mut marks);
                loaded.mark(&keys, delete, replace);
                let words = std::mem::take(&mut statement);
                if block {
                    context.push(words);
                    depths.push(keys.len());
                }
            }
            "}" => {
                if !statement.is_empty() {
                    return Err(ConfigError::syntax(&statement.join(" ")));
                }
                if context.pop().is_none() {
                    return Err(ConfigError::syntax("}"));
                }
                depths.pop();
            }
            "replace:" if statement.is_empty() => marks.1 = true,
            "delete:" if statement.is_empty() => marks.0 = true,
            "inactive:" if statement.is_empty() => inactive = true,
            "active:" if statement.is_empty() => {}
            _ if token.starts_with("/*") => comment = Some(token[2..].to_string()),
            _ => statement.push(token.strip_prefix('"').map_or(token.clone(), str::to_string)),
        }
    }
    if !context.is_empty() || !statement.is_empty() {
        return Err(ConfigError::new("syntax error, expecting '}'", "end of input"));
    }
    Ok(loaded)
}

/// `(delete, replace, inactive)` from an element's attributes.
fn marks(element: &Element) -> (bool, bool, bool) {
    let attribute = |name: &str| element.attribute(name);
    let delete = attribute("operation") == Some("delete") || attribute("delete") == Some("delete");
    let replace = attribute("operation") == Some("replace") || attribute("replace") == Some("replace");
    let inactive = attribute("inactive") == Some("inactive");
    (delete, replace, inactive)
}

/// An annotation element (`<junos:comment>/* ... */</junos:comment>`) and its text.
fn annotation(element: &Element) -> Option<String> {
    let named = element.name == "junos:comment" || element.name == "comment";
    (named && element.children.is_empty() && element.text.trim_start().starts_with("/*"))
        .then(|| element.text.trim().trim_start_matches("/*").trim_end_matches("*/").trim().to_string())
}

/// An element's text as a value: Junos pads a value with new lines and indentation in its
/// replies, so text with a new line is trimmed; other text is the value as it stands (a
/// description may begin with a space).
fn xml_value(text: &str) -> &str {
    if text.contains('\n') { text.trim() } else { text }
}

/// The text of an element's own child `name` (not a descendant's).
fn own<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element.children.iter().find(|c| c.name == name).map(|c| xml_value(&c.text))
}

fn without_name(element: &Element) -> Element {
    Element { children: element.children.iter().filter(|c| c.name != "name").cloned().collect(), ..element.clone() }
}

/// Parses Junos XML (`<configuration>`) into a tree.
pub(super) fn xml(configuration: &Element) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded::default();
    let mut tree = Node::default();
    xml_children(configuration, Some(SCHEMA), &mut tree, &mut Vec::new(), &mut loaded)?;
    loaded.tree = tree;
    Ok(loaded)
}

fn xml_children(
    element: &Element,
    specs: Option<&'static [Spec]>,
    node: &mut Node,
    path: &mut Vec<String>,
    loaded: &mut Loaded,
) -> Result<(), ConfigError> {
    let mut comment = None;
    for child in &element.children {
        if let Some(text) = annotation(child) {
            comment = Some(text);
            continue;
        }
        let depth = path.len();
        let target = xml_statement(element, child, specs, node, path, loaded)?;
        let (is_delete, is_replace, inactive) = marks(child);
        target.inactive |= inactive;
        if let Some(text) = comment.take() {
            target.comment = Some(text);
        }
        loaded.mark(path, is_delete, is_replace);
        path.truncate(depth);
    }
    Ok(())
}

/// One element under `element` into `node`: returns the node its marks belong to (an entry for
/// a list), with `path` extended to it.
fn xml_statement<'a>(
    element: &Element,
    child: &Element,
    specs: Option<&'static [Spec]>,
    node: &'a mut Node,
    path: &mut Vec<String>,
    loaded: &mut Loaded,
) -> Result<&'a mut Node, ConfigError> {
    let is_delete = marks(child).0;
    let known = specs.and_then(|specs| {
        specs.iter().enumerate().find(|(_, s)| s.name == child.name || s.xml.is_some_and(|x| x.0 == child.name))
    });
    let Some((order, spec)) = known else { return xml_generic(element, child, node, path, loaded) };
    let key = spec.name;
    path.push(key.to_string());
    Ok(match spec.kind {
        Kind::Flag => node.child_or_insert(key, order, Shape::Flag),
        Kind::Leaf(value) | Kind::LeafList(value) => {
            let inner = spec.xml.and_then(|(_, inner)| own(child, inner));
            let text = inner.unwrap_or(xml_value(&child.text));
            if !is_delete {
                if text.is_empty() {
                    return Err(ConfigError::new("missing argument", &child.name));
                }
                check_value(&value, text)?;
            }
            let list = matches!(spec.kind, Kind::LeafList(_));
            let target = node.child_or_insert(
                key,
                order,
                if list { Shape::LeafList(Vec::new()) } else { Shape::Leaf(Vec::new()) },
            );
            if !text.is_empty() {
                if list {
                    target.add_values(vec![text.to_string()]);
                } else {
                    target.become_leaf(key, vec![text.to_string()], spec.xml);
                }
            }
            target
        }
        Kind::Words => {
            let target = node.child_or_insert(key, order, Shape::Leaf(Vec::new()));
            let words: Vec<String> = child.text.split_whitespace().map(str::to_string).collect();
            if !words.is_empty() {
                target.become_leaf(key, words, None);
            }
            target
        }
        Kind::Container(children) => {
            let target = node.child_or_insert(key, order, Shape::Container);
            xml_children(child, Some(children), target, path, loaded)?;
            target
        }
        Kind::ValueContainer(_, children) => {
            let target = node.child_or_insert(key, order, Shape::Container);
            if let Some(identifier) = own(child, "identifier") {
                target.identifier = Some(identifier.to_string());
            }
            let rest = Element {
                children: child.children.iter().filter(|c| c.name != "identifier").cloned().collect(),
                ..child.clone()
            };
            xml_children(&rest, Some(children), target, path, loaded)?;
            target
        }
        Kind::Named(_) | Kind::Macro => {
            let name = own(child, "name").ok_or_else(|| ConfigError::new("missing name", &child.name))?.to_string();
            let is_macro = matches!(spec.kind, Kind::Macro);
            let list = node.child_or_insert(key, order, if is_macro { Shape::Macro } else { Shape::List });
            path.push(name.clone());
            let target = list.child_or_insert(&name, usize::MAX, Shape::Container);
            if is_macro {
                for data in child.children.iter().filter(|c| c.name == "data") {
                    let datum = own(data, "name").ok_or_else(|| ConfigError::new("missing name", "data"))?;
                    let at = target.child_or_insert(datum, usize::MAX, Shape::Flag);
                    if let Some(value) = own(data, "value") {
                        at.become_leaf(datum, vec![value.to_string()], None);
                    }
                }
            } else {
                xml_children(&without_name(child), Some(below(spec.kind)), target, path, loaded)?;
            }
            target
        }
        Kind::Entries("", _) | Kind::Groups => {
            let children = below(spec.kind);
            // `name-server { 10.0.0.53; }`: each entry is an element of the keyword's own name.
            let name = own(child, "name").ok_or_else(|| ConfigError::new("missing name", &child.name))?.to_string();
            let list = node.child_or_insert(key, order, Shape::Entries(String::new()));
            path.push(name.clone());
            let target = list.child_or_insert(&name, usize::MAX, Shape::Container);
            xml_children(&without_name(child), Some(children), target, path, loaded)?;
            target
        }
        Kind::Entries(element_name, children) => {
            let target = node.child_or_insert(key, order, Shape::Entries(element_name.to_string()));
            let mut entry_comment = None;
            for entry in &child.children {
                if let Some(text) = annotation(entry) {
                    entry_comment = Some(text);
                    continue;
                }
                if matches!(entry.name.as_str(), "apply-groups" | "apply-groups-except") {
                    target
                        .child_or_insert(&entry.name, usize::MAX, Shape::LeafList(Vec::new()))
                        .add_values(vec![xml_value(&entry.text).to_string()]);
                    continue;
                }
                if entry.name != element_name {
                    return Err(ConfigError::syntax(&entry.name));
                }
                let name = own(entry, "name").ok_or_else(|| ConfigError::new("missing name", &entry.name))?.to_string();
                let (entry_delete, entry_replace, entry_inactive) = marks(entry);
                path.push(name.clone());
                let at = target.child_or_insert(&name, usize::MAX, Shape::Container);
                at.inactive |= entry_inactive;
                if let Some(text) = entry_comment.take() {
                    at.comment = Some(text);
                }
                loaded.mark(path, entry_delete, entry_replace);
                xml_children(&without_name(entry), Some(children), at, path, loaded)?;
                path.pop();
            }
            target
        }
    })
}

/// An element past the schema: its own form says the statement's shape — `<name>` first makes
/// it a list's entry, text a leaf (a leaf-list when repeated), nothing a flag, elements a
/// container.
fn xml_generic<'a>(
    element: &Element,
    child: &Element,
    node: &'a mut Node,
    path: &mut Vec<String>,
    loaded: &mut Loaded,
) -> Result<&'a mut Node, ConfigError> {
    let named = child.children.first().filter(|c| c.name == "name").map(|c| xml_value(&c.text).to_string());
    if child.name == STATEMENT_ELEMENT
        && let Some(key) = named
    {
        // A statement whose key is not an element name (see render::STATEMENT_ELEMENT).
        path.push(key.clone());
        let rest = without_name(child);
        let values: Vec<String> = rest.children_named("value").map(|v| xml_value(&v.text).to_string()).collect();
        return Ok(if !values.is_empty() && rest.children.len() == values.len() {
            let target = node.child_or_insert(&key, usize::MAX, Shape::Leaf(Vec::new()));
            match &target.shape {
                Shape::Leaf(words) if !words.is_empty() => {
                    let mut all = words.clone();
                    all.extend(values);
                    target.shape = Shape::LeafList(all);
                }
                Shape::LeafList(_) => target.add_values_of(&key, values),
                _ => target.become_leaf(&key, values, None),
            }
            target
        } else if rest.children.is_empty() {
            node.child_or_insert(&key, usize::MAX, Shape::Flag)
        } else {
            let target = node.child_or_insert(&key, usize::MAX, Shape::Container);
            xml_children(&rest, None, target, path, loaded)?;
            target
        });
    }
    if let Some(name) = named {
        let list = node.child_or_insert(&child.name, usize::MAX, Shape::List);
        if !list.is_block() {
            list.shape = Shape::List;
        }
        path.push(child.name.clone());
        path.push(name.clone());
        let target = list.child_or_insert(&name, usize::MAX, Shape::Container);
        xml_children(&without_name(child), None, target, path, loaded)?;
        return Ok(target);
    }
    path.push(child.name.clone());
    if !child.children.is_empty() {
        let target = node.child_or_insert(&child.name, usize::MAX, Shape::Container);
        if !target.is_block() {
            target.shape = Shape::Container;
        }
        xml_children(child, None, target, path, loaded)?;
        return Ok(target);
    }
    let text = xml_value(&child.text);
    let repeated = element.children.iter().filter(|c| c.name == child.name).count() > 1;
    Ok(if text.is_empty() {
        node.child_or_insert(&child.name, usize::MAX, Shape::Flag)
    } else if repeated || LEAF_LIST_WORDS.contains(&child.name.as_str()) {
        let target = node.child_or_insert(&child.name, usize::MAX, Shape::LeafList(Vec::new()));
        target.add_values_of(&child.name, vec![text.to_string()]);
        target
    } else {
        let target = node.child_or_insert(&child.name, usize::MAX, Shape::Leaf(Vec::new()));
        target.become_leaf(&child.name, vec![text.to_string()], None);
        target
    })
}

/// A JSON value with its objects' keys in the order they came (Junos's order is meaningful).
#[derive(Debug)]
enum Json {
    Null,
    Scalar(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                Ok(Json::Scalar(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::Scalar(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(Json::Array(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    out.push((key, value));
                }
                Ok(Json::Object(out))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Json {
    fn field(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Json::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// `[null]`: a flag.
    fn is_flag(&self) -> bool {
        matches!(self, Json::Array(items) if items.len() == 1 && matches!(items[0], Json::Null))
    }

    /// `(delete, replace, inactive, comment)` of an `@` object.
    fn attributes(&self) -> (bool, bool, bool, Option<String>) {
        let get = |name: &str| self.field(name).and_then(Json::text);
        (
            get("operation") == Some("delete") || get("delete") == Some("delete"),
            get("operation") == Some("replace") || get("replace") == Some("replace"),
            matches!(get("inactive"), Some("true" | "inactive")),
            get("comment").map(|c| c.trim().trim_start_matches("/*").trim_end_matches("*/").trim().to_string()),
        )
    }
}

/// Parses Junos JSON (`{"configuration": {...}}`, or the object inside) into a tree.
pub(super) fn json(text: &str) -> Result<Loaded, ConfigError> {
    let value: Json = serde_json::from_str(text).map_err(|e| {
        ConfigError::new(format!("syntax error, not JSON: {e}"), &text.chars().take(40).collect::<String>())
    })?;
    let body = value.field("configuration").unwrap_or(&value);
    let Json::Object(fields) = body else {
        return Err(ConfigError::new("syntax error, expecting an object", "configuration"));
    };
    let mut loaded = Loaded::default();
    let mut tree = Node::default();
    json_fields(fields, false, Some(SCHEMA), &mut tree, &mut Vec::new(), &mut loaded)?;
    loaded.tree = tree;
    Ok(loaded)
}

#[allow(clippy::too_many_lines)]
fn json_fields(
    fields: &[(String, Json)],
    skip_identifier: bool,
    specs: Option<&'static [Spec]>,
    node: &mut Node,
    path: &mut Vec<String>,
    loaded: &mut Loaded,
) -> Result<(), ConfigError> {
    for (name, value) in fields {
        if name == "@" || name == "name" || name.starts_with('@') || (name == "identifier" && skip_identifier) {
            continue;
        }
        let leaf_attributes = fields.iter().find(|(k, _)| k.strip_prefix('@') == Some(name.as_str())).map(|(_, v)| v);
        let known = specs.and_then(|specs| {
            specs.iter().enumerate().find(|(_, s)| s.name == *name || s.xml.is_some_and(|x| x.0 == name))
        });
        let (key, order) = known.map_or((name.clone(), usize::MAX), |(o, s)| (s.name.to_string(), o));
        let kind = known.map(|(_, s)| s.kind);
        // Each entry of a list: an object with a name.
        let entry = |node: &mut Node,
                     key: &str,
                     shape: Shape,
                     item: &Json,
                     specs: Option<&'static [Spec]>,
                     path: &mut Vec<String>,
                     loaded: &mut Loaded|
         -> Result<(), ConfigError> {
            let Json::Object(item_fields) = item else { return Err(ConfigError::syntax(key)) };
            let entry_name =
                item.field("name").and_then(Json::text).ok_or_else(|| ConfigError::new("missing name", key))?;
            let list = node.child_or_insert(key, order, shape.clone());
            if !list.is_block() {
                list.shape = shape.clone();
            }
            let at = list.child_or_insert(entry_name, usize::MAX, Shape::Container);
            path.push(entry_name.to_string());
            if shape == Shape::Macro {
                if let Some(Json::Array(data)) = item.field("data") {
                    for datum in data {
                        let Some(data_name) = datum.field("name").and_then(Json::text) else { continue };
                        let d = at.child_or_insert(data_name, usize::MAX, Shape::Flag);
                        if let Some(v) = datum.field("value").and_then(Json::text) {
                            d.become_leaf(data_name, vec![v.to_string()], None);
                        }
                    }
                }
            } else {
                json_fields(item_fields, false, specs, at, path, loaded)?;
            }
            attribute(at, item.field("@"), path, loaded);
            path.pop();
            Ok(())
        };
        path.push(key.clone());
        match value {
            _ if value.is_flag() => {
                node.child_or_insert(&key, order, Shape::Flag);
            }
            Json::Null => {
                node.child_or_insert(&key, order, Shape::Flag);
            }
            Json::Scalar(text) => {
                if let Some(Kind::Leaf(v) | Kind::LeafList(v)) = kind {
                    check_value(&v, text)?;
                }
                let at = node.child_or_insert(&key, order, Shape::Leaf(Vec::new()));
                match kind {
                    Some(Kind::LeafList(_)) => at.add_values(vec![text.clone()]),
                    Some(Kind::Words) => {
                        at.become_leaf(&key, text.split_whitespace().map(str::to_string).collect(), None);
                    }
                    _ => at.become_leaf(&key, vec![text.clone()], known.and_then(|(_, s)| s.xml)),
                }
            }
            Json::Array(items) if items.iter().all(|i| matches!(i, Json::Scalar(_))) => {
                let values: Vec<String> = items.iter().filter_map(|i| i.text().map(str::to_string)).collect();
                if let Some(Kind::Leaf(v) | Kind::LeafList(v)) = kind {
                    for text in &values {
                        check_value(&v, text)?;
                    }
                }
                let at = node.child_or_insert(&key, order, Shape::LeafList(Vec::new()));
                at.add_values_of(&key, values);
            }
            Json::Array(items) => {
                let shape = match kind {
                    Some(Kind::Macro) => Shape::Macro,
                    Some(Kind::Entries("", _) | Kind::Groups) => Shape::Entries(String::new()),
                    _ => Shape::List,
                };
                // What an entry holds: the schema's, for a list it knows; anything, past it.
                let children = match kind {
                    Some(k @ (Kind::Named(_) | Kind::Groups | Kind::Entries("", _))) => Some(below(k)),
                    _ => None,
                };
                for item in items {
                    entry(node, &key, shape.clone(), item, children, path, loaded)?;
                }
            }
            Json::Object(inner) => match kind {
                Some(Kind::Entries(element, children)) => {
                    let at = node.child_or_insert(&key, order, Shape::Entries(element.to_string()));
                    for group_key in ["apply-groups", "apply-groups-except"] {
                        match value.field(group_key) {
                            Some(Json::Array(items)) => at
                                .child_or_insert(group_key, usize::MAX, Shape::LeafList(Vec::new()))
                                .add_values(items.iter().filter_map(|i| i.text().map(str::to_string)).collect()),
                            Some(Json::Scalar(one)) => at
                                .child_or_insert(group_key, usize::MAX, Shape::LeafList(Vec::new()))
                                .add_values(vec![one.clone()]),
                            _ => {}
                        }
                    }
                    if let Some(Json::Array(items)) = value.field(element) {
                        for item in items {
                            let Json::Object(item_fields) = item else { return Err(ConfigError::syntax(element)) };
                            let entry_name = item
                                .field("name")
                                .and_then(Json::text)
                                .ok_or_else(|| ConfigError::new("missing name", element))?;
                            let e = at.child_or_insert(entry_name, usize::MAX, Shape::Container);
                            path.push(entry_name.to_string());
                            json_fields(item_fields, false, Some(children), e, path, loaded)?;
                            attribute(e, item.field("@"), path, loaded);
                            path.pop();
                        }
                    }
                }
                Some(Kind::Leaf(value_kind)) => {
                    // A leaf written as an element with an inner one (`ieee-802.3ad: {bundle}`).
                    let spec = known.map(|(_, s)| s);
                    let inner_name = spec.and_then(|s| s.xml).map(|x| x.1).unwrap_or("");
                    let text = value.field(inner_name).and_then(Json::text).ok_or_else(|| ConfigError::syntax(name))?;
                    check_value(&value_kind, text)?;
                    let at = node.child_or_insert(&key, order, Shape::Leaf(Vec::new()));
                    at.become_leaf(&key, vec![text.to_string()], spec.and_then(|s| s.xml));
                }
                _ => {
                    let children = kind.map(below);
                    let at = node.child_or_insert(&key, order, Shape::Container);
                    if !at.is_block() {
                        at.shape = Shape::Container;
                    }
                    if let Some(identifier) = value.field("identifier").and_then(Json::text) {
                        at.identifier = Some(identifier.to_string());
                    }
                    let value_container = matches!(kind, Some(Kind::ValueContainer(..)));
                    json_fields(inner, value_container, children, at, path, loaded)?;
                    attribute(at, value.field("@"), path, loaded);
                }
            },
        }
        if let Some(at) = node.child_mut(&key) {
            attribute(at, leaf_attributes, path, loaded);
        }
        path.pop();
    }
    Ok(())
}

/// Applies a JSON `@` object (inactive, annotation, delete and replace marks) to `at`, the
/// statement at `path`.
fn attribute(at: &mut Node, attributes: Option<&Json>, path: &[String], loaded: &mut Loaded) {
    let Some(attributes) = attributes else { return };
    let (delete, replace, inactive, comment) = attributes.attributes();
    at.inactive |= inactive;
    if comment.is_some() {
        at.comment = comment;
    }
    loaded.mark(path, delete, replace);
}
