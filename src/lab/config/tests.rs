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
    let old =
        config(&["set system host-name leaf1", "set protocols lldp interface all", "set interfaces xe-0/0/1 disable"]);
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
