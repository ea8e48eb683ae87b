//! Components that the image's own metadata names: package databases (opkg/ipkg status and
//! control files, dpkg status), ELF package notes (`.note.package`, the FDO packaging
//! metadata Debian and Fedora embed), and release files (`/etc/os-release`,
//! `/etc/openwrt_release`).

use assay_model::Confidence;
use std::sync::OnceLock;

/// The package-name table as committed.
const TABLE: &str = include_str!("../../data/packages.tsv");

/// A component a package record or release file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageHit {
    /// Canonical component name.
    pub name: String,
    /// The package's own name as the record gives it.
    pub package: String,
    /// Upstream version.
    pub version: String,
    /// Package URL (with the package database's type).
    pub purl: String,
    /// `method` for the evidence.
    pub method: &'static str,
    /// The text that names the version.
    pub matched: String,
    /// Where that text sits in the file.
    pub range: (usize, usize),
    /// How sure.
    pub confidence: Confidence,
}

/// Package name → canonical name (`None`: not a component of its own).
enum NameRule {
    Exact(String, Option<String>),
    Pattern(regex::Regex, Option<String>),
}

fn rules() -> &'static [NameRule] {
    static RULES: OnceLock<Vec<NameRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (pkg, name) = l.split_once('\t')?;
                let name = (name.trim() != "-").then(|| name.trim().to_string());
                Some(if pkg.starts_with('^') {
                    NameRule::Pattern(regex::Regex::new(pkg).ok()?, name)
                } else {
                    NameRule::Exact(pkg.to_string(), name)
                })
            })
            .collect()
    })
}

/// The canonical component name of a package, or `None` when it is not one of its own.
pub fn canonical_name(package: &str) -> Option<String> {
    let lower = package.to_ascii_lowercase();
    for r in rules() {
        match r {
            NameRule::Exact(p, n) if *p == lower => return n.clone(),
            NameRule::Pattern(re, n) if re.is_match(&lower) => return n.clone(),
            _ => {}
        }
    }
    Some(lower)
}

/// The upstream part of a Debian or OpenWrt package version: without epoch, without the
/// packaging revision, without repack suffixes (`1:1.2.13.dfsg-1` → `1.2.13`).
pub fn upstream_version(version: &str) -> String {
    let v = version.trim();
    let v = match v.split_once(':') {
        Some((epoch, rest)) if epoch.chars().all(|c| c.is_ascii_digit()) => rest,
        _ => v,
    };
    let v = match v.rsplit_once('-') {
        Some((up, rev))
            if !up.is_empty()
                && rev.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !is_hash(rev)
                && !is_date(v) =>
        {
            up
        }
        _ => v,
    };
    strip_repack(v).to_string()
}

/// A source revision hash (`8ea96670…`: OpenWrt's `date-hash` snapshot versions), which is
/// part of the upstream version, not a packaging revision.
fn is_hash(s: &str) -> bool {
    s.len() >= 7
        && s.chars().all(|c| c.is_ascii_hexdigit())
        && !s.chars().all(|c| c.is_ascii_digit())
}

/// A bare `YYYY-MM-DD` date (OpenWrt snapshot versions), whose last dash is no revision.
fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Drop Debian repack markers (`+dfsg1`, `.dfsg`, `+ds`, `+repack`) and what follows.
fn strip_repack(v: &str) -> &str {
    for marker in [
        "+dfsg", ".dfsg", "~dfsg", "+ds", "~ds", "+repack", "~repack",
    ] {
        if let Some(i) = v.find(marker) {
            if i > 0 {
                return &v[..i];
            }
        }
    }
    v
}

fn purl_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Records of an opkg/ipkg/dpkg status file or a control file: one per `Package:` stanza.
pub fn package_records(bytes: &[u8], kind: &'static str, libc_name: &str) -> Vec<PackageHit> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut offset = 0usize;
    for stanza in text.split("\n\n") {
        let start = offset;
        offset += stanza.len() + 2;
        let mut package = None;
        let mut version = None;
        let mut source = None;
        let mut arch = None;
        let mut installed = true;
        let mut version_at = (start, start);
        let mut pos = start;
        for line in stanza.lines() {
            if let Some((k, v)) = line.split_once(':') {
                let v = v.trim();
                match k {
                    "Package" => package = Some(v.to_string()),
                    "Version" => {
                        version = Some(v.to_string());
                        version_at = (pos, pos + line.len());
                    }
                    "Source" => source = v.split_whitespace().next().map(str::to_string),
                    "Architecture" => arch = Some(v.to_string()),
                    "Status" => {
                        installed = !v.contains("not-installed") && !v.contains("deinstall")
                    }
                    _ => {}
                }
            }
            pos += line.len() + 1;
        }
        let (Some(package), Some(version)) = (package, version) else {
            continue;
        };
        if !installed {
            continue;
        }
        let is_dpkg = kind == "dpkg-status";
        let base = if is_dpkg {
            source.clone().unwrap_or_else(|| package.clone())
        } else {
            package.clone()
        };
        let Some(mut name) = canonical_name(&base) else {
            continue;
        };
        if name == "libc" {
            name = libc_name.to_string();
        }
        let mut upstream = upstream_version(&version);
        if name == "linux" {
            // OpenWrt's kernel package: `3.10.18-1-<hash>`.
            upstream = version.split('-').next().unwrap_or("").to_string();
        }
        if upstream.is_empty() {
            continue;
        }
        let purl = if is_dpkg {
            let mut p = format!(
                "pkg:deb/debian/{}@{}",
                purl_encode(&package),
                purl_encode(&version)
            );
            if let Some(a) = &arch {
                p.push_str(&format!("?arch={}", purl_encode(a)));
            }
            p
        } else {
            let mut p = format!(
                "pkg:opkg/{}@{}",
                purl_encode(&package),
                purl_encode(&version)
            );
            if let Some(a) = &arch {
                p.push_str(&format!("?arch={}", purl_encode(a)));
            }
            p
        };
        let matched = text
            .get(version_at.0..version_at.1)
            .unwrap_or_default()
            .to_string();
        out.push(PackageHit {
            name,
            package: package.clone(),
            version: upstream,
            purl,
            method: kind,
            // Exactly the bytes at `range`, so that `assay verify` can check them.
            matched,
            range: version_at,
            confidence: Confidence::High,
        });
    }
    prefer_main_packages(out)
}

/// One source package gives several binary packages (OpenWrt's `libuci`, `libuci-lua` and
/// `uci`); when they disagree on the version, the record of the package named like the
/// component speaks for it, and the sub-packages' other versions are dropped.
fn prefer_main_packages(hits: Vec<PackageHit>) -> Vec<PackageHit> {
    let main_version = |name: &str| {
        hits.iter()
            .find(|h| h.package.eq_ignore_ascii_case(name))
            .map(|h| h.version.clone())
    };
    let keep: Vec<bool> = hits
        .iter()
        .map(|h| match main_version(&h.name) {
            Some(v) => v == h.version,
            None => true,
        })
        .collect();
    hits.into_iter()
        .zip(keep)
        .filter_map(|(h, k)| k.then_some(h))
        .collect()
}

/// The FDO packaging note of an ELF file (`.note.package`), as a component.
pub fn package_note(bytes: &[u8]) -> Option<PackageHit> {
    use object::{Object, ObjectSection};
    if !bytes.starts_with(b"\x7fELF") {
        return None;
    }
    let file = object::File::parse(bytes).ok()?;
    let section = file.section_by_name(".note.package")?;
    let data = section.data().ok()?;
    let (file_off, _) = section.file_range()?;
    let open = data.iter().position(|&b| b == b'{')?;
    let close = data.iter().rposition(|&b| b == b'}')?;
    let json = data.get(open..=close)?;
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let pkg_type = field("type").unwrap_or_else(|| "generic".into());
    let package = field("name")?;
    let version = field("version")?;
    let name = canonical_name(&package)?;
    let os = field("os").unwrap_or_default().to_ascii_lowercase();
    let mut purl = if os.is_empty() {
        format!(
            "pkg:{}/{}@{}",
            purl_encode(&pkg_type),
            purl_encode(&package),
            purl_encode(&version)
        )
    } else {
        format!(
            "pkg:{}/{}/{}@{}",
            purl_encode(&pkg_type),
            purl_encode(&os),
            purl_encode(&package),
            purl_encode(&version)
        )
    };
    if let Some(a) = field("architecture") {
        purl.push_str(&format!("?arch={}", purl_encode(&a)));
    }
    let start = file_off as usize + open;
    Some(PackageHit {
        name,
        package,
        version: upstream_version(&version),
        purl,
        method: "elf-package-note",
        matched: String::from_utf8_lossy(json).into_owned(),
        range: (start, start + json.len()),
        confidence: Confidence::High,
    })
}

/// The distribution a release file names (`/etc/os-release`, `/etc/openwrt_release`).
pub fn release_file(path: &str, bytes: &[u8]) -> Option<PackageHit> {
    let text = String::from_utf8_lossy(bytes);
    let (id_key, version_key, revision_key) = if path.ends_with("openwrt_release") {
        ("DISTRIB_ID", "DISTRIB_RELEASE", "DISTRIB_REVISION")
    } else {
        ("ID", "VERSION_ID", "BUILD_ID")
    };
    let mut id = None;
    let mut version = None;
    let mut revision = None;
    let mut pos = 0;
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
            let at = (pos, pos + line.len());
            if k.trim() == id_key {
                id = Some(v.to_ascii_lowercase());
            } else if k.trim() == version_key {
                version = Some((v, at));
            } else if k.trim() == revision_key {
                revision = Some((v, at));
            }
        }
        pos += line.len() + 1;
    }
    let id = id?;
    // `Bleeding Edge`, `SNAPSHOT`: not a version; a trunk build is known by its revision
    // (`r38816`).
    let is_release = |v: &str| v.starts_with(|c: char| c.is_ascii_digit());
    // `r38816`, or `r7558-a5c3bbaf56` with the source hash.
    let is_revision = |v: &str| {
        let Some(rest) = v.strip_prefix('r') else {
            return false;
        };
        let (number, hash) = rest.split_once('-').unwrap_or((rest, ""));
        !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && hash.chars().all(|c| c.is_ascii_hexdigit())
    };
    let (version, at) = match (version, revision) {
        (Some((v, at)), _) if is_release(&v) => (v, at),
        (_, Some((r, at))) if is_revision(&r) => (r, at),
        _ => return None,
    };
    let name = match id.as_str() {
        "openwrt" | "lede" => "openwrt".to_string(),
        other => other
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect(),
    };
    if name.is_empty() {
        return None;
    }
    Some(PackageHit {
        package: name.clone(),
        purl: format!(
            "pkg:generic/{}@{}",
            purl_encode(&name),
            purl_encode(&version)
        ),
        name,
        version,
        method: "release-file",
        matched: text.get(at.0..at.1).unwrap_or_default().to_string(),
        range: at,
        confidence: Confidence::High,
    })
}

/// Percent-encode for a purl segment.
pub fn encode(s: &str) -> String {
    purl_encode(s)
}
