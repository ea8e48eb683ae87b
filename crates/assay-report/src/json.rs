//! The canonical JSON report: deterministic for the same image, rules and version (fields in
//! declaration order, maps sorted, lists in the order the engine fixes).

use assay_model::Report;

/// Serialise a report as pretty, deterministic JSON with a trailing newline.
pub fn to_json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("reports always serialise");
    s.push('\n');
    s
}

/// Write the same bytes as [`to_json`] to `w` without building them in memory first.
pub fn write_json(report: &Report, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    w.write_all(b"\n")
}

/// Parse a report written by [`to_json`] (or any producer of the same schema).
pub fn from_json(text: &str) -> Result<Report, serde_json::Error> {
    serde_json::from_str(text)
}
