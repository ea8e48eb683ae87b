//! Fixture manifests: the `expected.txt` written by each fixture script, one entry a line as
//! `type mode path value` (value: sha256 of the bytes, link target, `major,minor` or `-`).
//! The scripts spell types as words (`file`, `dir`, `chardev`, `chr`…) or letters (`f`, `d`,
//! `c`…) and device numbers with `,` or `:`; [`parse`] reads them all into [`Line`]s, and
//! [`manifest`] renders unpacked entries the same way, so that one comparison serves every
//! format.

use super::{entry_bytes, sha_hex};
use crate::driver::normalize_path;
use crate::format::{Entry, EntryKind};
use std::collections::BTreeMap;

/// The type of a manifest line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Unnamed bytes (`stream`).
    Stream,
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link; the value is its target.
    Symlink,
    /// A hard link kept as such; the value is its target.
    Hardlink,
    /// A character device; the value is `major,minor`.
    Char,
    /// A block device; the value is `major,minor`.
    Block,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
}

/// One entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    /// The entry's path.
    pub path: String,
    /// Its type.
    pub kind: Kind,
    /// Mode with type bits; `None` for `-` or when not compared.
    pub mode: Option<u32>,
    /// Hex sha256 of the bytes, link target, device numbers (`major,minor`) or `-`.
    pub value: String,
}

/// Read a manifest; blank lines are skipped and fields split on spaces or tabs.
pub fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, [' ', '\t']).collect();
            assert_eq!(f.len(), 4, "manifest line {l:?}");
            let kind = match f[0] {
                "stream" => Kind::Stream,
                "f" | "file" => Kind::File,
                "d" | "dir" => Kind::Dir,
                "l" | "symlink" => Kind::Symlink,
                "hardlink" => Kind::Hardlink,
                "c" | "chr" | "chardev" => Kind::Char,
                "b" | "blk" | "blockdev" => Kind::Block,
                "fifo" => Kind::Fifo,
                "socket" => Kind::Socket,
                t => panic!("unknown manifest type {t:?}"),
            };
            let mode = (f[1] != "-").then(|| u32::from_str_radix(f[1], 8).unwrap());
            let value = match kind {
                Kind::Char | Kind::Block => f[3].replace(':', ","),
                _ => f[3].to_string(),
            };
            Line {
                path: f[2].to_string(),
                kind,
                mode,
                value,
            }
        })
        .collect()
}

/// The sha256 a stream manifest (`stream - <path> <sha256>`) gives for `path`.
pub fn stream_sha(text: &str, path: &str) -> String {
    parse(text)
        .into_iter()
        .find(|l| l.kind == Kind::Stream && l.path == path)
        .unwrap_or_else(|| panic!("{path} not in the manifest"))
        .value
}

/// Render entries as manifest lines, sorted by path (stably).
pub fn manifest(container: &[u8], entries: &[Entry]) -> Vec<Line> {
    let mut lines: Vec<Line> = entries.iter().map(|e| line(container, e)).collect();
    lines.sort_by(|a, b| a.path.cmp(&b.path));
    lines
}

/// One entry as a manifest line.
pub fn line(container: &[u8], e: &Entry) -> Line {
    let (kind, value) = match &e.kind {
        EntryKind::Stream => (
            Kind::Stream,
            sha_hex(&entry_bytes(container, e).unwrap_or_default()),
        ),
        EntryKind::File => (
            Kind::File,
            sha_hex(&entry_bytes(container, e).unwrap_or_default()),
        ),
        EntryKind::Directory => (Kind::Dir, "-".into()),
        EntryKind::Symlink(t) => (Kind::Symlink, t.clone()),
        EntryKind::Hardlink(t) => (Kind::Hardlink, t.clone()),
        EntryKind::Device {
            block,
            major,
            minor,
        } => (
            if *block { Kind::Block } else { Kind::Char },
            format!("{major},{minor}"),
        ),
        EntryKind::Fifo => (Kind::Fifo, "-".into()),
        EntryKind::Socket => (Kind::Socket, "-".into()),
    };
    Line {
        path: e.path.clone(),
        kind,
        mode: e.mode,
        value,
    }
}

/// What a format can represent of a fixture's manifest.
#[derive(Clone, Copy)]
pub struct Check<'a> {
    /// Compare modes (type and permission bits).
    pub modes: bool,
    /// The format stores directories.
    pub dirs: bool,
    /// The format stores symlinks.
    pub symlinks: bool,
    /// What the format keeps of devices.
    pub devices: Devices,
    /// Manifest paths the fixture does not hold.
    pub missing: &'a [&'a str],
    /// Hard links are expected as files: an entry `Hardlink(target)` without bytes of its
    /// own stands for a file with the target's bytes.
    pub hardlinks_as_files: bool,
    /// Entry names are kept verbatim (archives): compare their normalised form, which must
    /// not climb above the root.
    pub raw_names: bool,
    /// Entries the manifest does not list are allowed (only the listed ones are checked).
    pub extra: bool,
}

/// What a format keeps of device nodes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Devices {
    /// No devices: their lines are skipped.
    Absent,
    /// Whether each is a block or character device, without numbers.
    KindOnly,
    /// Type and numbers.
    Numbers,
}

impl Check<'_> {
    /// Everything compared, nothing missing, nothing extra.
    pub const EXACT: Check<'static> = Check {
        modes: true,
        dirs: true,
        symlinks: true,
        devices: Devices::Numbers,
        missing: &[],
        hardlinks_as_files: false,
        raw_names: false,
        extra: false,
    };

    /// A filesystem against [`DISKS`]: every listed entry is checked, others may exist
    /// (`lost+found`).
    pub const DISK: Check<'static> = Check {
        extra: true,
        ..Check::EXACT
    };

    /// An archive against [`ARCHIVES`]: verbatim member names, hard links as files.
    pub const ARCHIVE: Check<'static> = Check {
        hardlinks_as_files: true,
        raw_names: true,
        ..Check::EXACT
    };
}

/// The tree every archive fixture holds (`fixtures/scripts/archives.sh`).
pub const ARCHIVES: &str = include_str!("../../../tests/fixtures/archives/expected.txt");

/// The tree every filesystem disk fixture holds (`fixtures/scripts/disks.sh`).
pub const DISKS: &str = include_str!("../../../tests/fixtures/disks/expected.txt");

/// The streams of the firmware container fixtures (`fixtures/scripts/firmware.sh`), as
/// `stream - <fixture>/<label> <sha256>`.
pub const FIRMWARE: &str = include_str!("../../../tests/fixtures/firmware/expected.txt");

/// The streams of the vendor container fixtures (`fixtures/scripts/vendor.sh`), in the
/// format of [`FIRMWARE`].
pub const VENDOR: &str = include_str!("../../../tests/fixtures/vendor/expected.txt");

/// Check that `format` unpacks fixture `name` into exactly the entries [`FIRMWARE`] lists
/// under `name/`, in its order, with its bytes.
pub fn check_streams(format: &dyn crate::Format, name: &str, data: &[u8]) {
    check_streams_in(FIRMWARE, format, name, data);
}

/// [`check_streams`] against another stream manifest (such as [`VENDOR`]).
pub fn check_streams_in(manifest: &str, format: &dyn crate::Format, name: &str, data: &[u8]) {
    let u = super::unpack(format, data);
    let prefix = format!("{name}/");
    let want: Vec<(String, String)> = parse(manifest)
        .into_iter()
        .filter_map(|l| Some((l.path.strip_prefix(&prefix)?.to_string(), l.value)))
        .collect();
    assert!(!want.is_empty(), "no manifest lines for {name}");
    let got: Vec<(String, String)> = u
        .entries
        .iter()
        .map(|e| {
            let bytes = entry_bytes(data, e).expect("entry bytes");
            (e.path.clone(), sha_hex(&bytes))
        })
        .collect();
    assert_eq!(got, want, "entries of {name}; warnings {:?}", u.warnings);
}

/// Compare unpacked entries with the manifest `expected`, within what `check` says the
/// format represents; `label` names the fixture in failures.
pub fn check(label: &str, container: &[u8], entries: &[Entry], expected: &str, check: &Check) {
    let by_path: BTreeMap<String, &Entry> = entries
        .iter()
        .map(|e| (normalize_path(&e.path).0, e))
        .collect();
    let comparable = |mut l: Line| {
        if !check.modes {
            l.mode = None;
        }
        if check.devices == Devices::KindOnly && matches!(l.kind, Kind::Char | Kind::Block) {
            l.value = "-".into();
        }
        l
    };
    let mut got: Vec<Line> = entries
        .iter()
        .map(|e| {
            let mut l = line(container, e);
            if check.raw_names {
                let (path, climbs) = normalize_path(&e.path);
                assert!(!climbs, "{label}: {path} climbs above the root");
                l.path = path;
            }
            if let (true, EntryKind::Hardlink(target)) = (check.hardlinks_as_files, &e.kind) {
                let bytes = entry_bytes(container, e).or_else(|| {
                    let t = by_path.get(&normalize_path(target).0)?;
                    entry_bytes(container, t)
                });
                l.kind = Kind::File;
                l.value = sha_hex(&bytes.unwrap_or_default());
            }
            comparable(l)
        })
        .collect();
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let mut want: Vec<Line> = parse(expected)
        .into_iter()
        .filter(|l| {
            !check.missing.contains(&l.path.as_str())
                && (check.dirs || l.kind != Kind::Dir)
                && (check.symlinks || l.kind != Kind::Symlink)
                && (check.devices != Devices::Absent || !matches!(l.kind, Kind::Char | Kind::Block))
        })
        .map(comparable)
        .collect();
    want.sort_by(|a, b| a.path.cmp(&b.path));
    if check.extra {
        for w in &want {
            let g = got
                .iter()
                .find(|g| g.path == w.path)
                .unwrap_or_else(|| panic!("{label}: missing {}", w.path));
            assert_eq!(g, w, "{label}: {}", w.path);
        }
    } else {
        assert_eq!(got, want, "{label}: entries against the manifest");
    }
}
