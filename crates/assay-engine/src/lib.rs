//! Assay as a library: the scan, verify and diff pipelines behind a small API, for the `assay`
//! command, tests, workers and servers alike.
//!
//! Settings are one value, [`AnalysisConfig`] (rule pack with the user's rules, extra password
//! candidates, reference time, limits, vulnerability source); a [`Scan`] applies it, with an
//! optional progress callback and a [`CancelToken`]. Nothing here prints, reads the wall clock,
//! the environment or `$HOME`: the front end decides "now", where the database lives and what
//! to show (the phases are timed for the report's `stats` with a monotonic timer only). Two
//! scans with different configs run side by side in one process, each with its own answers.
//!
//! ```
//! use assay_engine::{AnalysisConfig, ReferenceTime, Scan};
//! let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
//! let config = AnalysisConfig::new()
//!     .with_reference_time(ReferenceTime::At(1_717_200_000))
//!     .with_run_figures(false);
//! let scan = Scan::new(config);
//! let diff = scan.diff(&root.join("examples/acme-demo.bin"), &root.join("examples/acme-demo-v2.bin"))?;
//! assert!(assay_report::diff::to_text(&diff).contains("+ support"));
//! # Ok::<(), assay_engine::Error>(())
//! ```

// A library that embeds in servers and workers says everything through its return values.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod config;
mod error;
mod load;
mod scan;
mod verify;

pub use config::{AnalysisConfig, ConfigError, ReferenceTime, VulnerabilitySource};
pub use error::{Error, LoadError};
pub use load::{load_report, LoadedReport, ReportFile, SignatureCheck, DEFAULT_MAX_REPORT_BYTES};
pub use scan::{
    diff, entropy_profile, entropy_profile_of_reader, newest_embedded_time, verify, Progress,
    ProgressFn, Scan, ScanOutput,
};
pub use verify::Verification;

pub use assay_analyze::DetectorConfig;
pub use assay_unpack::{CancelToken, Limits, UnpackResult};
