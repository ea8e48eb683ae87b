//! [`AnalysisConfig`]: every setting of a scan as one value, built by the front end (the CLI
//! from its flags, a server from a request) and carried down to the detectors.

use assay_analyze::detectors::rulepack::RulePackError;
use assay_analyze::DetectorConfig;
use assay_model::Rule;
use assay_unpack::Limits;
use assay_vulndb::VulnDb;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The moment time-dependent facts (certificate expiry) are judged at. The engine never reads
/// the clock: a front end that wants "now" passes it as [`ReferenceTime::At`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceTime {
    /// This time, in Unix seconds.
    At(i64),
    /// The newest time stamp the image itself records (uImage/FIT headers, squashfs creation
    /// times, archive and filesystem entry times at any depth: every node's `mtime`), so that
    /// a scan repeats exactly; a scan of an image without one fails with
    /// [`Error::NoReferenceTime`](crate::Error::NoReferenceTime).
    NewestEmbedded,
}

/// Where the components' known vulnerabilities come from.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum VulnerabilitySource {
    /// Do not match (a verification or a diff re-derives the image's own facts only).
    #[default]
    Skip,
    /// No database is available: the report says so in one `vulndb` warning.
    Unavailable,
    /// The database at this path, opened when the scan reaches matching.
    Path(PathBuf),
    /// An open database shared between scans (a server opens it once), with the path it was
    /// opened from (named in the report's warnings).
    Open {
        /// The database.
        db: Arc<Mutex<VulnDb>>,
        /// Where it was opened from.
        path: PathBuf,
    },
}

impl std::fmt::Debug for VulnerabilitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VulnerabilitySource::Skip => f.write_str("Skip"),
            VulnerabilitySource::Unavailable => f.write_str("Unavailable"),
            VulnerabilitySource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            VulnerabilitySource::Open { path, .. } => {
                f.debug_struct("Open").field("path", path).finish()
            }
        }
    }
}

/// Why a config could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A rule directory could not be read, or a rule file does not compile.
    #[error(transparent)]
    Rules(#[from] RulePackError),
    /// The word list file could not be read.
    #[error("reading {path}")]
    WordList {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Every setting of a scan: the detectors' config (rule pack with the user's rules, extra
/// password candidates), the reference time, the unpacking limits, the vulnerability source
/// and whether run figures are recorded. Cheap to clone: the compiled parts are shared.
///
/// ```
/// use assay_engine::{AnalysisConfig, ReferenceTime};
/// let config = AnalysisConfig::new()
///     .with_extra_words(vec!["quartz-lantern-58".into()])
///     .with_reference_time(ReferenceTime::At(1_800_000_000))
///     .with_run_figures(false);
/// assert_eq!(config.detectors().extra_words(), ["quartz-lantern-58"]);
/// // The rules a report made with this config can cite, the vulnerability rule included.
/// assert!(config.rules().iter().any(|r| r.id == "ASSAY-VULN-001"));
/// ```
#[derive(Debug, Clone)]
pub struct AnalysisConfig {
    detectors: DetectorConfig,
    reference_time: ReferenceTime,
    limits: Option<Limits>,
    vulnerabilities: VulnerabilitySource,
    run_figures: bool,
    max_report_bytes: u64,
    archive_passwords: Vec<String>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            detectors: DetectorConfig::default(),
            reference_time: ReferenceTime::NewestEmbedded,
            limits: None,
            vulnerabilities: VulnerabilitySource::Skip,
            run_figures: true,
            max_report_bytes: crate::DEFAULT_MAX_REPORT_BYTES,
            archive_passwords: Vec::new(),
        }
    }
}

impl AnalysisConfig {
    /// Built-in rules, no extra words, the image's newest embedded time as reference, the
    /// default limits for the image's size, no vulnerability matching, run figures recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace the detectors' config as a whole.
    pub fn with_detectors(mut self, detectors: DetectorConfig) -> Self {
        self.detectors = detectors;
        self
    }

    /// Add the YARA rules (`*.yar`, `*.yara`) of these directories to the built-in pack.
    pub fn with_rule_dirs(mut self, dirs: &[PathBuf]) -> Result<Self, ConfigError> {
        self.detectors = self.detectors.with_rule_dirs(dirs)?;
        Ok(self)
    }

    /// Extra candidate passwords for the hash cracker.
    pub fn with_extra_words(mut self, words: Vec<String>) -> Self {
        self.detectors = self.detectors.with_extra_words(words);
        self
    }

    /// Extra candidate passwords read from a word list file, one per line.
    pub fn with_word_list(self, path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::WordList {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self.with_extra_words(DetectorConfig::words_of_list(&bytes)))
    }

    /// Passwords to try first on encrypted zip and 7z members, before the empty password and
    /// the built-in list of publicly documented firmware archive passwords.
    pub fn with_archive_passwords(mut self, passwords: Vec<String>) -> Self {
        self.archive_passwords = passwords;
        self
    }

    /// The user's archive passwords.
    pub fn archive_passwords(&self) -> &[String] {
        &self.archive_passwords
    }

    /// Judge time-dependent facts as of this reference time.
    pub fn with_reference_time(mut self, reference_time: ReferenceTime) -> Self {
        self.reference_time = reference_time;
        self
    }

    /// Unpack under these limits instead of the defaults for the image's size.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Match components against this vulnerability source.
    pub fn with_vulnerabilities(mut self, source: VulnerabilitySource) -> Self {
        self.vulnerabilities = source;
        self
    }

    /// Record run figures (`stats`: bytes, nodes, seconds per phase) in the report; without
    /// them identical inputs give identical reports.
    pub fn with_run_figures(mut self, record: bool) -> Self {
        self.run_figures = record;
        self
    }

    /// Read reports (to verify or diff) of at most this many bytes (a signed envelope may be
    /// a third larger, for its base64); larger ones are refused before they are read.
    pub fn with_max_report_bytes(mut self, max: u64) -> Self {
        self.max_report_bytes = max;
        self
    }

    /// The largest report read back.
    pub fn max_report_bytes(&self) -> u64 {
        self.max_report_bytes
    }

    /// The detectors' config.
    pub fn detectors(&self) -> &DetectorConfig {
        &self.detectors
    }

    /// The reference time.
    pub fn reference_time(&self) -> ReferenceTime {
        self.reference_time
    }

    /// The unpacking limits, when not the defaults.
    pub fn limits(&self) -> Option<&Limits> {
        self.limits.as_ref()
    }

    /// The vulnerability source.
    pub fn vulnerabilities(&self) -> &VulnerabilitySource {
        &self.vulnerabilities
    }

    /// Whether run figures are recorded.
    pub fn run_figures(&self) -> bool {
        self.run_figures
    }

    /// Every rule a report made with this config can cite, documented: the detectors' (the
    /// user's YARA rules included) in registry order, then the vulnerability rule. This is the
    /// list SARIF, HTML and `assay rules` explain.
    pub fn rules(&self) -> Vec<Rule<&str>> {
        let mut rules = self.detectors.rules();
        rules.push(assay_vulndb::RULE.view());
        rules
    }
}
