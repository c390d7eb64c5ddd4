//! Configuration read in: curly-brace text and XML into a tree, merged into the candidate
//! with Junos's `replace:`, `delete:` and `inactive:` marks.

use super::*;

/// A loaded tree, with the paths marked `replace:` (their subtree replaces the old one) and
/// `delete:` (removed).
pub(super) struct Loaded {
    pub(super) tree: Node,
    pub(super) replace: Vec<Vec<String>>,
    pub(super) delete: Vec<Vec<String>>,
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
pub(super) fn parse_text(text: &str) -> Result<Loaded, ConfigError> {
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
    pub(super) fn set_steps(&mut self, steps: &[Step], _words: &[String]) -> Result<(), ConfigError> {
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
pub(super) fn xml_key(element: &Element, specs: &'static [Spec]) -> Option<(String, &'static [Spec])> {
    let found = specs.iter().find(|s| s.name == element.name || s.xml.is_some_and(|x| x.0 == element.name))?;
    let below = match found.kind {
        Kind::Container(c) | Kind::Named(c) | Kind::Entries(_, c) | Kind::ValueContainer(_, c) => c,
        _ => &[],
    };
    Some((found.name.to_string(), below))
}

/// Parses Junos XML (`<configuration>`) into a tree, honouring `operation="delete"`,
/// `operation="replace"`, `replace="replace"`, `delete="delete"` and `inactive="inactive"`.
pub(super) fn parse_xml(configuration: &Element) -> Result<Loaded, ConfigError> {
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

pub(super) fn marks(element: &Element) -> (bool, bool, bool) {
    let attribute = |name: &str| element.attribute(name);
    let delete = attribute("operation") == Some("delete") || attribute("delete") == Some("delete");
    let replace = attribute("operation") == Some("replace") || attribute("replace") == Some("replace");
    let inactive = attribute("inactive") == Some("inactive");
    (delete, replace, inactive)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn parse_xml_children(
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

pub(super) fn mark(
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
