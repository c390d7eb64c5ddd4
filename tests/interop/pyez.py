"""Junos PyEZ against a `hitless lab` device: facts, Config in every format with diff,
commit confirmed and rollback, exclusive and private modes, configuration the lab does not model
in set, text, XML and JSON, a concealed secret, the configuration as JSON, SW install without a copy backed out
with request-package-rollback, SW install of a local package with its defaults, reboot and
reconnect. Every step checks its effect on the device, read back over NETCONF.

Usage: pyez.py HOST PORT USER PASSWORD DEVICE PACKAGE NEW_VERSION QFX_LEAF_CONFIG
"""
import sys
import time

from jnpr.junos import Device
from jnpr.junos.exception import ConfigLoadError, RpcError
from jnpr.junos.utils.config import Config
from jnpr.junos.utils.sw import SW
from lxml import etree
from ncclient.transport.errors import TransportError

host, port, user, password, name, package, new_version, leaf_config = sys.argv[1:9]
port = int(port)


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def committed(dev, xpath):
    """The text at xpath in the committed configuration."""
    config = dev.rpc.get_config(options={"database": "committed"})
    return [e.text for e in config.xpath(xpath)]


dev = Device(host=host, port=port, user=user, password=password)
dev.open()

# Facts, as SW() and facts_refresh() gather them.
dev.facts_refresh(exception_on_failure=True)
check(dev.facts["hostname"] == name, f"hostname fact is {dev.facts['hostname']}")
check(dev.facts["2RE"] is False, "a single routing engine")
check(dev.facts["personality"] == "SWITCH", "personality SWITCH")
check(bool(dev.facts["serialnumber"]), f"serial number {dev.facts['serialnumber']}")
check("master" in dev.facts["current_re"], f"current_re {dev.facts['current_re']}")
check(dev.facts["HOME"] == "/var/home/" + user, f"HOME {dev.facts['HOME']}")
old_version = dev.facts["version"]

# Configuration: set, text and XML loads, diff, commit confirmed, rollback.
with Config(dev, mode="exclusive") as cu:
    cu.load("set system ntp server 10.9.9.1", format="set")
    diff = cu.diff()
    check(diff is not None and "10.9.9.1" in diff, f"diff shows the new server:\n{diff}")
    cu.commit(confirm=2, comment="pyez confirmed")
    check("10.9.9.1" in committed(dev, ".//ntp/server/name"), "the confirmed commit is committed")
    cu.commit(comment="pyez confirm")
    cu.load("system { host-name pyez-renamed; }", format="text")
    cu.commit()
    check(committed(dev, ".//system/host-name") == ["pyez-renamed"], "text load committed: host-name replaced")
    cu.load(etree.XML("<system><domain-name>pyez.example</domain-name></system>"), format="xml")
    check(cu.diff() is not None, "XML load shows in the diff")
    cu.commit()
    check(committed(dev, ".//system/domain-name") == ["pyez.example"], "XML load committed")
    as_json = dev.rpc.get_config(options={"format": "json"})
    check(
        isinstance(as_json, dict) and as_json["configuration"]["system"]["domain-name"] == "pyez.example",
        f"the configuration read as JSON: {str(as_json)[:200]}",
    )
    try:
        cu.load("set interfaces xe-0/0/0 mtu 99999999", format="set")
        raise SystemExit("FAILED: an out-of-range MTU was accepted")
    except (ConfigLoadError, RpcError) as e:
        check("99999999" in str(e), f"a value out of range is refused: {e}")
        check(e.rpc_error.get("edit_path") == "[edit interfaces xe-0/0/0]", f"at its hierarchy: {e.rpc_error}")
    check(cu.diff() is None, "and the refused load left nothing in the candidate")
    cu.rollback(2)
    check(cu.diff() is not None, "rollback 2 differs from the committed configuration")
    cu.commit()
    check(committed(dev, ".//system/host-name") == [name], "rollback 2 brought the host name back")
    check(committed(dev, ".//system/domain-name") != ["pyez.example"], "and took the domain name away")

# Configuration the lab does not model, in every format, in a private candidate: each committed
# and read back from the device.
with Config(dev, mode="private") as cu:
    cu.load("set system location building probe", format="set")
    diff = cu.diff()
    check(diff is not None and "building probe" in diff, f"set: the diff shows it:\n{diff}")
    cu.commit(comment="unmodelled set")
    check(committed(dev, ".//system/location/building") == ["probe"], "set: committed")
    cu.load('snmp { location "hall 2"; community dc1-ro { authorization read-only; } }', format="text")
    cu.commit()
    check(committed(dev, ".//snmp/community/name") == ["dc1-ro"], "text: a list entry committed")
    check(committed(dev, ".//snmp/location") == ["hall 2"], "text: a quoted leaf committed")
    cu.load(etree.XML("<system><syslog><file><name>messages</name><any>notice</any></file></syslog></system>"), format="xml")
    cu.commit()
    check(committed(dev, ".//syslog/file/any") == ["notice"], "XML: committed")
    cu.load('{"configuration": {"system": {"time-zone": "Europe/Amsterdam"}}}', format="json")
    cu.commit()
    check(committed(dev, ".//system/time-zone") == ["Europe/Amsterdam"], "JSON: committed")
    cu.load("set protocols bgp group underlay authentication-key pyez-s3cret", format="set")
    cu.commit()
    key = committed(dev, ".//bgp/group/authentication-key")
    check(len(key) == 1 and key[0].startswith("$9$") and "pyez-s3cret" not in key[0], f"a BGP key is concealed: {key}")
    text = dev.rpc.get_config(options={"format": "text"}).text
    check("## SECRET-DATA" in text and "pyez-s3cret" not in text, "and shown as Junos shows a secret")
    cu.load("delete system location", format="set")
    cu.commit()
    check(committed(dev, ".//system/location/building") == [], "delete: gone")
    cu.rollback(1)
    cu.commit()
    check(committed(dev, ".//system/location/building") == ["probe"], "rollback 1 brought it back")

# A QFX leaf's full configuration (statements the lab does not model among them) replaces the
# device's, and reads back unchanged as text; then rollback 1 restores the device's own.
with open(leaf_config) as f:
    full = f.read()
with Config(dev, mode="exclusive") as cu:
    cu.load(full, format="text", overwrite=True)
    cu.commit(comment="full leaf configuration")
    shown = dev.rpc.get_config(options={"format": "text", "database": "committed"}).text
    check(shown.strip() == full.strip(), "the full configuration reads back unchanged as text")
    as_json = dev.rpc.get_config(options={"format": "json"})
    check(as_json["configuration"]["snmp"]["community"][0]["name"] == "dc1-ro", "and as JSON")
    check(committed(dev, ".//switch-options/vtep-source-interface") == ["lo0.0"], "and as XML")
    cu.rollback(1)
    cu.commit()
    check(committed(dev, ".//switch-options/vtep-source-interface") == [], "rollback 1 restored the device's own configuration")

# Software: the local package with SW.install's defaults (storage cleanup, checksum, SCP copy,
# checksum again, install), then reboot and reconnect.
sw = SW(dev)
# Staged first, installed later without a copy, then backed out: its effect is that the install
# below is not refused with "There is already an install pending".
check(sw.safe_copy(package, progress=True), "the package copied ahead (safe_copy)")
ok, message = sw.install(package=package, no_copy=True, progress=True)
check(ok, f"install without a copy (no_copy=True): {message}")
backed_out = sw.rollback()
check(bool(backed_out), f"request-package-rollback answers: {backed_out}")
ok, message = sw.install(package=package, progress=True)
check(ok, f"install: {message}")
remote = sw.remote_checksum("/var/tmp/" + package.rsplit("/", 1)[-1], algorithm="sha256")
check(remote == SW.local_checksum(package, algorithm="sha256"), "the copy's SHA-256 matches")
sw.reboot()
# Junos kills its sessions as it shuts down, as the lab does right after the reply: the session
# may be gone before PyEZ sends its <close-session/>, and ncclient then says so. Only that is
# let through.
try:
    dev.close()
except TransportError as e:
    print(f"ok: the session was already closed by the reboot ({e})")
deadline = time.time() + 120
while True:
    try:
        time.sleep(1)
        dev = Device(host=host, port=port, user=user, password=password)
        dev.open()
        break
    except Exception as e:  # still rebooting
        if time.time() > deadline:
            raise SystemExit(f"FAILED: the device did not come back: {e}")
check(dev.facts["version"] == new_version, f"rebooted into {dev.facts['version']} (was {old_version})")
out = dev.cli("show version", warning=False)
check(new_version in out, "the CLI says so too")
lldp = dev.rpc.get_lldp_neighbors_information()
check(len(lldp.findall(".//lldp-neighbor-information")) > 0, "LLDP neighbours")
dev.close()
print("PASSED")
