//! The page's layout: the fabric drawing's geometry, the charts (plotters, SVG), and the HTML
//! (a minijinja template, `page.html`, with every style inline and no script, no fetch).

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::{DRAW_EACH_MAX, FabricView, Line, Node, PageData};
use crate::model::Role;
use crate::scenario::Scenario;

const TEMPLATE: &str = include_str!("page.html");
const BOX_W: f64 = 78.0;
const BOX_H: f64 = 22.0;
const GAP: f64 = 8.0;
const TIER_GAP: f64 = 70.0;

/// The fabric's drawing: device by device when small, else grouped by role and batch.
pub fn fabric(scenario: &Scenario, batch_of: &BTreeMap<&str, usize>) -> FabricView {
    let fabric = &scenario.fabric;
    let multihomed = fabric.servers().iter().filter(|s| s.leafs.len() > 1).count();
    let tiers_of = [Role::SuperSpine, Role::Spine, Role::Leaf];
    let grouped = fabric.len() > DRAW_EACH_MAX;
    let mut tiers: Vec<(String, Vec<Node>)> = Vec::new();
    let mut centre: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut y = 20.0;
    let mut width: f64 = 400.0;
    for role in tiers_of {
        let devices: Vec<&crate::model::Device> = fabric.devices().iter().filter(|d| d.role == role).collect();
        if devices.is_empty() {
            continue;
        }
        let mut nodes = Vec::new();
        if grouped {
            // By pod (a `pN-` name prefix; devices without one, such as super-spines and border
            // leafs, together), each group striped by the share of its devices in each batch.
            let pod_of = |name: &str| -> String {
                name.split_once('-')
                    .filter(|(p, _)| p.starts_with('p') && p[1..].chars().all(|c| c.is_ascii_digit()) && p.len() > 1)
                    .map_or_else(String::new, |(p, _)| format!("pod {}", &p[1..]))
            };
            let mut groups: BTreeMap<(usize, String), Vec<&crate::model::Device>> = BTreeMap::new();
            for d in &devices {
                let pod = pod_of(&d.name);
                let number = pod.trim_start_matches("pod ").parse::<usize>().unwrap_or(0);
                groups.entry((number, pod)).or_default().push(d);
            }
            for (i, ((_, pod), members)) in groups.iter().enumerate() {
                let critical: Vec<String> = members
                    .iter()
                    .flat_map(|d| d.critical_roles.iter().map(|r| r.as_str().to_string()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut per_batch: BTreeMap<usize, usize> = BTreeMap::new();
                for d in members {
                    *per_batch.entry(batch_of.get(d.name.as_str()).copied().unwrap_or(0)).or_default() += 1;
                }
                let stripes = per_batch.iter().map(|(b, n)| (*b, *n as f64 / members.len() as f64)).collect();
                let batches: Vec<usize> = per_batch.keys().copied().filter(|b| *b > 0).collect();
                let span = match (batches.first(), batches.last()) {
                    (Some(a), Some(b)) if a == b => format!(", batch {a}"),
                    (Some(a), Some(b)) => format!(", batches {a}–{b}"),
                    _ => String::new(),
                };
                let pod = if pod.is_empty() { String::new() } else { format!("{pod}: ") };
                nodes.push(Node {
                    label: format!("{pod}{} {}s{span}", members.len(), role.as_str()),
                    devices: members.iter().map(|d| d.name.clone()).collect(),
                    batch: batches.first().copied().unwrap_or(0),
                    critical,
                    stripes,
                    x: 10.0 + i as f64 * (BOX_W * 2.4 + GAP),
                    y,
                    w: BOX_W * 2.4,
                    h: BOX_H * 1.8,
                });
            }
        } else {
            for (i, d) in devices.iter().enumerate() {
                let x = 10.0 + i as f64 * (BOX_W + GAP);
                centre.insert(d.name.clone(), (x + BOX_W / 2.0, y + BOX_H / 2.0));
                nodes.push(Node {
                    label: d.name.clone(),
                    devices: vec![d.name.clone()],
                    batch: batch_of.get(d.name.as_str()).copied().unwrap_or(0),
                    critical: d.critical_roles.iter().map(|r| r.as_str().to_string()).collect(),
                    stripes: Vec::new(),
                    x,
                    y,
                    w: BOX_W,
                    h: BOX_H,
                });
            }
        }
        width = width.max(nodes.iter().map(|n| n.x + n.w + 10.0).fold(0.0, f64::max));
        tiers.push((format!("{}s", role.as_str()), nodes));
        y += TIER_GAP;
    }
    let mut links = Vec::new();
    if !grouped {
        for (a, b) in fabric.links() {
            let (a, b) = (&centre[&fabric.device(*a).name], &centre[&fabric.device(*b).name]);
            links.push(Line { x1: a.0, y1: a.1, x2: b.0, y2: b.1, multihomed: false });
        }
        let mut servers = Vec::new();
        for (i, server) in fabric.servers().iter().enumerate() {
            let x = 10.0 + i as f64 * (BOX_W / 1.5 + GAP);
            let c = (x + BOX_W / 3.0, y + BOX_H / 2.0);
            for leaf in &server.leafs {
                let l = centre[&fabric.device(*leaf).name];
                links.push(Line { x1: c.0, y1: c.1, x2: l.0, y2: l.1, multihomed: server.leafs.len() > 1 });
            }
            servers.push(Node {
                label: server.name.clone(),
                devices: Vec::new(),
                batch: 0,
                critical: Vec::new(),
                stripes: Vec::new(),
                x,
                y,
                w: BOX_W / 1.5,
                h: BOX_H,
            });
        }
        if !servers.is_empty() {
            width = width.max(servers.iter().map(|n| n.x + n.w + 10.0).fold(0.0, f64::max));
            tiers.push(("servers".to_string(), servers));
            y += TIER_GAP;
        }
    }
    FabricView { grouped, tiers, links, width, height: y, servers: fabric.servers().len(), multihomed }
}

/// A bar chart, one bar per batch for each series, as SVG.
fn batch_chart(title: &str, series: &[(&str, Vec<f64>)]) -> String {
    let mut out = String::new();
    let count = series.first().map_or(0, |s| s.1.len());
    if count == 0 {
        return out;
    }
    let top = series.iter().flat_map(|s| s.1.iter().copied()).fold(1.0, f64::max) * 1.1;
    {
        let root = SVGBackend::with_string(&mut out, (900, 240)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0.5f64..count as f64 + 0.5, 0f64..top)
        else {
            return String::new();
        };
        let whole = |x: &f64| if (x - x.round()).abs() < 1e-9 { format!("{x:.0}") } else { String::new() };
        let _ = chart
            .configure_mesh()
            .x_desc("batch")
            .x_labels(count.min(40) * 2 + 1)
            .x_label_formatter(&whole)
            .disable_x_mesh()
            .draw();
        let palette = [RGBColor(200, 60, 60), RGBColor(60, 100, 200)];
        let width = 0.8 / series.len() as f64;
        for (k, (name, values)) in series.iter().enumerate() {
            let color = palette[k % palette.len()];
            let bars = values.iter().enumerate().map(move |(i, v)| {
                let x0 = i as f64 + 1.0 - 0.4 + k as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, *v)], color.filled())
            });
            if let Ok(drawn) = chart.draw_series(bars) {
                drawn.label(*name).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
            }
        }
        let _ = chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw();
        let _ = root.present();
    }
    out
}

/// Cumulative lost bytes by when each loss began, as SVG.
fn loss_chart(page: &PageData) -> String {
    let mut points: Vec<(f64, f64)> =
        page.worst_flows.iter().filter_map(|f| f.at_seconds.map(|t| (t, f.lost_bytes))).collect();
    if points.is_empty() {
        return String::new();
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let cumulative: Vec<(f64, f64)> = points
        .iter()
        .map(|(t, b)| {
            total += b;
            (*t, total)
        })
        .collect();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 240)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption("Lost bytes of the worst flows, by when each loss began (cumulative)", ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..page.timeline.seconds.max(1.0), 0f64..total * 1.1)
        else {
            return String::new();
        };
        let _ = chart.configure_mesh().x_desc("seconds").draw();
        let _ = chart.draw_series(LineSeries::new(cumulative.iter().copied(), RGBColor(200, 60, 60).stroke_width(2)));
        let _ = chart.draw_series(cumulative.iter().map(|p| Circle::new(*p, 3, RGBColor(200, 60, 60).filled())));
        let _ = root.present();
    }
    out
}

/// Six evenly spaced time marks for the timeline: (seconds, label).
fn ticks(total: f64) -> Vec<(f64, String)> {
    (0..=5)
        .map(|i| {
            let t = total * f64::from(i) / 5.0;
            let s = t as u64;
            (t, if s >= 3600 { format!("{}h{:02}", s / 3600, (s % 3600) / 60) } else { format!("{}m", s / 60) })
        })
        .collect()
}

/// The HTML page.
pub fn html(page: &PageData) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    // Named `.html` so minijinja escapes every value for HTML: no scenario, image or device
    // text can put markup or a script into the page.
    env.add_template("page.html", TEMPLATE)?;
    env.add_filter("hue", |batch: usize| -> String {
        if batch == 0 { "#bbbbbb".to_string() } else { format!("hsl({}, 62%, 55%)", (batch * 47) % 360) }
    });
    env.add_filter("phase_color", |phase: String| -> String {
        match phase.as_str() {
            "drain" => "#90caf9",
            "image" => "#ffcc80",
            "reboot" => "#ef9a9a",
            "converge" => "#a5d6a7",
            "undrain" => "#ce93d8",
            _ => "#e0e0e0",
        }
        .to_string()
    });
    env.add_filter("duration", |seconds: f64| -> String {
        let s = seconds.max(0.0) as u64;
        if s >= 3600 { format!("{}h {:02}m", s / 3600, (s % 3600) / 60) } else { format!("{}m {:02}s", s / 60, s % 60) }
    });
    env.add_filter("bytes", |bytes: f64| -> String {
        let units = ["B", "KB", "MB", "GB", "TB"];
        let mut value = bytes;
        let mut unit = 0;
        while value >= 1000.0 && unit + 1 < units.len() {
            value /= 1000.0;
            unit += 1;
        }
        format!("{value:.1} {}", units[unit])
    });
    let losing: Vec<f64> = page.batches.iter().map(|b| b.losing_flows as f64).collect();
    let exposed: Vec<f64> = page.batches.iter().map(|b| b.exposed_flows as f64).collect();
    let batch_svg = batch_chart(
        "Per batch: flows losing traffic while it is down, and flows one more failure would cut (n+1)",
        &[("losing", losing), ("n+1 exposed", exposed)],
    );
    let template = env.get_template("page.html")?;
    let scale = 900.0 / page.timeline.seconds.max(1.0);
    template.render(minijinja::context! {
        page => page,
        batch_chart => minijinja::Value::from_safe_string(batch_svg),
        loss_chart => minijinja::Value::from_safe_string(loss_chart(page)),
        scale => scale,
        row_height => 14,
        ticks => ticks(page.timeline.seconds),
        timeline_height => page.timeline.rows.len() * 14 + 30,
    })
}
