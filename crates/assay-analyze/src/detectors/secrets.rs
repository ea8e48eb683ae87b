//! Secrets: cloud and API tokens (by their published formats, and long random values of
//! `api_key`/`token`/`secret` settings), Wi-Fi pre-shared keys and SNMP communities, in
//! configuration files, scripts and binaries.

use super::credentials::is_password_key;
use super::text::{
    entropy, file_name, is_elf, is_placeholder, lines, looks_like_text, strings, unquote,
};
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, NodeId, Severity};
use regex::Regex;
use std::sync::OnceLock;

/// Token of a known provider.
pub const CLOUD_TOKEN: Rule = Rule {
    id: "ASSAY-SECRET-001",
    category: Category::Secret,
    severity: Severity::High,
    title: "Cloud or API token",
    description: "A string of a provider's published token format (AWS access key id AKIA…, \
        Google API key AIza…, GitHub ghp_/github_pat_, Slack xox…, Stripe sk_live_) is in a \
        file. A live key gives access to the vendor's cloud account from every device.",
};

/// Generic API key setting.
pub const API_KEY: Rule = Rule {
    id: "ASSAY-SECRET-002",
    category: Category::Secret,
    severity: Severity::High,
    title: "API key or token in a configuration file",
    description: "A setting named like api_key, apikey, access_key, token, client_secret or \
        secret holds a long random-looking value (16+ characters, letters and digits, high \
        entropy): a fleet-wide credential for a cloud service.",
};

/// Wi-Fi PSK.
pub const WIFI_PSK: Rule = Rule {
    id: "ASSAY-SECRET-003",
    category: Category::Secret,
    severity: Severity::Low,
    title: "Wi-Fi pre-shared key",
    description: "A default Wi-Fi passphrase (hostapd `wpa_passphrase`, wpa_supplicant `psk`, \
        UCI `option key` of a wifi-iface, nvram `wl0_wpa_psk`) ships in the image; if it is \
        the same on every unit, anyone nearby who has read the firmware can join.",
};

/// SNMP community.
pub const SNMP_COMMUNITY: Rule = Rule {
    id: "ASSAY-SECRET-004",
    category: Category::Credential,
    severity: Severity::Medium,
    title: "SNMP community string",
    description: "An SNMP community (a cleartext password) is configured. A read-write \
        community lets anyone who knows it change the device's configuration: high when it is \
        the default `private`/`public`, medium for another rw community, low for read-only.",
};

/// The secrets detector.
pub struct Secrets;

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

fn token_kind(s: &str) -> Option<(&'static str, std::ops::Range<usize>)> {
    static T: OnceLock<Regex> = OnceLock::new();
    let t = re(
        &T,
        r"\b(?:(AKIA[0-9A-Z]{16})|(AIza[0-9A-Za-z_\-]{35})|(ghp_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,90})|(xox[baprs]-[A-Za-z0-9\-]{10,60})|(sk_live_[0-9A-Za-z]{24,99}))\b",
    );
    let c = t.captures(s)?;
    let names = [
        "aws-access-key-id",
        "google-api-key",
        "github-token",
        "slack-token",
        "stripe-live-key",
    ];
    (1..=5).find_map(|i| c.get(i).map(|m| (names[i - 1], m.range())))
}

fn is_api_key_name(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    let parts: Vec<&str> = k.split(['_', '.', '-']).filter(|p| !p.is_empty()).collect();
    let joined = parts.join("");
    (joined.contains("apikey")
        || joined.contains("accesskey")
        || joined.contains("secretkey")
        || joined.ends_with("token")
        || joined.ends_with("secret")
        || joined.contains("clientsecret")
        || joined.contains("authkey"))
        && !parts.iter().any(|p| {
            matches!(
                *p,
                "file" | "path" | "dir" | "url" | "name" | "type" | "len" | "length" | "timeout"
            )
        })
}

fn random_looking(v: &str) -> bool {
    v.len() >= 16
        && v.len() <= 256
        && !v.contains(' ')
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().any(|b| b.is_ascii_alphabetic())
        && entropy(v) >= 3.0
        && !is_placeholder(v)
        && !v.contains("://")
        && !crate::detectors::credentials::looks_like_code(v)
}

fn is_psk_key(k: &str, wireless_file: bool) -> bool {
    let k = k.to_ascii_lowercase();
    k == "wpa_passphrase"
        || k == "wpa_psk"
        || k.ends_with("_wpa_psk")
        || k.ends_with("wpa_key")
        || k == "psk"
        || k.ends_with("_psk")
        || (wireless_file && (k == "key" || k == "passphrase" || k == "wpakey"))
}

impl Detector for Secrets {
    fn name(&self) -> &'static str {
        "secrets"
    }

    fn rules(&self) -> &'static [Rule] {
        &[CLOUD_TOKEN, API_KEY, WIFI_PSK, SNMP_COMMUNITY]
    }

    fn run(&self, analysis: &Analysis, out: &mut crate::FindingSink) {
        for f in analysis.files() {
            let (node, bytes, path) = (f.node.id, f.bytes, f.node.path.as_str());
            if is_elf(bytes) {
                if bytes.len() <= 32 << 20 {
                    scan_binary(analysis, node, bytes, out);
                }
            } else if looks_like_text(bytes)
                && !path.contains("/usr/share/doc/")
                && !path.contains("/usr/share/man/")
            {
                scan_text(analysis, node, path, bytes, out);
            }
        }
    }
}

fn scan_binary(analysis: &Analysis, node: NodeId, bytes: &[u8], out: &mut crate::FindingSink) {
    for (range, s) in strings(bytes, 16) {
        if let Some((kind, r)) = token_kind(s) {
            let mut f = analysis.finding(
                &CLOUD_TOKEN,
                node,
                range.start + r.start..range.start + r.end,
                format!("{kind} in a binary"),
            );
            f.context.insert("token_type".into(), kind.into());
            out.push(f);
        }
    }
    for (range, s) in strings(bytes, 6) {
        if let Some((k, v)) = s.split_once('=') {
            if is_psk_key(k, false) && !is_placeholder(v) && v.len() >= 8 && v.len() <= 63 {
                let mut f = analysis.finding(
                    &WIFI_PSK,
                    node,
                    range,
                    format!("Default Wi-Fi key {k}={v} in a binary"),
                );
                f.context.insert("psk".into(), v.into());
                out.push(f);
            }
        }
    }
}

fn scan_text(
    analysis: &Analysis,
    node: NodeId,
    path: &str,
    bytes: &[u8],
    out: &mut crate::FindingSink,
) {
    static KV: OnceLock<Regex> = OnceLock::new();
    static UCI: OnceLock<Regex> = OnceLock::new();
    let kv = re(
        &KV,
        r#"^\s*(?:export\s+)?["']?([A-Za-z][A-Za-z0-9_.\-]{0,63})["']?\s*(?:=|:)\s*("[^"]*"|'[^']*'|[^\s,;#]+)"#,
    );
    let uci = re(
        &UCI,
        r#"^\s*option\s+([A-Za-z0-9_.\-]+)\s+("[^"]*"|'[^']*'|\S+)"#,
    );
    let name = file_name(path).to_ascii_lowercase();
    let wireless_file = [
        "wireless",
        "wifi",
        "wlan",
        "hostapd",
        "wpa_supplicant",
        "wpa",
    ]
    .iter()
    .any(|w| name.contains(w));
    let snmp_file = name.contains("snmp");
    let mut uci_section = String::new();
    for (range, line) in lines(bytes) {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        let t = text.trim();
        if t.starts_with('#') || t.starts_with("//") || t.starts_with(';') {
            continue;
        }
        if let Some(rest) = t.strip_prefix("config ") {
            uci_section = rest.split_whitespace().next().unwrap_or("").to_string();
        }
        if let Some((kind, _)) = token_kind(text) {
            let mut f = analysis.finding(
                &CLOUD_TOKEN,
                node,
                range.clone(),
                format!("{kind} in {path}"),
            );
            f.context.insert("token_type".into(), kind.into());
            out.push(f);
            continue;
        }
        let (key, value) = if let Some(c) = uci.captures(text) {
            (c[1].to_string(), unquote(&c[2]).to_string())
        } else if let Some(c) = kv.captures(text) {
            (c[1].to_string(), unquote(&c[2]).to_string())
        } else {
            (String::new(), String::new())
        };
        if !key.is_empty() {
            let in_wifi_section = uci_section == "wifi-iface";
            if is_psk_key(&key, wireless_file || in_wifi_section)
                && !is_placeholder(&value)
                && value.len() >= 8
                && value.len() <= 64
            {
                let mut f = analysis.finding(
                    &WIFI_PSK,
                    node,
                    range.clone(),
                    format!("Wi-Fi key {key} in {path}"),
                );
                f.context.insert("psk".into(), value.clone());
                out.push(f);
                continue;
            }
            if is_api_key_name(&key) && !is_password_key(&key) && random_looking(&value) {
                let mut f = analysis.finding(
                    &API_KEY,
                    node,
                    range.clone(),
                    format!("API secret {key} in {path}"),
                );
                f.confidence = Confidence::Medium;
                f.context.insert("key".into(), key.clone());
                f.context.insert("secret".into(), value.clone());
                out.push(f);
                continue;
            }
        }
        // SNMP communities (net-snmp snmpd.conf, and `community` lines of snmp configs).
        let toks: Vec<&str> = t.split_whitespace().collect();
        let (rw, community) = match toks.as_slice() {
            [d, c, ..]
                if d.eq_ignore_ascii_case("rwcommunity")
                    || d.eq_ignore_ascii_case("rwcommunity6") =>
            {
                (true, *c)
            }
            [d, c, ..]
                if d.eq_ignore_ascii_case("rocommunity")
                    || d.eq_ignore_ascii_case("rocommunity6") =>
            {
                (false, *c)
            }
            [d, _, _, c] if d.eq_ignore_ascii_case("com2sec") => (false, *c),
            [d, c, ..] if snmp_file && d.eq_ignore_ascii_case("community") => (false, *c),
            [d, c]
                if (snmp_file || uci_section.contains("snmp"))
                    && d.to_ascii_lowercase().contains("community") =>
            {
                (
                    d.to_ascii_lowercase().contains("rw")
                        || d.to_ascii_lowercase().contains("write"),
                    *c,
                )
            }
            _ => continue,
        };
        let community = unquote(community);
        if is_placeholder(community) {
            continue;
        }
        let default = matches!(community, "public" | "private");
        let mut f = analysis.finding(
            &SNMP_COMMUNITY,
            node,
            range.clone(),
            format!(
                "SNMP {} community '{community}' in {path}",
                if rw { "read-write" } else { "read-only" }
            ),
        );
        f.severity = match (rw, default) {
            (true, true) => Severity::High,
            (true, false) => Severity::Medium,
            _ => Severity::Low,
        };
        f.context.insert("community".into(), community.into());
        f.context
            .insert("access".into(), if rw { "rw" } else { "ro" }.into());
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TestEntry::*;

    fn run(entries: &[crate::testutil::TestEntry]) -> Vec<assay_model::Finding> {
        crate::testutil::run_detector(&Secrets, entries)
    }

    #[test]
    fn finds_tokens_psks_and_communities() {
        let mut elf = b"\x7fELF\x01\x02\x01\0".to_vec();
        elf.extend_from_slice(b"\0wl0_wpa_psk=acme12345\0key=AKIAIOSFODNN7EXAMPLQ\0");
        let out = run(&[
            File("/etc/igw/cloud.conf", b"[cloud]\nendpoint = mqtts://iot.example:8883\napi_key = acme_live_9f4c2b7e1d6a3058c7b2e9f1a4d8c6b3\n", 0o644),
            File("/etc/wireless.conf", b"ssid=ACME\nencryption=psk2\nkey=acmewifi2023\n", 0o644),
            File("/etc/config/wireless", b"config wifi-iface 'default'\n\toption ssid 'x'\n\toption key 'Sup3rWifiKey'\n", 0o644),
            File("/etc/hostapd.conf", b"wpa_passphrase=hostapdpass1\n", 0o644),
            File("/etc/snmp/snmpd.conf", b"rocommunity public\nrwcommunity private 10.0.0.0/8\n", 0o644),
            File("/usr/bin/agent", &elf, 0o755),
        ]);
        let rule = |r: &str, p: &str| out.iter().any(|f| f.rule == r && f.path == p);
        assert!(rule("ASSAY-SECRET-002", "/etc/igw/cloud.conf"), "{out:#?}");
        assert!(rule("ASSAY-SECRET-003", "/etc/wireless.conf"));
        assert!(rule("ASSAY-SECRET-003", "/etc/config/wireless"));
        assert!(rule("ASSAY-SECRET-003", "/etc/hostapd.conf"));
        assert!(rule("ASSAY-SECRET-003", "/usr/bin/agent"));
        assert!(rule("ASSAY-SECRET-001", "/usr/bin/agent"));
        let rw = out
            .iter()
            .find(|f| f.context.get("access").map(String::as_str) == Some("rw"))
            .unwrap();
        assert_eq!(rw.severity, Severity::High);
    }

    #[test]
    fn placeholders_and_low_entropy_are_quiet() {
        let out = run(&[
            File("/etc/app.conf", b"api_key = <your api key>\ntoken=\n# secret=abcdef0123456789abcdef\nsession_token_timeout=3600\napi_key=aaaaaaaaaaaaaaaaaaaa\n", 0o644),
            File("/etc/config/network", b"config interface 'lan'\n\toption key 'notawifi'\n", 0o644),
        ]);
        assert!(out.is_empty(), "{out:#?}");
    }
}
