//! The Junos driver's reading of replies in the shapes real devices send
//! (`shared/reference/junos-netconf.md` §2 and §6), from fixtures in `tests/fixtures/junos`:
//! single and dual routing engines (the master listed second), a virtual chassis, a release
//! before 15.1, storage layouts, pending and finished installs, alarms, BGP, interfaces.

use hitless::driver::junos::health_report;
use hitless::driver::junos::parse::{self, InstallReply};
use hitless::exec::Chassis;
use hitless::health::HealthLimits;
use hitless::netconf::NetconfError;
use hitless::netconf::xml::{Element, parse as parse_xml};
use hitless::version::Version;

use crate::util::root;

fn fixture(name: &str) -> Element {
    let path = root().join("tests/fixtures/junos").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_xml(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

#[test]
fn a_single_engine_switch_reports_one_master_engine() {
    let software = parse::software(&fixture("show-version-single-qfx.xml"));
    let engines = parse::route_engines(&fixture("route-engine-single.xml"));
    let (chassis, engines) = parse::engines(&software, &engines).unwrap();
    assert_eq!(chassis, Chassis::Single);
    assert_eq!(engines.len(), 1);
    let engine = &engines[0];
    assert_eq!((engine.name.as_str(), engine.slot, engine.master), ("fpc0", 0, true));
    assert_eq!(engine.version, v("18.4R2-S3.4"));
    assert_eq!(engine.model, "qfx5120-48y-8c");
    assert_eq!(engine.boot, 1_480_612_496);
}

#[test]
fn the_master_is_chosen_by_mastership_state_never_by_order() {
    // re0 is listed first and is the backup; re1 is the master, and runs the other version.
    let software = parse::software(&fixture("show-version-dual-re.xml"));
    let engines = parse::route_engines(&fixture("route-engine-dual-master-second.xml"));
    let (chassis, engines) = parse::engines(&software, &engines).unwrap();
    assert_eq!(chassis, Chassis::DualEngine);
    let summary: Vec<(&str, String, bool, u64)> =
        engines.iter().map(|e| (e.name.as_str(), e.version.to_string(), e.master, e.boot)).collect();
    assert_eq!(
        summary,
        [
            ("re0", "21.4R3-S5.4".to_string(), false, 1_760_000_000),
            ("re1", "18.4R2-S3.4".to_string(), true, 1_760_000_100)
        ]
    );
    let facts = hitless::exec::Facts {
        hostname: "spine1".into(),
        chassis,
        engines,
        maintenance: false,
        maintenance_owner: None,
        pending_install: false,
    };
    assert_eq!(facts.version(), &v("18.4R2-S3.4"), "the device runs what its master runs");
    assert!(!facts.all_run(facts.version()));
    assert_eq!(facts.versions(), "re0 21.4R3-S5.4, re1 18.4R2-S3.4");
}

#[test]
fn a_virtual_chassis_reports_every_member() {
    let software = parse::software(&fixture("software-vc.xml"));
    let engines = parse::route_engines(&fixture("route-engine-vc.xml"));
    let (chassis, engines) = parse::engines(&software, &engines).unwrap();
    assert_eq!(chassis, Chassis::VirtualChassis);
    let names: Vec<(&str, bool)> = engines.iter().map(|e| (e.name.as_str(), e.master)).collect();
    assert_eq!(names, [("fpc0", true), ("fpc1", false)]);
    assert!(engines.iter().all(|e| e.version == v("15.1F5.15-C1.12")));
    assert_eq!(engines[1].boot, 1_700_000_300);
    let cpu = parse::cpu_idle(&parse::route_engines(&fixture("route-engine-vc.xml"))).unwrap();
    assert_eq!(cpu, [("fpc1".to_string(), 88), ("fpc0".to_string(), 81)]);
}

#[test]
fn before_15_1_the_version_comes_from_the_package_comment() {
    let software = parse::software(&fixture("software-pre-15.1.xml"));
    assert_eq!(software.len(), 1);
    assert_eq!(software[0].version, Ok(v("11.4R1.6")));
    // This old box names no mastership and gives its start time as text only.
    let engines = parse::route_engines(&fixture("route-engine-no-seconds.xml"));
    let (_, engines) = parse::engines(&software, &engines).unwrap();
    assert!(engines[0].master);
    // 2012-03-02 11:05:41, read on the device's own clock: what matters is that it changes.
    assert_eq!(engines[0].boot, 1_330_686_341);
}

#[test]
fn every_real_version_format_is_read_from_a_reply() {
    for text in [
        "18.4R2-S3.4",
        "15.1X53-D59.4",
        "15.1F5.15-C1.12",
        "15.1-20161209.0",
        "21.4R3-S5.4-EVO",
        "12.3B2.1",
        "15.1I20160102_1200_builder",
    ] {
        let reply = parse_xml(&format!(
            "<rpc-reply><software-information><host-name>x</host-name><junos-version>\n{text}\n</junos-version></software-information></rpc-reply>"
        ))
        .unwrap();
        let software = parse::software(&reply);
        assert_eq!(software[0].version.as_ref().map(ToString::to_string), Ok(text.to_string()), "{text}");
    }
    // A reply with neither junos-version nor a package comment says so; it does not guess.
    let reply =
        parse_xml("<rpc-reply><software-information><host-name>x</host-name></software-information></rpc-reply>")
            .unwrap();
    assert!(parse::software(&reply)[0].version.as_ref().unwrap_err().0.contains("no junos-version"));
}

#[test]
fn engines_without_a_version_or_a_master_are_errors_not_guesses() {
    let software = parse::software(&fixture("show-version-single-qfx.xml"));
    // Two routing engines but a version for one only.
    let error = parse::engines(&software, &parse::route_engines(&fixture("route-engine-dual-master-second.xml")));
    assert!(error.unwrap_err().0.contains("no version for re1"));
    let none = parse_xml(
        "<rpc-reply><route-engine-information><route-engine><slot>0</slot><mastership-state>backup</mastership-state><start-time junos:seconds=\"1\">x</start-time></route-engine><route-engine><slot>1</slot><mastership-state>backup</mastership-state></route-engine></route-engine-information></rpc-reply>",
    )
    .unwrap();
    let error = parse::engines(&software, &parse::route_engines(&none)).unwrap_err();
    assert!(error.0.contains("0 master routing engines"), "{error}");
    // A routing engine with a version but no entry in the route-engine reply cannot be proven
    // rebooted. (A virtual-chassis line card, `fpcN`, is another matter: it has no engine entry
    // on a real EX virtual chassis, and reboots with the chassis; see below.)
    let dual = parse::software(&fixture("show-version-dual-re.xml"));
    let error = parse::engines(&dual, &parse::route_engines(&fixture("route-engine-single.xml"))).unwrap_err();
    assert!(error.0.contains("re1 reports a version but get-route-engine-information does not list it"), "{error}");
}

#[test]
fn free_disk_is_read_in_512_byte_blocks_on_the_filesystem_holding_var_tmp() {
    let free = |name: &str| parse::free_disk(&fixture(name));
    // 14,483,456 blocks of 512 bytes on /var: 7.4 GB, not the 14.8 GB of 1 kB blocks.
    assert_eq!(free("storage-var.xml").unwrap(), [("re0".to_string(), 14_483_456 * 512)]);
    // /.mount/var is not a prefix of /var/tmp; the nullfs /var is, and is the longest.
    assert_eq!(free("storage-mount-var.xml").unwrap(), [("re0".to_string(), 14_483_456 * 512)]);
    // Only / holds /var/tmp here (/data/config does not).
    assert_eq!(free("storage-data-config.xml").unwrap(), [("re0".to_string(), 3_774_873 * 512)]);
    let error = free("storage-none.xml").unwrap_err();
    assert!(error.0.contains("no filesystem is mounted on a prefix of /var/tmp"), "{error}");
    // Each routing engine needs room for its copy.
    assert_eq!(
        free("storage-dual.xml").unwrap(),
        [("re0".to_string(), 14_483_456 * 512), ("re1".to_string(), 1_316_160 * 512)]
    );
    let limits = HealthLimits::default();
    let mut report = hitless::health::HealthReport::healthy(&[], 0);
    report.free_disk_bytes = Some(free("storage-dual.xml").unwrap());
    // 1,316,160 blocks x 512 = 673 MB < 1,100 MB for a 1 GB image.
    let failures: Vec<String> = limits.check(&report, None, 1_000_000_000).iter().map(ToString::to_string).collect();
    assert_eq!(failures, ["free disk for /var/tmp on re1 is 673 MB, below the 1100 MB the image needs"]);
}

#[test]
fn pending_installs_and_install_results_read_as_on_the_wire() {
    assert!(parse::pending(&fixture("pending-yes.xml")));
    assert!(!parse::pending(&fixture("pending-no.xml")));
    assert_eq!(parse::install(&fixture("install-ok.xml")), InstallReply::Installed);
    assert_eq!(parse::install(&fixture("install-several-outputs.xml")), InstallReply::Installed);
    assert_eq!(
        parse::install(&fixture("install-no-result.xml")),
        InstallReply::Installed,
        "no package-result, no ERROR:"
    );
    assert_eq!(parse::install(&fixture("install-pending.xml")), InstallReply::AlreadyPending);
    for name in ["install-error-no-result.xml", "install-failed.xml"] {
        let InstallReply::Failed(words) = parse::install(&fixture(name)) else { panic!("{name} is a failure") };
        assert!(words.contains("ERROR:"), "{name}: {words}");
    }
    // Several outputs are read together.
    assert!(parse::outputs(&fixture("install-several-outputs.xml")).contains("Saving the config files"));
}

#[test]
fn alarms_chassis_and_system_and_per_member() {
    let chassis = parse::alarms(&fixture("alarms-chassis.xml"), "chassis alarms").unwrap();
    let described: Vec<&str> = chassis.iter().map(|a| a.description.as_str()).collect();
    assert_eq!(described, ["FPC 0 PEM 1 Not Powered", "Fan Tray 2 Absent"]);
    assert!(parse::alarms(&fixture("alarms-none.xml"), "chassis alarms").unwrap().is_empty());
    let system = parse::alarms(&fixture("alarms-system-rescue.xml"), "system alarms").unwrap();
    assert_eq!(system[0].description, "Rescue configuration is not set");
    let members = parse::alarms(&fixture("alarms-vc.xml"), "chassis alarms").unwrap();
    assert_eq!(members.len(), 1);
    let error = parse::alarms(&fixture("alarms-broken.xml"), "chassis alarms").unwrap_err();
    assert!(error.0.contains("neither active-alarm-count nor no-active-alarms"), "{error}");
}

#[test]
fn bgp_peers_keep_their_lifetime_flap_counts() {
    let peers = parse::bgp_peers(&fixture("bgp-summary.xml")).unwrap();
    let read: Vec<(&str, bool, Option<u64>)> =
        peers.iter().map(|p| (p.address.as_str(), p.established, p.flaps)).collect();
    assert_eq!(read, [("10.0.0.1", true, Some(41)), ("10.0.0.3", true, Some(0)), ("10.0.0.236", false, Some(3))]);
}

#[test]
fn interface_errors_count_fabric_and_server_ports_only() {
    let errors = parse::interface_errors(&fixture("interfaces-extensive.xml")).unwrap();
    // et-0/0/48: 12 in + 3 out; xe-0/0/1: none. Not ae0 (its members count), not me0, em0, bme0
    // or irb.
    let read: Vec<(&str, u64)> = errors.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(read, [("et-0/0/48", 15), ("xe-0/0/1", 0)]);
    let error = parse::interface_errors(&fixture("interfaces-missing-counter.xml")).unwrap_err();
    assert!(error.0.contains("xe-0/0/2 reports no input-errors or output-errors"), "{error}");
}

#[test]
fn the_health_report_fails_closed_on_what_it_cannot_read() {
    let refused = |rpc: &str| -> Result<Element, NetconfError> {
        Err(NetconfError::Rpc {
            device: "leaf1".into(),
            rpc: rpc.into(),
            tag: "operation-failed".into(),
            message: "syntax error".into(),
        })
    };
    let replies = vec![
        Ok(fixture("bgp-summary.xml")),
        Ok(fixture("alarms-broken.xml")),
        refused("get-system-alarm-information"),
        Ok(fixture("route-engine-single.xml")),
        Ok(parse_xml("<rpc-reply><lacp-interface-information-list/></rpc-reply>").unwrap()),
        Ok(fixture("storage-var.xml")),
        Ok(fixture("interfaces-extensive.xml")),
    ];
    let report = health_report(&replies);
    assert_eq!(report.alarms, None, "one alarm source unreadable: alarms unknown, not zero");
    assert_eq!(report.missing.len(), 2, "{:?}", report.missing);
    assert!(report.missing[0].starts_with("system alarms"), "{:?}", report.missing);
    assert!(report.missing[1].contains("neither active-alarm-count nor no-active-alarms"), "{:?}", report.missing);
    let failures: Vec<String> =
        HealthLimits::default().check(&report, Some(&report), 0).iter().map(ToString::to_string).collect();
    // Missing alarms twice, and the one BGP peer that is down.
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(failures.iter().any(|f| f.starts_with("BGP peers down (10.0.0.236) is 1")), "{failures:?}");
    // 41 lifetime flaps on 10.0.0.1 judge nothing without a second reading.
    assert!(!failures.iter().any(|f| f.contains("flaps")), "{failures:?}");
}

/// The snapshot reads the summary's own `bgp-rib` (inet.0: 8 active), not the per-peer ones
/// (4), and every peer's state as written; padded names (real Junos pads with newlines) are
/// trimmed; only fabric and server ports count as interfaces.
#[test]
fn a_snapshot_reads_states_routes_and_interfaces_in_real_shapes() {
    let summary = fixture("bgp-summary.xml");
    let states = parse::bgp_states(&summary).unwrap();
    let expected: Vec<(&str, &str)> =
        vec![("10.0.0.1", "Established"), ("10.0.0.236", "Active"), ("10.0.0.3", "Established")];
    assert_eq!(states.iter().map(|(a, s)| (a.as_str(), s.as_str())).collect::<Vec<_>>(), expected);
    let routes = parse::bgp_routes(&summary).unwrap();
    assert_eq!(routes.into_iter().collect::<Vec<_>>(), vec![("inet.0".to_string(), 8)]);
    let up = parse::interfaces_up(&fixture("interfaces-terse.xml")).unwrap();
    assert_eq!(up.into_iter().collect::<Vec<_>>(), vec!["et-0/0/48".to_string()]);
    assert!(parse::bgp_states(&fixture("alarms-none.xml")).is_err(), "a reply without bgp-information");
}

/// The drain is proven from `traffic-statistics` of fabric and server ports only: et-0/0/48
/// (7 + 5 Mbit/s) and xe-0/0/1 (0.4 + 0.6) make 13 Mbit/s; ae0 (its members are counted) and
/// me0 (management) are not. A port without rates cannot prove a drain.
#[test]
fn the_drain_is_read_from_fabric_and_server_port_rates() {
    assert_eq!(parse::traffic_mbps(&fixture("interfaces-traffic.xml")), Ok(13));
    let error = parse::traffic_mbps(&fixture("interfaces-extensive.xml")).unwrap_err();
    assert!(error.0.contains("et-0/0/48 reports no input-bps or output-bps"), "{error}");
}

/// `request-package-rollback` as devices answer it (`shared/reference/junos-netconf.md` §6, and
/// PyEZ's `SW.rollback`, which fails on "Cannot rollback" and "rollback aborted"): per member in
/// `multi-routing-engine-item`s, one of which can fail while the others succeed; a single engine
/// that warns "Cannot rollback" without any `package-result`. Values are ours, shapes theirs.
#[test]
fn a_rollback_is_read_per_member_and_any_failed_member_or_warning_fails_it() {
    let multi = parse_xml(
        "<rpc-reply><multi-routing-engine-results>
           <multi-routing-engine-item><re-name>fpc0</re-name>
             <output>Rollback to /packages/sets/previous\nRebooting is required</output>
             <package-result>0</package-result></multi-routing-engine-item>
           <multi-routing-engine-item><re-name>fpc1</re-name>
             <output>ERROR: cannot locate /packages/sets/previous on member1: rollback aborted</output>
             <package-result>1</package-result></multi-routing-engine-item>
         </multi-routing-engine-results></rpc-reply>",
    )
    .unwrap();
    let error = parse::rollback(&multi).unwrap_err();
    assert!(error.0.starts_with("fpc1: ERROR: cannot locate"), "{error}");
    assert!(!error.0.contains("fpc0"), "the member that succeeded is not blamed: {error}");

    let warning =
        parse_xml("<rpc-reply><output>WARNING: Cannot rollback, /packages/junos.old is not valid</output></rpc-reply>")
            .unwrap();
    assert_eq!(parse::rollback(&warning).unwrap_err().0, "WARNING: Cannot rollback, /packages/junos.old is not valid");

    // A result other than 0 fails even when the words look harmless; no result and no output
    // proves nothing.
    let result_only =
        parse_xml("<rpc-reply><output>Rolling back</output><package-result>2</package-result></rpc-reply>").unwrap();
    assert_eq!(parse::rollback(&result_only).unwrap_err().0, "package-result 2: Rolling back");
    assert!(parse::rollback(&parse_xml("<rpc-reply/>").unwrap()).is_err());

    // Success: every member 0 and no failure words; and the one-engine shape without a result.
    let ok = parse_xml(
        "<rpc-reply><multi-routing-engine-results>
           <multi-routing-engine-item><re-name>re0</re-name><output>Rollback done</output><package-result>0</package-result></multi-routing-engine-item>
           <multi-routing-engine-item><re-name>re1</re-name><output>Rollback done</output><package-result>0</package-result></multi-routing-engine-item>
         </multi-routing-engine-results></rpc-reply>",
    )
    .unwrap();
    assert_eq!(parse::rollback(&ok), Ok(()));
    let single =
        parse_xml("<rpc-reply><output>Deleting bootstrap installer\nRebooting required</output></rpc-reply>").unwrap();
    assert_eq!(parse::rollback(&single), Ok(()));
}

/// The MAC summary in both real forms (values ours, shapes as the switches send them): the ELS
/// summary's total, the non-ELS table entry's total; a full table's per-VLAN `mac-count-global`
/// is no total (summing it counts some MACs many times), so a reply with only that is missing.
#[test]
fn mac_counts_are_read_from_the_totals_real_switches_send() {
    let els = parse_xml(
        "<rpc-reply><l2ng-l2ald-rtb-macdb><l2ng-l2ald-ethernet-switching-table-summary>
           <l2ng-l2-total-mac-count>137</l2ng-l2-total-mac-count>
           <l2ng-l2-total-smac-count>2</l2ng-l2-total-smac-count>
         </l2ng-l2ald-ethernet-switching-table-summary></l2ng-l2ald-rtb-macdb></rpc-reply>",
    )
    .unwrap();
    assert_eq!(parse::mac_count(&els), Ok(137));
    let non_els = parse_xml(
        "<rpc-reply><ethernet-switching-table-information><ethernet-switching-table junos:style=\"summary\">
           <mac-table-entry><mac-table-total-count>58</mac-table-total-count><mac-table-recieve-count>55</mac-table-recieve-count>
           <mac-table-dynamic-count>52</mac-table-dynamic-count><mac-table-flood-count>3</mac-table-flood-count></mac-table-entry>
         </ethernet-switching-table></ethernet-switching-table-information></rpc-reply>",
    )
    .unwrap();
    assert_eq!(parse::mac_count(&non_els), Ok(58));
    let full_table = parse_xml(
        "<rpc-reply><l2ng-l2ald-rtb-macdb>
           <l2ng-l2ald-mac-entry-vlan><mac-count-global>120</mac-count-global><l2ng-mac-entry><l2ng-l2-mac-address>00:00:5e:00:53:01</l2ng-l2-mac-address></l2ng-mac-entry></l2ng-l2ald-mac-entry-vlan>
           <l2ng-l2ald-mac-entry-vlan><mac-count-global>120</mac-count-global></l2ng-l2ald-mac-entry-vlan>
         </l2ng-l2ald-rtb-macdb></rpc-reply>",
    )
    .unwrap();
    assert!(parse::mac_count(&full_table).is_err(), "a per-VLAN count is not a total");
}

/// Ports without names (as a real EX4200 member lists some) and replies with no fabric or
/// server port fail every interface reading closed: never zero errors, never "no traffic"
/// (which would prove a drain that did not happen).
#[test]
fn ports_without_names_or_no_ports_fail_the_interface_readings_closed() {
    let nameless = parse_xml(
        "<rpc-reply><interface-information>
           <physical-interface><name>ge-0/0/0</name><oper-status>up</oper-status>
             <input-error-list><input-errors>0</input-errors></input-error-list>
             <output-error-list><output-errors>0</output-errors></output-error-list>
             <traffic-statistics><input-bps>0</input-bps><output-bps>0</output-bps></traffic-statistics></physical-interface>
           <physical-interface><oper-status>up</oper-status>
             <traffic-statistics><input-bps>9000000000</input-bps><output-bps>9000000000</output-bps></traffic-statistics></physical-interface>
         </interface-information></rpc-reply>",
    )
    .unwrap();
    assert!(parse::interface_errors(&nameless).unwrap_err().0.contains("without a name"));
    assert!(parse::traffic_mbps(&nameless).unwrap_err().0.contains("without a name"));
    assert!(parse::interfaces_up(&nameless).is_err());
    let management_only = parse_xml(
        "<rpc-reply><interface-information><physical-interface><name>me0</name><oper-status>up</oper-status>
           <traffic-statistics><input-bps>1000</input-bps><output-bps>1000</output-bps></traffic-statistics>
         </physical-interface></interface-information></rpc-reply>",
    )
    .unwrap();
    assert!(parse::traffic_mbps(&management_only).unwrap_err().0.contains("no fabric or server port"));
    assert!(parse::interface_errors(&management_only).is_err());
}

/// One routing engine: slot, mastership state, start time.
type EngineRow<'a> = (u32, &'a str, u64);

/// A route-engine reply per member item (shapes as devices send them, values ours).
fn route_engine_reply(items: &[(&str, &[EngineRow])]) -> Element {
    let mut xml = String::from("<rpc-reply><multi-routing-engine-results>");
    for (name, engines) in items {
        xml.push_str(&format!("<multi-routing-engine-item><re-name>{name}</re-name><route-engine-information>"));
        for (slot, state, start) in *engines {
            xml.push_str(&format!(
                "<route-engine><slot>{slot}</slot><mastership-state>{state}</mastership-state><model>RE-S-X6-64G</model><cpu-idle>9{slot}</cpu-idle><start-time junos:seconds=\"{start}\">2026-11-02 01:02:03 UTC</start-time></route-engine>"
            ));
        }
        xml.push_str("</route-engine-information></multi-routing-engine-item>");
    }
    xml.push_str("</multi-routing-engine-results></rpc-reply>");
    parse_xml(&xml).unwrap()
}

fn software_reply(members: &[(&str, &str)]) -> Element {
    let mut xml = String::from("<rpc-reply><multi-routing-engine-results>");
    for (name, version) in members {
        xml.push_str(&format!(
            "<multi-routing-engine-item><re-name>{name}</re-name><software-information><host-name>vc1</host-name><product-model>mx480</product-model><junos-version>{version}</junos-version></software-information></multi-routing-engine-item>"
        ));
    }
    xml.push_str("</multi-routing-engine-results></rpc-reply>");
    parse_xml(&xml).unwrap()
}

/// An MX virtual chassis (PyEZ's `re_info_mx_vc` shape): each member has its own master and
/// backup engine, so two `master` entries are normal; the software reply has one entry per
/// member. The engines are the members, each booted when its master engine did.
#[test]
fn an_mx_virtual_chassis_has_a_master_engine_per_member() {
    let route_engines = route_engine_reply(&[
        ("member0", &[(0, "backup", 1_700_000_300), (1, "master", 1_700_000_100)]),
        ("member1", &[(0, "master", 1_700_000_200), (1, "backup", 1_700_000_400)]),
    ]);
    let software = software_reply(&[("member0", "21.4R3-S5.4"), ("member1", "21.4R3-S5.4")]);
    let (chassis, engines) =
        parse::engines(&parse::software(&software), &parse::route_engines(&route_engines)).unwrap();
    assert_eq!(chassis, Chassis::VirtualChassis);
    let summary: Vec<(&str, u32, bool, u64)> =
        engines.iter().map(|e| (e.name.as_str(), e.slot, e.master, e.boot)).collect();
    assert_eq!(summary, [("member0", 0, true, 1_700_000_100), ("member1", 1, false, 1_700_000_200)]);
    // The health check reads every engine's CPU, each under its own name.
    let cpu = parse::cpu_idle(&parse::route_engines(&route_engines)).unwrap();
    let names: Vec<&str> = cpu.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["member0-re0", "member0-re1", "member1-re0", "member1-re1"]);
    // A member with two masters, or none, is not read as anything.
    let broken = route_engine_reply(&[("member0", &[(0, "master", 1), (1, "master", 2)])]);
    let error = parse::engines(&parse::software(&software), &parse::route_engines(&broken)).unwrap_err();
    assert!(error.0.contains("2 master engines in member0"), "{error}");
}

/// An EX virtual chassis of three members: the route-engine reply lists the master (member 0)
/// and backup (member 1) only, the software reply every member. The line card (fpc2) is an
/// engine too, with its own version, booting with the chassis (the master's boot time).
#[test]
fn an_ex_virtual_chassis_lists_line_cards_only_in_its_software() {
    let route_engines = parse_xml(
        "<rpc-reply><route-engine-information>
           <route-engine><slot>0</slot><mastership-state>master</mastership-state><start-time junos:seconds=\"1700000500\">x</start-time></route-engine>
           <route-engine><slot>1</slot><mastership-state>backup</mastership-state><start-time junos:seconds=\"1700000510\">x</start-time></route-engine>
         </route-engine-information></rpc-reply>",
    )
    .unwrap();
    let software = software_reply(&[("fpc0", "18.4R2-S3.4"), ("fpc1", "18.4R2-S3.4"), ("fpc2", "18.4R1.8")]);
    let (chassis, engines) =
        parse::engines(&parse::software(&software), &parse::route_engines(&route_engines)).unwrap();
    assert_eq!(chassis, Chassis::VirtualChassis);
    let summary: Vec<(&str, String, bool, u64)> =
        engines.iter().map(|e| (e.name.as_str(), e.version.to_string(), e.master, e.boot)).collect();
    assert_eq!(
        summary,
        [
            ("fpc0", "18.4R2-S3.4".to_string(), true, 1_700_000_500),
            ("fpc1", "18.4R2-S3.4".to_string(), false, 1_700_000_510),
            ("fpc2", "18.4R1.8".to_string(), false, 1_700_000_500)
        ]
    );
}

/// LLDP neighbours are told by what LLDP says they are (values ours; the fields as Junos lists
/// them, capabilities as `Bridge Router`, `Station`): other vendors' switches and routers,
/// firewalls and the management switch are never servers; hosts are, hypervisors that bridge
/// included.
#[test]
fn lldp_neighbours_are_classified_by_what_they_say_they_are() {
    use hitless::driver::junos::parse::NeighbourKind::{Host, Management, NetworkDevice};
    let reply = parse_xml(
        "<rpc-reply><lldp-neighbors-information>
          <lldp-neighbor-information><lldp-local-port-id>et-0/0/50</lldp-local-port-id><lldp-local-parent-interface-name>-</lldp-local-parent-interface-name>
            <lldp-remote-chassis-id-subtype>Mac address</lldp-remote-chassis-id-subtype><lldp-remote-chassis-id>00:1c:73:00:00:01</lldp-remote-chassis-id>
            <lldp-remote-port-id-subtype>Interface name</lldp-remote-port-id-subtype><lldp-remote-port-id>Ethernet1</lldp-remote-port-id>
            <lldp-remote-system-name>arista-spine</lldp-remote-system-name><lldp-remote-system-capabilities-enabled>Bridge Router</lldp-remote-system-capabilities-enabled></lldp-neighbor-information>
          <lldp-neighbor-information><lldp-local-port-id>et-0/0/51</lldp-local-port-id>
            <lldp-remote-port-id>GigabitEthernet0/0/0/0</lldp-remote-port-id><lldp-remote-system-name>wan-router</lldp-remote-system-name></lldp-neighbor-information>
          <lldp-neighbor-information><lldp-local-port-id>xe-0/0/10</lldp-local-port-id>
            <lldp-remote-port-id>ethernet1/3</lldp-remote-port-id><lldp-remote-system-name>fw1</lldp-remote-system-name>
            <lldp-remote-system-capabilities-enabled>Router</lldp-remote-system-capabilities-enabled></lldp-neighbor-information>
          <lldp-neighbor-information><lldp-local-port-id>me0</lldp-local-port-id>
            <lldp-remote-port-id>ge-0/0/12</lldp-remote-port-id><lldp-remote-system-name>oob-sw1</lldp-remote-system-name>
            <lldp-remote-system-capabilities-enabled>Bridge</lldp-remote-system-capabilities-enabled></lldp-neighbor-information>
          <lldp-neighbor-information><lldp-local-port-id>xe-0/0/1</lldp-local-port-id><lldp-local-parent-interface-name>ae0</lldp-local-parent-interface-name>
            <lldp-remote-port-id>ens1f0</lldp-remote-port-id><lldp-remote-system-name>hv1</lldp-remote-system-name>
            <lldp-remote-system-capabilities-enabled>Bridge</lldp-remote-system-capabilities-enabled></lldp-neighbor-information>
          <lldp-neighbor-information><lldp-local-port-id>xe-0/0/2</lldp-local-port-id>
            <lldp-remote-port-id>eth0</lldp-remote-port-id><lldp-remote-system-name>db1</lldp-remote-system-name>
            <lldp-remote-system-capabilities-enabled>Station</lldp-remote-system-capabilities-enabled></lldp-neighbor-information>
          <lldp-neighbor-information><lldp-local-port-id>xe-0/0/3</lldp-local-port-id>
            <lldp-remote-port-id>00:25:90:aa:bb:cc</lldp-remote-port-id><lldp-remote-system-name>bms9</lldp-remote-system-name></lldp-neighbor-information>
        </lldp-neighbors-information></rpc-reply>",
    )
    .unwrap();
    let kinds: Vec<(String, _)> =
        parse::lldp_neighbours(&reply).unwrap().iter().map(|n| (n.system.clone(), n.kind())).collect();
    let expected = [
        ("arista-spine", NetworkDevice),
        ("wan-router", NetworkDevice),
        ("fw1", NetworkDevice),
        ("oob-sw1", Management),
        ("hv1", Host),
        ("db1", Host),
        ("bms9", Host),
    ];
    let expected: Vec<(String, _)> = expected.into_iter().map(|(n, k)| (n.to_string(), k)).collect();
    assert_eq!(kinds, expected);
    assert!(
        parse::is_management_port("em0")
            && parse::is_management_port("fxp0.0")
            && !parse::is_management_port("et-0/0/0")
    );
}
