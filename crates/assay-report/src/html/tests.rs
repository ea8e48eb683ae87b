use super::*;
use crate::testdata::sample_report;

/// Undo the HTML escaping of text (minijinja escapes `& < > " ' /`).
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn render(report: &Report) -> String {
    let profile = EntropyProfile {
        block_size: 64,
        values: vec![1.0, 7.9, 4.0, 0.0],
    };
    to_html(report, &[], &profile).unwrap()
}

#[test]
fn a_missing_vulnerability_database_is_not_called_an_unpacking_gap() {
    let mut report = sample_report();
    report.warnings = vec![assay_model::Warning {
        node: None,
        location: String::new(),
        kind: assay_model::WarningKind::Vulndb,
        message: "no vulnerability database".into(),
    }];
    let text = unescape(&render(&report));
    assert!(text.contains("No vulnerability database was given"));
    assert!(!text.contains("could not fully unpack"));
}

#[test]
fn the_exposure_table_comes_before_the_findings() {
    let report = sample_report();
    let html = render(&report);
    let exposure = html.find("id=\"exposure\"").expect("exposure section");
    let findings = html.find("id=\"findings\"").expect("findings section");
    assert!(exposure < findings);
    let text = unescape(&html);
    assert!(text.contains("/usr/sbin/telnetd"));
    assert!(text.contains("TCP 2323 any (command-line)"));
    assert!(text.contains("started by /etc/init.d/rcS line 3 (boot as root)"));
    let mut quiet = report.clone();
    quiet.listeners.clear();
    assert!(!render(&quiet).contains("id=\"exposure\""));
}

#[test]
fn every_finding_title_and_the_headline_appear() {
    let report = sample_report();
    let html = render(&report);
    let text = unescape(&html);
    for f in &report.findings {
        assert!(text.contains(&f.title), "missing title {}", f.title);
    }
    assert!(text.contains("This image contains 1 critical and 1 high findings"));
}

#[test]
fn hostile_paths_and_evidence_are_escaped() {
    let report = sample_report();
    let html = render(&report);
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("<img src=x"));
}

#[test]
fn page_is_self_contained() {
    let html = render(&sample_report());
    // No tag refers to anything outside the page (evidence text may mention URLs).
    for tag in html
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or(""))
    {
        let t = tag.to_ascii_lowercase();
        for bad in ["http:", "https:", "src=", "url(", "@import"] {
            assert!(!t.contains(bad), "external reference in <{tag}>");
        }
    }
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script") && !lower.contains("<link"));
    assert!(html.contains("<svg"));
}

#[test]
fn chart_is_left_out_without_a_profile() {
    let report = sample_report();
    let html = to_html(&report, &[], &EntropyProfile::default()).unwrap();
    assert!(!html.contains("<svg"));
}

#[test]
fn controls_and_bidi_overrides_are_shown_visibly() {
    let mut report = sample_report();
    let hidden = "invoice\u{202e}fdp.exe\u{1b}[2J\u{2066}\u{200b}\u{9b}";
    report.nodes[2].path = hidden.into();
    report.findings[0].title = format!("account {hidden}");
    let html = render(&report);
    for c in ['\u{202e}', '\u{1b}', '\u{2066}', '\u{200b}', '\u{9b}'] {
        assert!(!html.contains(c), "{:x} reached the page", c as u32);
    }
    let text = unescape(&html);
    assert!(
        text.contains(r"invoice\u{202e}fdp.exe\x1b[2J\u{2066}\u{200b}\u{9b}"),
        "escaped form missing"
    );
    // The numeric references a browser would honour are not there either.
    assert!(!html.to_ascii_lowercase().contains("&#x202e;"));
}
