//! Writing an unpacked tree to disk for browsing, through a chroot-like writer: every path is
//! built from sanitised components under the output directory, no existing symlink is ever
//! written through, symlinks are recreated as links whose targets stay inside their
//! filesystem, and device nodes are recorded in the report, never created.
//!
//! Layout: the image's containers go under `DIR/`; a container found at offset `o` of a blob
//! becomes the folder `format@0xo`; its entries keep their paths inside it; a stream or file
//! that itself holds containers gets a sibling folder `NAME.extracted/`.

use crate::driver::UnpackResult;
use assay_model::{NodeId, NodeKind};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// What an extraction wrote, and what it refused to write and why.
#[derive(Debug, Default)]
pub struct ExtractSummary {
    /// Regular files and streams written.
    pub files: usize,
    /// Directories created.
    pub directories: usize,
    /// Symlinks created.
    pub symlinks: usize,
    /// Of `files`, those written as hard links to an earlier file with the same bytes.
    pub hard_links: usize,
    /// Entries not written, with the reason (escaping links, devices, name clashes).
    pub skipped: Vec<String>,
}

/// Why extraction could not proceed at all.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The output directory could not be created or used.
    #[error("output directory {path}: {source}")]
    OutputDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Materialise `result` under `dir` (created if missing).
pub fn extract(result: &UnpackResult, dir: &Path) -> Result<ExtractSummary, ExtractError> {
    fs::create_dir_all(dir).map_err(|source| ExtractError::OutputDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let root = dir
        .canonicalize()
        .map_err(|source| ExtractError::OutputDir {
            path: dir.to_path_buf(),
            source,
        })?;
    let mut writer = Writer {
        root,
        summary: ExtractSummary::default(),
        known_dirs: std::collections::HashSet::new(),
    };
    // Files whose bytes other nodes repeat (`duplicate_of`): where they were written, so that
    // each repeat becomes a hard link to them instead of another copy.
    let mut originals: HashMap<NodeId, Option<PathBuf>> = result
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::File && n.size > 0)
        .filter_map(|n| n.duplicate_of)
        .map(|id| (id, None))
        .collect();
    // Where each node's children go (relative to the root), by node id.
    let mut child_dir: Vec<Option<PathBuf>> = vec![None; result.nodes.len()];
    // For filesystem entries: the folder of their container, which is their `/`.
    for node in &result.nodes {
        let id = node.id as usize;
        let Some(parent) = node.parent else {
            child_dir[id] = Some(PathBuf::new());
            continue;
        };
        let Some(parent_dir) = child_dir.get(parent as usize).cloned().flatten() else {
            continue;
        };
        match node.kind {
            NodeKind::Container => {
                let name = format!(
                    "{}@{:#x}",
                    node.format.as_deref().unwrap_or("container"),
                    node.offset.unwrap_or(0)
                );
                let here = parent_dir.join(sanitize_component(&name));
                if writer.mkdirs(&here) {
                    child_dir[id] = Some(here);
                }
            }
            NodeKind::Stream => {
                let label = if node.path.is_empty() {
                    "data"
                } else {
                    &node.path
                };
                let here = parent_dir.join(sanitize_component(label));
                if let Some(bytes) = result.content(node.id) {
                    writer.write_file(&here, bytes, bytes.len() as u64, None);
                }
                child_dir[id] = Some(extracted_dir(&here));
            }
            NodeKind::File | NodeKind::Directory | NodeKind::Symlink => {
                let Some(rel) = entry_path(&node.path) else {
                    writer.skip(format!("{}: unusable name", node.location));
                    continue;
                };
                let here = parent_dir.join(&rel);
                match node.kind {
                    NodeKind::Directory => {
                        writer.mkdirs(&here);
                    }
                    NodeKind::File => {
                        let first = node
                            .duplicate_of
                            .and_then(|f| originals.get(&f).cloned().flatten());
                        let linked = first.is_some_and(|f| writer.hard_link(&f, &here));
                        if !linked {
                            let bytes = result.content(node.id).map(|b| &b[..]).unwrap_or(&[]);
                            let len = node.size.max(bytes.len() as u64);
                            if writer.write_file(&here, bytes, len, node.mode) {
                                if let Some(slot) = originals.get_mut(&node.id) {
                                    *slot = Some(here.clone());
                                }
                            }
                        }
                        child_dir[id] = Some(extracted_dir(&here));
                    }
                    _ => {
                        let target = node.link_target.as_deref().unwrap_or("");
                        writer.symlink(&here, &rel, target, &node.location);
                    }
                }
            }
            NodeKind::Device | NodeKind::Fifo | NodeKind::Socket | NodeKind::Hardlink => {
                writer.skip(format!(
                    "{}: {:?} recorded in the report, not created",
                    node.location, node.kind
                ));
            }
            NodeKind::Unknown | NodeKind::Image => {}
        }
        let _ = id as NodeId;
    }
    Ok(writer.summary)
}

/// Create a new file with the given permission bits, failing if the name exists (as a
/// file, a directory or a symlink: `O_EXCL` does not follow links).
/// Give a written file its trailing hole: the length `len` past the `bytes` written.
fn extend(f: &fs::File, bytes: &[u8], len: u64) -> std::io::Result<()> {
    if len > bytes.len() as u64 {
        f.set_len(len)?;
    }
    Ok(())
}

fn create_new(path: &Path, perm: u32) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(perm);
    }
    #[cfg(not(unix))]
    let _ = perm;
    options.open(path)
}

/// The permission bits an extracted file gets: owner read and write always (the analyst must
/// read it), execute bits as the image had them, and never more than `0755`: no group or world
/// write, no setuid, setgid or sticky bit on the analyst's disk, whatever the image says (the
/// image's own mode stays recorded in the report). Set explicitly after creation, so the
/// umask cannot widen it either.
pub fn file_permissions(image_mode: Option<u32>) -> u32 {
    image_mode.map_or(0o644, |m| (m & 0o755) | 0o600)
}

/// The permission bits of an extracted directory: `0755` whatever the image or the umask.
pub const DIRECTORY_PERMISSIONS: u32 = 0o755;

/// Set `perm` on an open file (creation modes pass through the umask, which may be 000).
fn set_permissions(file: &fs::File, perm: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(perm))
    }
    #[cfg(not(unix))]
    {
        let _ = (file, perm);
        Ok(())
    }
}

/// Create one directory with at most [`DIRECTORY_PERMISSIONS`] (given to `mkdir`, so that
/// even a umask of 000 cannot make it group- or world-writable).
fn create_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIRECTORY_PERMISSIONS);
    }
    builder.create(path)
}

fn extracted_dir(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".extracted");
    PathBuf::from(s)
}

/// A single safe path component: no separators, no `..`, no NUL, never empty.
fn sanitize_component(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | '\0' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    match cleaned.as_str() {
        "" | "." | ".." => "_".to_string(),
        _ => cleaned,
    }
}

/// The relative path of a filesystem entry below its container folder.
fn entry_path(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => out.push(sanitize_component(p)),
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

struct Writer {
    root: PathBuf,
    summary: ExtractSummary,
    /// Directories this writer created or checked (relative to the root): nothing else
    /// writes under the root while it runs, so they need no second look.
    known_dirs: std::collections::HashSet<PathBuf>,
}

impl Writer {
    fn skip(&mut self, why: String) {
        self.summary.skipped.push(why);
    }

    /// Create every missing directory of `rel` under the root; refuse when any existing
    /// component is not a real directory (a symlink planted by an earlier entry).
    fn mkdirs(&mut self, rel: &Path) -> bool {
        if rel.as_os_str().is_empty() || self.known_dirs.contains(rel) {
            return true;
        }
        // Only the components below the nearest directory already known are looked at, so
        // entries in tree order cost one check each however deep the tree is.
        let mut missing: Vec<&Path> = Vec::new();
        let mut cur = Some(rel);
        while let Some(p) = cur {
            if p.as_os_str().is_empty() || self.known_dirs.contains(p) {
                break;
            }
            missing.push(p);
            cur = p.parent();
        }
        for cur_rel in missing.into_iter().rev() {
            let Some(Component::Normal(_)) = cur_rel.components().next_back() else {
                self.skip(format!("{}: unexpected path component", rel.display()));
                return false;
            };
            let cur = self.root.join(cur_rel);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_dir() => {}
                Ok(_) => {
                    self.skip(format!(
                        "{}: {} exists and is not a directory (never written through)",
                        rel.display(),
                        cur.display()
                    ));
                    return false;
                }
                Err(_) => {
                    if let Err(e) = create_dir(&cur) {
                        self.skip(format!("{}: {e}", cur.display()));
                        return false;
                    }
                    self.summary.directories += 1;
                }
            }
            self.known_dirs.insert(cur_rel.to_path_buf());
        }
        true
    }

    /// Make `rel` a second name of the file this writer wrote at `first` (a repeat of its
    /// bytes costs no disk space). Fails, writing nothing, when the name exists or the file
    /// system has no hard links; the caller then writes a copy.
    fn hard_link(&mut self, first: &Path, rel: &Path) -> bool {
        if let Some(parent) = rel.parent() {
            if !self.mkdirs(parent) {
                return false;
            }
        }
        // link(2) never follows a symlink at the new name and fails if the name exists.
        if fs::hard_link(self.root.join(first), self.root.join(rel)).is_err() {
            return false;
        }
        self.summary.files += 1;
        self.summary.hard_links += 1;
        true
    }

    /// Write a regular file of `len` bytes: `bytes`, then a hole (a sparse file's trailing
    /// zeros, never materialised); whether it was written.
    fn write_file(&mut self, rel: &Path, bytes: &[u8], len: u64, mode: Option<u32>) -> bool {
        if let Some(parent) = rel.parent() {
            if !self.mkdirs(parent) {
                return false;
            }
        }
        let full = self.root.join(rel);
        let perm = file_permissions(mode);
        // O_CREAT|O_EXCL never follows a symlink, dangling or not, so a new name is written
        // in one call; only an existing name (a second entry with the same path) needs a look.
        let written = match create_new(&full, perm) {
            Ok(mut f) => f
                .write_all(bytes)
                .and_then(|()| extend(&f, bytes, len))
                .and_then(|()| set_permissions(&f, perm)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match fs::symlink_metadata(&full) {
                    // A new name, not truncation: the old file may be hard-linked elsewhere.
                    Ok(m) if m.file_type().is_file() => fs::remove_file(&full)
                        .and_then(|()| create_new(&full, perm))
                        .and_then(|mut f| {
                            f.write_all(bytes)
                                .and_then(|()| extend(&f, bytes, len))
                                .and_then(|()| set_permissions(&f, perm))
                        }),
                    _ => {
                        self.skip(format!(
                            "{}: exists as a link or directory; not written through",
                            rel.display()
                        ));
                        return false;
                    }
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.skip(format!("{}: {e}", rel.display()));
            return false;
        }
        self.summary.files += 1;
        true
    }

    /// Recreate a symlink with a target that stays inside its container folder: absolute
    /// targets are rewritten relative to the container root, and a target that would climb
    /// out of it is not created.
    fn symlink(&mut self, rel: &Path, entry_rel: &Path, target: &str, location: &str) {
        let depth = entry_rel.components().count().saturating_sub(1);
        let Some(inside) = link_target_inside(entry_rel, target) else {
            self.skip(format!(
                "{location}: symlink to {target:?} leaves its filesystem; not created"
            ));
            return;
        };
        let mut rewritten = PathBuf::new();
        for _ in 0..depth {
            rewritten.push("..");
        }
        rewritten.push(&inside);
        if let Some(parent) = rel.parent() {
            if !self.mkdirs(parent) {
                return;
            }
        }
        let full = self.root.join(rel);
        if fs::symlink_metadata(&full).is_ok() {
            self.skip(format!("{location}: name exists already; link not created"));
            return;
        }
        #[cfg(unix)]
        match std::os::unix::fs::symlink(&rewritten, &full) {
            Ok(()) => self.summary.symlinks += 1,
            Err(e) => self.skip(format!("{location}: {e}")),
        }
        #[cfg(not(unix))]
        self.skip(format!("{location}: symlinks not supported here"));
    }
}

/// Where a link at `entry_rel` pointing to `target` lands, relative to its filesystem root,
/// or `None` when it climbs out. An empty path means the root itself.
fn link_target_inside(entry_rel: &Path, target: &str) -> Option<PathBuf> {
    let mut parts: Vec<String> = Vec::new();
    if !target.starts_with('/') {
        if let Some(parent) = entry_rel.parent() {
            for c in parent.components() {
                parts.push(c.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(sanitize_component(p)),
        }
    }
    Some(parts.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Blob;
    use assay_model::{ImageInfo, Node, Stats};

    fn result(entries: Vec<Node>, contents: Vec<Option<Vec<u8>>>) -> UnpackResult {
        let mut nodes = vec![Node::new(0, None, NodeKind::Image, "img".into())];
        let mut fs_node = Node::new(1, Some(0), NodeKind::Container, "tar".into());
        fs_node.format = Some("tar".into());
        fs_node.offset = Some(0);
        nodes.push(fs_node);
        nodes.extend(entries);
        let mut c: Vec<Option<Blob>> = vec![Some(Blob::from(vec![])), None];
        c.extend(contents.into_iter().map(|x| x.map(Blob::from)));
        UnpackResult {
            image: ImageInfo {
                name: "img".into(),
                size: 0,
                sha256: String::new(),
            },
            nodes,
            contents: c,
            warnings: vec![],
            stats: Stats::default(),
            timing_dependent: false,
        }
    }

    fn entry(id: u32, kind: NodeKind, path: &str, target: Option<&str>) -> Node {
        let mut n = Node::new(id, Some(1), kind, path.into());
        n.location = path.into();
        n.link_target = target.map(str::to_string);
        n
    }

    #[test]
    fn never_writes_through_a_symlink_or_outside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let outside = tmp.path().join("victim");
        fs::create_dir(&outside).unwrap();
        let r = result(
            vec![
                entry(2, NodeKind::Symlink, "/link", Some("../../../victim")),
                entry(3, NodeKind::Symlink, "/abs", Some("/etc")),
                entry(4, NodeKind::File, "/abs/passwd", None),
                entry(5, NodeKind::File, "/etc/passwd", None),
                entry(6, NodeKind::File, "/../../escape", None),
            ],
            vec![
                None,
                None,
                Some(b"evil".to_vec()),
                Some(b"root".to_vec()),
                Some(b"x".to_vec()),
            ],
        );
        let s = extract(&r, &out).unwrap();
        // The escaping link is refused; the absolute one is rewritten to stay inside.
        assert!(fs::symlink_metadata(out.join("tar@0x0/link")).is_err());
        let abs = fs::read_link(out.join("tar@0x0/abs")).unwrap();
        assert_eq!(abs, PathBuf::from("etc"));
        // The file below the link was not written through it (the link points at a
        // directory that does not exist yet, and the component is a symlink).
        assert!(s.skipped.iter().any(|w| w.contains("tar@0x0/abs")));
        assert_eq!(fs::read(out.join("tar@0x0/etc/passwd")).unwrap(), b"root");
        assert!(fs::read_dir(&outside).unwrap().next().is_none());
        assert!(!tmp.path().join("escape").exists());
    }

    #[test]
    fn link_targets_are_kept_inside() {
        assert_eq!(
            link_target_inside(Path::new("usr/bin/telnetd"), "../../bin/busybox"),
            Some(PathBuf::from("bin/busybox"))
        );
        assert_eq!(link_target_inside(Path::new("a"), "../x"), None);
        assert_eq!(
            link_target_inside(Path::new("a/b"), "/etc/passwd"),
            Some(PathBuf::from("etc/passwd"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_never_more_permissive_than_0755() {
        use std::os::unix::fs::PermissionsExt;
        let modes = [
            Some(0o104777),
            Some(0o100666),
            Some(0o102775),
            Some(0o101777),
            Some(0o100000),
            Some(0o100751),
            None,
        ];
        let entries = (0..modes.len())
            .map(|i| {
                let mut n = entry(2 + i as u32, NodeKind::File, &format!("/d/f{i}"), None);
                n.mode = modes[i];
                n
            })
            .collect();
        let contents = modes.iter().map(|_| Some(b"x".to_vec())).collect();
        let tmp = tempfile::tempdir().unwrap();
        extract(&result(entries, contents), tmp.path()).unwrap();
        let on_disk = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let expected = [0o755, 0o644, 0o755, 0o755, 0o600, 0o751, 0o644];
        for (i, want) in expected.iter().enumerate() {
            let got = on_disk(&tmp.path().join(format!("tar@0x0/d/f{i}")));
            assert_eq!(got, *want, "f{i}: {got:o}");
        }
        for dir in ["tar@0x0", "tar@0x0/d"] {
            let got = on_disk(&tmp.path().join(dir));
            assert_eq!(got & 0o7022, 0, "{dir}: {got:o}");
        }
    }
}
