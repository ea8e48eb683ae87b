//! Assay's unpacking engine: one firmware image in, a tree of every container, filesystem,
//! directory and file out, each with the provenance needed to find its bytes again.
//!
//! The model: an image is a blob of bytes. A [`MagicScanner`](scan::MagicScanner) finds where
//! each registered [`Format`] may start; the format's cheap `probe` validates and sizes the
//! candidate; its `unpack` yields [`Entry`]s (files, links, streams). The [`Unpacker`] turns
//! those into [`assay_model::Node`]s, recursing into every stream and file, under the
//! [`Limits`] that keep hostile input bounded. Nothing here writes to disk except
//! [`extract`], and that only under a directory it is given.

pub mod blob;
pub mod cursor;
pub mod driver;
pub mod extract;
pub mod format;
pub mod formats;
pub mod fuzzing;
pub mod limits;
pub mod passwords;
pub mod scan;
pub mod unix_mode;

pub use blob::Blob;
pub use driver::{normalize_path, sha256, CancelToken, UnpackOptions, UnpackResult, Unpacker};
pub use format::{
    Entry, EntryData, EntryKind, Format, FormatError, FormatWarning, Magic, Probe, UnpackContext,
    Unpacked, WarningKind,
};
pub use limits::{Budget, Limits};
