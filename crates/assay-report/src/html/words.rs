//! Plain words for the page: the headline, labels, plurals, entropy and sizes.

use assay_model::{Category, Confidence, Report, Severity};

/// The plain-words summary the first screen opens with, built from the findings.
pub fn headline(report: &Report) -> String {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (critical, high, medium) = (
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
    );
    let total = report.findings.len();
    if total == 0 {
        return "Assay found nothing to report in this image.".to_string();
    }
    let counted = |parts: &[(usize, &str)]| {
        join_words(
            &parts
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, s)| format!("{n} {s}"))
                .collect::<Vec<_>>(),
        )
    };
    if critical + high > 0 {
        let n = critical + high;
        format!(
            "This image contains {} {}: {}.",
            counted(&[(critical, "critical"), (high, "high")]),
            plural(n, "finding", "findings"),
            category_phrases(report, Severity::High)
        )
    } else if medium > 0 {
        format!(
            "No critical or high findings. This image contains {medium} medium {}: {}.",
            plural(medium, "finding", "findings"),
            category_phrases(report, Severity::Medium)
        )
    } else {
        format!(
            "No critical, high or medium findings; {total} minor {} for review.",
            plural(total, "finding", "findings")
        )
    }
}

/// Plain words for what a category of finding means to the device's owner.
fn category_phrase(c: Category) -> &'static str {
    match c {
        Category::Account => "hidden or passwordless accounts",
        Category::Credential => "hard-coded or weak passwords",
        Category::PrivateKey => "private keys shipped in the firmware",
        Category::RemoteAccess => "remote access opened at boot",
        Category::Backdoor => "backdoor indicators",
        Category::Endpoint => "phone-home or code fetched from fixed outside hosts",
        Category::Hardening => "programs without exploit protections",
        Category::VulnerableComponent => "components with known vulnerabilities",
        Category::Secret => "embedded secrets such as API tokens or Wi-Fi keys",
        Category::Config => "insecure configuration",
        Category::Evasion => "parts of the image left unexamined",
    }
}

/// The categories of findings at `at_least` or worse, worst first, as one phrase.
pub(super) fn category_phrases(report: &Report, at_least: Severity) -> String {
    let mut worst: Vec<(Category, Severity, usize)> = Vec::new();
    for (i, f) in report.findings.iter().enumerate() {
        if f.severity < at_least {
            continue;
        }
        match worst.iter_mut().find(|(c, _, _)| *c == f.category) {
            Some(entry) => entry.1 = entry.1.max(f.severity),
            None => worst.push((f.category, f.severity, i)),
        }
    }
    worst.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let phrases: Vec<String> = worst
        .iter()
        .map(|(c, _, _)| category_phrase(*c).to_string())
        .collect();
    join_words(&phrases)
}

fn join_words(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

pub(super) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

pub(super) fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

pub(super) fn confidence_label(c: Confidence) -> &'static str {
    match c {
        Confidence::Low => "low",
        Confidence::Medium => "medium",
        Confidence::High => "high",
    }
}

/// Entropy for display: two decimals, never `-0.00`.
pub(super) fn entropy_text(e: f64) -> String {
    let e = if e.is_finite() && e > 0.0 { e } else { 0.0 };
    format!("{e:.2}")
}

/// Sizes in the largest binary unit below them, one decimal (`4.0 MiB`); bytes below 1 KiB.
pub(super) fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} {}", plural(n as usize, "byte", "bytes"));
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample_report;
    #[test]
    fn headline_counts_and_names_the_serious_categories() {
        let report = sample_report();
        let h = headline(&report);
        assert!(
            h.starts_with("This image contains 1 critical and 1 high findings:"),
            "{h}"
        );
        assert!(h.contains("hidden or passwordless accounts"), "{h}");
        assert!(h.contains("remote access opened at boot"), "{h}");
    }

    #[test]
    fn headline_of_a_clean_image() {
        let mut report = sample_report();
        report.findings.clear();
        assert_eq!(
            headline(&report),
            "Assay found nothing to report in this image."
        );
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(1000), "1000 bytes");
        assert_eq!(human_size(4 * 1024 * 1024), "4.0 MiB");
    }
}
