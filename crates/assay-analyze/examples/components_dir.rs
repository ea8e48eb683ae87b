//! Development aid: identify the components of an already-unpacked root filesystem (a
//! directory on disk) and print them as JSON, one array per directory given.
//!
//! `cargo run -p assay-analyze --example components_dir -- DIR [FILE…]`: each extra FILE is
//! read as a stream node (a decompressed kernel, say).

use assay_model::{hex, ImageInfo, Node, NodeKind, Stats};
use assay_unpack::{sha256, Blob, UnpackResult};
use std::path::Path;

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, std::fs::Metadata, std::path::PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = format!("/{}", p.strip_prefix(root).unwrap_or(&p).display());
        let is_dir = md.is_dir();
        out.push((rel, md, p.clone()));
        if is_dir {
            walk(root, &p, out);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(&args[0]);
    let mut entries = Vec::new();
    walk(root, root, &mut entries);
    let mut nodes = vec![Node::new(0, None, NodeKind::Image, "dir".into())];
    let mut contents = vec![Some(Blob::from(Vec::new()))];
    let mut fs = Node::new(1, Some(0), NodeKind::Container, "dir".into());
    fs.format = Some("dir".into());
    nodes.push(fs);
    contents.push(None);
    let mut by_hash: std::collections::HashMap<[u8; 32], u32> = Default::default();
    for (rel, md, p) in entries {
        let id = nodes.len() as u32;
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            NodeKind::Symlink
        } else if ft.is_dir() {
            NodeKind::Directory
        } else if ft.is_file() {
            NodeKind::File
        } else {
            continue;
        };
        let mut n = Node::new(id, Some(1), kind, rel.clone());
        n.location = format!("dir ▸ {rel}");
        let mut data = None;
        if kind == NodeKind::Symlink {
            n.link_target = std::fs::read_link(&p).ok().map(|t| t.display().to_string());
        } else if kind == NodeKind::File {
            let d = std::fs::read(&p).unwrap_or_default();
            let h = sha256(&d);
            n.size = d.len() as u64;
            n.sha256 = Some(hex(&h));
            if let Some(&orig) = by_hash.get(&h) {
                n.duplicate_of = Some(orig);
            } else {
                by_hash.insert(h, id);
                data = Some(Blob::from(d));
            }
        }
        nodes.push(n);
        contents.push(data);
    }
    for extra in &args[1..] {
        let id = nodes.len() as u32;
        let d = std::fs::read(extra).unwrap_or_default();
        let mut n = Node::new(id, Some(0), NodeKind::Stream, extra.clone());
        n.location = format!("dir ▸ {extra}");
        n.size = d.len() as u64;
        n.sha256 = Some(hex(&sha256(&d)));
        nodes.push(n);
        contents.push(Some(Blob::from(d)));
    }
    let result = UnpackResult {
        timing_dependent: false,
        image: ImageInfo {
            name: "dir".into(),
            size: 0,
            sha256: String::new(),
        },
        nodes,
        contents,
        warnings: Vec::new(),
        stats: Stats::default(),
    };
    let analysis = assay_analyze::Analysis::new(&result);
    let started = std::time::Instant::now();
    let components = assay_analyze::components::identify_components(&analysis);
    eprintln!("{} components in {:?}", components.len(), started.elapsed());
    println!(
        "{}",
        serde_json::to_string_pretty(&components).unwrap_or_default()
    );
}
