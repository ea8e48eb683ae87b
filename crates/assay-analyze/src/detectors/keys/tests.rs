use super::*;
use crate::testutil::{tree, TestEntry::*};

macro_rules! data {
    ($f:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys/", $f))
    };
}

fn run(entries: &[crate::testutil::TestEntry]) -> Vec<assay_model::Finding> {
    run_as_of(1_700_000_000, entries)
}

fn run_as_of(as_of: i64, entries: &[crate::testutil::TestEntry]) -> Vec<assay_model::Finding> {
    let t = tree(entries);
    let a = Analysis::new(&t).with_as_of(as_of);
    let mut out = crate::FindingSink::new();
    Keys.run(&a, &mut out);
    out.held().to_vec()
}

fn key<'f>(out: &'f [assay_model::Finding], path: &str) -> &'f assay_model::Finding {
    out.iter()
        .find(|f| (f.rule == "ASSAY-KEY-001" || f.rule == "ASSAY-KEY-002") && f.path == path)
        .unwrap_or_else(|| panic!("no key at {path}: {out:#?}"))
}

#[test]
fn parses_every_format_and_pairs_certificates() {
    let mut server = data!("rsa1024.p8.pem").to_vec();
    server.extend_from_slice(data!("rsa1024.crt"));
    let out = run(&[
        File("/etc/lighttpd/server.pem", &server, 0o600),
        File("/etc/ssl/old.key", data!("rsa1024.pem"), 0o600),
        File("/etc/config/client.pem", data!("ec256.pem"), 0o600),
        File("/etc/acme/support", data!("ed25519"), 0o600),
        File("/etc/acme/support.pub", data!("ed25519.pub"), 0o644),
        File(
            "/etc/dropbear/dropbear_rsa_host_key",
            data!("dropbear_rsa_host_key"),
            0o600,
        ),
        File(
            "/etc/dropbear/dropbear_ecdsa_host_key",
            data!("dropbear_ecdsa_host_key"),
            0o600,
        ),
        File("/lib/firmware/blob.bin", data!("rsa1024.p8.der"), 0o600),
        File("/etc/enc.pem", data!("rsa1024.enc.pem"), 0o600),
    ]);
    let s = key(&out, "/etc/lighttpd/server.pem");
    assert_eq!(s.context["key_type"], "rsa");
    assert_eq!(s.context["bits"], "1024");
    assert!(
        s.context["pairs_with"].contains("CN=router.example"),
        "{s:?}"
    );
    assert!(s.context["also_at"].contains("/etc/ssl/old.key"));
    assert_eq!(
        key(&out, "/etc/config/client.pem").context["key_type"],
        "ec-prime256v1"
    );
    let ed = key(&out, "/etc/acme/support");
    assert_eq!(ed.context["key_type"], "ed25519");
    assert!(ed.context["pairs_with"].contains("/etc/acme/support.pub"));
    assert_eq!(
        key(&out, "/etc/dropbear/dropbear_rsa_host_key").context["format"],
        "Dropbear"
    );
    assert_eq!(
        key(&out, "/etc/dropbear/dropbear_ecdsa_host_key").context["key_type"],
        "ec-prime256v1"
    );
    assert_eq!(
        key(&out, "/lib/firmware/blob.bin").context["format"],
        "DER PKCS#8"
    );
    assert_eq!(key(&out, "/etc/enc.pem").rule, "ASSAY-KEY-002");
    assert!(out
        .iter()
        .any(|f| f.rule == "ASSAY-KEY-003" && f.path == "/etc/ssl/old.key"));
    assert!(out.iter().any(|f| f.rule == "ASSAY-KEY-004"));
    assert!(
        !out.iter().any(|f| f.path == "/etc/acme/support.pub"),
        "public key alone is no finding"
    );
}

#[test]
fn authorized_keys_grant_root_or_accounts() {
    let pubkey = data!("ed25519.pub");
    let out = run(&[
        File("/upper/etc/dropbear/authorized_keys", pubkey, 0o600),
        File("/home/alice/.ssh/authorized_keys", pubkey, 0o600),
        File("/etc/ssh/ssh_known_hosts", pubkey, 0o644),
    ]);
    let root = out
        .iter()
        .find(|f| f.path == "/upper/etc/dropbear/authorized_keys")
        .unwrap();
    assert_eq!(root.category, Category::Backdoor);
    assert_eq!(root.severity, Severity::Critical);
    assert_eq!(root.context["comment"], "support@vendor.example");
    let alice = out
        .iter()
        .find(|f| f.path.starts_with("/home/alice"))
        .unwrap();
    assert_eq!(alice.context["account"], "alice");
    assert_eq!(alice.category, Category::Account);
    assert_eq!(out.len(), 2);
}

#[test]
fn certificates_expire_and_garbage_is_quiet() {
    let out = run_as_of(4_102_444_800, &[ // 2100-01-01
        File("/etc/ssl/certs/router.crt", data!("rsa1024.crt"), 0o644),
        File("/etc/doc.txt", b"-----BEGIN RSA PRIVATE KEY-----\n...your key here...\n-----END RSA PRIVATE KEY-----\n", 0o644),
        File("/bin/x", b"\0\0\0\x07ssh-rsa\0\0\0\x01\x03", 0o755),
    ]);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].rule, "ASSAY-KEY-005");
    assert_eq!(out[0].context["subject_cn"], "router.example");
}

#[test]
fn a_key_a_listening_server_names_says_so() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/exposure/");
    let mut server = std::fs::read(format!("{dir}netcmd_clean-mips-static")).unwrap();
    server.extend_from_slice(b"\0/etc/ssl/server.key\0");
    let out = run(&[
        File("/usr/sbin/netcmd", &server, 0o755),
        File("/etc/ssl/server.key", data!("rsa1024.pem"), 0o600),
        File("/etc/ssl/spare.key", data!("ec256.pem"), 0o600),
        File("/etc/ssl/old.key", data!("rsa1024.enc.pem"), 0o600),
    ]);
    let used = key(&out, "/etc/ssl/server.key");
    assert!(
        used.context["used_by"].contains("/usr/sbin/netcmd (listens)"),
        "{used:#?}"
    );
    let weak = out
        .iter()
        .find(|f| f.rule == "ASSAY-KEY-003" && f.path == "/etc/ssl/server.key")
        .expect("weak");
    // The key itself is the high finding; its weakness stays a medium note beside it.
    assert_eq!(weak.severity, Severity::Medium);
    assert!(weak.context["used_by"].contains("/usr/sbin/netcmd"));
    // A key nothing names keeps its rank, without a user.
    assert!(!key(&out, "/etc/ssl/spare.key")
        .context
        .contains_key("used_by"));
}
