"""ncclient against a `hitless lab` device: the standard NETCONF operations and ncclient's
Junos ones, each checked by reading the configuration back.

Usage: ncclient_ops.py HOST PORT USER PASSWORD
"""
import sys

from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

host, port, user, password = sys.argv[1:5]


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def text_of(reply):
    """All text of a reply, whatever ncclient wrapped it in."""
    xml = reply.tostring if hasattr(reply, "tostring") else etree.tostring(reply)
    xml = xml.decode() if isinstance(xml, bytes) else xml
    return xml


def servers(m, source="running"):
    reply = m.get_config(source=source)
    return [e.text for e in reply.xpath(".//ntp/server/name")]


with manager.connect(
    host=host,
    port=int(port),
    username=user,
    password=password,
    hostkey_verify=False,
    look_for_keys=False,
    allow_agent=False,
    device_params={"name": "junos"},
) as m:
    caps = list(m.server_capabilities)
    check(any("validate:1.0" in c for c in caps), "the hello advertises validate")
    check(any("candidate:1.0" in c for c in caps), "and the candidate")

    # Standard operations: lock, edit-config, validate, commit, unlock.
    m.lock(target="candidate")
    config = """<config><configuration><system><ntp><server><name>10.8.8.1</name></server></ntp></system></configuration></config>"""
    m.edit_config(target="candidate", config=config)
    check("10.8.8.1" in servers(m, "candidate"), "edit-config changed the candidate")
    check("10.8.8.1" not in servers(m), "and not the running configuration")
    m.validate(source="candidate")
    m.commit()
    check("10.8.8.1" in servers(m), "commit made it running")
    # An edit then discard-changes leaves nothing behind.
    m.edit_config(
        target="candidate",
        config="""<config><configuration><system><ntp><server><name>10.8.8.2</name></server></ntp></system></configuration></config>""",
    )
    m.discard_changes()
    check("10.8.8.2" not in servers(m, "candidate"), "discard-changes dropped the edit")
    m.unlock(target="candidate")

    # Configuration the lab does not model: taken, committed, read back.
    m.edit_config(
        target="candidate",
        config="<config><configuration><system><location><building>probe</building></location></system></configuration></config>",
    )
    m.commit()
    building = m.get_config(source="running").xpath(".//system/location/building")
    check([e.text for e in building] == ["probe"], "edit-config of an unmodelled statement, committed")

    # Refusals: a value out of range, an RPC the lab does not know; neither changes anything.
    try:
        m.edit_config(
            target="candidate",
            config="<config><configuration><interfaces><interface><name>xe-0/0/0</name><mtu>99999999</mtu></interface></interfaces></configuration></config>",
        )
        raise SystemExit("FAILED: an out-of-range MTU was accepted")
    except RPCError as e:
        check("99999999" in str(e), f"a value out of range refused: {e}")
    check(not m.get_config(source="candidate").xpath(".//mtu"), "and the candidate is unchanged")
    try:
        m.rpc(etree.XML("<get-teleporter-information/>"))
        raise SystemExit("FAILED: an unknown RPC answered")
    except RPCError as e:
        check("syntax error" in str(e), f"unknown RPC refused: {e}")

    # ncclient's Junos operations.
    out = m.command("show version", format="text")
    check("Hostname:" in text_of(out), "command in text")
    m.load_configuration(action="set", config=["set system ntp server 10.8.8.3"])
    diff = m.compare_configuration()
    check("10.8.8.3" in text_of(diff), "compare-configuration shows the change")
    m.commit()
    check("10.8.8.3" in servers(m), "load-configuration and commit")
    text = m.get_configuration(format="text")
    check("host-name" in text_of(text), "get-configuration in text")
    m.load_configuration(action="set", config=["delete system ntp"])
    m.commit()
    check(servers(m) == [], "delete and commit")
    # load-configuration as set lines and as text, of statements the lab does not model.
    m.load_configuration(action="set", config=["set system syslog file messages any notice"])
    m.load_configuration(format="text", config="snmp { community dc1-ro { authorization read-only; } }")
    m.commit()
    running = m.get_config(source="running")
    check([e.text for e in running.xpath(".//syslog/file/name")] == ["messages"], "load-configuration set, committed")
    check(
        [e.text for e in running.xpath(".//snmp/community/authorization")] == ["read-only"],
        "load-configuration text, committed",
    )
print("PASSED")
