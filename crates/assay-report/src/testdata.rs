//! A small hand-made report for the unit tests of the outputs: an image holding a squashfs
//! with a passwd file, a boot script and a file whose name and content are hostile HTML.

use assay_model::*;
use std::collections::BTreeMap;

fn node(id: NodeId, parent: Option<NodeId>, kind: NodeKind, path: &str, location: &str) -> Node {
    let mut n = Node::new(id, parent, kind, path.to_string());
    n.location = location.to_string();
    n.size = 100;
    n.sha256 = Some(format!("{id:064x}"));
    n
}

#[allow(clippy::too_many_arguments)]
fn finding(
    rule: &str,
    category: Category,
    severity: Severity,
    title: &str,
    node: &Node,
    start: u64,
    end: u64,
    evidence: &str,
) -> Finding {
    Finding {
        rule: rule.to_string(),
        category,
        severity,
        confidence: Confidence::High,
        title: title.to_string(),
        path: node.path.clone(),
        location: node.location.clone(),
        node: node.id,
        range: ByteRange { start, end },
        evidence: evidence.to_string(),
        sha256: node.sha256.clone().unwrap_or_default(),
        context: BTreeMap::new(),
    }
}

/// The sample report.
pub fn sample_report() -> Report {
    let mut image = node(0, None, NodeKind::Image, "fw.bin", "fw.bin");
    image.size = 4096;
    let mut sq = node(
        1,
        Some(0),
        NodeKind::Container,
        "squashfs",
        "fw.bin ▸ squashfs@0x100",
    );
    sq.format = Some("squashfs".into());
    sq.offset = Some(0x100);
    sq.size = 3000;
    let passwd = node(
        2,
        Some(1),
        NodeKind::File,
        "/etc/passwd",
        "fw.bin ▸ squashfs@0x100 ▸ /etc/passwd",
    );
    let rcs = node(
        3,
        Some(1),
        NodeKind::File,
        "/etc/init.d/rcS",
        "fw.bin ▸ squashfs@0x100 ▸ /etc/init.d/rcS",
    );
    let hostile = node(
        4,
        Some(1),
        NodeKind::File,
        "/www/<script>alert(1)</script>.conf",
        "fw.bin ▸ squashfs@0x100 ▸ /www/<script>alert(1)</script>.conf",
    );
    let mut gap = node(
        5,
        Some(0),
        NodeKind::Unknown,
        "unknown@0xcb8",
        "fw.bin ▸ unknown@0xcb8",
    );
    gap.offset = Some(0xcb8);
    gap.size = 840;
    gap.entropy = Some(7.91);
    let mut acct = finding(
        "ASSAY-ACCT-001",
        Category::Account,
        Severity::Critical,
        "Additional UID-0 account 'backdoor'",
        &passwd,
        30,
        62,
        "backdoor:x:0:0::/root:/bin/sh",
    );
    acct.context.insert("account".into(), "backdoor".into());
    let telnet = finding(
        "ASSAY-REMOTE-001",
        Category::RemoteAccess,
        Severity::High,
        "Telnet server started at boot with a root shell",
        &rcs,
        10,
        28,
        "telnetd -l /bin/sh",
    );
    let mut html = finding(
        "ASSAY-SECRET-002",
        Category::Secret,
        Severity::Medium,
        "API key in <script>alert('title')</script>",
        &hostile,
        0,
        40,
        "key=\"<script>alert(1)</script><img src=x onerror=alert(2)>\" https://evil.example/x.js",
    );
    html.context
        .insert("<b>key</b>".into(), "<script>alert(3)</script>".into());
    let info = finding(
        "ASSAY-UNDOCUMENTED-999",
        Category::Endpoint,
        Severity::Info,
        "Hard-coded host update.example.com",
        &rcs,
        40,
        58,
        "update.example.com",
    );
    Report {
        schema: REPORT_SCHEMA.to_string(),
        tool_version: "0.1.0".into(),
        image: ImageInfo {
            name: "fw.bin".into(),
            size: 4096,
            sha256: "ab".repeat(32),
        },
        nodes: vec![image, sq, passwd, rcs, hostile, gap],
        components: vec![Component {
            name: "busybox".into(),
            version: "1.36.1".into(),
            purl: "pkg:generic/busybox@1.36.1".into(),
            cpe: Some("cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*".into()),
            confidence: Confidence::High,
            evidence: vec![ComponentEvidence {
                path: "/bin/<busybox>".into(),
                location: "fw.bin ▸ squashfs@0x100 ▸ /bin/<busybox>".into(),
                node: 3,
                sha256: "cd".repeat(32),
                method: "version-string".into(),
                matched: Some("BusyBox v1.36.1".into()),
                range: None,
                embedded: false,
            }],
            other_versions: Vec::new(),
        }],
        findings: vec![acct, telnet, html, info],
        listeners: vec![Listener {
            path: "/usr/sbin/telnetd".into(),
            location: "fw.bin ▸ squashfs@0x100 ▸ /usr/sbin/telnetd".into(),
            node: 3,
            sha256: "cd".repeat(32),
            architecture: "mipsel".into(),
            statically_linked: false,
            protocols: vec!["tcp".into()],
            ports: vec![ListenPort {
                port: 2323,
                protocol: Some("tcp".into()),
                address: Some("any".into()),
                source: "command-line".into(),
            }],
            started: true,
            starts: vec![ListenerStart {
                command: "telnetd -p 2323 -l /bin/sh".into(),
                started_by: "/etc/init.d/rcS".into(),
                line: 3,
                trigger: "boot".into(),
                user: Some("root".into()),
            }],
            setuid: false,
            evidence: Vec::new(),
        }],
        warnings: vec![Warning {
            node: Some(5),
            location: "fw.bin ▸ unknown@0xcb8".into(),
            kind: WarningKind::Unsupported,
            message: "840 bytes <no format> claimed".into(),
        }],
        as_of: None,
        vulnerabilities: Vec::new(),
        stats: None,
    }
}
