//! Reading feeds from disk: a JSON file (an NVD 2.0 feed, one NVD CVE record, one OSV record or
//! an array of them), a `.json.gz`, a `.zip` of such files (as OSV publishes per ecosystem and
//! NVD per year), or a folder of them. One file, zip or folder is one feed snapshot, named after
//! it and identified by the SHA-256 of its bytes.

use crate::nvd;
use crate::osv::OsvRecord;
use crate::record::Record;
use crate::Error;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest JSON document read (a yearly NVD feed is a few hundred MB).
const MAX_DOCUMENT: u64 = 2 << 30;
/// Most members read from one zip.
const MAX_ZIP_MEMBERS: usize = 2_000_000;
/// Most files read from one folder.
const MAX_FOLDER_FILES: usize = 2_000_000;
/// Deepest folder nesting followed.
const MAX_FOLDER_DEPTH: usize = 16;

/// The records of one feed and what identifies it.
#[derive(Debug)]
pub struct LoadedFeed {
    /// File or folder name.
    pub name: String,
    /// `nvd`, `osv` or `mixed`.
    pub kind: String,
    /// SHA-256 of the bytes (of the file; for a folder, of its sorted file list and hashes).
    pub sha256: String,
    /// The feed's timestamp, or the newest record modification.
    pub published: Option<String>,
    /// The records (withdrawn OSV records left out).
    pub records: Vec<Record>,
    /// Documents that were not feeds and were skipped, with the reason.
    pub skipped: Vec<String>,
}

/// Load one path as one feed.
pub fn load(path: &Path) -> Result<LoadedFeed, Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let mut acc = Accumulator::default();
    let sha256;
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, 0, &mut files)?;
        files.sort();
        let mut listing = Sha256::new();
        for f in &files {
            let bytes = read_bounded(f)?;
            let rel = f.strip_prefix(path).unwrap_or(f).to_string_lossy();
            listing.update(rel.as_bytes());
            listing.update([0]);
            listing.update(assay_model::hex(&Sha256::digest(&bytes)).as_bytes());
            listing.update([b'\n']);
            acc.file(&rel, bytes)?;
        }
        sha256 = assay_model::hex(&listing.finalize());
    } else {
        let bytes = read_bounded(path)?;
        sha256 = assay_model::hex(&Sha256::digest(&bytes));
        acc.file(&name, bytes)?;
    }
    let kind = match (acc.nvd, acc.osv) {
        (true, false) => "nvd",
        (false, true) => "osv",
        (true, true) => "mixed",
        (false, false) => return Err(Error::NotAFeed(path.display().to_string())),
    };
    Ok(LoadedFeed {
        name,
        kind: kind.to_string(),
        sha256,
        published: acc.timestamp.or(acc.newest_modified),
        records: acc.records,
        skipped: acc.skipped,
    })
}

/// SHA-256 of a file, read in pieces.
pub fn file_sha256(path: &Path) -> Result<String, Error> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(assay_model::hex(&h.finalize()))
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, Error> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    f.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    if out.len() as u64 > MAX_DOCUMENT {
        return Err(Error::TooLarge(path.display().to_string()));
    }
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    if depth > MAX_FOLDER_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let ft = e.file_type().map_err(|err| Error::io(&e.path(), err))?;
        if ft.is_dir() {
            walk(&e.path(), depth + 1, out)?;
        } else if ft.is_file() && is_feed_name(&e.file_name().to_string_lossy()) {
            if out.len() >= MAX_FOLDER_FILES {
                return Err(Error::TooLarge(dir.display().to_string()));
            }
            out.push(e.path());
        }
    }
    Ok(())
}

fn is_feed_name(n: &str) -> bool {
    let n = n.to_ascii_lowercase();
    n.ends_with(".json") || n.ends_with(".json.gz") || n.ends_with(".zip")
}

#[derive(Default)]
struct Accumulator {
    records: Vec<Record>,
    skipped: Vec<String>,
    nvd: bool,
    osv: bool,
    timestamp: Option<String>,
    newest_modified: Option<String>,
}

impl Accumulator {
    fn file(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), Error> {
        let lower = name.to_ascii_lowercase();
        if bytes.starts_with(b"PK\x03\x04") || lower.ends_with(".zip") {
            self.zip(name, bytes)
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .take(MAX_DOCUMENT + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::Corrupt(format!("{name}: {e}")))?;
            if out.len() as u64 > MAX_DOCUMENT {
                return Err(Error::TooLarge(name.to_string()));
            }
            self.document(name, &out);
            Ok(())
        } else {
            self.document(name, &bytes);
            Ok(())
        }
    }

    fn zip(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), Error> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| Error::Corrupt(format!("{name}: {e}")))?;
        let members = archive.len().min(MAX_ZIP_MEMBERS);
        // Members in name order, so that a record repeated inside one zip resolves the same
        // way whatever the archive's order.
        let mut names: Vec<(String, usize)> = (0..members)
            .filter_map(|i| {
                let f = archive.by_index_raw(i).ok()?;
                let n = f.name().to_string();
                (f.is_file() && n.to_ascii_lowercase().ends_with(".json")).then_some((n, i))
            })
            .collect();
        names.sort();
        for (member, i) in names {
            let mut f = match archive.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.skipped.push(format!("{name}/{member}: {e}"));
                    continue;
                }
            };
            let mut out = Vec::new();
            if let Err(e) = (&mut f).take(MAX_DOCUMENT + 1).read_to_end(&mut out) {
                self.skipped.push(format!("{name}/{member}: {e}"));
                continue;
            }
            if out.len() as u64 > MAX_DOCUMENT {
                self.skipped
                    .push(format!("{name}/{member}: larger than the limit"));
                continue;
            }
            self.document(&format!("{name}/{member}"), &out);
        }
        Ok(())
    }

    fn note_modified(&mut self, m: Option<&str>) {
        if let Some(m) = m {
            if self.newest_modified.as_deref().is_none_or(|n| m > n) {
                self.newest_modified = Some(m.to_string());
            }
        }
    }

    fn document(&mut self, name: &str, bytes: &[u8]) {
        let head = &bytes[..bytes.len().min(4096)];
        if memfind(head, b"\"vulnerabilities\"") {
            match serde_json::from_slice::<nvd::Feed>(bytes) {
                Ok(feed) => {
                    self.nvd = true;
                    if let Some(t) = feed.timestamp {
                        if self.timestamp.as_ref().is_none_or(|x| &t > x) {
                            self.timestamp = Some(t);
                        }
                    }
                    for item in feed.vulnerabilities {
                        let r = item.cve.into_record();
                        self.note_modified(r.modified.as_deref());
                        self.records.push(r);
                    }
                }
                Err(e) => self
                    .skipped
                    .push(format!("{name}: not an NVD 2.0 feed: {e}")),
            }
            return;
        }
        let value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                self.skipped.push(format!("{name}: not JSON: {e}"));
                return;
            }
        };
        let items = match value {
            serde_json::Value::Array(a) => a,
            v => vec![v],
        };
        for v in items {
            let is_cve = v.get("configurations").is_some()
                || (v.get("descriptions").is_some() && v.get("affected").is_none());
            if is_cve {
                match serde_json::from_value::<nvd::Cve>(v) {
                    Ok(c) => {
                        self.nvd = true;
                        let r = c.into_record();
                        self.note_modified(r.modified.as_deref());
                        self.records.push(r);
                    }
                    Err(e) => self.skipped.push(format!("{name}: not a CVE record: {e}")),
                }
            } else if v.get("id").is_some() {
                match serde_json::from_value::<OsvRecord>(v) {
                    Ok(o) => {
                        self.osv = true;
                        self.note_modified(o.modified());
                        if !o.is_withdrawn() {
                            self.records.push(o.into_record());
                        }
                    }
                    Err(e) => self.skipped.push(format!("{name}: not an OSV record: {e}")),
                }
            } else {
                self.skipped.push(format!("{name}: neither NVD nor OSV"));
            }
        }
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
