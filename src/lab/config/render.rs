//! The tree written out: `set` lines, curly-brace text, XML and JSON, `show | compare`, and the
//! subtree a filter asks for. Each form is written from the statements' shapes alone.

use std::fmt::Write as _;

use super::*;
use crate::netconf::xml;

/// Keywords Junos writes on one line with a single flag or list below them (`then accept;`,
/// `community fabric members target:65000:1;`).
const ONE_LINE_WORDS: &[&str] = &["then", "community"];

/// Quotes a word when Junos would.
pub(super) fn quote(word: &str) -> String {
    if word.is_empty()
        || word.contains("/*")
        || word.chars().any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '"' | '#' | '[' | ']'))
    {
        quoted(word)
    } else {
        word.to_string()
    }
}

/// `word` in quotes, its backslashes and quotes escaped.
fn quoted(word: &str) -> String {
    format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A leaf's words as written; a secret is always quoted, as Junos writes it.
fn leaf_words(key: &str, words: &[String]) -> String {
    if SECRET_WORDS.contains(&key) {
        words.iter().map(|w| quoted(w)).collect::<Vec<_>>().join(" ")
    } else {
        words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
    }
}

/// A node's statements as they are written: a list's entries each after its keyword
/// (`group overlay`), everything else under its own key.
fn statements(node: &Node) -> Vec<(String, &str, &Node)> {
    let mut out = Vec::new();
    for (key, child) in &node.children {
        match child.shape {
            Shape::List | Shape::Macro => {
                for (name, entry) in &child.children {
                    out.push((format!("{} {}", quote(key), quote(name)), key.as_str(), entry));
                }
            }
            _ => out.push((quote(key), key.as_str(), child)),
        }
    }
    out
}

pub(super) fn set_lines(root: &Node) -> Vec<String> {
    fn walk(node: &Node, path: &mut Vec<String>, out: &mut Vec<String>, inactive: &mut Vec<String>) {
        for (head, key, child) in statements(node) {
            path.push(head);
            let at = path.join(" ");
            if child.inactive {
                inactive.push(format!("deactivate {at}"));
            }
            match &child.shape {
                Shape::Flag => out.push(at),
                Shape::Leaf(words) if words.is_empty() => out.push(at),
                Shape::Leaf(words) => out.push(format!("{at} {}", leaf_words(key, words))),
                Shape::LeafList(values) if values.is_empty() => out.push(at),
                // A leaf-list the schema or the keyword makes one: a line per value, as Junos
                // writes it; one the lab knows only from its brackets keeps them.
                Shape::LeafList(values) if child.order != usize::MAX || LEAF_LIST_WORDS.contains(&key) => {
                    out.extend(values.iter().map(|v| format!("{at} {}", quote(v))));
                }
                Shape::LeafList(values) if values.len() == 1 => out.push(format!("{at} {}", quote(&values[0]))),
                Shape::LeafList(values) => {
                    out.push(format!("{at} [ {} ]", values.iter().map(|v| quote(v)).collect::<Vec<_>>().join(" ")));
                }
                _ => {
                    if let Some(identifier) = &child.identifier {
                        out.push(format!("{at} {}", quote(identifier)));
                    } else if child.children.is_empty() {
                        out.push(at);
                    }
                    walk(child, path, out, inactive);
                }
            }
            path.pop();
        }
    }
    let mut out = Vec::new();
    let mut inactive = Vec::new();
    walk(root, &mut Vec::new(), &mut out, &mut inactive);
    out.extend(inactive);
    out
}

/// One statement in curly-brace text at `depth`, each line after `sign` (`show | compare`) or
/// not.
fn write_statement(out: &mut String, head: &str, key: &str, node: &Node, depth: usize, sign: Option<&str>) {
    // Junos writes some statements on one line with the one statement below them (`then
    // accept;`, `community fabric members target:65000:1;`).
    let one_line = ONE_LINE_WORDS.contains(&key)
        && node.children.len() == 1
        && matches!(node.children[0].1.shape, Shape::Flag | Shape::LeafList(_));
    if (node.flat || one_line)
        && node.is_block()
        && !node.children.is_empty()
        && node.identifier.is_none()
        && !node.inactive
        && node.comment.is_none()
    {
        // Written on one line with what is below: `family inet {`, `then accept;`.
        for (child_head, child_key, child) in statements(node) {
            write_statement(out, &format!("{head} {child_head}"), child_key, child, depth, sign);
        }
        return;
    }
    let pad = "    ".repeat(depth);
    let lead = match sign {
        Some(sign) => format!("{sign}{}", pad.get(1..).unwrap_or("")),
        None => pad.clone(),
    };
    if let Some(comment) = &node.comment {
        let _ = writeln!(out, "{lead}/* {comment} */");
    }
    let inactive = if node.inactive { "inactive: " } else { "" };
    match &node.shape {
        Shape::Flag => {
            let _ = writeln!(out, "{lead}{inactive}{head};");
        }
        Shape::Leaf(words) => {
            let secret = if SECRET_WORDS.contains(&key) { " ## SECRET-DATA" } else { "" };
            let value = if words.is_empty() { String::new() } else { format!(" {}", leaf_words(key, words)) };
            let _ = writeln!(out, "{lead}{inactive}{head}{value};{secret}");
        }
        Shape::LeafList(values) => {
            let value = match values.as_slice() {
                [] => String::new(),
                [one] => format!(" {}", quote(one)),
                many => format!(" [ {} ]", many.iter().map(|v| quote(v)).collect::<Vec<_>>().join(" ")),
            };
            let _ = writeln!(out, "{lead}{inactive}{head}{value};");
        }
        _ if node.children.is_empty() && node.identifier.is_none() => {
            let _ = writeln!(out, "{lead}{inactive}{head};");
        }
        _ if node.children.is_empty() => {
            let identifier = node.identifier.as_deref().map(quote).unwrap_or_default();
            let _ = writeln!(out, "{lead}{inactive}{head} {identifier};");
        }
        _ => {
            let _ = writeln!(out, "{lead}{inactive}{head} {{");
            if let Some(identifier) = &node.identifier {
                let inner = match sign {
                    Some(sign) => format!("{sign}{pad}   "),
                    None => format!("{pad}    "),
                };
                let _ = writeln!(out, "{inner}{};", quote(identifier));
            }
            for (child_head, child_key, child) in statements(node) {
                write_statement(out, &child_head, child_key, child, depth + 1, sign);
            }
            let _ = writeln!(out, "{lead}}}");
        }
    }
}

pub(super) fn text(root: &Node) -> String {
    let mut out = String::new();
    for (head, key, node) in statements(root) {
        write_statement(&mut out, &head, key, node, 0, None);
    }
    out
}

/// Whether `key` can be an XML element's name as it is.
fn xml_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The element a statement the schema does not know is written as when its key cannot be an
/// element's name (`10.0.0.0/8;` in a prefix list): `<statement><name>KEY</name>...`. Read
/// back, it is the same statement.
pub(super) const STATEMENT_ELEMENT: &str = "statement";

fn attributes(node: &Node) -> &'static str {
    if node.inactive { " inactive=\"inactive\"" } else { "" }
}

fn xml_comment(node: &Node, out: &mut String) {
    if let Some(comment) = &node.comment {
        let _ = write!(out, "<junos:comment>/* {} */</junos:comment>", xml::escape(comment));
    }
}

pub(super) fn xml(node: &Node, out: &mut String) {
    for (key, child) in &node.children {
        if !matches!(child.shape, Shape::List | Shape::Macro) {
            xml_comment(child, out);
        }
        let inactive = attributes(child);
        let (open, close) = if xml_name(key) {
            (format!("<{key}{inactive}>"), format!("</{key}>"))
        } else {
            (
                format!("<{STATEMENT_ELEMENT}{inactive}><name>{}</name>", xml::escape(key)),
                format!("</{STATEMENT_ELEMENT}>"),
            )
        };
        match &child.shape {
            Shape::Flag => {
                if xml_name(key) {
                    let _ = write!(out, "<{key}{inactive}/>");
                } else {
                    let _ = write!(out, "{open}{close}");
                }
            }
            Shape::Leaf(words) => {
                let value = xml::escape(&words.join(" "));
                match child.xml {
                    Some((element, inner)) => {
                        let _ = write!(out, "<{element}{inactive}><{inner}>{value}</{inner}></{element}>");
                    }
                    None if xml_name(key) => {
                        let _ = write!(out, "<{key}{inactive}>{value}</{key}>");
                    }
                    None => {
                        let _ = write!(out, "{open}<value>{value}</value>{close}");
                    }
                }
            }
            Shape::LeafList(values) => {
                for value in values {
                    if xml_name(key) {
                        let _ = write!(out, "<{key}{inactive}>{}</{key}>", xml::escape(value));
                    } else {
                        let _ = write!(out, "{open}<value>{}</value>{close}", xml::escape(value));
                    }
                }
            }
            Shape::Container => {
                out.push_str(&open);
                if let Some(identifier) = &child.identifier {
                    let _ = write!(out, "<identifier>{}</identifier>", xml::escape(identifier));
                }
                xml(child, out);
                out.push_str(&close);
            }
            Shape::List => {
                for (name, entry) in &child.children {
                    xml_comment(entry, out);
                    let (open, close) = if xml_name(key) {
                        (format!("<{key}{}>", attributes(entry)), format!("</{key}>"))
                    } else {
                        (format!("<{STATEMENT_ELEMENT}{}>", attributes(entry)), format!("</{STATEMENT_ELEMENT}>"))
                    };
                    let _ = write!(out, "{open}<name>{}</name>", xml::escape(name));
                    xml(entry, out);
                    out.push_str(&close);
                }
            }
            Shape::Entries(element) if element.is_empty() => {
                for (name, entry) in &child.children {
                    xml_comment(entry, out);
                    let _ = write!(out, "<{key}{}><name>{}</name>", attributes(entry), xml::escape(name));
                    xml(entry, out);
                    let _ = write!(out, "</{key}>");
                }
            }
            Shape::Entries(element) => {
                out.push_str(&open);
                for (name, entry) in &child.children {
                    if let Shape::LeafList(values) = &entry.shape {
                        // `apply-groups` among the entries.
                        for value in values {
                            let _ = write!(out, "<{name}>{}</{name}>", xml::escape(value));
                        }
                        continue;
                    }
                    xml_comment(entry, out);
                    let _ = write!(out, "<{element}{}><name>{}</name>", attributes(entry), xml::escape(name));
                    xml(entry, out);
                    let _ = write!(out, "</{element}>");
                }
                out.push_str(&close);
            }
            Shape::Macro => {
                for (name, entry) in &child.children {
                    let _ = write!(out, "<apply-macro{}><name>{}</name>", attributes(entry), xml::escape(name));
                    for (data, datum) in &entry.children {
                        let _ = write!(out, "<data><name>{}</name>", xml::escape(data));
                        if let Shape::Leaf(words) = &datum.shape {
                            let _ = write!(out, "<value>{}</value>", xml::escape(&words.join(" ")));
                        }
                        out.push_str("</data>");
                    }
                    out.push_str("</apply-macro>");
                }
            }
        }
    }
}

fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The `@` attributes of a statement (inactive, annotation), or None.
fn json_attributes(node: &Node) -> Option<String> {
    let mut parts = Vec::new();
    if node.inactive {
        parts.push("\"inactive\":true".to_string());
    }
    if let Some(comment) = &node.comment {
        parts.push(format!("\"comment\":{}", js(&format!("/* {comment} */"))));
    }
    (!parts.is_empty()).then(|| format!("{{{}}}", parts.join(",")))
}

/// A node's statements as a JSON object, in Junos's JSON shapes: a flag `[null]`, a leaf a
/// string, a leaf-list an array of strings, a list an array of objects with `name`; attributes
/// in `@` (a block's own) or `@KEY` (a leaf's).
pub(super) fn json(node: &Node) -> String {
    let mut fields = Vec::new();
    if let Some(attributes) = json_attributes(node) {
        fields.push(format!("\"@\":{attributes}"));
    }
    if let Some(identifier) = &node.identifier {
        fields.push(format!("\"identifier\":{}", js(identifier)));
    }
    for (key, child) in &node.children {
        let entries = |child: &Node| -> String {
            let items: Vec<String> = child
                .children
                .iter()
                .filter(|(_, entry)| entry.is_block())
                .map(|(name, entry)| {
                    let body = json(entry);
                    let rest = body.strip_prefix('{').unwrap_or(&body);
                    let sep = if rest == "}" { "" } else { "," };
                    format!("{{\"name\":{}{sep}{rest}", js(name))
                })
                .collect();
            format!("[{}]", items.join(","))
        };
        let value = match &child.shape {
            Shape::Flag => "[null]".to_string(),
            Shape::Leaf(words) => match child.xml {
                Some((element, inner)) => {
                    fields.push(format!("{}:{{{}:{}}}", js(element), js(inner), js(&words.join(" "))));
                    continue;
                }
                None => js(&words.join(" ")),
            },
            Shape::LeafList(values) => format!("[{}]", values.iter().map(|v| js(v)).collect::<Vec<_>>().join(",")),
            Shape::Container => json(child),
            Shape::List => entries(child),
            Shape::Entries(element) if element.is_empty() => entries(child),
            Shape::Entries(element) => {
                let mut inner = Vec::new();
                for (name, entry) in &child.children {
                    if let Shape::LeafList(values) = &entry.shape {
                        inner.push(format!(
                            "{}:[{}]",
                            js(name),
                            values.iter().map(|v| js(v)).collect::<Vec<_>>().join(",")
                        ));
                    }
                }
                inner.push(format!("{}:{}", js(element), entries(child)));
                format!("{{{}}}", inner.join(","))
            }
            Shape::Macro => {
                let items: Vec<String> = child
                    .children
                    .iter()
                    .map(|(name, entry)| {
                        let data: Vec<String> = entry
                            .children
                            .iter()
                            .map(|(k, d)| match &d.shape {
                                Shape::Leaf(words) => {
                                    format!("{{\"name\":{},\"value\":{}}}", js(k), js(&words.join(" ")))
                                }
                                _ => format!("{{\"name\":{}}}", js(k)),
                            })
                            .collect();
                        format!("{{\"name\":{},\"data\":[{}]}}", js(name), data.join(","))
                    })
                    .collect();
                format!("[{}]", items.join(","))
            }
        };
        fields.push(format!("{}:{value}", js(key)));
        if !child.is_block()
            && let Some(attributes) = json_attributes(child)
        {
            fields.push(format!("{}:{attributes}", js(&format!("@{key}"))));
        }
    }
    format!("{{{}}}", fields.join(","))
}

pub(super) fn compare_nodes(old: &Node, new: &Node, path: &mut Vec<String>, out: &mut String) {
    let mut header_written = false;
    let mut header = |out: &mut String, path: &[String]| {
        if !header_written {
            let _ = writeln!(out, "[edit{}{}]", if path.is_empty() { "" } else { " " }, path.join(" "));
            header_written = true;
        }
    };
    let old_statements = statements(old);
    let new_statements = statements(new);
    fn find<'n>(list: &[(String, &str, &'n Node)], head: &str) -> Option<&'n Node> {
        list.iter().find(|(h, _, _)| h == head).map(|s| s.2)
    }
    let same_block = |a: &Node, b: &Node| a.is_block() && b.is_block() && a.identifier == b.identifier;
    for (head, key, old_child) in &old_statements {
        match find(&new_statements, head) {
            None => {
                header(out, path);
                write_statement(out, head, key, old_child, 1, Some("-"));
            }
            Some(new_child) if !same_block(old_child, new_child) && *old_child != new_child => {
                header(out, path);
                write_statement(out, head, key, old_child, 1, Some("-"));
                write_statement(out, head, key, new_child, 1, Some("+"));
            }
            Some(_) => {}
        }
    }
    for (head, key, new_child) in &new_statements {
        if find(&old_statements, head).is_none() {
            header(out, path);
            write_statement(out, head, key, new_child, 1, Some("+"));
        }
    }
    for (head, _, new_child) in &new_statements {
        if let Some(old_child) = find(&old_statements, head)
            && same_block(old_child, new_child)
            && old_child != *new_child
        {
            if old_child.inactive != new_child.inactive {
                header(out, path);
                let verb = if new_child.inactive { "!    inactive:" } else { "!    active:" };
                let _ = writeln!(out, "{verb} {head} {{ ... }}");
            }
            path.push(head.clone());
            compare_nodes(old_child, new_child, path, out);
            path.pop();
        }
    }
}

/// Copies into `out` the statements of `node` that `filter`'s children ask for.
pub(super) fn keep(node: &Node, filter: &Element, out: &mut Node) {
    fn take(key: &str, child: &Node, wanted: &Element, out: &mut Node) {
        let has_more = wanted.children.iter().any(|c| c.name != "name");
        if has_more && child.is_block() {
            let target = out.child_or_insert(key, child.order, child.shape.clone());
            target.identifier = child.identifier.clone();
            target.inactive = child.inactive;
            target.comment = child.comment.clone();
            keep(child, wanted, target);
        } else {
            let at = out.child_or_insert(key, child.order, child.shape.clone());
            *at = child.clone();
        }
    }
    for wanted in &filter.children {
        if let Shape::Entries(element) = &node.shape
            && wanted.name == *element
        {
            match wanted.text_of("name") {
                Some(name) => {
                    if let Some(entry) = node.child(name) {
                        take(name, entry, wanted, out);
                    }
                }
                None => {
                    for (name, entry) in &node.children {
                        take(name, entry, wanted, out);
                    }
                }
            }
            continue;
        }
        // `show configuration interfaces ae0`: an entry named as a keyword.
        if matches!(node.shape, Shape::Entries(_))
            && let Some(entry) = node.child(&wanted.name)
        {
            take(&wanted.name, entry, wanted, out);
            continue;
        }
        let name = wanted.text_of("name");
        let found = node.children.iter().find(|(key, child)| {
            *key == wanted.name
                || child.xml.is_some_and(|x| x.0 == wanted.name)
                || (wanted.name == STATEMENT_ELEMENT && name == Some(key.as_str()))
        });
        let Some((key, child)) = found else { continue };
        // An entry by its `<name>`, or (`show configuration protocols bgp group overlay`) by an
        // element of its name.
        let listed = matches!(child.shape, Shape::List | Shape::Macro);
        let by_element = wanted.children.iter().find(|c| listed && c.name != "name" && child.child(&c.name).is_some());
        let name = wanted.text_of("name").or(by_element.map(|c| c.name.as_str()));
        let wanted = match by_element {
            Some(inner) if wanted.text_of("name").is_none() => inner,
            _ => wanted,
        };
        if matches!(child.shape, Shape::List | Shape::Macro) && wanted.name != STATEMENT_ELEMENT {
            let list = out.child_or_insert(key, child.order, child.shape.clone());
            match name {
                Some(name) => {
                    if let Some(entry) = child.child(name) {
                        take(name, entry, wanted, list);
                    }
                }
                None => *list = child.clone(),
            }
        } else {
            take(key, child, wanted, out);
        }
    }
}
