//! The exposure map and the network-trigger rule on cross-compiled fixtures
//! (fixtures/scripts/exposure.sh): a listener on every architecture with its port, protocol,
//! address and start; the planted magic-packet backdoors found in dynamic and static builds;
//! the clean twins silent.

use super::*;
use crate::testutil::{tree, TestEntry, TestEntry::*};

const ARCHES: &[&str] = &[
    "mips",
    "mipsel",
    "armel",
    "armel_thumb",
    "aarch64",
    "x86",
    "x86_64",
];
/// Architectures with a static build of the daemons.
const STATIC: &[&str] = &["mips", "mipsel", "armel", "aarch64", "x86", "x86_64"];

fn fixture(name: &str) -> Vec<u8> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/exposure/");
    std::fs::read(format!("{p}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn builds() -> Vec<String> {
    ARCHES
        .iter()
        .map(|a| a.to_string())
        .chain(STATIC.iter().map(|a| format!("{a}-static")))
        .collect()
}

const RCS: &[u8] = b"#!/bin/sh\n/usr/sbin/netcmd &\ntelnetd -p 2323\n";

fn image<'a>(daemon: &'a [u8], udp: &'a [u8]) -> Vec<TestEntry<'a>> {
    vec![
        Dir("/etc"),
        File("/etc/inittab", b"::sysinit:/etc/init.d/rcS\n", 0o644),
        File("/etc/init.d/rcS", RCS, 0o755),
        Dir("/usr/sbin"),
        File("/usr/sbin/netcmd", daemon, 0o755),
        Symlink("/usr/sbin/telnetd", "netcmd"),
        File("/usr/bin/statusd", udp, 0o4755),
    ]
}

#[test]
fn a_listener_on_every_architecture_with_port_protocol_address_and_start() {
    for arch in ARCHES {
        let daemon = fixture(&format!("netcmd_clean-{arch}"));
        let udp = fixture(&format!("udp_local-{arch}"));
        let t = tree(&image(&daemon, &udp));
        let a = Analysis::new(&t);
        let ls = listeners(&a);
        assert_eq!(ls.len(), 2, "{arch}: {ls:#?}");
        let tcp = ls.iter().find(|l| l.path == "/usr/sbin/netcmd").unwrap();
        assert_eq!(tcp.protocols, vec!["tcp"], "{arch}");
        let code = tcp.ports.iter().find(|p| p.source == "code").unwrap();
        assert_eq!(code.port, 7547, "{arch}");
        assert_eq!(code.protocol.as_deref(), Some("tcp"), "{arch}");
        assert_eq!(code.address.as_deref(), Some("any"), "{arch}");
        let cli = tcp
            .ports
            .iter()
            .find(|p| p.source == "command-line")
            .unwrap();
        assert_eq!(cli.port, 2323, "{arch}");
        assert!(tcp.started, "{arch}");
        assert_eq!(tcp.starts.len(), 2, "{arch}: {:?}", tcp.starts);
        assert!(tcp
            .starts
            .iter()
            .all(|s| s.user.as_deref() == Some("root") && s.started_by == "/etc/init.d/rcS"));
        assert!(!tcp.setuid);
        let udp = ls.iter().find(|l| l.path == "/usr/bin/statusd").unwrap();
        assert_eq!(udp.protocols, vec!["udp"], "{arch}");
        assert_eq!(udp.ports.len(), 1, "{arch}");
        assert_eq!(udp.ports[0].port, 5354, "{arch}");
        assert_eq!(udp.ports[0].address.as_deref(), Some("loopback"), "{arch}");
        assert!(!udp.started && udp.setuid, "{arch}");
        // Every fact is backed by the bytes at its range.
        for l in &ls {
            assert!(l.evidence.iter().any(|e| e.fact == "bind() call"), "{arch}");
            for e in &l.evidence {
                let b = a.bytes(e.node);
                let r = e.range.start as usize..e.range.end as usize;
                assert_eq!(evidence_excerpt(&b[r]), e.excerpt, "{arch}");
            }
        }
        // The unstarted listener is called out, the started one is not.
        let mut out = crate::FindingSink::new();
        Exposure.run(&a, &mut out);
        let unstarted: Vec<&Finding> = out
            .iter()
            .filter(|f| f.rule == UNSTARTED_LISTENER.id)
            .collect();
        assert_eq!(unstarted.len(), 1, "{arch}: {out:#?}");
        assert_eq!(unstarted[0].path, "/usr/bin/statusd");
        assert!(out.iter().all(|f| f.rule != NETWORK_TRIGGER.id), "{arch}");
    }
}

#[test]
fn static_stripped_daemons_are_listeners_too() {
    for arch in STATIC {
        let daemon = fixture(&format!("netcmd_clean-{arch}-static"));
        let t = tree(&[File("/usr/sbin/netcmd", &daemon, 0o755)]);
        let a = Analysis::new(&t);
        let ls = listeners(&a);
        assert_eq!(ls.len(), 1, "{arch}");
        assert!(ls[0].statically_linked, "{arch}");
        assert_eq!(ls[0].protocols, vec!["tcp"], "{arch}");
        assert_eq!(ls[0].ports[0].port, 7547, "{arch}");
        assert!(!ls[0].started);
    }
}

#[test]
fn planted_magic_packets_are_found_in_dynamic_and_static_builds() {
    for build in builds() {
        let daemon = fixture(&format!("netcmd_magic-{build}"));
        let t = tree(&[
            File("/etc/init.d/rcS", b"/usr/sbin/netcmd\n", 0o755),
            File("/usr/sbin/netcmd", &daemon, 0o755),
        ]);
        let a = Analysis::new(&t);
        let mut out = crate::FindingSink::new();
        Exposure.run(&a, &mut out);
        let hits: Vec<&Finding> = out
            .iter()
            .filter(|f| f.rule == NETWORK_TRIGGER.id)
            .collect();
        let magics: BTreeSet<&str> = hits
            .iter()
            .map(|f| f.context["magic_hex"].as_str())
            .collect();
        assert!(magics.contains("d34db33f7a11c0de"), "{build}: {magics:?}");
        let word = if build.starts_with("mips-") || build == "mips" {
            "5a17c3e9"
        } else {
            "e9c3175a"
        };
        assert!(magics.contains(word), "{build}: {magics:?}");
        for f in &hits {
            assert_eq!(f.severity, Severity::Critical, "{build}");
            assert_eq!(f.context["sink_kind"], "shell", "{build}");
            assert!(f.context["sink"].contains("system") || f.context["sink"].contains("popen"));
            assert_eq!(f.context["ports"], "TCP 7547", "{build}");
            assert_eq!(f.context["started"], "yes", "{build}");
            assert!(f.context["input"].starts_with("network"), "{build}");
        }
        assert_eq!(hits.len(), 2, "{build}: {hits:#?}");
        // The memcmp constant is the data the finding points at.
        let mem = hits
            .iter()
            .find(|f| f.context["magic_hex"] == "d34db33f7a11c0de")
            .unwrap();
        let r = mem.range.start as usize..mem.range.end as usize;
        assert_eq!(
            &daemon[r],
            &[0xd3, 0x4d, 0xb3, 0x3f, 0x7a, 0x11, 0xc0, 0xde],
            "{build}"
        );
    }
}

#[test]
fn clean_twins_raise_no_backdoor() {
    for build in builds() {
        let daemon = fixture(&format!("netcmd_clean-{build}"));
        let t = tree(&[File("/usr/sbin/netcmd", &daemon, 0o755)]);
        let a = Analysis::new(&t);
        let mut out = crate::FindingSink::new();
        Exposure.run(&a, &mut out);
        assert!(
            out.iter().all(|f| f.category != Category::Backdoor),
            "{build}: {out:#?}"
        );
        let mut magic = crate::FindingSink::new();
        crate::detectors::magic_compare::MagicCompare.run(&a, &mut magic);
        assert!(magic.is_empty(), "{build}: {magic:#?}");
    }
}

#[test]
fn configuration_checks_before_system_are_not_backdoors() {
    for arch in ARCHES {
        let rc = fixture(&format!("rc_config-{arch}"));
        let t = tree(&[File("/sbin/rc", &rc, 0o755)]);
        let a = Analysis::new(&t);
        let mut out = crate::FindingSink::new();
        crate::detectors::magic_compare::MagicCompare.run(&a, &mut out);
        Exposure.run(&a, &mut out);
        assert!(out.is_empty(), "{arch}: {out:#?}");
        assert!(listeners(&a).is_empty(), "{arch}");
    }
}

#[test]
fn inetd_services_and_users_are_in_the_map() {
    let daemon = fixture("netcmd_clean-mipsel");
    let t = tree(&[
        File(
            "/etc/inetd.conf",
            b"telnet stream tcp nowait nobody /usr/sbin/telnetd telnetd -i\n",
            0o644,
        ),
        File("/etc/services", b"telnet\t\t23/tcp\n", 0o644),
        File("/usr/sbin/telnetd", &daemon, 0o755),
    ]);
    let a = Analysis::new(&t);
    let ls = listeners(&a);
    assert_eq!(ls.len(), 1);
    let inetd = ls[0].ports.iter().find(|p| p.source == "inetd").unwrap();
    assert_eq!(inetd.port, 23);
    assert_eq!(ls[0].starts[0].user.as_deref(), Some("nobody"));
    assert_eq!(ls[0].starts[0].trigger, "inetd");
}

#[test]
fn verification_holds_and_catches_edits() {
    let daemon = fixture("netcmd_clean-armel");
    let udp = fixture("udp_local-armel");
    let t = tree(&image(&daemon, &udp));
    let a = Analysis::new(&t);
    let derived = listeners(&a);
    let bytes_at = |loc: &str| {
        t.nodes
            .iter()
            .find(|n| n.location == loc)
            .map(|n| a.bytes(n.id))
    };
    let mut failures = Vec::new();
    assert_eq!(
        verify_listeners(&derived, &derived, bytes_at, &mut failures),
        (2, 0)
    );
    assert!(failures.is_empty(), "{failures:?}");
    let mut edited = derived.clone();
    edited[0].ports[0].port = 1;
    edited[1].evidence[0].excerpt = "forged".into();
    edited.pop();
    let (held, missing) = verify_listeners(&edited, &derived, bytes_at, &mut failures);
    assert_eq!((held, missing), (0, 1), "{failures:?}");
    assert_eq!(failures.len(), 2, "{failures:?}");
}

#[test]
fn hostile_files_do_not_panic() {
    let daemon = fixture("netcmd_magic-x86_64");
    for cut in [0, 16, 64, 500, daemon.len() / 2] {
        let t = tree(&[File("/usr/sbin/netcmd", &daemon[..cut], 0o755)]);
        let a = Analysis::new(&t);
        let _ = listeners(&a);
    }
}

#[test]
fn configuration_lines_that_set_ports() {
    assert_eq!(port_setting("\toption Port         '22'"), Some((22, None)));
    assert_eq!(
        port_setting("\tlist listen_http\t0.0.0.0:80"),
        Some((80, Some("any".into())))
    );
    assert_eq!(port_setting("port=5353"), Some((5353, None)));
    assert_eq!(port_setting("server.port = 8080"), Some((8080, None)));
    assert_eq!(
        port_setting("Listen 127.0.0.1:8000"),
        Some((8000, Some("loopback".into())))
    );
    assert_eq!(port_setting("#\toption Port '22'"), None);
    assert_eq!(port_setting("option remote_port '22'"), None);
    assert_eq!(port_setting("port=0"), None);
}

#[test]
fn the_uci_file_named_after_a_program_gives_its_port() {
    let daemon = fixture("netcmd_clean-mips");
    let t = tree(&[
        File(
            "/etc/config/dropbear",
            b"config dropbear\n\toption Port '2222'\n",
            0o644,
        ),
        File("/usr/sbin/dropbear", &daemon, 0o755),
    ]);
    let a = Analysis::new(&t);
    let ls = listeners(&a);
    let cfg = ls[0].ports.iter().find(|p| p.source == "config").unwrap();
    assert_eq!(cfg.port, 2222);
    assert!(ls[0]
        .evidence
        .iter()
        .any(|e| e.fact == "port 2222 set in /etc/config/dropbear"));
}

#[test]
fn applets_of_a_multi_call_binary_count_only_as_daemons() {
    let daemon = fixture("netcmd_clean-mipsel");
    let t = tree(&[
        File(
            "/etc/init.d/rcS",
            b"chmod 700 /tmp\nmkdir -p /var/run\nudhcpd /etc/udhcpd.conf\n",
            0o755,
        ),
        File("/bin/busybox", &daemon, 0o755),
        Symlink("/bin/chmod", "busybox"),
        Symlink("/bin/mkdir", "busybox"),
        Symlink("/usr/sbin/udhcpd", "../../bin/busybox"),
    ]);
    let a = Analysis::new(&t);
    let ls = listeners(&a);
    let cmds: Vec<&str> = ls[0].starts.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(cmds, vec!["udhcpd /etc/udhcpd.conf"]);
}
