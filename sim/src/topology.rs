//! The fabric as the simulator sees it: switches in tiers, links with capacities, and endpoints
//! (servers, the outside world) attached to tier-1 switches.
//!
//! Tiers order the Clos: 1 for switches that endpoints attach to, 2 above them, 3 above those.
//! Traffic goes up from the source's tier-1 switch only as far as needed, then down (valley-free),
//! spreading equally over equal next hops (ECMP).

/// A switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// A link (switch to switch, or endpoint to switch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LinkId(pub u32);

/// A traffic source or sink: a server, or the world outside the fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub u32);

/// How the far side of a link notices that a switch stopped forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detect {
    /// Switch-to-switch detection (BFD, or the routing protocol's hold time).
    Fabric,
    /// Endpoint-to-switch detection (LACP on a server's LAG).
    Access,
}

/// One switch.
#[derive(Clone, Debug)]
pub struct Node {
    /// Name, for reports.
    pub name: String,
    /// 1 for the switches endpoints attach to, higher above.
    pub tier: u8,
}

/// One link. Capacity applies in each direction separately; loads are tracked per direction.
#[derive(Clone, Debug)]
pub struct Link {
    /// Name of one end, for reports.
    pub from: String,
    /// Name of the other end.
    pub to: String,
    /// Capacity in Gbps.
    pub capacity_gbps: f64,
}

/// An endpoint and the switches it attaches to.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Name, for reports.
    pub name: String,
    /// Tier-1 switches it attaches to, with the link to each (as sending and receiving link).
    pub attachments: Vec<(NodeId, LinkId, LinkId)>,
    /// How the endpoint notices a switch going away.
    pub detect: Detect,
}

/// Switches, links and endpoints, with adjacency by tier.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    pub(crate) nodes: Vec<Node>,
    pub(crate) links: Vec<Link>,
    pub(crate) endpoints: Vec<Endpoint>,
    /// Per node: higher-tier neighbours and the link towards each.
    pub(crate) up: Vec<Vec<(NodeId, LinkId)>>,
    /// Per node: lower-tier neighbours and the link towards each.
    pub(crate) down: Vec<Vec<(NodeId, LinkId)>>,
    /// Per node: higher-tier neighbours and the link from each down to this node.
    pub(crate) from_above: Vec<Vec<(NodeId, LinkId)>>,
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Topology {
        Topology::default()
    }

    /// Adds a switch.
    pub fn add_node(&mut self, name: impl Into<String>, tier: u8) -> NodeId {
        assert!(tier >= 1, "switch tiers start at 1");
        let id = NodeId(u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes"));
        self.nodes.push(Node { name: name.into(), tier });
        self.up.push(Vec::new());
        self.down.push(Vec::new());
        self.from_above.push(Vec::new());
        id
    }

    fn add_directed(&mut self, from: &str, to: &str, capacity_gbps: f64) -> LinkId {
        assert!(capacity_gbps > 0.0, "links have a positive capacity");
        let id = LinkId(u32::try_from(self.links.len()).expect("fewer than 2^32 links"));
        self.links.push(Link { from: from.to_string(), to: to.to_string(), capacity_gbps });
        id
    }

    /// Links two switches of adjacent tiers with `capacity_gbps` in each direction.
    pub fn add_link(&mut self, a: NodeId, b: NodeId, capacity_gbps: f64) {
        let (lower, upper) =
            if self.nodes[a.0 as usize].tier < self.nodes[b.0 as usize].tier { (a, b) } else { (b, a) };
        assert!(
            self.nodes[lower.0 as usize].tier + 1 == self.nodes[upper.0 as usize].tier,
            "links join adjacent tiers"
        );
        let (lower_name, upper_name) =
            (self.nodes[lower.0 as usize].name.clone(), self.nodes[upper.0 as usize].name.clone());
        let up_link = self.add_directed(&lower_name, &upper_name, capacity_gbps);
        let down_link = self.add_directed(&upper_name, &lower_name, capacity_gbps);
        self.up[lower.0 as usize].push((upper, up_link));
        self.down[upper.0 as usize].push((lower, down_link));
        self.from_above[lower.0 as usize].push((upper, down_link));
    }

    /// Adds an endpoint attached to tier-1 `switches`, each link with `capacity_gbps`.
    pub fn add_endpoint(
        &mut self,
        name: impl Into<String>,
        switches: &[NodeId],
        capacity_gbps: f64,
        detect: Detect,
    ) -> EndpointId {
        let name = name.into();
        let id = EndpointId(u32::try_from(self.endpoints.len()).expect("fewer than 2^32 endpoints"));
        let mut attachments = Vec::with_capacity(switches.len());
        for &switch in switches {
            assert_eq!(self.nodes[switch.0 as usize].tier, 1, "endpoints attach to tier-1 switches");
            let switch_name = self.nodes[switch.0 as usize].name.clone();
            let sending = self.add_directed(&name, &switch_name, capacity_gbps);
            let receiving = self.add_directed(&switch_name, &name, capacity_gbps);
            attachments.push((switch, sending, receiving));
        }
        self.endpoints.push(Endpoint { name, attachments, detect });
        id
    }

    /// One switch.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    /// One link.
    pub fn link(&self, id: LinkId) -> &Link {
        &self.links[id.0 as usize]
    }

    /// One endpoint.
    pub fn endpoint(&self, id: EndpointId) -> &Endpoint {
        &self.endpoints[id.0 as usize]
    }

    /// Number of switches.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of endpoints.
    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }
}
