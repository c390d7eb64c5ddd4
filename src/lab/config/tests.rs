use super::*;

fn config(lines: &[&str]) -> Config {
    let mut c = Config::default();
    for line in lines {
        c.apply(line).unwrap();
    }
    c
}

#[test]
fn a_leaf_set_twice_keeps_the_last_value_and_a_wrong_value_is_refused() {
    let mut c = config(&["set system host-name a", "set system host-name b"]);
    assert_eq!(c.set_lines(), ["system host-name b"]);
    assert_eq!(c.apply("frobnicate system").unwrap_err(), ConfigError::syntax("frobnicate"));
    assert_eq!(c.apply("set system \"unterminated").unwrap_err().message, "syntax error, unterminated string");
    let range = c.apply("set interfaces ae0 mtu 9999999").unwrap_err();
    assert_eq!((range.element.as_str(), range.edit_path().as_str()), ("9999999", "[edit interfaces ae0]"));
    assert_eq!(range.message, "Value 9999999 is not within range (256..16000)");
    let missing = c.apply("set protocols bgp group").unwrap_err();
    assert_eq!((missing.message.as_str(), missing.edit_path().as_str()), ("missing argument", "[edit protocols bgp]"));
    let text =
        Config::default().load_text("interfaces {\n    xe-0/0/1 {\n        mtu 1;\n    }\n}\n", "merge").unwrap_err();
    assert_eq!(text.edit_path(), "[edit interfaces xe-0/0/1]", "{text:?}");
    assert_eq!(c.apply("set system host-name").unwrap_err().message, "missing argument");
    let extra = c.apply("set interfaces ae0 disable now").unwrap_err();
    assert_eq!((extra.message.as_str(), extra.element.as_str()), ("syntax error", "now"));
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
    assert!(over.load_text("system { host-name x; ", "merge").is_err(), "an unbalanced brace");
    assert!(over.load_text("system { host-name x; } }", "merge").is_err(), "an unbalanced brace");
    assert!(over.load_text("interfaces { ae0 { mtu 99999999; } }", "merge").is_err(), "a wrong value");
    assert_eq!(over.set_lines(), ["system host-name only"], "a refused load changes nothing");
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

/// Reads a file written in Junos's curly-brace text and checks it reads back unchanged in every
/// form: text to text, set lines to set lines, XML to XML and JSON to JSON, and XML and JSON
/// to the same statements as the text. (XML and JSON carry no layout: a statement the schema
/// does not know that the text wrote on one line, `route 0.0.0.0/0 next-hop 192.168.100.1;`,
/// is shown as a block once read from them.)
fn round_trip(file: &str) {
    let text = std::fs::read_to_string(format!("{}/tests/fixtures/junos/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut c = Config::default();
    c.load_text(&text, "merge").unwrap_or_else(|e| panic!("{file}: {e}"));
    let shown = c.text();
    if shown != text {
        for (n, (a, b)) in text.lines().zip(shown.lines()).enumerate() {
            assert_eq!(a, b, "{file} line {}: written back differently", n + 1);
        }
        assert_eq!(text.lines().count(), shown.lines().count(), "{file}: line count");
    }
    let lines = c.set_lines();
    // set lines -> tree -> set lines (`deactivate` lines come out as statements of their own).
    let mut with_verbs = Config::default();
    let verbs: Vec<String> =
        lines.iter().map(|l| if l.starts_with("deactivate ") { l.clone() } else { format!("set {l}") }).collect();
    with_verbs.load_set(&verbs.join("\n")).unwrap();
    assert_eq!(with_verbs.set_lines(), lines, "{file}: set lines read back");
    // (The set form carries no annotations and no layout: `clients { 10.255.0.0/24; }` and
    // `clients 10.255.0.0/24;` are one set line. So set lines are compared as set lines.)
    // XML -> tree -> XML.
    let xml = c.xml();
    let parsed = crate::netconf::xml::parse(&xml).unwrap_or_else(|e| panic!("{file}: the XML does not parse: {e:?}"));
    let mut from_xml = Config::default();
    from_xml.load_xml(&parsed, "merge").unwrap();
    assert_eq!(from_xml.xml(), xml, "{file}: XML read back");
    assert_eq!(from_xml, c, "{file}: the XML says the same statements");
    // JSON -> tree -> JSON.
    let json = c.json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(value["configuration"].is_object());
    let mut from_json = Config::default();
    from_json.load_json(&json, "merge").unwrap();
    assert_eq!(from_json.json(), json, "{file}: JSON read back");
    assert_eq!(from_json, c, "{file}: the JSON says the same statements");
}

#[test]
fn a_qfx_leaf_configuration_reads_back_unchanged_in_every_form() {
    round_trip("qfx5120-leaf.conf");
}

#[test]
fn a_qfx_spine_configuration_reads_back_unchanged_in_every_form() {
    round_trip("qfx5220-spine.conf");
}

#[test]
fn a_statement_the_lab_does_not_model_is_kept_and_shown_in_every_form() {
    let mut c = config(&["set system host-name leaf1", "set system location building probe"]);
    assert_eq!(c.set_lines(), ["system host-name leaf1", "system location building probe"]);
    assert_eq!(c.text(), "system {\n    host-name leaf1;\n    location {\n        building probe;\n    }\n}\n");
    assert_eq!(
        c.xml(),
        "<configuration><system><host-name>leaf1</host-name><location><building>probe</building></location></system></configuration>"
    );
    let json: serde_json::Value = serde_json::from_str(&c.json()).unwrap();
    assert_eq!(json["configuration"]["system"]["location"]["building"], "probe");
    // A second set replaces a leaf; a delete names it with or without its value.
    c.apply("set system location building hall-2").unwrap();
    assert_eq!(c.set_lines()[1], "system location building hall-2");
    assert_eq!(c.apply("delete system location building hall-2").unwrap(), None);
    assert_eq!(c.set_lines(), ["system host-name leaf1"], "the emptied container goes too");
    assert!(c.apply("delete system location").unwrap().is_some(), "Junos warns: statement not found");
    // Lists and leaf-lists past the schema.
    c.apply("set system syslog file messages any notice").unwrap();
    c.apply("set system syslog file messages authorization info").unwrap();
    c.apply("set system login class noc permissions [ view view-configuration ]").unwrap();
    assert!(
        c.text()
            .contains("        file messages {\n            any notice;\n            authorization info;\n        }\n"),
        "{}",
        c.text()
    );
    assert!(c.text().contains("permissions [ view view-configuration ];"), "{}", c.text());
    assert!(
        c.xml().contains("<file><name>messages</name><any>notice</any><authorization>info</authorization></file>"),
        "{}",
        c.xml()
    );
    c.apply("delete system login class noc permissions view").unwrap();
    assert!(c.text().contains("permissions view-configuration;"), "{}", c.text());
    // Deactivated and annotated like any statement.
    c.apply("deactivate system syslog file messages").unwrap();
    c.apply("annotate system syslog \"kept for the auditors\"").unwrap();
    assert!(
        c.text().contains("    /* kept for the auditors */\n    syslog {\n        inactive: file messages {"),
        "{}",
        c.text()
    );
    assert!(c.xml().contains("<junos:comment>/* kept for the auditors */</junos:comment><syslog><file inactive=\"inactive\"><name>messages</name>"), "{}", c.xml());
    assert!(c.set_lines().contains(&"deactivate system syslog file messages".to_string()));
}

#[test]
fn what_no_junos_takes_is_refused_and_changes_nothing() {
    let mut c = config(&["set system host-name leaf1"]);
    let before = c.clone();
    for (load, why) in [
        ("system { host-name leaf2; ", "an unclosed brace"),
        ("system { host-name leaf2; } }", "a brace too many"),
        ("system { host-name \"leaf2; }", "an unterminated string"),
        ("system { host-name; }", "a leaf the lab models without its value"),
        ("interfaces { ae0 { mtu 99999999; } }", "a value out of range"),
        ("interfaces { ae0 { disable now; } }", "a word after a flag"),
        ("system { /* never closed }", "an unterminated annotation"),
        ("; system;", "a statement of no words"),
    ] {
        assert!(c.load_text(load, "merge").is_err(), "{why} was taken: {load}");
        assert_eq!(c, before, "{why}: a refused load changes nothing");
    }
    assert!(c.load_set("set system location building probe\nfrobnicate system").is_err());
    assert!(c.load_set("set system location building probe\nset interfaces ae0 mtu 1").is_err());
    assert_eq!(c, before, "a refused set load changes nothing, not even its first good line");
    assert!(c.load_json("{\"configuration\": {\"system\": ", "merge").is_err());
    assert!(
        c.load_json(
            "{\"configuration\": {\"interfaces\": {\"interface\": [{\"name\": \"ae0\", \"mtu\": \"1\"}]}}}",
            "merge"
        )
        .is_err()
    );
    assert_eq!(c, before);
}

#[test]
fn a_secret_is_concealed_as_it_enters_and_never_shown_in_clear() {
    let mut c = config(&["set protocols bgp group underlay authentication-key Sup3r-s3cret"]);
    c.load_text("snmp { v3 { usm { local-engine { user nms { authentication-sha { authentication-key \"an0ther secret\"; } } } } } }", "merge").unwrap();
    let xml = crate::netconf::xml::parse(
        "<configuration><system><tacplus-server><name>10.0.0.49</name><secret>third-s3cret</secret></tacplus-server></system></configuration>",
    )
    .unwrap();
    c.load_xml(&xml, "merge").unwrap();
    c.load_json(
        "{\"configuration\":{\"system\":{\"radius-server\":[{\"name\":\"10.0.0.50\",\"secret\":\"fourth-s3cret\"}]}}}",
        "merge",
    )
    .unwrap();
    let forms = [c.text(), c.set_lines().join("\n"), c.xml(), c.json(), c.compare(&Config::default())];
    for clear in ["Sup3r-s3cret", "an0ther secret", "third-s3cret", "fourth-s3cret"] {
        for form in &forms {
            assert!(!form.contains(clear), "{clear} shown in clear:\n{form}");
        }
    }
    let text = c.text();
    assert_eq!(text.matches("authentication-key \"$9$").count(), 2, "{text}");
    assert!(text.contains("; ## SECRET-DATA"), "{text}");
    // The concealed form is Junos's reversible one: it reads back to the secret, and the same
    // secret is concealed the same way each time; one already concealed is kept as it came.
    let concealed: Vec<&str> =
        text.lines().filter_map(|l| l.split('"').nth(1)).filter(|v| v.starts_with("$9$")).collect();
    let mut revealed: Vec<String> = concealed.iter().map(|v| secret::reveal(v).unwrap()).collect();
    revealed.sort();
    assert_eq!(revealed, ["Sup3r-s3cret", "an0ther secret", "fourth-s3cret", "third-s3cret"]);
    assert_eq!(secret::conceal("Sup3r-s3cret"), secret::conceal("Sup3r-s3cret"));
    assert_eq!(secret::conceal("$9$kept"), "$9$kept");
    let mut again = Config::default();
    again.load_text(&text, "merge").unwrap();
    assert_eq!(again, c, "a configuration with concealed secrets reads back the same");
}

#[test]
fn json_loads_merge_delete_and_keep_inactive_and_annotations() {
    let mut c =
        config(&["set system host-name leaf1", "set system ntp server 10.0.0.1", "set system ntp server 10.0.0.2"]);
    c.load_json(
        r#"{"configuration": {
            "system": {
                "@": {"comment": "/* managed by hitless */"},
                "domain-name": "dc1.example.net",
                "ntp": {"server": [{"name": "10.0.0.1", "@": {"operation": "delete"}}]},
                "location": {"building": "B2", "@building": {"inactive": true}}
            },
            "apply-groups": ["fabric"]
        }}"#,
        "merge",
    )
    .unwrap();
    let lines = c.set_lines();
    assert!(lines.contains(&"system domain-name dc1.example.net".to_string()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("10.0.0.1")), "deleted: {lines:?}");
    assert!(lines.contains(&"system ntp server 10.0.0.2".to_string()), "{lines:?}");
    assert!(lines.contains(&"deactivate system location building".to_string()), "{lines:?}");
    assert!(lines.contains(&"apply-groups fabric".to_string()), "{lines:?}");
    assert!(c.text().starts_with("apply-groups fabric;\n/* managed by hitless */\nsystem {"), "{}", c.text());
    let json: serde_json::Value = serde_json::from_str(&c.json()).unwrap();
    assert_eq!(json["configuration"]["system"]["@"]["comment"], "/* managed by hitless */");
    assert_eq!(json["configuration"]["system"]["location"]["@building"]["inactive"], true);
    assert_eq!(json["configuration"]["apply-groups"], serde_json::json!(["fabric"]));
}

#[test]
fn show_configuration_narrows_to_an_entry_named_as_a_word() {
    let c = config(&[
        "set interfaces ae0 mtu 9216",
        "set interfaces ae1 mtu 1500",
        "set protocols bgp group overlay type internal",
        "set protocols bgp group underlay type external",
    ]);
    let filter = |xml: &str| c.filtered(Some(&crate::netconf::xml::parse(xml).unwrap())).set_lines();
    assert_eq!(filter("<configuration><interfaces><ae1/></interfaces></configuration>"), ["interfaces ae1 mtu 1500"]);
    assert_eq!(
        filter("<configuration><protocols><bgp><group><overlay/></group></bgp></protocols></configuration>"),
        ["protocols bgp group overlay type internal"]
    );
    assert_eq!(
        filter("<configuration><protocols><bgp><group><name>underlay</name></group></bgp></protocols></configuration>"),
        ["protocols bgp group underlay type external"]
    );
}

#[test]
fn apply_groups_among_entries_reads_back_in_every_form() {
    let c = config(&[
        "set groups off interfaces <*> disable",
        "set interfaces apply-groups off",
        "set interfaces xe-0/0/1 mtu 1500",
    ]);
    assert_eq!(
        c.text(),
        "groups {\n    off {\n        interfaces {\n            <*> {\n                disable;\n            }\n        }\n    }\n}\ninterfaces {\n    apply-groups off;\n    xe-0/0/1 {\n        mtu 1500;\n    }\n}\n"
    );
    let mut from_xml = Config::default();
    from_xml.load_xml(&crate::netconf::xml::parse(&c.xml()).unwrap(), "merge").unwrap();
    assert_eq!(from_xml, c, "{}", c.xml());
    let mut from_json = Config::default();
    from_json.load_json(&c.json(), "merge").unwrap();
    assert_eq!(from_json, c, "{}", c.json());
    assert_eq!(c.effective().set_lines(), ["interfaces xe-0/0/1 disable", "interfaces xe-0/0/1 mtu 1500"]);
}
