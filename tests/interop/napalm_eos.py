"""napalm's EOS driver against the lab's EOS personality: facts, interfaces, BGP and LLDP
neighbours, and a merge candidate compared and committed.

Usage: napalm_eos.py HOST PORT USER PASSWORD. Prints one JSON object with what it read."""
import json
import sys

from napalm import get_network_driver

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
driver = get_network_driver("eos")
device = driver(host, user, password, timeout=30,
                optional_args={"transport": "https", "port": port})
device.open()
out = {
    "facts": device.get_facts(),
    "interfaces": device.get_interfaces(),
    "bgp": device.get_bgp_neighbors(),
    "lldp": device.get_lldp_neighbors(),
}
device.load_merge_candidate(config="interface Ethernet3\n   description merged by napalm\n!\nvlan 40\n   name napalm-vlan\n")
out["diff"] = device.compare_config()
device.commit_config()
out["diff_after_commit"] = device.compare_config()
device.load_merge_candidate(config="vlan 41\n   name discarded\n")
device.discard_config()
out["facts_after"] = device.get_facts()
out["interfaces_after"] = {k: v["description"] for k, v in device.get_interfaces().items()}
device.close()
print(json.dumps(out))
