//! What a run of the model says: each flow's losses at the end, exposure, and the questions the
//! simulation asks of a class or a switch while it runs.

use super::*;

impl Fluid {
    /// Ends the run at `now`: every flow's losses, with what the model keeps to report them.
    /// The classes' spreads go first, so a large run does not hold them and the per-flow
    /// losses at once.
    pub(crate) fn finish(self, now: SimTime) -> Finished {
        let Fluid { topology, flows, flow_class, classes, mut state, peak, evaluations, .. } = self;
        for (class, state) in classes.iter().zip(&mut state) {
            accrue(state, class.rate_gbps, now);
            state.contributions.release();
            state.overflow = None;
        }
        let losses = flows
            .iter()
            .zip(&flow_class)
            .map(|(flow, &class)| {
                let (class, state) = (&classes[class as usize], &state[class as usize]);
                let share = if class.rate_gbps > 0.0 { flow.rate_gbps / class.rate_gbps } else { 0.0 };
                FlowLoss {
                    blackhole_gbit: state.blackhole_gbit * share,
                    congestion_gbit: state.congestion_gbit * share,
                    cause: state
                        .causes
                        .iter()
                        .filter(|c| c.2 > 0.0)
                        .max_by(|a, b| a.2.total_cmp(&b.2))
                        .map(|c| (c.0, c.1)),
                }
            })
            .collect();
        Finished { losses, topology, flows, peak, evaluations }
    }

    /// Per switch, how many flows would lose everything if it failed now (flows whose every
    /// delivered bit crosses it), over the flows that are delivering anything now.
    pub(crate) fn exposure(&self) -> Vec<(NodeId, usize)> {
        let mut counts = vec![0usize; self.topology.node_count()];
        for index in flagged(&self.flags, 1) {
            let class = &self.classes[index];
            let summary = &self.summary[index];
            if let Some(reached) = &self.state[index].overflow {
                for node in &reached.sole {
                    counts[node.0 as usize] += class.flows as usize;
                }
                continue;
            }
            for (position, node) in summary.nodes[..summary.len as usize].iter().enumerate() {
                if summary.sole & (1 << position) != 0 {
                    counts[usize::from(*node)] += class.flows as usize;
                }
            }
        }
        let mut exposure: Vec<(NodeId, usize)> = counts
            .into_iter()
            .enumerate()
            .filter(|(_, count)| *count > 0)
            .map(|(node, count)| (NodeId(node as u32), count))
            .collect();
        exposure.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        exposure
    }

    /// True when class `class`'s traffic reaches `node` now.
    pub(crate) fn carries(&self, class: u32, node: NodeId) -> bool {
        if self.bloom[class as usize] & (1 << (node.0 % 64)) == 0 {
            return false;
        }
        let summary = &self.summary[class as usize];
        match u16::try_from(node.0) {
            Ok(number) if summary.len != Summary::OVERFLOW => summary.nodes[..summary.len as usize].contains(&number),
            // Switches numbered beyond 16 bits are in no summary.
            _ => self.state[class as usize].overflow.as_ref().is_some_and(|reached| reached.carried.contains(&node)),
        }
    }

    /// True when flows are hashed onto one path each.
    pub(crate) fn hashed(&self) -> bool {
        self.hashed
    }

    /// True when class `class`'s source or destination is attached to `node` alone.
    pub(crate) fn alone_on(&self, class: u32, node: NodeId) -> bool {
        let class = &self.classes[class as usize];
        let alone = |endpoint: EndpointId| {
            let endpoint = self.topology.endpoint(endpoint);
            Attachment::of(endpoint) == Attachment::Single && endpoint.attachments.iter().any(|a| a.0 == node)
        };
        alone(class.src) || alone(class.dst)
    }

    /// True when class `class` loses traffic or rides an avoid-quality path now.
    pub(crate) fn degraded(&self, class: u32) -> bool {
        self.flags[class as usize] & 2 != 0
    }

    /// Number of flows losing traffic (to a blackhole or congestion) right now.
    pub(crate) fn flows_losing_now(&self) -> usize {
        flagged(&self.flags, LOSING).map(|class| self.classes[class].flows as usize).sum()
    }

    /// Per flow, the Gbps it loses right now (blackhole and congestion).
    pub(crate) fn loss_rates(&self) -> Vec<f64> {
        self.flows
            .iter()
            .zip(&self.flow_class)
            .map(|(flow, &class)| {
                let (class, state) = (&self.classes[class as usize], &self.state[class as usize]);
                let share = if class.rate_gbps > 0.0 { flow.rate_gbps / class.rate_gbps } else { 0.0 };
                (class.rate_gbps * state.blackhole_fraction + state.congestion_gbps) * share
            })
            .collect()
    }

    /// The links over capacity now, with their offered load over capacity, in link order.
    pub fn overloaded_now(&self) -> Vec<(LinkId, f64)> {
        self.offered
            .iter()
            .zip(&self.inverse_capacity)
            .enumerate()
            .map(|(index, (offered, inverse))| (LinkId(index as u32), *offered as f64 * inverse))
            .filter(|(_, utilisation)| *utilisation > 1.0 + 1e-12)
            .collect()
    }

    /// The number of classes (flows that spread alike).
    pub(crate) fn class_count(&self) -> usize {
        self.classes.len()
    }
}
