//! Flattened device trees (DTB, magic `d0 0d fe ed`) and the U-Boot FIT images built on them.
//!
//! A plain DTB becomes a container with its model and compatible strings, holding itself as
//! one stream (`devicetree.dtb`) so that an extraction writes it out as a file. A
//! FIT is a DTB with an `/images` node: each image's `data` property (or, for images built
//! with `mkimage -E`, its `data-offset`/`data-position` and `data-size` pointing past the
//! tree) becomes a stream labelled by the image's node name (`kernel-1`, `fdt-1`).
//!
//! The walker is written here because the format is tiny (five token kinds) and the crates
//! that read it either panic on malformed input or build far more than a list of nodes.

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A plain flattened device tree.
pub struct Fdt;
/// A U-Boot Flattened Image Tree: a device tree whose `/images` node holds payloads.
pub struct Fit;

static MAGICS: &[Magic] = &[Magic::at_start(b"\xd0\x0d\xfe\xed")];

const HEADER_LEN: usize = 40;
const TOKEN_BEGIN_NODE: u32 = 1;
const TOKEN_END_NODE: u32 = 2;
const TOKEN_PROP: u32 = 3;
const TOKEN_NOP: u32 = 4;
const TOKEN_END: u32 = 9;
/// Deepest node nesting the walker follows.
const MAX_DEPTH: usize = 64;
/// Most nodes one tree may hold.
const MAX_NODES: usize = 100_000;
/// Most properties one tree may hold.
const MAX_PROPS: usize = 1_000_000;
/// Longest tree (header `totalsize`) accepted.
const MAX_TOTALSIZE: u32 = 256 << 20;

/// The fixed header fields the walker needs.
#[derive(Debug, Clone, Copy)]
struct FdtHeader {
    totalsize: u32,
    off_struct: u32,
    off_strings: u32,
    version: u32,
    size_strings: u32,
    size_struct: u32,
}

impl FdtHeader {
    /// Read and sanity-check the header at the start of `data`.
    fn parse(data: &[u8]) -> Option<FdtHeader> {
        let h = data.get(..HEADER_LEN)?;
        let hdr = FdtHeader {
            totalsize: be32(h, 4)?,
            off_struct: be32(h, 8)?,
            off_strings: be32(h, 12)?,
            version: be32(h, 20)?,
            size_strings: be32(h, 32)?,
            size_struct: be32(h, 36)?,
        };
        let last_comp = be32(h, 24)?;
        let rsvmap = be32(h, 16)?;
        let ok = (16..=17).contains(&hdr.version)
            && last_comp <= hdr.version
            && hdr.totalsize >= HEADER_LEN as u32
            && hdr.totalsize <= MAX_TOTALSIZE
            && hdr.off_struct >= HEADER_LEN as u32
            && hdr.off_struct.is_multiple_of(4)
            && rsvmap >= HEADER_LEN as u32
            && rsvmap.is_multiple_of(8)
            && rsvmap < hdr.totalsize
            && (hdr.off_struct as u64 + hdr.size_struct as u64) <= hdr.totalsize as u64
            && (hdr.off_strings as u64 + hdr.size_strings as u64) <= hdr.totalsize as u64;
        ok.then_some(hdr)
    }
}

/// One property: its name and where its value lies in the tree's bytes.
#[derive(Debug, Clone)]
struct Prop {
    name: String,
    value: std::ops::Range<usize>,
}

/// One node: its name, where it sits, and its properties. Paths are not stored (a deep tree
/// would hold the square of its depth in path bytes); they are walked from the root.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    children: Vec<usize>,
    props: Vec<Prop>,
}

/// A walked tree: every node in document order.
#[derive(Debug, Default)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// Walk the structure block of the tree at the start of `data`.
    fn walk(data: &[u8], h: &FdtHeader) -> Result<Tree, FormatError> {
        let total = (h.totalsize as usize).min(data.len());
        let data = &data[..total];
        let strings_start = h.off_strings as usize;
        let strings_end = if h.version >= 17 || h.size_strings > 0 {
            strings_start.saturating_add(h.size_strings as usize)
        } else {
            total
        };
        let strings = data
            .get(strings_start..strings_end.min(total))
            .unwrap_or_default();
        let struct_end = if h.size_struct > 0 {
            (h.off_struct as usize).saturating_add(h.size_struct as usize)
        } else {
            total
        }
        .min(total);
        let mut pos = h.off_struct as usize;
        let mut tree = Tree::default();
        let mut stack: Vec<usize> = Vec::new();
        let mut props = 0usize;
        let corrupt = |m: &str| FormatError::Corrupt(m.to_string());
        loop {
            if pos + 4 > struct_end {
                return Err(FormatError::Truncated {
                    what: "device tree structure block",
                    offset: pos as u64,
                });
            }
            let token = be32(data, pos).unwrap_or(TOKEN_END);
            pos += 4;
            match token {
                TOKEN_BEGIN_NODE => {
                    let rest = data.get(pos..struct_end).unwrap_or_default();
                    let len =
                        memchr::memchr(0, rest).ok_or_else(|| corrupt("unterminated node name"))?;
                    let name = String::from_utf8_lossy(&rest[..len]).into_owned();
                    pos = align4(pos + len + 1);
                    if stack.len() >= MAX_DEPTH {
                        return Err(FormatError::Limit(format!(
                            "device tree nested deeper than {MAX_DEPTH}"
                        )));
                    }
                    if tree.nodes.len() >= MAX_NODES {
                        return Err(FormatError::Limit(format!(
                            "device tree holds more than {MAX_NODES} nodes"
                        )));
                    }
                    let index = tree.nodes.len();
                    // A second root is kept but unreachable by path (the first wins).
                    if let Some(&p) = stack.last() {
                        tree.nodes[p].children.push(index);
                    }
                    stack.push(index);
                    tree.nodes.push(Node {
                        name,
                        children: Vec::new(),
                        props: Vec::new(),
                    });
                }
                TOKEN_END_NODE => {
                    if stack.pop().is_none() {
                        return Err(corrupt("end of node without a node"));
                    }
                }
                TOKEN_PROP => {
                    let len = be32(data, pos).ok_or_else(|| corrupt("property header"))? as usize;
                    let nameoff =
                        be32(data, pos + 4).ok_or_else(|| corrupt("property header"))? as usize;
                    pos += 8;
                    let end = pos
                        .checked_add(len)
                        .filter(|&e| e <= struct_end)
                        .ok_or_else(|| corrupt("property value runs past the structure block"))?;
                    let Some(&node) = stack.last() else {
                        return Err(corrupt("property outside any node"));
                    };
                    props += 1;
                    if props > MAX_PROPS {
                        return Err(FormatError::Limit(format!(
                            "device tree holds more than {MAX_PROPS} properties"
                        )));
                    }
                    let name = strings
                        .get(nameoff..)
                        .map(|s| crate::cursor::cstr(&s[..s.len().min(256)]))
                        .unwrap_or_default();
                    tree.nodes[node].props.push(Prop {
                        name,
                        value: pos..end,
                    });
                    pos = align4(end);
                }
                TOKEN_NOP => {}
                TOKEN_END => break,
                other => {
                    return Err(corrupt(&format!(
                        "unknown token {other:#x} at {:#x}",
                        pos - 4
                    )))
                }
            }
        }
        if !stack.is_empty() {
            return Err(corrupt("tree ends inside a node"));
        }
        if tree.nodes.is_empty() {
            return Err(corrupt("tree has no root node"));
        }
        Ok(tree)
    }

    /// The node at `path` (`/`, `/images`), found from the root one name at a time.
    fn node(&self, path: &str) -> Option<&Node> {
        let mut cur = self.nodes.first()?;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            cur = self.children_of(cur).find(|c| c.name == name)?;
        }
        Some(cur)
    }

    /// The direct children of `node`.
    fn children_of<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = &'a Node> + 'a {
        node.children.iter().filter_map(|&i| self.nodes.get(i))
    }

    /// The direct children of the node at `path`.
    fn children<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a Node> + 'a {
        self.node(path)
            .into_iter()
            .flat_map(move |n| self.children_of(n))
    }
}

impl Node {
    fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }
    /// A property as text: NUL-separated string lists joined with ", ".
    fn text(&self, data: &[u8], name: &str) -> Option<String> {
        let v = data.get(self.prop(name)?.value.clone())?;
        let v = v.strip_suffix(b"\0").unwrap_or(v);
        if v.iter().any(|&b| b != 0 && !(0x20..0x7f).contains(&b)) {
            return None;
        }
        Some(
            v.split(|&b| b == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
    /// A property as one 32-bit cell, or two cells as a 64-bit value.
    fn int(&self, data: &[u8], name: &str) -> Option<u64> {
        let v = data.get(self.prop(name)?.value.clone())?;
        match v.len() {
            4 => be32(v, 0).map(u64::from),
            8 => Some(((be32(v, 0)? as u64) << 32) | be32(v, 4)? as u64),
            _ => None,
        }
    }
}

fn align4(v: usize) -> usize {
    v.saturating_add(3) & !3
}

/// Whether the tree has an `/images` node with at least one child: the mark of a FIT.
fn is_fit(tree: &Tree) -> bool {
    tree.node("/images").is_some() && tree.children("/images").next().is_some()
}

/// Where each image's bytes lie, relative to the FIT's start, and the FIT's full length.
fn fit_images<'t>(data: &[u8], tree: &'t Tree, h: &FdtHeader) -> (Vec<(&'t Node, u64, u64)>, u64) {
    let base = align4(h.totalsize as usize) as u64;
    let mut out = Vec::new();
    let mut end = h.totalsize as u64;
    for img in tree.children("/images") {
        let range = if let Some(p) = img.prop("data") {
            Some((p.value.start as u64, p.value.len() as u64))
        } else if let Some(size) = img.int(data, "data-size") {
            if let Some(off) = img.int(data, "data-offset") {
                Some((base.saturating_add(off), size))
            } else {
                img.int(data, "data-position").map(|pos| (pos, size))
            }
        } else {
            None
        };
        if let Some((off, len)) = range {
            end = end.max(off.saturating_add(len));
            out.push((img, off, len));
        }
    }
    (out, end)
}

impl Format for Fit {
    fn name(&self) -> &'static str {
        "fit"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = FdtHeader::parse(data)?;
        if (h.totalsize as usize) > data.len() {
            return None;
        }
        let tree = Tree::walk(data, &h).ok()?;
        if !is_fit(&tree) {
            return None;
        }
        let (images, end) = fit_images(data, &tree, &h);
        let desc = tree
            .node("/")
            .and_then(|n| n.text(data, "description"))
            .unwrap_or_default();
        Some(Probe {
            length: Some(end),
            description: format!("FIT image {desc:?}, {} images", images.len()),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = FdtHeader::parse(data).ok_or(FormatError::Corrupt("bad FDT header".into()))?;
        let tree = Tree::walk(data, &h)?;
        let mut out = Unpacked::default();
        if let Some(d) = tree.node("/").and_then(|n| n.text(data, "description")) {
            out.detail("description", d);
        }
        if let Some(d) = tree
            .node("/configurations")
            .and_then(|n| n.text(data, "default"))
        {
            out.detail("default_configuration", d);
        }
        // mkimage writes when the FIT was made into the root's `timestamp` property.
        out.mtime = tree
            .node("/")
            .and_then(|n| n.int(data, "timestamp"))
            .and_then(|t| i64::try_from(t).ok());
        let (images, _) = fit_images(data, &tree, &h);
        out.detail("images", images.len());
        for (node, off, len) in images {
            let name = &node.name;
            let avail = (data.len() as u64).saturating_sub(off).min(len);
            if avail < len {
                out.warn(
                    WarningKind::Truncated,
                    format!(
                        "image {name} declares {len} bytes at {off:#x} but only {avail} remain"
                    ),
                );
            }
            let mut e = Entry::stream(
                name.clone(),
                EntryData::Range {
                    // An image past the end keeps no bytes, at the end of the container.
                    offset: off.min(data.len() as u64),
                    length: avail,
                },
            );
            for key in ["description", "type", "arch", "os", "compression"] {
                if let Some(v) = node.text(data, key) {
                    e = e.with_detail(key, v);
                }
            }
            for key in ["load", "entry"] {
                if let Some(v) = node.int(data, key) {
                    e = e.with_detail(key, format!("{v:#x}"));
                }
            }
            out.entries.push(e);
        }
        Ok(out)
    }
}

impl Format for Fdt {
    fn name(&self) -> &'static str {
        "dtb"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = FdtHeader::parse(data)?;
        if (h.totalsize as usize) > data.len() {
            return None;
        }
        let tree = Tree::walk(data, &h).ok()?;
        let model = tree.node("/").and_then(|n| n.text(data, "model"));
        Some(Probe {
            length: Some(h.totalsize as u64),
            description: match model {
                Some(m) => format!(
                    "device tree v{} {m:?}, {} nodes",
                    h.version,
                    tree.nodes.len()
                ),
                None => format!("device tree v{}, {} nodes", h.version, tree.nodes.len()),
            },
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = FdtHeader::parse(data).ok_or(FormatError::Corrupt("bad FDT header".into()))?;
        let tree = Tree::walk(data, &h)?;
        let mut out = Unpacked::default();
        out.detail("version", h.version);
        out.detail("nodes", tree.nodes.len());
        if let Some(root) = tree.node("/") {
            for key in ["model", "compatible"] {
                if let Some(v) = root.text(data, key) {
                    out.detail(key, v);
                }
            }
        }
        if let Some(v) = tree.node("/chosen").and_then(|n| n.text(data, "bootargs")) {
            out.detail("bootargs", v);
        }
        // The tree itself, so that an extraction holds it as a file (boot loaders and
        // kernels are configured by it).
        out.entries.push(Entry::stream(
            "devicetree.dtb",
            EntryData::Range {
                offset: 0,
                length: data.len() as u64,
            },
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const FIT: &[u8] = include_bytes!("../../tests/fixtures/firmware/fit.itb");
    const FIT_EXT: &[u8] = include_bytes!("../../tests/fixtures/firmware/fit-ext.itb");
    const FIT_POS: &[u8] = include_bytes!("../../tests/fixtures/firmware/fit-pos.itb");
    const DTB: &[u8] = include_bytes!("../../tests/fixtures/firmware/board.dtb");

    #[test]
    fn fit_images_yield_each_payload() {
        check_streams(&Fit, "fit.itb", FIT);
        let u = unpack(&Fit, FIT);
        assert_eq!(u.details["description"], "Assay test FIT");
        assert_eq!(u.entries[0].details["compression"], "gzip");
        assert_eq!(u.entries[0].details["arch"], "arm64");
        assert_eq!(u.entries[0].details["load"], "0x80080000");
    }

    #[test]
    fn fit_external_data_is_found_and_measured() {
        check_streams(&Fit, "fit-ext.itb", FIT_EXT);
        check_streams(&Fit, "fit-pos.itb", FIT_POS);
        assert_eq!(
            Fit.probe(FIT_EXT).unwrap().length,
            Some(FIT_EXT.len() as u64)
        );
        assert_eq!(
            Fit.probe(FIT_POS).unwrap().length,
            Some(FIT_POS.len() as u64)
        );
    }

    #[test]
    fn plain_dtb_has_details_and_itself_as_its_entry() {
        assert!(Fit.probe(DTB).is_none());
        let u = unpack(&Fdt, DTB);
        assert_eq!(u.entries.len(), 1);
        assert_eq!(u.entries[0].path, "devicetree.dtb");
        assert!(
            matches!(u.entries[0].data, EntryData::Range { offset: 0, length } if length == DTB.len() as u64)
        );
        assert_eq!(u.details["model"], "Assay Test Board");
        assert_eq!(u.details["compatible"], "assay,test-board, assay,test");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Fit, FIT, &Hostile::flips(300));
        hostile_with(&Fit, FIT_EXT, &Hostile::flips(300));
        hostile_with(&Fdt, DTB, &Hostile::flips(300));
    }

    /// A flattened device tree built from `(begin name | prop | end)` tokens.
    fn build(tokens: &[Token]) -> Vec<u8> {
        let mut strings = Vec::new();
        let mut st = Vec::new();
        for t in tokens {
            match t {
                Token::Begin(name) => {
                    st.extend(TOKEN_BEGIN_NODE.to_be_bytes());
                    st.extend(name.as_bytes());
                    st.push(0);
                    st.resize(align4(st.len()), 0);
                }
                Token::Prop(name, value) => {
                    st.extend(TOKEN_PROP.to_be_bytes());
                    st.extend((value.len() as u32).to_be_bytes());
                    let off = strings.len() as u32;
                    strings.extend(name.as_bytes());
                    strings.push(0);
                    st.extend(off.to_be_bytes());
                    st.extend(value);
                    st.resize(align4(st.len()), 0);
                }
                Token::End => st.extend(TOKEN_END_NODE.to_be_bytes()),
            }
        }
        st.extend(TOKEN_END.to_be_bytes());
        let off_rsv = HEADER_LEN as u32;
        let off_struct = off_rsv + 16;
        let off_strings = off_struct + st.len() as u32;
        let total = off_strings + strings.len() as u32;
        let mut out = Vec::new();
        for v in [
            0xd00d_feedu32,
            total,
            off_struct,
            off_strings,
            off_rsv,
            17,
            16,
            0,
            strings.len() as u32,
            st.len() as u32,
        ] {
            out.extend(v.to_be_bytes());
        }
        out.resize(off_struct as usize, 0);
        out.extend(st);
        out.extend(strings);
        out
    }

    enum Token {
        Begin(String),
        Prop(&'static str, Vec<u8>),
        End,
    }

    #[test]
    fn many_fit_images_and_long_deep_names_stay_linear() {
        // 50,000 images: each is found from its own node, never looked up by path.
        let mut t = vec![Token::Begin(String::new()), Token::Begin("images".into())];
        for i in 0..50_000 {
            t.push(Token::Begin(format!("img-{i}")));
            t.push(Token::Prop("data", vec![i as u8; 4]));
            t.push(Token::End);
        }
        t.extend([Token::End, Token::End]);
        let fit = build(&t);
        let p = Fit.probe(&fit).expect("a FIT");
        assert!(p.description.contains("50000 images"), "{}", p.description);
        let u = unpack(&Fit, &fit);
        assert_eq!(u.entries.len(), 50_000);
        assert_eq!(u.entries[49_999].path, "img-49999");

        // 64 levels of 60 KB names: no node holds its path, so memory stays linear.
        let mut t = vec![Token::Begin(String::new())];
        for i in 0..63 {
            t.push(Token::Begin(format!("{i}{}", "n".repeat(60_000))));
        }
        t.push(Token::Prop("model", b"deep\0".to_vec()));
        for _ in 0..64 {
            t.push(Token::End);
        }
        let deep = build(&t);
        let h = FdtHeader::parse(&deep).expect("header");
        let tree = Tree::walk(&deep, &h).expect("walks");
        assert_eq!(tree.nodes.len(), 64);
    }
}
