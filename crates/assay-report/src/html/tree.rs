//! The container tree: the image's structure as nested items, plain files counted rather than
//! listed, depth capped.

use super::words::{entropy_text, human_size, plural};
use assay_model::{NodeKind, Report};
use serde::Serialize;

/// Nesting depth beyond which the container tree is flattened, so that rendering stays
/// bounded whatever the report says.
const MAX_TREE_DEPTH: usize = 48;

/// One node of the container tree as the template draws it.
#[derive(Serialize)]
pub(super) struct TreeItem {
    pub(super) kind: &'static str,
    pub(super) name: String,
    detail: String,
    children: Vec<TreeItem>,
}

/// Whether a node is drawn in the container tree: the structure (containers, streams,
/// unknown regions) and the files that hold further containers; plain files are counted.
fn shown_in_tree(report: &Report, id: usize, has_container_child: &[bool]) -> bool {
    let Some(n) = report.nodes.get(id) else {
        return false;
    };
    match n.kind {
        NodeKind::Image | NodeKind::Container | NodeKind::Stream | NodeKind::Unknown => true,
        NodeKind::File => n.duplicate_of.is_none() && has_container_child[id],
        _ => false,
    }
}

/// The container tree as nested items. Nodes come in pre-order with parents before children;
/// anything that breaks that (a parent id not smaller than the child's) is attached to the
/// nearest shown ancestor that is valid, or to the root.
pub(super) fn container_tree(report: &Report) -> Vec<TreeItem> {
    let n = report.nodes.len();
    let parent_of = |i: usize| -> Option<usize> {
        report.nodes[i]
            .parent
            .map(|p| p as usize)
            .filter(|&p| p < i && report.nodes[i].id as usize == i)
    };
    let mut has_container_child = vec![false; n];
    for (i, node) in report.nodes.iter().enumerate() {
        if node.kind == NodeKind::Container {
            if let Some(p) = parent_of(i) {
                has_container_child[p] = true;
            }
        }
    }
    // Nearest shown ancestor and nearest container ancestor, in one pre-order pass.
    let mut shown_parent: Vec<Option<usize>> = vec![None; n];
    let mut container_of: Vec<Option<usize>> = vec![None; n];
    let mut shown = vec![false; n];
    for i in 0..n {
        shown[i] = shown_in_tree(report, i, &has_container_child);
        if let Some(p) = parent_of(i) {
            shown_parent[i] = if shown[p] { Some(p) } else { shown_parent[p] };
            container_of[i] = if report.nodes[p].kind == NodeKind::Container {
                Some(p)
            } else {
                container_of[p]
            };
        }
    }
    let file_total = report
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::File)
        .count();
    let mut files_in = vec![0usize; n];
    for (node, container) in report.nodes.iter().zip(&container_of) {
        if let (NodeKind::File, Some(c)) = (node.kind, container) {
            files_in[*c] += 1;
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for i in 0..n {
        if !shown[i] {
            continue;
        }
        match shown_parent[i] {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    // Build bottom-up (children have larger ids), then flatten anything deeper than the cap.
    let mut built: Vec<Option<TreeItem>> = (0..n).map(|_| None).collect();
    for i in (0..n).rev() {
        if !shown[i] {
            continue;
        }
        let kids = children[i]
            .iter()
            .filter_map(|&c| built[c].take())
            .collect();
        let files = if report.nodes[i].kind == NodeKind::Image {
            file_total
        } else {
            files_in[i]
        };
        built[i] = Some(tree_item(&report.nodes[i], files, kids));
    }
    let mut items: Vec<TreeItem> = roots.iter().filter_map(|&r| built[r].take()).collect();
    for item in &mut items {
        cap_depth(item, 0);
    }
    items
}

fn cap_depth(item: &mut TreeItem, depth: usize) {
    if depth + 1 >= MAX_TREE_DEPTH {
        // Hoist all descendants into this level's children.
        let mut flat = Vec::new();
        let mut stack: Vec<TreeItem> = std::mem::take(&mut item.children);
        while let Some(mut it) = stack.pop() {
            stack.append(&mut it.children);
            flat.push(it);
        }
        item.children = flat;
        return;
    }
    for c in &mut item.children {
        cap_depth(c, depth + 1);
    }
}

fn tree_item(node: &assay_model::Node, files: usize, children: Vec<TreeItem>) -> TreeItem {
    let at = node
        .offset
        .map(|o| format!(" at {o:#x}"))
        .unwrap_or_default();
    let (kind, name, detail) = match node.kind {
        NodeKind::Image => (
            "image",
            node.path.clone(),
            format!(
                "{} · {files} {} in all",
                human_size(node.size),
                plural(files, "file", "files")
            ),
        ),
        NodeKind::Container => {
            let mut d = format!("{}{at}", human_size(node.size));
            if files > 0 {
                d.push_str(&format!(" · {files} {}", plural(files, "file", "files")));
            }
            if let Some(desc) = node.details.get("description") {
                d.push_str(" · ");
                d.push_str(desc);
            }
            (
                "container",
                node.format.clone().unwrap_or_else(|| "container".into()),
                d,
            )
        }
        NodeKind::Stream => ("stream", node.path.clone(), human_size(node.size)),
        NodeKind::Unknown => {
            let mut d = format!(
                "{}{at} · entropy {} bits/byte",
                human_size(node.size),
                entropy_text(node.entropy.unwrap_or(0.0))
            );
            if let Some(p) = node.details.get("padding") {
                d.push_str(&format!(" · padding {p}"));
            }
            ("unknown", "unclaimed bytes".to_string(), d)
        }
        _ => ("file", node.path.clone(), human_size(node.size)),
    };
    TreeItem {
        kind,
        name,
        detail,
        children,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn deep_trees_are_capped() {
        let mut item = TreeItem {
            kind: "container",
            name: "x".into(),
            detail: String::new(),
            children: Vec::new(),
        };
        for _ in 0..200 {
            item = TreeItem {
                kind: "container",
                name: "x".into(),
                detail: String::new(),
                children: vec![item],
            };
        }
        cap_depth(&mut item, 0);
        fn depth(t: &TreeItem) -> usize {
            1 + t.children.iter().map(depth).max().unwrap_or(0)
        }
        assert!(depth(&item) <= MAX_TREE_DEPTH + 1);
    }
}
