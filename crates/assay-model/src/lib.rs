//! Shared types of Assay: the tree of nodes an image unpacks into, the findings and components
//! the analysers derive from it, and the report that carries both.
//!
//! Every other crate speaks these types, and an outside consumer (the scorer, dashboards) reads
//! them as JSON (`schema: "assay.report/1"`), so field names here are a contract: add fields,
//! never rename or remove them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Report schema identifier, bumped only on an incompatible change.
pub const REPORT_SCHEMA: &str = "assay.report/1";

/// Index of a node in [`Report::nodes`]; stable for one image and one Assay version.
pub type NodeId = u32;

/// What a node is: a byte-holding blob, a container found in one, or a filesystem entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// The image file given to Assay.
    Image,
    /// A format recognised at an offset of its parent's bytes (squashfs, gzip, uImage, ...).
    Container,
    /// Bytes a container yields that are not a named file: a decompressed stream, a
    /// partition, a UBI volume.
    Stream,
    /// A regular file inside a filesystem or archive.
    File,
    /// A directory inside a filesystem or archive.
    Directory,
    /// A symbolic link; its target is recorded, never followed out of its filesystem.
    Symlink,
    /// A hard link to another entry of the same archive.
    Hardlink,
    /// A character or block device node (recorded, never created on disk).
    Device,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A byte range of a blob that no format claimed.
    Unknown,
}

impl NodeKind {
    /// Whether nodes of this kind hold bytes that can be scanned and analysed.
    pub fn holds_bytes(self) -> bool {
        matches!(
            self,
            NodeKind::Image | NodeKind::Stream | NodeKind::File | NodeKind::Unknown
        )
    }
}

/// One node of the unpacked tree, with enough provenance to find its bytes again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Index of this node in the report's node list.
    pub id: NodeId,
    /// The node this one was found in; `None` only for the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<NodeId>,
    /// What the node is.
    pub kind: NodeKind,
    /// Format name for containers (`squashfs`, `gzip`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Path inside the nearest filesystem or archive (`/etc/shadow`), or the node's name
    /// (a stream's or container's label, the image's file name).
    pub path: String,
    /// Human-readable chain from the image: `fw.bin ▸ uimage@0x0 ▸ lzma@0x40 ▸ /usr/sbin/httpd`.
    pub location: String,
    /// Offset of this node's bytes inside its parent's bytes, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Size in bytes: of the content for byte-holding nodes, of the span claimed in the
    /// parent for containers.
    pub size: u64,
    /// SHA-256 of the node's bytes (hex), for byte-holding nodes and containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Unix permission and type bits as stored in the filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Owner user id as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner group id as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Target of a symlink or hard link, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// Major and minor number of a device node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<(u32, u32)>,
    /// Shannon entropy in bits per byte, for unknown regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<f64>,
    /// An earlier node with the same content, which was unpacked and analysed in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<NodeId>,
    /// Modification time as the container stores it, in Unix seconds (UTC): a file's or
    /// directory's time in its filesystem or archive, a container's own build or creation
    /// time (a uImage header, a squashfs superblock). The newest one is the reproducible
    /// reference time of an image scanned without `--as-of`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<i64>,
    /// Format-specific facts worth showing (compression, block size, endianness, header
    /// fields), as sorted key/value strings.
    #[serde(default, skip_serializing_if = "Details::is_empty")]
    pub details: Details,
}

impl Node {
    /// A node with the given identity and no optional facts yet.
    pub fn new(id: NodeId, parent: Option<NodeId>, kind: NodeKind, path: String) -> Self {
        Node {
            id,
            parent,
            kind,
            format: None,
            path,
            location: String::new(),
            offset: None,
            size: 0,
            sha256: None,
            mode: None,
            uid: None,
            gid: None,
            link_target: None,
            device: None,
            entropy: None,
            duplicate_of: None,
            mtime: None,
            details: Details::default(),
        }
    }
}

/// A node's format-specific facts: sorted key/value strings, serialised as a JSON object
/// exactly like a `BTreeMap<String, String>`. Kept as one sorted vector because most nodes
/// carry one or two facts and an archive can hold a million nodes: a map would cost a
/// 500-byte tree node each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Details(Vec<(String, String)>);

impl Details {
    /// No facts.
    pub fn new() -> Self {
        Self::default()
    }
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }
    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }
    /// Set `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                // Grown one by one: most nodes hold one or two facts.
                self.0.reserve_exact(1);
                self.0.insert(i, (key, value));
                None
            }
        }
    }
    /// Remove `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }
    /// Number of facts.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The facts in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &String)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }
    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }
    /// The values in key order.
    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl From<BTreeMap<String, String>> for Details {
    fn from(map: BTreeMap<String, String>) -> Self {
        let mut v: Vec<(String, String)> = map.into_iter().collect();
        v.shrink_to_fit();
        Details(v)
    }
}

impl FromIterator<(String, String)> for Details {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let map: BTreeMap<String, String> = iter.into_iter().collect();
        map.into()
    }
}

impl Extend<(String, String)> for Details {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a> IntoIterator for &'a Details {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl IntoIterator for Details {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl std::ops::Index<&str> for Details {
    type Output = String;
    fn index(&self, key: &str) -> &String {
        self.get(key).expect("no such detail")
    }
}

impl Serialize for Details {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(d).map(Details::from)
    }
}

/// How bad a finding is for the device's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, no direct risk.
    Info,
    /// Minor weakness.
    Low,
    /// Weakness that helps an attacker.
    Medium,
    /// A way in or out that an attacker can use.
    High,
    /// A way in that needs no skill: a backdoor, a passwordless root login.
    Critical,
}

impl Severity {
    /// Lower-case name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// How sure a detector is that a finding is real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A heuristic match that needs a human look.
    Low,
    /// Likely, from structure and context.
    Medium,
    /// Certain from the bytes (a parsed key, a cracked hash).
    High,
}

/// The area a finding belongs to (see ARCHITECTURE.md, "Findings").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Hidden or privileged accounts, empty passwords, login shells on service accounts.
    Account,
    /// Hard-coded, default or weak passwords.
    Credential,
    /// Private keys shipped in the image.
    PrivateKey,
    /// Remote-access services started at boot.
    RemoteAccess,
    /// Known backdoor indicators and magic-string authentication bypasses.
    Backdoor,
    /// Hard-coded external hosts the firmware contacts.
    Endpoint,
    /// Missing binary hardening, setuid and world-writable files.
    Hardening,
    /// Components with known vulnerabilities.
    VulnerableComponent,
    /// API tokens, cloud keys, Wi-Fi keys and other secrets.
    Secret,
    /// Insecure configuration.
    Config,
    /// Signs that the image defeats its own analysis: bytes left unexamined behind a limit,
    /// floods of findings that bury the real ones.
    Evasion,
}

impl Category {
    /// Kebab-case name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Account => "account",
            Category::Credential => "credential",
            Category::PrivateKey => "private-key",
            Category::RemoteAccess => "remote-access",
            Category::Backdoor => "backdoor",
            Category::Endpoint => "endpoint",
            Category::Hardening => "hardening",
            Category::VulnerableComponent => "vulnerable-component",
            Category::Secret => "secret",
            Category::Config => "config",
            Category::Evasion => "evasion",
        }
    }
}

/// A half-open byte range `[start, end)` inside a node's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// A documented detection rule: what a finding's `rule` id means. The one rule type of Assay:
/// detectors declare theirs, the YARA rule pack and the vulnerability matcher describe theirs,
/// and the outputs that explain rules (SARIF, HTML, `assay rules`) read them.
///
/// The text type is a parameter so that built-in rules stay `const` values
/// (`Rule<&'static str>`, the default), user rules compiled at run time own their text
/// (`Rule<String>`), and a listing that mixes both borrows them (`Rule<&str>`, from
/// [`view`](Self::view)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule<S = &'static str> {
    /// Stable id, `ASSAY-<AREA>-<NNN>` (`ASSAY-USER-<name>` for a user rule without one).
    pub id: S,
    /// Area of its findings.
    pub category: Category,
    /// Default severity (a detector may raise or lower it per finding, with reason).
    pub severity: Severity,
    /// Short name.
    pub title: S,
    /// What it looks for and why it matters.
    pub description: S,
}

impl<S: AsRef<str>> Rule<S> {
    /// The same rule with borrowed text, so that static and owned rules list together.
    pub fn view(&self) -> Rule<&str> {
        Rule {
            id: self.id.as_ref(),
            category: self.category,
            severity: self.severity,
            title: self.title.as_ref(),
            description: self.description.as_ref(),
        }
    }

    /// The same rule owning its text.
    pub fn to_owned_rule(&self) -> Rule<String> {
        Rule {
            id: self.id.as_ref().to_string(),
            category: self.category,
            severity: self.severity,
            title: self.title.as_ref().to_string(),
            description: self.description.as_ref().to_string(),
        }
    }
}

/// One fact that lets someone into or out of the device, with the evidence to check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, `ASSAY-<AREA>-<NNN>`.
    pub rule: String,
    /// Area of the finding.
    pub category: Category,
    /// How bad it is.
    pub severity: Severity,
    /// How sure the detector is.
    pub confidence: Confidence,
    /// One line a person reads first.
    pub title: String,
    /// Path of the node inside its filesystem (`/etc/shadow`).
    pub path: String,
    /// Location chain of the node from the image.
    pub location: String,
    /// Node the finding rests on.
    pub node: NodeId,
    /// Bytes of the node that show the finding.
    pub range: ByteRange,
    /// The bytes at `range`, escaped for display (non-printable bytes as `\xNN`).
    pub evidence: String,
    /// SHA-256 of the node's bytes.
    pub sha256: String,
    /// Facts that explain the finding (account, port, cracked password, starting script).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
}

/// Where a component was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComponentEvidence {
    /// Path of the file inside its filesystem.
    pub path: String,
    /// Location chain of the file.
    pub location: String,
    /// The file's node.
    pub node: NodeId,
    /// SHA-256 of the file.
    pub sha256: String,
    /// How the version was read (`version-string`, `soname`, `opkg-status`, ...).
    pub method: String,
    /// The bytes that carry the version, escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Where `matched` sits in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<ByteRange>,
    /// The file is another program that carries the component linked in statically (a
    /// vendor web server with zlib inside), not one of the component's own files.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub embedded: bool,
}

/// A version that another source gives for a component and that the report does not trust,
/// kept so that a reader sees the disagreement and can judge it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OtherVersion {
    /// The version that source gives.
    pub version: String,
    /// Why the component's `version` is trusted over this one.
    pub reason: String,
    /// Where this version was read.
    pub evidence: Vec<ComponentEvidence>,
}

/// A third-party component found in the image, for the inventory and vulnerability matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Canonical upstream name (`busybox`, `openssl`).
    pub name: String,
    /// Upstream version as found.
    pub version: String,
    /// Package URL.
    pub purl: String,
    /// CPE 2.3 name, when the component has a known vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe: Option<String>,
    /// How sure the identification is.
    pub confidence: Confidence,
    /// Every place the component was seen.
    pub evidence: Vec<ComponentEvidence>,
    /// Versions other sources give for the same component that disagree with `version`
    /// (a package record's snapshot label against the binary's own banner), with the reason
    /// `version` is trusted over each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_versions: Vec<OtherVersion>,
}

/// A program that opens a network socket to receive on: the exposure map's record. Derived
/// from the program's code (socket, bind and receive calls, the port constants that reach
/// them) and from the boot model (which command line starts it, as which user), so that an
/// analyst sees where the device can be entered before reading any finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// Path of the program inside its filesystem.
    pub path: String,
    /// Location chain of the program's node.
    pub location: String,
    /// The program's node.
    pub node: NodeId,
    /// SHA-256 of the program.
    pub sha256: String,
    /// CPU architecture of the code (`mipsel`, `arm`, `x86`, ...).
    pub architecture: String,
    /// Linked without a dynamic loader (library functions recognised by their code).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub statically_linked: bool,
    /// Kinds of sockets it opens to receive on (`tcp`, `udp`, `raw`, `netlink`, `unix`,
    /// `packet`), sorted.
    pub protocols: Vec<String>,
    /// Ports it listens on, with how each was recovered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ListenPort>,
    /// Whether the boot model starts it (boot, inittab, inetd, cron).
    pub started: bool,
    /// The command lines that start it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starts: Vec<ListenerStart>,
    /// The program file has the setuid bit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub setuid: bool,
    /// The byte ranges that prove each fact (call sites, port constants, start lines).
    pub evidence: Vec<ListenerEvidence>,
}

/// One port a listener binds, and where the number came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListenPort {
    /// Port number.
    pub port: u16,
    /// `tcp`, `udp` or another protocol, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Bound address when known: `any` (INADDR_ANY or `::`), `loopback`, or the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// How the number was recovered: `code` (a constant reaching bind), `service-name`
    /// (getaddrinfo/getservbyname), `command-line` (an option of the starting command),
    /// `config` (a configuration file the program names).
    pub source: String,
}

/// A command line of the boot model that starts a listener.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListenerStart {
    /// The command as the boot model read it.
    pub command: String,
    /// Path of the script or configuration that holds it.
    pub started_by: String,
    /// 1-based line number there.
    pub line: usize,
    /// What runs it: `boot`, `inittab`, `inetd` or `cron`.
    pub trigger: String,
    /// The user it runs as, when the boot model says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The bytes that prove one fact of a listener.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListenerEvidence {
    /// The fact, in words (`bind call`, `port 2323 stored as sin_port`, `started by`).
    pub fact: String,
    /// Node holding the bytes.
    pub node: NodeId,
    /// Location chain of that node.
    pub location: String,
    /// The byte range.
    pub range: ByteRange,
    /// The bytes at the range, escaped (as a finding's evidence).
    pub excerpt: String,
}

/// A CVSS rating as a feed gives it (or as computed from its vector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// CVSS version (`3.1`, `3.0`, `4.0`, `2.0`).
    pub version: String,
    /// Base score, 0.0–10.0.
    pub score: f64,
    /// Vector string (`CVSS:3.1/AV:N/...`).
    pub vector: String,
}

/// The imported feed a vulnerability record came from, so that a result can be reproduced and
/// audited against the same data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeedSnapshot {
    /// Feed name (the imported file or folder name).
    pub name: String,
    /// Feed format (`nvd` or `osv`).
    pub kind: String,
    /// SHA-256 of the imported bytes.
    pub sha256: String,
    /// Date of the import (`YYYY-MM-DD`).
    pub imported: String,
    /// The feed's own timestamp or newest record modification, when it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// A known vulnerability matched to one component by an offline feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Identifier (`CVE-2022-28391`, or the OSV id when there is no CVE).
    pub id: String,
    /// Other identifiers of the same vulnerability (OSV ids, aliases, related CVEs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Index of the vulnerable component in [`Report::components`].
    pub component: usize,
    /// One-line description from the feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// CVSS rating, when the feed gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<Cvss>,
    /// Severity from the CVSS base score (critical ≥ 9, high ≥ 7, medium ≥ 4, else low).
    pub severity: Severity,
    /// The affected range of the feed record that the component's version fell in.
    pub matched: String,
    /// The feed the record came from.
    pub feed: FeedSnapshot,
}

/// Something that could not be unpacked or analysed, so that nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    /// Node the problem concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// Location chain of that node.
    pub location: String,
    /// What sort of problem it is, named by the code that raised it.
    pub kind: WarningKind,
    /// What happened, for a person.
    pub message: String,
}

/// What sort of problem a [`Warning`] is, so that consumers can filter and act on it without
/// reading the message. Set by the code that raised the warning; serialised as the short
/// kebab-case strings of the report contract (`limit`, `truncated`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WarningKind {
    /// A configured limit or a reader's own bound (bytes, entries, nodes, nesting depth)
    /// stopped unpacking early; what lies beyond was not read. The pipeline unpacks again on
    /// one thread when it sees one, since which branch a shared budget stops depends on
    /// thread timing.
    Limit,
    /// The data ends before a structure it declares (a short payload, a member that runs
    /// past the end of its archive).
    Truncated,
    /// A stored CRC, checksum or hash does not match the bytes: altered or damaged data.
    Checksum,
    /// A legal variant of a format that the reader does not handle (a compression method,
    /// a feature flag); the data is kept as bytes.
    Unsupported,
    /// A structure is malformed; the reader skipped it and went on.
    Format,
    /// A container could not be unpacked at all because its structure is malformed.
    Corrupt,
    /// Compressed data did not decode.
    Decode,
    /// The run was cancelled; the tree is incomplete.
    Cancelled,
    /// A blob is identical to a container it sits in; it is not unpacked again.
    SelfReference,
    /// A large region matched no format and looks encrypted or compressed.
    HighEntropy,
    /// An entry name climbs above its root; it is kept inside.
    PathTraversal,
    /// An entry name or path is longer than the bounds (255 bytes a name, 4096 a path); it is
    /// kept shortened.
    NameLength,
    /// No usable vulnerability database: components were not matched.
    Vulndb,
}

impl WarningKind {
    /// Every kind, in declaration order.
    pub const ALL: [WarningKind; 13] = [
        WarningKind::Limit,
        WarningKind::Truncated,
        WarningKind::Checksum,
        WarningKind::Unsupported,
        WarningKind::Format,
        WarningKind::Corrupt,
        WarningKind::Decode,
        WarningKind::Cancelled,
        WarningKind::SelfReference,
        WarningKind::HighEntropy,
        WarningKind::PathTraversal,
        WarningKind::NameLength,
        WarningKind::Vulndb,
    ];

    /// The kind as written in reports (`limit`, `self-reference`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::Limit => "limit",
            WarningKind::Truncated => "truncated",
            WarningKind::Checksum => "checksum",
            WarningKind::Unsupported => "unsupported",
            WarningKind::Format => "format",
            WarningKind::Corrupt => "corrupt",
            WarningKind::Decode => "decode",
            WarningKind::Cancelled => "cancelled",
            WarningKind::SelfReference => "self-reference",
            WarningKind::HighEntropy => "high-entropy",
            WarningKind::PathTraversal => "path-traversal",
            WarningKind::NameLength => "name-length",
            WarningKind::Vulndb => "vulndb",
        }
    }
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The image a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// File name as given.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole image.
    pub sha256: String,
}

/// Figures about a run; the only part of a report allowed to vary between identical runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Bytes of all blobs scanned for formats (image, streams, files).
    pub bytes_scanned: u64,
    /// Bytes produced by decompression and extraction.
    pub bytes_unpacked: u64,
    /// Number of nodes.
    pub nodes: u64,
    /// Wall-clock seconds per stage (`unpack`, `analyze`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seconds: BTreeMap<String, f64>,
}

/// The whole result of one scan: the contract other tools read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// Version of Assay that wrote the report.
    pub tool_version: String,
    /// The image.
    pub image: ImageInfo,
    /// Every node of the unpacked tree, in id order.
    pub nodes: Vec<Node>,
    /// Components found.
    #[serde(default)]
    pub components: Vec<Component>,
    /// Findings, most severe first.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Known vulnerabilities of the components, from an imported feed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
    /// Programs that open network sockets to receive on: the exposure map.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<Listener>,
    /// What could not be unpacked or analysed.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The reference time the detectors judged against (certificate expiry), as
    /// `YYYY-MM-DDTHH:MM:SSZ`; `assay verify` re-runs them as of the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// Run figures (omitted by `--reproducible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
}

pub mod terminal;
pub mod time;

/// Escape bytes for display in evidence: printable ASCII as is, the rest as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// Lower-case hex of a byte slice (hashes in reports).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_and_write_like_a_sorted_map() {
        let mut d = Details::new();
        assert_eq!(d.insert("z".into(), "1".into()), None);
        assert_eq!(d.insert("a".into(), "2".into()), None);
        assert_eq!(d.insert("z".into(), "3".into()), Some("1".into()));
        assert_eq!(d.get("z").map(String::as_str), Some("3"));
        assert!(d.contains_key("a") && !d.contains_key("b"));
        let json = serde_json::to_string(&d).unwrap();
        let map: BTreeMap<String, String> = d.clone().into_iter().collect();
        assert_eq!(json, serde_json::to_string(&map).unwrap());
        assert_eq!(json, r#"{"a":"2","z":"3"}"#);
        let back: Details = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert_eq!(d.remove("a"), Some("2".into()));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn escapes_non_printable_bytes() {
        assert_eq!(escape_bytes(b"a\x00b\\\n"), "a\\x00b\\\\\\n");
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0xde, 0xad, 0x01]), "dead01");
    }

    #[test]
    fn severity_orders_by_badness() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    }

    #[test]
    fn warning_kinds_serialise_as_the_contract_strings() {
        let written: Vec<String> = WarningKind::ALL
            .iter()
            .map(|k| serde_json::to_string(k).unwrap())
            .collect();
        assert_eq!(
            written,
            [
                "\"limit\"",
                "\"truncated\"",
                "\"checksum\"",
                "\"unsupported\"",
                "\"format\"",
                "\"corrupt\"",
                "\"decode\"",
                "\"cancelled\"",
                "\"self-reference\"",
                "\"high-entropy\"",
                "\"path-traversal\"",
                "\"name-length\"",
                "\"vulndb\"",
            ]
        );
        for k in WarningKind::ALL {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
            let back: WarningKind = serde_json::from_str(&format!("\"{}\"", k.as_str())).unwrap();
            assert_eq!(back, k);
        }
        let w = Warning {
            node: Some(3),
            location: "fw.bin".into(),
            kind: WarningKind::SelfReference,
            message: "m".into(),
        };
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"node":3,"location":"fw.bin","kind":"self-reference","message":"m"}"#
        );
    }

    #[test]
    fn a_node_without_a_time_writes_no_mtime() {
        let mut n = Node::new(0, None, NodeKind::File, "/a".into());
        assert!(!serde_json::to_string(&n).unwrap().contains("mtime"));
        n.mtime = Some(1_700_000_000);
        let json = serde_json::to_string(&n).unwrap();
        assert!(json.contains(r#""mtime":1700000000"#), "{json}");
        let back: Node = serde_json::from_str(&json).unwrap();
        assert_eq!(back.mtime, Some(1_700_000_000));
    }

    #[test]
    fn category_serialises_kebab_case() {
        let s = serde_json::to_string(&Category::PrivateKey).unwrap();
        assert_eq!(s, "\"private-key\"");
        assert_eq!(Category::RemoteAccess.as_str(), "remote-access");
    }
}
