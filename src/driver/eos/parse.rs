//! What the EOS driver reads from `format: json` replies, in the shapes real devices send
//! (napalm's and pyeapi's recorded fixtures): `show version` (version, model, serial, boot time,
//! whose change proves a reload) and `show ip bgp summary vrf all` (each peer's state and
//! whether it is under maintenance).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::version::Version;

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// A field the driver needs is missing or of another type.
    #[error("{command}: no {field} in the reply")]
    Missing {
        /// The command.
        command: &'static str,
        /// The field.
        field: &'static str,
    },
    /// The version is not a release's (an engineering build, a damaged reply).
    #[error("show version: {text:?} is not an EOS release version ({why}); hitless upgrades from and to releases only")]
    Version {
        /// As the device said it.
        text: String,
        /// Why it does not parse.
        why: String,
    },
}

/// The facts of `show version`.
#[derive(Clone, Debug, PartialEq)]
pub struct EosVersion {
    /// The running version.
    pub version: Version,
    /// The model, as the device states it (`DCS-7050SX3-48YC8`).
    pub model: String,
    /// Its serial number (empty on virtual EOS).
    pub serial: String,
    /// When it booted, seconds since the epoch (with fractions): a new value proves a reload.
    pub booted_unix: f64,
}

/// Reads `show version`.
pub fn show_version(reply: &Value) -> Result<EosVersion, ParseError> {
    let text = |field: &'static str| {
        reply.get(field).and_then(Value::as_str).ok_or(ParseError::Missing { command: "show version", field })
    };
    let raw = text("version")?;
    let version = Version::parse(raw)
        .ok()
        .filter(Version::is_eos)
        .ok_or_else(|| ParseError::Version { text: raw.to_string(), why: version_problem(raw) })?;
    let booted_unix = reply
        .get("bootupTimestamp")
        .and_then(Value::as_f64)
        .ok_or(ParseError::Missing { command: "show version", field: "bootupTimestamp" })?;
    Ok(EosVersion {
        version,
        model: text("modelName")?.to_string(),
        serial: reply.get("serialNumber").and_then(Value::as_str).unwrap_or_default().to_string(),
        booted_unix,
    })
}

fn version_problem(raw: &str) -> String {
    match Version::parse(raw) {
        Err(error) => error.to_string(),
        Ok(_) => "it is a Junos version".to_string(),
    }
}

/// A BGP peer as `show ip bgp summary` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpPeer {
    /// `Established`, `Active`, `Idle`, ...
    pub state: String,
    /// Under maintenance (drained by maintenance mode).
    pub under_maintenance: bool,
}

/// Reads `show ip bgp summary vrf all`: every peer of every VRF, as `vrf/address`.
pub fn bgp_summary(reply: &Value) -> Result<BTreeMap<String, BgpPeer>, ParseError> {
    let vrfs = reply
        .get("vrfs")
        .and_then(Value::as_object)
        .ok_or(ParseError::Missing { command: "show ip bgp summary vrf all", field: "vrfs" })?;
    let mut peers = BTreeMap::new();
    for (vrf, body) in vrfs {
        // A VRF without BGP peers has no `peers` object.
        let Some(list) = body.get("peers").and_then(Value::as_object) else { continue };
        for (address, peer) in list {
            let state = peer
                .get("peerState")
                .and_then(Value::as_str)
                .ok_or(ParseError::Missing { command: "show ip bgp summary vrf all", field: "peerState" })?;
            let under_maintenance = peer.get("underMaintenance").and_then(Value::as_bool).unwrap_or(false);
            peers.insert(format!("{vrf}/{address}"), BgpPeer { state: state.to_string(), under_maintenance });
        }
    }
    Ok(peers)
}

/// Reads `show lldp neighbors detail`: `lldpNeighbors` by local port, each with its
/// `lldpNeighborInfo` list (`systemName`, `neighborInterfaceInfo.interfaceId_v2`, the enabled
/// `systemCapabilities`), as the driver's common [`LldpNeighbour`](crate::driver::junos::parse::LldpNeighbour).
pub fn lldp_detail(reply: &Value) -> Result<Vec<crate::driver::junos::parse::LldpNeighbour>, ParseError> {
    let ports = reply
        .get("lldpNeighbors")
        .and_then(Value::as_object)
        .ok_or(ParseError::Missing { command: "show lldp neighbors detail", field: "lldpNeighbors" })?;
    let mut out = Vec::new();
    for (local, port) in ports {
        let Some(infos) = port.get("lldpNeighborInfo").and_then(Value::as_array) else { continue };
        for info in infos {
            let system = info.get("systemName").and_then(Value::as_str).unwrap_or_default().to_string();
            let remote = info.get("neighborInterfaceInfo");
            let field = |name: &str| remote.and_then(|r| r.get(name)).and_then(Value::as_str).unwrap_or_default();
            // A host often gives its MAC as the port's id: its name is then the description.
            let theirs = if field("interfaceIdType") == "macAddress" {
                field("interfaceDescription").to_string()
            } else {
                let id =
                    if field("interfaceId_v2").is_empty() { field("interfaceId") } else { field("interfaceId_v2") };
                id.trim_matches('"').to_string()
            };
            // Capabilities it has and has enabled: `{"bridge": true, "router": false}`.
            let capabilities = info.get("systemCapabilities").and_then(Value::as_object).map(|caps| {
                let mut names: Vec<&str> = caps
                    .iter()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(name, _)| match name.as_str() {
                        "bridge" => "Bridge",
                        "router" => "Router",
                        "station" | "stationOnly" => "Station",
                        other => other,
                    })
                    .collect();
                names.sort_unstable();
                names.join(" ")
            });
            out.push(crate::driver::junos::parse::LldpNeighbour {
                local: local.clone(),
                parent: None,
                system,
                port: theirs,
                capabilities: capabilities.filter(|c| !c.is_empty()),
            });
        }
    }
    Ok(out)
}

/// The version an EOS image's file name carries (`EOS-4.32.2F.swi`, `EOS64-4.31.1.1M.swi`).
pub fn version_in_image_name(name: &str) -> Option<Version> {
    let base = name.rsplit(['/', ':']).next().unwrap_or(name);
    let rest = base.strip_prefix("EOS64-").or_else(|| base.strip_prefix("EOS-"))?;
    let text = rest.strip_suffix(".swi")?;
    Version::parse(text).ok().filter(Version::is_eos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shape of a hardware switch's `show version` (fields as in pyeapi's fixture; values of
    /// our own).
    fn hardware() -> Value {
        json!({
            "architecture": "x86_64", "bootupTimestamp": 1796000000.25, "hardwareRevision": "11.02",
            "internalBuildId": "0c0e1f2a-3b4c-4d5e-8f60-718293a4b5c6", "internalVersion": "4.30.1F-31312345.4301F",
            "memFree": 5123456, "memTotal": 8012345, "modelName": "DCS-7050SX3-48YC8",
            "serialNumber": "JPE20481234", "systemMacAddress": "44:4c:a8:00:11:22", "version": "4.30.1F",
            "isIntlVersion": false, "mfgName": "Arista", "uptime": 8640.5
        })
    }

    #[test]
    fn show_version_gives_version_model_serial_and_boot_time() {
        let facts = show_version(&hardware()).unwrap();
        assert_eq!(facts.version.to_string(), "4.30.1F");
        assert_eq!(facts.model, "DCS-7050SX3-48YC8");
        assert_eq!(facts.serial, "JPE20481234");
        assert_eq!(facts.booted_unix, 1796000000.25);
        // vEOS (napalm's fixture shape): no serial, a maintenance release.
        let veos = json!({"modelName": "vEOS", "internalVersion": "4.29.4M-1234567.4294M", "systemMacAddress": "0c:00:11:22:33:44",
            "serialNumber": "", "memTotal": 2000000, "bootupTimestamp": 1795000000.5, "memFree": 100000,
            "version": "4.29.4M", "architecture": "i686", "internalBuildId": "x", "hardwareRevision": ""});
        let facts = show_version(&veos).unwrap();
        assert_eq!(
            (facts.version.to_string(), facts.model.as_str(), facts.serial.as_str()),
            ("4.29.4M".into(), "vEOS", "")
        );
    }

    #[test]
    fn an_engineering_build_or_a_missing_field_is_refused_by_name() {
        // pyeapi's fixture shape of an engineering build's version text.
        let mut engineering = hardware();
        engineering["version"] = json!("4.31.0-12345678.eng (engineering build)");
        let error = show_version(&engineering).unwrap_err();
        assert!(matches!(error, ParseError::Version { .. }), "{error}");
        assert!(error.to_string().contains("not an EOS release version"), "{error}");
        let mut junos = hardware();
        junos["version"] = json!("23.4R2");
        assert!(show_version(&junos).unwrap_err().to_string().contains("it is a Junos version"));
        let mut missing = hardware();
        missing.as_object_mut().unwrap().remove("bootupTimestamp");
        assert_eq!(
            show_version(&missing).unwrap_err(),
            ParseError::Missing { command: "show version", field: "bootupTimestamp" }
        );
    }

    #[test]
    fn lldp_detail_names_each_neighbour_s_port_and_what_it_is() {
        // napalm's fixture shapes, values of our own: a server whose port id is its MAC (the
        // name is the description), and a switch whose id is its quoted interface name.
        let reply = json!({"lldpNeighbors": {
            "Ethernet3": {"lldpNeighborInfo": [{
                "systemCapabilities": {"bridge": false, "router": false, "wlanAccessPoint": false},
                "neighborInterfaceInfo": {"interfaceIdType": "macAddress", "interfaceId": "0c11.2233.4455",
                    "interfaceDescription": "ens1f0", "linkAggregationStatus": "capableAndEnabled"},
                "chassisId": "0c11.2233.4400", "systemName": "db7", "systemDescription": "Linux 6.1", "ttl": 120,
                "managementAddresses": [], "chassisIdType": "macAddress"}]},
            "Ethernet49/1": {"lldpNeighborInfo": [{
                "systemCapabilities": {"bridge": true, "router": true},
                "neighborInterfaceInfo": {"interfaceIdType": "interfaceName", "interfaceId": "\"et-0/0/50\"",
                    "interfaceId_v2": "et-0/0/50", "interfaceDescription": "to leaf3"},
                "systemName": "spine1", "ttl": 120, "chassisIdType": "macAddress", "chassisId": "4c96.1400.0001"}]},
            "Ethernet9": {"lldpNeighborInfo": []}
        }});
        let neighbours = lldp_detail(&reply).unwrap();
        assert_eq!(neighbours.len(), 2);
        assert_eq!(
            (neighbours[0].local.as_str(), neighbours[0].system.as_str(), neighbours[0].port.as_str()),
            ("Ethernet3", "db7", "ens1f0")
        );
        assert_eq!(neighbours[0].capabilities, None);
        assert_eq!(neighbours[0].kind(), crate::driver::junos::parse::NeighbourKind::Host);
        assert_eq!(
            (neighbours[1].port.as_str(), neighbours[1].capabilities.as_deref()),
            ("et-0/0/50", Some("Bridge Router"))
        );
        assert_eq!(neighbours[1].kind(), crate::driver::junos::parse::NeighbourKind::NetworkDevice);
        assert!(lldp_detail(&json!({})).is_err());
    }

    #[test]
    fn the_bgp_summary_lists_every_peer_of_every_vrf() {
        // napalm's fixture shape, values of our own; a VRF with no peers has no `peers`.
        let reply = json!({"vrfs": {
            "default": {"vrf": "default", "routerId": "10.1.0.7", "asn": "65107", "peers": {
                "10.1.255.0": {"version": 4, "msgReceived": 900, "msgSent": 901, "inMsgQueue": 0, "outMsgQueue": 0,
                    "asn": "65000", "prefixAccepted": 12, "prefixReceived": 12, "upDownTime": 1796000100.5,
                    "underMaintenance": false, "peerState": "Established"},
                "10.1.255.2": {"version": 4, "msgReceived": 0, "msgSent": 3, "inMsgQueue": 0, "outMsgQueue": 0,
                    "asn": "65000", "prefixAccepted": 0, "prefixReceived": 0, "upDownTime": 1796000200.0,
                    "underMaintenance": true, "peerState": "Active"}}},
            "tenant-a": {"vrf": "tenant-a", "routerId": "10.1.0.7", "asn": "65107"}
        }});
        let peers = bgp_summary(&reply).unwrap();
        assert_eq!(peers.len(), 2);
        assert_eq!(peers["default/10.1.255.0"], BgpPeer { state: "Established".into(), under_maintenance: false });
        assert_eq!(peers["default/10.1.255.2"], BgpPeer { state: "Active".into(), under_maintenance: true });
        assert!(bgp_summary(&json!({})).is_err());
    }
}
