//! The image map: an SVG area chart of entropy over the image, with the image's top-level
//! regions in a lane below.

use super::words::{entropy_text, human_size};
use super::EntropyProfile;
use assay_model::{NodeKind, Report};
use serde::Serialize;

/// The image map: an area chart of entropy over the image with its top-level regions below.
#[derive(Serialize)]
pub(super) struct EntropyChart {
    width: u32,
    height: u32,
    plot_top: u32,
    plot_bottom: u32,
    area_path: String,
    grid: Vec<GridLine>,
    regions: Vec<ChartRegion>,
    ticks: Vec<AxisTick>,
    pub(super) block_size: String,
    blocks: usize,
}

#[derive(Serialize)]
struct GridLine {
    y: String,
    pub(super) label: String,
}

#[derive(Serialize)]
struct AxisTick {
    pub(super) x: String,
    pub(super) label: String,
}

#[derive(Serialize)]
struct ChartRegion {
    pub(super) x: String,
    width: String,
    pub(super) class: &'static str,
    pub(super) label: String,
    show_label: bool,
    tooltip: String,
    pub(super) offset: String,
    pub(super) size: String,
    what: String,
    pub(super) notes: String,
}

/// The image map. Entropy (0–8 bits per byte) as an area over the image; below it a lane with
/// the image's top-level regions (containers and unclaimed bytes) at their offsets.
pub(super) fn entropy_chart(report: &Report, profile: &EntropyProfile) -> Option<EntropyChart> {
    if profile.values.is_empty() || report.image.size == 0 {
        return None;
    }
    const WIDTH: f64 = 1000.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 10.0;
    const PLOT_H: f64 = 150.0;
    const LANE_Y: f64 = TOP + PLOT_H + 26.0;
    const LANE_H: f64 = 28.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let size = report.image.size as f64;
    let x_of = |offset: f64| LEFT + (offset / size).clamp(0.0, 1.0) * plot_w;
    let y_of = |e: f64| TOP + PLOT_H - (e.clamp(0.0, 8.0) / 8.0) * PLOT_H;
    let bottom = TOP + PLOT_H;
    // A step area: each block is flat across its span.
    let block = profile.block_size.max(1) as f64;
    let mut d = format!("M{LEFT:.1},{bottom:.1}");
    for (i, &e) in profile.values.iter().enumerate() {
        let e = if e.is_finite() { e } else { 0.0 };
        let x0 = x_of(i as f64 * block);
        let x1 = x_of((i as f64 + 1.0) * block);
        let y = y_of(e);
        d.push_str(&format!(" L{x0:.1},{y:.1} L{x1:.1},{y:.1}"));
    }
    let end_x = x_of(profile.values.len() as f64 * block);
    d.push_str(&format!(" L{end_x:.1},{bottom:.1} Z"));
    let grid = [0.0, 2.0, 4.0, 6.0, 8.0]
        .iter()
        .map(|&e| GridLine {
            y: format!("{:.1}", y_of(e)),
            label: format!("{e:.0}"),
        })
        .collect();
    // Ticks at quarters of the image, rounded to a readable offset (a multiple of 0x1000 in
    // images of 64 KiB and more, of 0x10 below).
    let step: u64 = if report.image.size >= 0x10000 {
        0x1000
    } else {
        0x10
    };
    let ticks = (0..=4)
        .map(|k| {
            let exact = report.image.size as f64 * k as f64 / 4.0;
            let off = ((exact / step as f64).round() * step as f64).min(size);
            AxisTick {
                x: format!("{:.1}", x_of(off)),
                label: format!("{:#x}", off as u64),
            }
        })
        .collect();
    let mut regions = Vec::new();
    let mut alternate = false;
    for node in &report.nodes {
        if node.parent != Some(0) {
            continue;
        }
        let (class, what) = match node.kind {
            NodeKind::Container => {
                alternate = !alternate;
                (
                    if alternate { "region-a" } else { "region-b" },
                    node.format.clone().unwrap_or_else(|| "container".into()),
                )
            }
            NodeKind::Unknown => ("region-unknown", "unclaimed bytes".to_string()),
            _ => continue,
        };
        let offset = node.offset.unwrap_or(0);
        let x0 = x_of(offset as f64);
        let x1 = x_of(offset.saturating_add(node.size) as f64);
        let width = (x1 - x0).max(1.0);
        let label = match node.kind {
            NodeKind::Unknown => String::new(),
            _ => what.clone(),
        };
        regions.push(ChartRegion {
            x: format!("{x0:.1}"),
            width: format!("{width:.1}"),
            class,
            show_label: !label.is_empty() && width >= 7.0 * label.chars().count() as f64 + 6.0,
            tooltip: format!(
                "{what} at {offset:#x}, {}{}",
                human_size(node.size),
                node.entropy
                    .map(|e| format!(", entropy {}", entropy_text(e)))
                    .unwrap_or_default()
            ),
            notes: match node.kind {
                NodeKind::Unknown => {
                    let mut n = format!(
                        "entropy {} bits/byte",
                        entropy_text(node.entropy.unwrap_or(0.0))
                    );
                    if let Some(p) = node.details.get("padding") {
                        n.push_str(&format!(", padding {p}"));
                    }
                    n
                }
                _ => node.details.get("description").cloned().unwrap_or_default(),
            },
            label,
            offset: format!("{offset:#x}"),
            size: human_size(node.size),
            what,
        });
    }
    Some(EntropyChart {
        width: WIDTH as u32,
        height: (LANE_Y + LANE_H + 4.0) as u32,
        plot_top: TOP as u32,
        plot_bottom: bottom as u32,
        area_path: d,
        grid,
        regions,
        ticks,
        block_size: human_size(profile.block_size),
        blocks: profile.values.len(),
    })
}
