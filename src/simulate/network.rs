//! The fabric, as the simulator's topology: one switch per device (tier by role), one endpoint
//! per server, and `external` behind the border leafs.

use hitless_sim::{Detect, EndpointId, NodeId, Topology};

use crate::model::{CriticalRole, Fabric, Role};
use crate::scenario::settings::SimSettings;
use crate::traffic::Endpoint;

/// The topology and how to find fabric things in it.
pub struct Network {
    /// The simulator's topology.
    pub topology: Topology,
    /// Per server (by index), its endpoint.
    pub servers: Vec<EndpointId>,
    /// The endpoint beyond the border leafs, if there are border leafs.
    pub external: Option<EndpointId>,
}

impl Network {
    /// Builds the topology. Device `i` becomes `NodeId(i)`.
    pub fn build(fabric: &Fabric, settings: &SimSettings) -> Network {
        let mut topology = Topology::new();
        for device in fabric.devices() {
            let tier = match device.role {
                Role::Leaf => 1,
                Role::Spine => 2,
                Role::SuperSpine => 3,
            };
            topology.add_node(device.name.clone(), tier);
        }
        for &(a, b) in fabric.links() {
            let roles = [fabric.device(a).role, fabric.device(b).role];
            let capacity =
                if roles.contains(&Role::Leaf) { settings.leaf_spine_gbps } else { settings.spine_super_spine_gbps };
            topology.add_link(node(a), node(b), capacity);
        }
        let servers = fabric
            .servers()
            .iter()
            .map(|server| {
                let leafs: Vec<NodeId> = server.leafs.iter().map(|l| node(*l)).collect();
                topology.add_endpoint(server.name.clone(), &leafs, settings.server_link_gbps, Detect::Access)
            })
            .collect();
        let borders: Vec<NodeId> = fabric
            .iter()
            .filter(|(_, d)| d.role == Role::Leaf && d.critical_roles.contains(&CriticalRole::DcGateway))
            .map(|(id, _)| node(id))
            .collect();
        let external = (!borders.is_empty())
            .then(|| topology.add_endpoint(crate::traffic::EXTERNAL, &borders, settings.external_gbps, Detect::Fabric));
        Network { topology, servers, external }
    }

    /// The endpoint of a traffic endpoint.
    pub fn endpoint(&self, endpoint: Endpoint) -> Option<EndpointId> {
        match endpoint {
            Endpoint::Server(i) => self.servers.get(i).copied(),
            Endpoint::External => self.external,
        }
    }
}

/// The switch of a device.
pub fn node(device: crate::model::DeviceId) -> NodeId {
    NodeId(device.0)
}
