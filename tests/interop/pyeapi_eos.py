"""pyeapi against the lab's EOS personality: facts, a command without a JSON model, an error,
configuration through node.config and the interfaces, vlans and system API modules.

Usage: pyeapi_eos.py HOST PORT USER PASSWORD. Prints one JSON object with what it read."""
import json
import sys

import pyeapi
from pyeapi.eapilib import CommandError, ConnectionError

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = {}

node = pyeapi.client.connect(transport="https", host=host, port=port, username=user,
                             password=password, timeout=30, return_node=True)
version = node.enable(["show version"])[0]["result"]
out["version"] = version["version"]
out["model"] = version["modelName"]
# `dir flash:` has no JSON model: pyeapi retries it as text on EOS's 1003.
flash = node.enable(["dir flash:"])[0]
out["flash_encoding"] = flash["encoding"]
out["flash_text"] = flash["result"]["output"]
try:
    node.enable(["show bogus"], strict=True)
    out["error"] = None
except CommandError as error:
    out["error"] = {"code": error.error_code, "text": error.error_text, "command_error": error.command_error}

interfaces = node.api("interfaces")
out["interfaces_before"] = interfaces.getall()
out["set_description"] = interfaces.set_description("Ethernet1", "set by pyeapi")
node.refresh()
out["ethernet1"] = node.api("interfaces").get("Ethernet1")

vlans = node.api("vlans")
out["vlans_before"] = sorted(vlans.getall().keys())
out["vlan_created"] = vlans.create("30") and vlans.set_name("30", "pyeapi-made")
node.refresh()
out["vlan30"] = node.api("vlans").get("30")

system = node.api("system")
out["system_before"] = system.get()
out["hostname_set"] = system.set_hostname("leaf1-pyeapi")
node.refresh()
out["system_after"] = node.api("system").get()
out["show_hostname"] = node.enable(["show hostname"])[0]["result"]["hostname"]

# node.config returns one result per command sent, without the ones pyeapi prepends.
out["config_results"] = node.config(["interface Ethernet2", "description also pyeapi"])

try:
    bad = pyeapi.client.connect(transport="https", host=host, port=port, username=user,
                                password="wrong-" + password, timeout=30, return_node=True)
    bad.enable(["show version"])
    out["wrong_password"] = "accepted"
except ConnectionError as error:
    out["wrong_password"] = str(error)

print(json.dumps(out))
