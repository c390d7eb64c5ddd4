//! The configuration as it takes effect: `apply-groups` inherited from `groups` (wildcard
//! entries such as `<et-*>` included), and deactivated statements left out.
//!
//! Junos's rules, as documented for configuration groups: a group's statements mirror the
//! hierarchy they apply to; `apply-groups` at a level applies the named groups to that level and
//! everything below it (`apply-groups-except` stops named ones below); a statement configured
//! directly wins over an inherited one, and of two groups the one named first wins; a wildcard
//! entry (`<*>`, `<et-*>`, `<ae?>`) applies to every existing entry its pattern matches, after
//! an entry named exactly.

use super::*;

/// Whether `name` matches a Junos wildcard `pattern` (`*` any run, `?` any one character).
fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|skip| go(rest, &n[skip..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// The wildcard inside `<...>`, or None for an ordinary key.
fn wildcard(key: &str) -> Option<&str> {
    key.strip_prefix('<').and_then(|k| k.strip_suffix('>'))
}

/// The nodes of `group` at `path`: each key followed exactly, then through wildcard entries.
fn at_path<'a>(group: &'a Node, path: &[String]) -> Vec<&'a Node> {
    let Some((key, rest)) = path.split_first() else { return vec![group] };
    let mut out = Vec::new();
    if let Some(exact) = group.child(key) {
        out.extend(at_path(exact, rest));
    }
    for (pattern, child) in &group.children {
        if let Some(pattern) = wildcard(pattern)
            && matches(pattern, key)
        {
            out.extend(at_path(child, rest));
        }
    }
    out
}

/// The values of a leaf-list child `key` of `node` that are active.
fn names(node: &Node, key: &str) -> Vec<String> {
    match node.child(key) {
        Some(Node { shape: Shape::LeafList(values), inactive: false, .. }) => values.clone(),
        Some(Node { shape: Shape::Leaf(words), inactive: false, .. }) => words.clone(),
        _ => Vec::new(),
    }
}

/// Adds to `node` what the `sources` (group statements at the same place, first wins) have and
/// it does not, then does the same below, with the groups applied there.
fn inherit(node: &mut Node, path: &mut Vec<String>, applied: &[String], groups: &Node) {
    let mut applied: Vec<String> = applied.to_vec();
    for name in names(node, "apply-groups") {
        if !applied.contains(&name) {
            applied.push(name);
        }
    }
    let except = names(node, "apply-groups-except");
    applied.retain(|g| !except.contains(g));
    node.children.retain(|(k, _)| k != "apply-groups" && k != "apply-groups-except");
    let sources: Vec<&Node> = applied
        .iter()
        .filter_map(|g| groups.child(g).filter(|group| !group.inactive))
        .flat_map(|group| at_path(group, path))
        .collect();
    for source in &sources {
        for (key, child) in &source.children {
            if wildcard(key).is_some() || key == "apply-groups" || key == "apply-groups-except" {
                continue;
            }
            match node.child_mut(key) {
                None => *node.child_or_insert(key, child.order, child.shape.clone()) = child.clone(),
                Some(mine) => {
                    if let (Shape::LeafList(values), Shape::LeafList(more)) = (&mut mine.shape, &child.shape) {
                        for v in more {
                            if !values.contains(v) {
                                values.push(v.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    for (key, child) in &mut node.children {
        if child.is_block() {
            path.push(key.clone());
            inherit(child, path, &applied, groups);
            path.pop();
        }
    }
}

/// Removes deactivated statements, and wildcard entries (they are patterns, not objects).
fn active(node: &mut Node) {
    node.children.retain(|(k, n)| !n.inactive && wildcard(k).is_none());
    for (_, child) in &mut node.children {
        active(child);
    }
}

impl Config {
    /// The configuration with its groups applied (`| display inheritance`): `groups`,
    /// `apply-groups` and `apply-groups-except` gone, what they brought in place.
    pub fn inherited(&self) -> Config {
        let mut root = self.root.clone();
        let groups = root
            .children
            .iter()
            .position(|(k, _)| k == "groups")
            .map(|at| root.children.remove(at).1)
            .unwrap_or_default();
        inherit(&mut root, &mut Vec::new(), &[], &groups);
        Config { root }
    }

    /// The configuration as it takes effect: groups applied, deactivated statements left out.
    pub fn effective(&self) -> Config {
        let mut config = self.inherited();
        active(&mut config.root);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_junos_documents_them() {
        assert!(matches("et-*", "et-0/0/48"));
        assert!(!matches("et-*", "xe-0/0/1"));
        assert!(matches("ae?", "ae1") && !matches("ae?", "ae10"));
        assert!(matches("*", "anything"));
    }

    #[test]
    fn a_group_is_inherited_where_applied_and_loses_to_what_is_configured() {
        let mut c = Config::default();
        c.load_text(
            "groups {
                 jumbo { interfaces { <et-*> { mtu 9216; description uplink; } } }
                 quiet { protocols { lldp { disable; } } }
                 off { interfaces { <*> { disable; } } }
             }
             apply-groups jumbo;
             interfaces {
                 et-0/0/48 { description \"to spine1\"; }
                 et-0/0/49;
                 xe-0/0/1 { mtu 1500; }
                 inactive: et-0/0/50 { mtu 1500; }
             }
             protocols { lldp { interface all; } }",
            "merge",
        )
        .unwrap();
        let lines = c.effective().set_lines();
        assert_eq!(
            lines,
            [
                "interfaces et-0/0/48 description \"to spine1\"",
                "interfaces et-0/0/48 mtu 9216",
                "interfaces et-0/0/49 description uplink",
                "interfaces et-0/0/49 mtu 9216",
                "interfaces xe-0/0/1 mtu 1500",
                "protocols lldp interface all",
            ],
            "configured values win; the wildcard reaches only et- entries; a group not applied and a \
             deactivated entry have no effect"
        );
        // A group applied at one level only, and one excepted below.
        c.load_set("set protocols apply-groups quiet\nset interfaces apply-groups off\nset interfaces xe-0/0/1 apply-groups-except off")
            .unwrap();
        let lines = c.effective().set_lines();
        assert!(lines.contains(&"protocols lldp disable".to_string()), "{lines:?}");
        assert!(lines.contains(&"interfaces et-0/0/49 disable".to_string()), "{lines:?}");
        assert!(!lines.contains(&"interfaces xe-0/0/1 disable".to_string()), "{lines:?}");
    }
}
