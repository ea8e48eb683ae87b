//! The detector on cross-compiled fixtures (fixtures/scripts/binscan.sh): planted master
//! passwords and stack-built magic packets are found on every architecture and optimisation
//! level, stripped or not, and the clean twins yield nothing high or critical.

use super::*;
use crate::testutil::{tree, TestEntry::File};

const ARCHES: &[&str] = &["mipsel", "mips", "armel", "aarch64", "x86_64"];
const BUILDS: &[&str] = &["O0", "O2-stripped"];

fn fixture(name: &str) -> Vec<u8> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/binscan/");
    std::fs::read(format!("{p}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn each(prog: &str) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    ARCHES.iter().flat_map(move |a| {
        BUILDS.iter().map(move |b| {
            let n = format!("{prog}-{a}-{b}");
            let bytes = fixture(&n);
            (n, bytes)
        })
    })
}

#[test]
fn master_password_before_crypt_is_found_on_every_architecture() {
    for (name, bytes) in each("login_master") {
        let found = suspicious_comparisons(&bytes);
        let hit = found
            .iter()
            .find(|s| s.literal.text == b"Tr4ns#Gw!Ops77")
            .unwrap_or_else(|| panic!("{name}: master password not found"));
        assert_eq!(hit.rule.id, "ASSAY-BACKDOOR-101", "{name}");
        assert_eq!(hit.severity, Severity::Critical, "{name}");
        assert_eq!(hit.guards.as_deref(), Some("execl"), "{name}");
        assert!(hit.bypasses.is_some(), "{name}");
        assert!(!hit.literal.on_stack, "{name}");
        assert_eq!(
            &bytes[hit.literal.range.clone()],
            b"Tr4ns#Gw!Ops77",
            "{name}"
        );
        assert_eq!(found.len(), 1, "{name}: only the planted literal");
    }
}

#[test]
fn stack_built_magic_packet_guarding_a_shell_is_found_on_every_architecture() {
    for (name, bytes) in each("knock_magic") {
        let found = suspicious_comparisons(&bytes);
        let hit = found
            .iter()
            .find(|s| s.literal.text == b"xK3y!dBg_7Q")
            .unwrap_or_else(|| panic!("{name}: magic packet not found"));
        assert!(hit.literal.on_stack, "{name}");
        assert_eq!(hit.rule.id, "ASSAY-BACKDOOR-102", "{name}");
        assert_eq!(hit.severity, Severity::Critical, "{name}");
        assert_eq!(hit.guards.as_deref(), Some("system"), "{name}");
        // Built from immediates, the magic string is nowhere in the file: `strings` cannot
        // see it. (Some -O2 builds copy it from .rodata into the frame instead.)
        if name.ends_with("O0") || name.contains("mips") {
            assert!(
                memchr::memmem::find(&bytes, b"xK3y!dBg_7Q").is_none(),
                "{name}"
            );
        }
    }
}

#[test]
fn clean_twins_have_no_suspicious_comparison() {
    for prog in ["login_clean", "knock_clean"] {
        for (name, bytes) in each(prog) {
            let found = suspicious_comparisons(&bytes);
            assert!(found.is_empty(), "{name}: {:?}", found.len());
        }
    }
}

#[test]
fn compared_literals_are_exposed_for_other_detectors() {
    for (name, bytes) in each("knock_clean") {
        let lits = compared_literals(&bytes);
        let texts: Vec<&[u8]> = lits.iter().map(|l| l.text.as_slice()).collect();
        assert!(texts.contains(&&b"reboot"[..]), "{name}: {texts:?}");
        assert!(texts.contains(&&b"status"[..]), "{name}: {texts:?}");
        assert!(lits.iter().all(|l| l.compare == "strcmp"), "{name}");
    }
}

#[test]
fn findings_carry_function_call_site_and_evidence() {
    let bytes = fixture("login_master-mipsel-O0");
    let t = tree(&[File("/usr/sbin/gw_login", &bytes, 0o755)]);
    let a = Analysis::new(&t);
    let mut out = crate::FindingSink::new();
    MagicCompare.run(&a, &mut out);
    assert_eq!(out.len(), 1);
    let f = &out[0];
    assert_eq!(f.rule, "ASSAY-BACKDOOR-101");
    assert_eq!(f.category, Category::Backdoor);
    assert_eq!(f.path, "/usr/sbin/gw_login");
    assert_eq!(f.evidence, "Tr4ns#Gw!Ops77");
    assert_eq!(f.context["function"], "main");
    assert_eq!(f.context["compare_function"], "strcmp");
    assert_eq!(f.context["architecture"], "mipsel");
    assert_eq!(f.context["guards"], "execl");
    assert!(f.context["call_address"].starts_with("0x"));
}

#[test]
fn hostile_and_truncated_files_do_not_panic() {
    for (_, bytes) in each("knock_magic") {
        for cut in [0, 16, 52, 64, 200, bytes.len() / 2] {
            let _ = suspicious_comparisons(&bytes[..cut.min(bytes.len())]);
        }
        let mut flipped = bytes.clone();
        for (i, b) in flipped.iter_mut().enumerate().skip(64) {
            if i % 7 == 0 {
                *b ^= 0x5a;
            }
        }
        let _ = suspicious_comparisons(&flipped);
    }
    assert!(compared_literals(b"\x7fELF garbage").is_empty());
}

#[test]
fn client_account_settings_are_no_authentication_path() {
    // Prompts and authorization headers are an authentication path...
    for w in [
        "Password:",
        "Enter password: ",
        "login:",
        "Authorization",
        "WWW-Authenticate",
    ] {
        assert!(is_auth_word(w), "{w}");
    }
    // ...the setting names of an uplink or provider account the device logs into are not.
    for w in [
        "ppp_username",
        "wan_pppoe_passwd",
        "l2tp_password",
        "ddns_passwd",
        "wl_wpa_psk",
    ] {
        assert!(!is_auth_word(w), "{w}");
    }
    assert!(!is_auth_word("wan_proto"));
    // A bare field or tag name is used by every handler that configures an account.
    assert!(!is_auth_word("Username"));
    assert!(!is_auth_word("login_passwd"));
    assert!(!is_auth_word("PPPoE password:"));
    assert!(!is_auth_word("HNAP:wan username or password has error "));
}
