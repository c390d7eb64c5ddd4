//! The tree written out: `set` lines, curly-brace text, XML and JSON, and `show | compare`.

use super::*;

/// Quotes a word when Junos would.
pub(super) fn quote(word: &str) -> String {
    if word.is_empty() || word.chars().any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '"' | '#')) {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_string()
    }
}

pub(super) fn compare_nodes(old: &Node, new: &Node, path: &mut Vec<String>, out: &mut String) {
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

pub(super) fn render_statement(key: &str, node: &Node, depth: usize, sign: &str, out: &mut String) {
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
pub(super) fn xml_children(
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

pub(super) fn json_children(
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
