//! The pipelines: unpack → reference time → analyse → match vulnerabilities → report, and the
//! verification and diff built on the same steps.

use crate::config::{AnalysisConfig, ReferenceTime, VulnerabilitySource};
use crate::verify::{self, Verification};
use crate::{Error, ReportFile};
use assay_analyze::Analysis;
use assay_model::{Component, Finding, Report, Vulnerability, Warning, WarningKind, REPORT_SCHEMA};
use assay_report::diff::ReportDiff;
use assay_report::html::EntropyProfile;
use assay_unpack::{CancelToken, UnpackOptions, UnpackResult, Unpacker};
use assay_vulndb::VulnDb;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What a running pipeline reports about itself, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The top-level search of the image has reached `done` of `total` bytes.
    Unpacking {
        /// Bytes of the image searched.
        done: u64,
        /// The image's size.
        total: u64,
    },
    /// The image is unpacked.
    Unpacked,
    /// The tree-wide node limit was reached: the image is unpacked again on one thread,
    /// where the order in which branches take nodes is fixed (the report stays
    /// reproducible). Byte limits never need this: budgets are shared out by position.
    UnpackingAgain,
    /// The detectors and component identification are running.
    Analysing,
    /// Components are being matched against the vulnerability database.
    MatchingVulnerabilities,
}

/// A progress callback; called from the thread that runs the pipeline or from unpacking
/// threads, so it must be cheap and thread-safe.
pub type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// The outcome of a scan: the report and the unpacked tree it was made from (for writing the
/// tree to disk or measuring the image for the HTML image map).
pub struct ScanOutput {
    /// The report.
    pub report: Report,
    /// The unpacked tree with every node's bytes.
    pub unpacked: UnpackResult,
}

impl std::fmt::Debug for ScanOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanOutput")
            .field("report", &self.report)
            .field("nodes", &self.unpacked.nodes.len())
            .finish()
    }
}

impl ScanOutput {
    /// Entropy of the image block by block, for the HTML report's image map.
    pub fn entropy_profile(&self) -> EntropyProfile {
        self.unpacked
            .content(0)
            .map(|image| entropy_profile(image))
            .unwrap_or_default()
    }
}

/// The facts derived from an unpacked tree.
struct Derived {
    /// Every detector's findings, in canonical order.
    findings: Vec<Finding>,
    /// The identified components.
    components: Vec<Component>,
    /// Seconds each detector took.
    detector_secs: Vec<(&'static str, f64)>,
    /// The exposure map: programs that listen on the network.
    listeners: Vec<assay_model::Listener>,
}

/// How many blocks the HTML image map divides the image into, at most.
const ENTROPY_BLOCKS: usize = 512;
/// The smallest block measured: below this, entropy says little about the data.
const MIN_ENTROPY_BLOCK: usize = 256;

/// Entropy of `image` block by block (at most 512 blocks of at least 256 bytes).
pub fn entropy_profile(image: &[u8]) -> EntropyProfile {
    let block_size = image.len().div_ceil(ENTROPY_BLOCKS).max(MIN_ENTROPY_BLOCK);
    EntropyProfile {
        block_size: block_size as u64,
        values: image
            .chunks(block_size)
            .map(assay_unpack::scan::entropy)
            .collect(),
    }
}

/// The same profile as [`entropy_profile`] for an image of `len` bytes read from `reader`
/// block by block, so that a server can draw the map of an image it does not hold in memory.
pub fn entropy_profile_of_reader(
    reader: &mut dyn std::io::Read,
    len: u64,
) -> std::io::Result<EntropyProfile> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let block_size = len.div_ceil(ENTROPY_BLOCKS).max(MIN_ENTROPY_BLOCK);
    let mut block = vec![0u8; block_size];
    let mut values = Vec::with_capacity(ENTROPY_BLOCKS);
    loop {
        let mut filled = 0;
        while filled < block_size {
            let Some(rest) = block.get_mut(filled..) else {
                break;
            };
            match reader.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            break;
        }
        values.push(assay_unpack::scan::entropy(
            block.get(..filled).unwrap_or_default(),
        ));
        if filled < block_size {
            break;
        }
    }
    Ok(EntropyProfile {
        block_size: block_size as u64,
        values,
    })
}

/// A configured scanner: one [`AnalysisConfig`], an optional progress callback and a cancel
/// token, applied to every pipeline it runs. Cheap to build; run it as often as needed, from
/// as many threads as needed.
///
/// ```
/// use assay_engine::{AnalysisConfig, ReferenceTime, Scan};
/// let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-demo.bin");
/// let config = AnalysisConfig::new()
///     .with_reference_time(ReferenceTime::At(1_717_200_000)) // 2024-06-01
///     .with_run_figures(false);
/// let output = Scan::new(config).run(&image)?;
/// let report = &output.report;
/// assert_eq!(report.as_of.as_deref(), Some("2024-06-01T00:00:00Z"));
/// let cracked = report.findings.iter().find(|f| f.rule == "ASSAY-CRED-001").unwrap();
/// assert_eq!(cracked.path, "/etc/shadow");
/// # Ok::<(), assay_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Scan {
    config: AnalysisConfig,
    progress: Option<Arc<ProgressFn>>,
    cancel: CancelToken,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("config", &self.config)
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl Scan {
    /// A scanner with these settings, no progress callback and a fresh cancel token.
    pub fn new(config: AnalysisConfig) -> Self {
        Scan {
            config,
            progress: None,
            cancel: CancelToken::new(),
        }
    }

    /// Report progress to `callback`.
    pub fn on_progress(mut self, callback: Arc<ProgressFn>) -> Self {
        self.progress = Some(callback);
        self
    }

    /// Stop when `token` is cancelled: the unpacker checks it between nodes and the analysis
    /// between detectors; the pipeline then returns [`Error::Cancelled`].
    ///
    /// ```
    /// use assay_engine::{AnalysisConfig, CancelToken, Error, ReferenceTime, Scan};
    /// let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-demo.bin");
    /// let token = CancelToken::new();
    /// let scan = Scan::new(AnalysisConfig::new().with_reference_time(ReferenceTime::At(0)))
    ///     .with_cancel(token.clone());
    /// token.cancel(); // from another thread, typically
    /// assert!(matches!(scan.run(&image), Err(Error::Cancelled)));
    /// ```
    pub fn with_cancel(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    /// The settings.
    pub fn config(&self) -> &AnalysisConfig {
        &self.config
    }

    /// The cancel token (cancel a clone of it to stop this scanner's runs).
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    fn report_progress(&self, event: Progress) {
        if let Some(p) = &self.progress {
            p(event);
        }
    }

    fn check_cancelled(&self) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Unpack an image file into its tree (no analysis), as `assay unpack` and the other
    /// pipelines do.
    pub fn unpack(&self, image: &Path) -> Result<UnpackResult, Error> {
        let read_error = |source| Error::Read {
            path: image.to_path_buf(),
            source,
        };
        let progress = self.progress.clone().map(|p| {
            Arc::new(move |done: u64, total: u64| p(Progress::Unpacking { done, total }))
                as Arc<assay_unpack::driver::ProgressFn>
        });
        let opts = UnpackOptions {
            limits: self.config.limits().cloned(),
            progress,
            cancel: self.cancel.clone(),
            passwords: self.config.archive_passwords().to_vec(),
        };
        let mut result = Unpacker::new()
            .unpack_file(image, &opts)
            .map_err(read_error)?;
        self.check_cancelled()?;
        self.report_progress(Progress::Unpacked);
        // Byte budgets are shared out by position, so a limit on bytes gives the same tree
        // on every run. Only the tree-wide node count is one counter for all branches: when
        // it fired, unpack again on one thread, where the order is fixed, so that the report
        // stays reproducible and verifiable.
        if result.timing_dependent {
            self.report_progress(Progress::UnpackingAgain);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .map_err(Error::ThreadPool)?;
            let quiet = UnpackOptions {
                progress: None,
                ..opts
            };
            result = pool
                .install(|| Unpacker::new().unpack_file(image, &quiet))
                .map_err(read_error)?;
            self.check_cancelled()?;
        }
        Ok(result)
    }

    /// Unpack and analyse an image into a report (with the unpacked tree).
    pub fn run(&self, image: &Path) -> Result<ScanOutput, Error> {
        let unpacked = self.unpack(image)?;
        let as_of = match self.config.reference_time() {
            ReferenceTime::At(t) => t,
            ReferenceTime::NewestEmbedded => {
                newest_embedded_time(&unpacked).ok_or(Error::NoReferenceTime)?
            }
        };
        self.report_progress(Progress::Analysing);
        let started = Instant::now();
        let Derived {
            mut findings,
            components,
            detector_secs,
            listeners,
        } = self.analyse(&unpacked, as_of)?;
        let mut stats = unpacked.stats.clone();
        stats
            .seconds
            .insert("analyze".into(), started.elapsed().as_secs_f64());
        for (name, secs) in detector_secs {
            stats.seconds.insert(format!("detector:{name}"), secs);
        }
        let mut warnings = unpacked.warnings.clone();
        let mut vulnerabilities = Vec::new();
        if !matches!(self.config.vulnerabilities(), VulnerabilitySource::Skip) {
            self.report_progress(Progress::MatchingVulnerabilities);
            let started = Instant::now();
            vulnerabilities = self.match_vulnerabilities(&components, &mut warnings)?;
            findings.extend(assay_vulndb::findings(&components, &vulnerabilities));
            assay_analyze::sort_findings(&mut findings);
            stats
                .seconds
                .insert("vulndb".into(), started.elapsed().as_secs_f64());
        }
        let report = Report {
            schema: REPORT_SCHEMA.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            image: unpacked.image.clone(),
            nodes: unpacked.nodes.clone(),
            components,
            findings,
            vulnerabilities,
            listeners,
            warnings,
            as_of: Some(assay_model::time::format_utc(as_of)),
            stats: self.config.run_figures().then_some(stats),
        };
        Ok(ScanOutput { report, unpacked })
    }

    /// Run every detector and component identification as of `as_of`: the one place that
    /// derives facts from an unpacked tree, shared by scan, verify and diff.
    fn analyse(&self, unpacked: &UnpackResult, as_of: i64) -> Result<Derived, Error> {
        let analysis = Analysis::new(unpacked)
            .with_config(self.config.detectors())
            .with_as_of(as_of)
            .with_cancel(self.cancel.clone());
        let (findings, detector_secs) = assay_analyze::run_detectors_timed(&analysis);
        self.check_cancelled()?;
        let components = assay_analyze::components::identify_components(&analysis);
        self.check_cancelled()?;
        let listeners = assay_analyze::detectors::exposure::listeners(&analysis);
        Ok(Derived {
            findings,
            components,
            detector_secs,
            listeners,
        })
    }

    /// Match the components against the configured database; without one, say so once in the
    /// warnings.
    fn match_vulnerabilities(
        &self,
        components: &[Component],
        warnings: &mut Vec<Warning>,
    ) -> Result<Vec<Vulnerability>, Error> {
        let (db, path) = match self.config.vulnerabilities() {
            VulnerabilitySource::Skip => return Ok(Vec::new()),
            VulnerabilitySource::Unavailable => {
                warnings.push(Warning {
                    node: None,
                    location: String::new(),
                    kind: WarningKind::Vulndb,
                    message: assay_vulndb::NO_DATABASE.into(),
                });
                return Ok(Vec::new());
            }
            VulnerabilitySource::Path(path) => {
                let db = VulnDb::open(path).map_err(|source| Error::OpenVulnDb {
                    path: path.clone(),
                    source,
                })?;
                (Arc::new(std::sync::Mutex::new(db)), path)
            }
            VulnerabilitySource::Open { db, path } => (Arc::clone(db), path),
        };
        // A panic of another scan while it held the database leaves the connection usable:
        // every query is a read.
        let db = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if db.feeds()?.is_empty() {
            warnings.push(Warning {
                node: None,
                location: path.display().to_string(),
                kind: WarningKind::Vulndb,
                message: "the vulnerability database holds no feed; run assay vulndb import".into(),
            });
        }
        Ok(db.match_components(components)?)
    }

    /// Hold `report` against `image`: unpack it again, re-derive every fact as of the report's
    /// `as_of` (else the config's reference time) and compare. Vulnerability findings are
    /// re-derived from the report's own vulnerability records over the re-derived components,
    /// so their node, range and evidence are still checked against the image.
    ///
    /// ```
    /// use assay_engine::{AnalysisConfig, ReferenceTime, Scan};
    /// let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-demo.bin");
    /// let scan = Scan::new(AnalysisConfig::new().with_reference_time(ReferenceTime::At(1_717_200_000)));
    /// let mut report = scan.run(&image)?.report;
    /// assert!(scan.verify(&report, &image)?.holds());
    /// report.findings[0].evidence.push('!');
    /// let verification = scan.verify(&report, &image)?;
    /// assert!(!verification.holds());
    /// assert!(verification.failures[0].contains("evidence"));
    /// # Ok::<(), assay_engine::Error>(())
    /// ```
    pub fn verify(&self, report: &Report, image: &Path) -> Result<Verification, Error> {
        let recorded = match report.as_of.as_deref() {
            Some(t) => Some(
                assay_model::time::parse_utc(t).ok_or_else(|| Error::ReportAsOf {
                    as_of: t.to_string(),
                })?,
            ),
            None => None,
        };
        let unpacked = self.unpack(image)?;
        let as_of = match (recorded, self.config.reference_time()) {
            (Some(t), _) | (None, ReferenceTime::At(t)) => t,
            (None, ReferenceTime::NewestEmbedded) => {
                newest_embedded_time(&unpacked).ok_or(Error::NoReferenceTime)?
            }
        };
        self.report_progress(Progress::Analysing);
        let Derived {
            mut findings,
            components,
            listeners,
            ..
        } = self.analyse(&unpacked, as_of)?;
        if !report.vulnerabilities.is_empty() {
            findings.extend(assay_vulndb::findings(&components, &report.vulnerabilities));
            assay_analyze::sort_findings(&mut findings);
        }
        Ok(verify::check(
            report,
            &unpacked,
            &findings,
            &components,
            &listeners,
            as_of,
        ))
    }

    /// What changed between two firmware versions, each given as an image (scanned with this
    /// scanner's settings) or a report (JSON or signed envelope).
    pub fn diff(&self, old: &Path, new: &Path) -> Result<ReportDiff, Error> {
        let old = self.report_of(old)?;
        let new = self.report_of(new)?;
        Ok(assay_report::diff::diff(&old, &new))
    }

    /// The report a path stands for: read it when it is one, else scan the image.
    fn report_of(&self, path: &Path) -> Result<Report, Error> {
        if let Some(file) = ReportFile::read(path, self.config.max_report_bytes())? {
            return Ok(file.parse()?.report);
        }
        Ok(self.run(path)?.report)
    }
}

/// Verify `report` against `image` with `config` (see [`Scan::verify`]).
pub fn verify(
    report: &Report,
    image: &Path,
    config: &AnalysisConfig,
) -> Result<Verification, Error> {
    Scan::new(config.clone()).verify(report, image)
}

/// Diff two images or reports with `config` (see [`Scan::diff`]).
pub fn diff(old: &Path, new: &Path, config: &AnalysisConfig) -> Result<ReportDiff, Error> {
    Scan::new(config.clone()).diff(old, new)
}

/// The newest time stamp the image itself records, in Unix seconds: the typed modification
/// time of every node (uImage and FIT header times, squashfs creation times, and the entry
/// times of archives and file systems at any depth). Zero and earlier mean "not set".
pub fn newest_embedded_time(unpacked: &UnpackResult) -> Option<i64> {
    unpacked
        .nodes
        .iter()
        .filter_map(|n| n.mtime)
        .filter(|&t| t > 0)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_profile_covers_the_image_in_bounded_blocks() {
        let image: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let p = entropy_profile(&image);
        assert!(p.values.len() <= ENTROPY_BLOCKS);
        assert_eq!(
            p.values.len() as u64,
            (image.len() as u64).div_ceil(p.block_size)
        );
        assert!(p.values.iter().all(|&e| (0.0..=8.0).contains(&e)));
        assert!(entropy_profile(&[]).values.is_empty());
        assert_eq!(entropy_profile(&[0; 100]).values, vec![0.0]);
    }

    #[test]
    fn an_image_read_block_by_block_has_the_same_profile() {
        let mut x: u32 = 7;
        let image: Vec<u8> = (0..777_777)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if i % 3000 < 1500 {
                    0
                } else {
                    (x >> 16) as u8
                }
            })
            .collect();
        for len in [0, 100, 257, 131_072, image.len()] {
            let part = &image[..len];
            let streamed = entropy_profile_of_reader(&mut &part[..], len as u64).unwrap();
            assert_eq!(streamed, entropy_profile(part), "{len}");
        }
    }
}
