use super::*;
use rand::{RngExt, SeedableRng};

#[test]
fn flagged_finds_the_flagged_classes_of_any_length() {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(7);
    for len in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
        let flags: Vec<u8> = (0..len).map(|_| if rng.random_bool(0.1) { rng.random::<u8>() } else { 0 }).collect();
        for bit in [1, 2, LOSING] {
            let expected: Vec<usize> = (0..len).filter(|i| flags[*i] & bit != 0).collect();
            assert_eq!(flagged(&flags, bit).collect::<Vec<_>>(), expected, "{len} flags, bit {bit}");
        }
    }
}

#[test]
fn a_summary_holds_switches_numbered_in_16_bits_and_overflows_beyond() {
    let carried = [NodeId(3), NodeId(65_535), NodeId(9)];
    let summary = Summary::of(&carried, &[NodeId(9)], false);
    assert_eq!((summary.len, &summary.nodes[..3], summary.sole), (3, &[3, 65_535, 9][..], 0b100));
    let summary = Summary::of(&[NodeId(3), NodeId(65_536)], &[], false);
    assert_eq!(summary.len, Summary::OVERFLOW, "a switch beyond 16 bits is not summarised");
}

/// The links' overloads and the peak, as the exact pass finds them: every link, every time.
fn scan(fluid: &Fluid, peak: Option<Peak>, now: SimTime) -> (Vec<LinkId>, Option<Peak>) {
    let mut overloaded = Vec::new();
    let mut busiest: Option<(usize, f64)> = None;
    for (index, (offered, inverse)) in fluid.offered.iter().zip(&fluid.inverse_capacity).enumerate() {
        let utilisation = *offered as f64 * inverse;
        if utilisation > 1.0 + 1e-12 {
            overloaded.push(LinkId(index as u32));
        }
        if busiest.is_none_or(|(_, u)| utilisation > u + 1e-12) {
            busiest = Some((index, utilisation));
        }
    }
    let mut peak = peak;
    if let Some((index, utilisation)) = busiest
        && peak.is_none_or(|p| utilisation > p.utilisation + 1e-12)
    {
        peak = Some(Peak { link: LinkId(index as u32), utilisation, at: now });
    }
    (overloaded, peak)
}

/// Link checks that skip the exact pass when no link is above its alarm find what the exact
/// pass finds, over random loads that rise and fall around the links' capacities and the
/// peak (some exactly at them).
#[test]
fn link_checks_with_alarms_find_what_scanning_every_link_finds() {
    let mut t = Topology::new();
    let spine = t.add_node("spine", 2);
    let leafs: Vec<NodeId> = (0..6).map(|i| t.add_node(format!("leaf{i}"), 1)).collect();
    for (i, leaf) in leafs.iter().enumerate() {
        t.add_link(*leaf, spine, 10.0 * (i + 1) as f64);
    }
    let fluid = Fluid::new(t, Vec::new(), Ecmp::Fluid);
    let mut fluid = fluid;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(11);
    let mut reference_peak = fluid.peak;
    for step in 0..5_000u64 {
        let now = SimTime::from_millis(step);
        for (offered, inverse) in fluid.offered.iter_mut().zip(&fluid.inverse_capacity) {
            let capacity = 1.0 / inverse;
            *offered = match rng.random_range(0..10) {
                0 => capacity as i64,
                1 => capacity as i64 + 1,
                2..5 => (capacity * rng.random_range(0.0..1.2)) as i64,
                _ => (capacity * rng.random_range(0.0..0.5)) as i64,
            };
        }
        let (overloaded, peak) = scan(&fluid, reference_peak, now);
        reference_peak = peak;
        fluid.check_links(now);
        assert_eq!(fluid.overloaded, overloaded, "step {step}");
        assert_eq!(fluid.peak, peak, "step {step}");
    }
    assert!(reference_peak.is_some_and(|p| p.utilisation > 1.0), "the loads reached overload");
}
