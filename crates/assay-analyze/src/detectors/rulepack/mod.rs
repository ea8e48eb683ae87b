//! The YARA rule pack: publicly documented router, camera and telecom backdoors (and a few
//! generic backdoor shapes of our own), written as YARA rules in `rules/*.yar` and run with
//! `boreal` over the bytes of every file.
//!
//! Each YARA rule maps to an Assay rule through its metadata: `assay_id`
//! (`ASSAY-BACKDOOR-0xx`), `severity`, `category`, `confidence`, `reference` (the advisory or
//! CVE that documents the indicator) and `description`. Users add rules with `--rules DIR`
//! ([`DetectorConfig::with_rule_dirs`]: the compiled pack travels with the scan's config); a
//! user rule without `assay_id` reports as `ASSAY-USER-<rule name>`.
//!
//! YARA rather than hand-written matchers: the indicators come from advisories that are
//! published as strings and byte patterns, analysts already write YARA, and a rule file is
//! something a reviewer can audit next to its source.

use crate::{Analysis, Detector, DetectorConfig, Rule};
use assay_model::{escape_bytes, Category, Confidence, Finding, NodeId, Severity};
use boreal::{MetadataValue, Scanner};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

/// The built-in rule files, embedded in the binary.
const BUILTIN_RULES: &[(&str, &str)] = &[
    (
        "vendor_backdoors.yar",
        include_str!("../../../rules/vendor_backdoors.yar"),
    ),
    (
        "generic_backdoors.yar",
        include_str!("../../../rules/generic_backdoors.yar"),
    ),
];

/// Namespace of the built-in rules (user files get their own, so names never clash).
const BUILTIN_NAMESPACE: &str = "assay";

/// Most user rule files read from one `--rules` directory.
pub const MAX_USER_RULE_FILES: usize = 1000;

/// Longest time one file's scan may take before the scan is abandoned with what it found.
const SCAN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the rule pack could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulePackError {
    /// A `--rules` directory could not be listed.
    #[error("cannot read the rules directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A rule file does not parse or compile.
    #[error("invalid YARA rule file {path}: {message}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// The compiler's diagnostic.
        message: String,
    },
    /// More rule files than [`MAX_USER_RULE_FILES`] in one directory.
    #[error("too many rule files in {path} (at most {MAX_USER_RULE_FILES})")]
    TooManyFiles {
        /// The directory.
        path: PathBuf,
    },
}

/// One YARA rule of the pack with the Assay rule it reports as.
#[derive(Debug, Clone)]
pub struct PackRule {
    /// The Assay rule: id (`assay_id`, or `ASSAY-USER-<name>`), category (`category`,
    /// default backdoor), severity (`severity`, default high), title (`title`, else the rule
    /// name) and description (`description`, with its public source).
    pub rule: Rule<String>,
    /// The YARA rule's name.
    pub yara_name: String,
    /// The YARA namespace it was compiled in.
    pub namespace: String,
    /// Confidence of its findings (`confidence`, default high).
    pub confidence: Confidence,
    /// The advisory, CVE or write-up documenting the indicator.
    pub reference: String,
}

/// A compiled rule pack: the scanner and the metadata of its rules.
pub struct RulePack {
    scanner: Scanner,
    rules: Vec<PackRule>,
    by_name: BTreeMap<(String, String), usize>,
}

impl std::fmt::Debug for RulePack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulePack")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl RulePack {
    /// The built-in rules alone.
    pub fn builtin() -> Result<Self, RulePackError> {
        Self::compile(&[])
    }

    /// The built-in rules plus every `*.yar`/`*.yara` file of each directory in
    /// `extra_rule_dirs` (sorted by name, one namespace per file).
    pub fn compile(extra_rule_dirs: &[PathBuf]) -> Result<Self, RulePackError> {
        let mut compiler = boreal::Compiler::new();
        for (name, text) in BUILTIN_RULES {
            compiler
                .add_rules_str_in_namespace(text, BUILTIN_NAMESPACE)
                .map_err(|e| RulePackError::Compile {
                    path: PathBuf::from(format!("<built-in>/{name}")),
                    message: e.to_string(),
                })?;
        }
        for dir in extra_rule_dirs {
            for file in rule_files(dir)? {
                let namespace = format!("user:{}", file.display());
                compiler
                    .add_rules_file_in_namespace(&file, &namespace)
                    .map_err(|e| RulePackError::Compile {
                        path: file.clone(),
                        message: e.to_string(),
                    })?;
            }
        }
        let mut scanner = compiler.finalize();
        scanner.set_scan_params(
            boreal::scanner::ScanParams::default()
                .compute_full_matches(true)
                .string_max_nb_matches(16)
                .timeout_duration(Some(SCAN_TIMEOUT)),
        );
        let mut rules = Vec::new();
        let mut by_name = BTreeMap::new();
        for details in scanner.rules() {
            if details.is_private {
                continue;
            }
            let meta = metadata(&scanner, details.metadatas);
            let rule = pack_rule(details.name, details.namespace, &meta);
            by_name.insert(
                (details.namespace.to_string(), details.name.to_string()),
                rules.len(),
            );
            rules.push(rule);
        }
        Ok(RulePack {
            scanner,
            rules,
            by_name,
        })
    }

    /// Every rule of the pack.
    pub fn rules(&self) -> &[PackRule] {
        &self.rules
    }

    /// Scan one buffer: for each matching rule, the rule and the byte range of its first
    /// matched string (empty when the condition matched without strings).
    pub fn scan_bytes(&self, bytes: &[u8]) -> Vec<(&PackRule, std::ops::Range<usize>)> {
        let result = match self.scanner.scan_mem(bytes) {
            Ok(r) => r,
            // A timeout keeps what was found so far.
            Err((_, partial)) => partial,
        };
        let mut out = Vec::new();
        for evaluated in &result.rules {
            if !evaluated.matched {
                continue;
            }
            let key = (evaluated.namespace.to_string(), evaluated.name.to_string());
            let Some(&idx) = self.by_name.get(&key) else {
                continue;
            };
            let first = evaluated
                .matches
                .iter()
                .flat_map(|s| s.matches.iter())
                .map(|m| {
                    let start = m.base.saturating_add(m.offset);
                    start..start.saturating_add(m.length)
                })
                .min_by_key(|r| (r.start, r.end));
            out.push((&self.rules[idx], first.unwrap_or(0..0)));
        }
        out
    }

    /// Scan every file of the tree (each distinct content once, in parallel) and push one
    /// finding per matching rule and file.
    pub fn scan_analysis(&self, analysis: &Analysis, out: &mut crate::FindingSink) {
        // Group files by content so that copies are scanned once and reported at every path.
        let mut groups: BTreeMap<&str, Vec<NodeId>> = BTreeMap::new();
        let mut unhashed: Vec<Vec<NodeId>> = Vec::new();
        for f in analysis.files() {
            if f.bytes.is_empty() {
                continue;
            }
            match f.node.sha256.as_deref() {
                Some(h) if !h.is_empty() => groups.entry(h).or_default().push(f.node.id),
                _ => unhashed.push(vec![f.node.id]),
            }
        }
        let work: Vec<Vec<NodeId>> = groups.into_values().chain(unhashed).collect();
        let found: Vec<Finding> = work
            .par_iter()
            .flat_map_iter(|nodes| {
                let bytes = analysis.bytes(nodes[0]);
                let hits = self.scan_bytes(bytes);
                let mut found = Vec::new();
                for (rule, range) in hits {
                    for &node in nodes {
                        found.push(self.finding(analysis, rule, node, range.clone()));
                    }
                }
                found
            })
            .collect();
        out.extend(found);
    }

    fn finding(
        &self,
        analysis: &Analysis,
        rule: &PackRule,
        node: NodeId,
        range: std::ops::Range<usize>,
    ) -> Finding {
        let mut f = analysis.finding(&rule.rule, node, range.clone(), rule.rule.title.clone());
        f.confidence = rule.confidence;
        let bytes = analysis.bytes(node);
        let shown = bytes.get(range).unwrap_or(&[]);
        if !shown.is_empty() {
            f.title = format!(
                "{}: \"{}\"",
                rule.rule.title,
                escape_bytes(&shown[..shown.len().min(64)])
            );
        }
        f.context.insert("yara_rule".into(), rule.yara_name.clone());
        if rule.namespace != BUILTIN_NAMESPACE {
            f.context
                .insert("yara_namespace".into(), rule.namespace.clone());
        }
        if !rule.reference.is_empty() {
            f.context.insert("reference".into(), rule.reference.clone());
        }
        f
    }
}

/// The `*.yar`/`*.yara` files of `dir`, sorted.
fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RulePackError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RulePackError::Directory {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RulePackError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let is_rule = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yar") || e.eq_ignore_ascii_case("yara"));
        if is_rule && path.is_file() {
            files.push(path);
            if files.len() > MAX_USER_RULE_FILES {
                return Err(RulePackError::TooManyFiles {
                    path: dir.to_path_buf(),
                });
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A rule's metadata as text, by name (the first value of each name wins).
fn metadata(scanner: &Scanner, metas: &[boreal::Metadata]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in metas {
        let name = scanner.get_string_symbol(m.name).to_string();
        let value = match m.value {
            MetadataValue::Bytes(b) => String::from_utf8_lossy(scanner.get_bytes_symbol(b)).into(),
            MetadataValue::Integer(i) => i.to_string(),
            MetadataValue::Boolean(b) => b.to_string(),
        };
        out.entry(name).or_insert(value);
    }
    out
}

/// The Assay view of a YARA rule from its name and metadata.
fn pack_rule(name: &str, namespace: &str, meta: &BTreeMap<String, String>) -> PackRule {
    let get = |k: &str| meta.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let id = get("assay_id")
        .map(str::to_string)
        .unwrap_or_else(|| format!("ASSAY-USER-{name}"));
    let category = get("category")
        .and_then(parse_category)
        .unwrap_or(Category::Backdoor);
    let severity = get("severity")
        .and_then(parse_severity)
        .unwrap_or(Severity::High);
    let confidence = match get("confidence").map(str::to_ascii_lowercase).as_deref() {
        Some("low") => Confidence::Low,
        Some("medium") => Confidence::Medium,
        _ => Confidence::High,
    };
    let reference = get("reference").unwrap_or("").to_string();
    let mut description = get("description")
        .unwrap_or("User-supplied YARA rule.")
        .to_string();
    if !reference.is_empty() {
        description.push_str(&format!(" Source: {reference}."));
    }
    description.push_str(&format!(" (YARA rule `{name}`.)"));
    PackRule {
        rule: Rule {
            id,
            category,
            severity,
            title: get("title")
                .map(str::to_string)
                .unwrap_or_else(|| name.replace('_', " ")),
            description,
        },
        yara_name: name.to_string(),
        namespace: namespace.to_string(),
        confidence,
        reference,
    }
}

fn parse_severity(s: &str) -> Option<Severity> {
    Some(match s.to_ascii_lowercase().as_str() {
        "info" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

fn parse_category(s: &str) -> Option<Category> {
    Some(match s.to_ascii_lowercase().as_str() {
        "account" => Category::Account,
        "credential" => Category::Credential,
        "private-key" => Category::PrivateKey,
        "remote-access" => Category::RemoteAccess,
        "backdoor" => Category::Backdoor,
        "endpoint" => Category::Endpoint,
        "hardening" => Category::Hardening,
        "vulnerable-component" => Category::VulnerableComponent,
        "secret" => Category::Secret,
        "config" => Category::Config,
        "evasion" => Category::Evasion,
        _ => return None,
    })
}

/// The built-in pack's rules as static [`Rule`]s, for [`Detector::rules`].
static BUILTIN_PACK_RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    DetectorConfig::builtin()
        .rule_pack()
        .rules()
        .iter()
        .map(|r| r.rule.view())
        .collect()
});

/// The rule-pack detector: runs the pack of the analysis's [`DetectorConfig`].
pub struct RulePackDetector;

impl Detector for RulePackDetector {
    fn name(&self) -> &'static str {
        "rulepack"
    }

    fn rules(&self) -> &'static [Rule] {
        &BUILTIN_PACK_RULES
    }

    fn rules_in<'c>(&'c self, config: &'c DetectorConfig) -> Vec<Rule<&'c str>> {
        config
            .rule_pack()
            .rules()
            .iter()
            .map(|r| r.rule.view())
            .collect()
    }

    fn run(&self, analysis: &Analysis, out: &mut crate::FindingSink) {
        analysis.config().rule_pack().scan_analysis(analysis, out);
    }
}

#[cfg(test)]
mod tests;
