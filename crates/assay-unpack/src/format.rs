//! The one trait every format implements, and the types it speaks.
//!
//! A format is found in two steps. The scanner looks for its [`Magic`]s in a blob; at each hit
//! `probe` checks, in a few instructions, that a real structure starts there and how long it
//! is. Only then does `unpack` read it and yield its [`Entry`]s: files, directories and links
//! for filesystems and archives, and unnamed streams for compressions and partitions. The
//! driver turns entries into nodes, hashes them, and recurses into their bytes.

use crate::limits::Budget;
use crate::Blob;
use assay_model::Details;
pub use assay_model::WarningKind;
use std::collections::BTreeMap;

/// A byte pattern that may announce a format, and where it sits from the structure's start.
#[derive(Debug, Clone, Copy)]
pub struct Magic {
    /// The bytes to look for.
    pub bytes: &'static [u8],
    /// Offset of `bytes` from the start of the structure (e.g. 257 for tar's `ustar`).
    pub offset: usize,
}

impl Magic {
    /// A magic at the very start of the structure.
    pub const fn at_start(bytes: &'static [u8]) -> Magic {
        Magic { bytes, offset: 0 }
    }
    /// A magic `offset` bytes into the structure.
    pub const fn at(bytes: &'static [u8], offset: usize) -> Magic {
        Magic { bytes, offset }
    }
}

/// What `probe` learned about a candidate: that it is real, and how much it spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// Bytes the structure spans from its start, when the header says; `None` when only
    /// unpacking can tell (compressed streams), in which case `unpack` reports it.
    pub length: Option<u64>,
    /// One line for the outline (`squashfs 4.0 xz, 312 inodes`).
    pub description: String,
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub enum EntryData {
    /// No bytes (directories, links, devices).
    None,
    /// A range of the container's own bytes (carving: partitions, uncompressed members).
    Range {
        /// Offset inside the container's bytes.
        offset: u64,
        /// Length of the range.
        length: u64,
    },
    /// Bytes produced by decoding (decompression, reassembly).
    Owned(Blob),
    /// A sparse file: `data`, then zeros up to `length` bytes. Its trailing hole is never
    /// materialised, charged or searched; only its hash covers it (see the driver).
    Sparse {
        /// The file's bytes up to its last non-zero block.
        data: Blob,
        /// The file's length, `data` included.
        length: u64,
    },
}

/// What kind of entry a container yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Unnamed bytes: a decompressed stream, a partition, a volume, a payload.
    Stream,
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link with its target, verbatim.
    Symlink(String),
    /// A hard link to another path of the same archive.
    Hardlink(String),
    /// A character or block device.
    Device {
        /// `true` for block devices.
        block: bool,
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
}

/// One thing a container holds.
#[derive(Debug, Clone)]
pub struct Entry {
    /// For filesystem and archive entries, the absolute path inside the container
    /// (`/etc/passwd`; readers normalise it, the driver checks it again). For streams, a
    /// label (`kernel`, `volume:rootfs`, `partition1`) or empty.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its bytes.
    pub data: EntryData,
    /// Unix mode bits as stored (type and permission bits), if the format has them.
    pub mode: Option<u32>,
    /// Owner user id.
    pub uid: Option<u32>,
    /// Owner group id.
    pub gid: Option<u32>,
    /// Modification time in Unix seconds (UTC), if the format stores one.
    pub mtime: Option<i64>,
    /// Format-specific facts (compression, load address, volume type, ...): compact, since
    /// an archive may yield a million entries.
    pub details: Details,
}

impl Entry {
    /// A stream entry with the given label and bytes.
    pub fn stream(label: impl Into<String>, data: EntryData) -> Self {
        Entry {
            path: label.into(),
            kind: EntryKind::Stream,
            data,
            mode: None,
            uid: None,
            gid: None,
            mtime: None,
            details: Details::new(),
        }
    }

    /// A filesystem entry with the given path and kind, no data and no metadata yet.
    pub fn fs(path: impl Into<String>, kind: EntryKind) -> Self {
        Entry {
            path: path.into(),
            kind,
            data: EntryData::None,
            mode: None,
            uid: None,
            gid: None,
            mtime: None,
            details: Details::new(),
        }
    }

    /// Set the data (builder style).
    pub fn with_data(mut self, data: EntryData) -> Self {
        self.data = data;
        self
    }

    /// Set mode, uid and gid (builder style).
    pub fn with_owner(mut self, mode: u32, uid: u32, gid: u32) -> Self {
        self.mode = Some(mode);
        self.uid = Some(uid);
        self.gid = Some(gid);
        self
    }

    /// Set the modification time, Unix seconds (builder style).
    pub fn with_mtime(mut self, mtime: i64) -> Self {
        self.mtime = Some(mtime);
        self
    }

    /// Add a detail (builder style).
    pub fn with_detail(mut self, key: &str, value: impl ToString) -> Self {
        self.details.insert(key.to_string(), value.to_string());
        self
    }
}

/// A non-fatal problem a reader met: its kind and what happened, for a person. The driver
/// turns it into a report [`Warning`](assay_model::Warning) at the container's node.
pub type FormatWarning = (WarningKind, String);

/// What `unpack` produced.
#[derive(Debug, Default)]
pub struct Unpacked {
    /// Bytes of the input the structure really used, when `probe` could not tell.
    pub consumed: Option<u64>,
    /// Everything the container holds, in the container's own order.
    pub entries: Vec<Entry>,
    /// Problems that did not stop unpacking (a bad CRC, a truncated last block), each with
    /// its kind.
    pub warnings: Vec<FormatWarning>,
    /// Facts about the container itself (compression, version, endianness).
    pub details: BTreeMap<String, String>,
    /// When the container itself was made, Unix seconds (a uImage or FIT header's time
    /// stamp, a squashfs superblock's creation time), if it says.
    pub mtime: Option<i64>,
}

impl Unpacked {
    /// Record a non-fatal problem of the given kind.
    pub fn warn(&mut self, kind: WarningKind, msg: impl Into<String>) {
        self.warnings.push((kind, msg.into()));
    }
    /// Record a fact about the container.
    pub fn detail(&mut self, key: &str, value: impl ToString) {
        self.details.insert(key.to_string(), value.to_string());
    }
}

/// Why a format could not be unpacked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The data ends before a structure does.
    #[error("truncated: {what} at offset {offset:#x} runs past the end")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: u64,
    },
    /// A structure is malformed.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// A legal but unsupported variant.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A configured limit was reached (size, entries, budget).
    #[error("limit reached: {0}")]
    Limit(String),
    /// A decoder failed.
    #[error("decode failed: {0}")]
    Decode(String),
}

impl FormatError {
    /// The kind of report warning this error becomes.
    pub fn kind(&self) -> WarningKind {
        match self {
            FormatError::Truncated { .. } => WarningKind::Truncated,
            FormatError::Corrupt(_) => WarningKind::Corrupt,
            FormatError::Unsupported(_) => WarningKind::Unsupported,
            FormatError::Limit(_) => WarningKind::Limit,
            FormatError::Decode(_) => WarningKind::Decode,
        }
    }
}

/// What a format may use while unpacking: the shared budget and the limits.
pub struct UnpackContext<'a> {
    /// Bytes and entries the whole scan may still produce.
    pub budget: &'a Budget,
}

impl UnpackContext<'_> {
    /// Ask for `n` more output bytes; fails once the scan's budget is spent.
    pub fn charge(&self, n: u64) -> Result<(), FormatError> {
        self.budget.charge(n)
    }

    /// Largest single stream a decoder may produce now (the per-stream limit, or what is
    /// left of the total budget, whichever is smaller).
    pub fn stream_limit(&self) -> u64 {
        self.budget.stream_limit()
    }

    /// Reserve one stream of `n` bytes that a format is about to produce (a decrypted or
    /// rearranged copy): refused when it is larger than [`Self::stream_limit`], otherwise
    /// charged to the budget. `what` names the stream in the error.
    pub fn reserve_stream(&self, n: u64, what: &str) -> Result<(), FormatError> {
        if n > self.stream_limit() {
            return Err(FormatError::Limit(format!(
                "{what} of {n} bytes exceeds the stream limit"
            )));
        }
        self.charge(n)
    }

    /// Largest number of entries one archive may hold.
    pub fn max_entries(&self) -> usize {
        self.budget.limits().max_entries
    }

    /// Passwords to try on encrypted members, and the scan's key-derivation work budget.
    pub fn keyring(&self) -> &crate::passwords::Keyring {
        self.budget.keyring()
    }
}

/// A format: how to recognise it, validate a candidate, and unpack it.
///
/// Implementations must treat `data` as hostile: never panic, never allocate from an
/// unchecked length, bound every loop and recursion.
pub trait Format: Send + Sync {
    /// Stable short name used in locations and reports (`squashfs`, `gzip`).
    fn name(&self) -> &'static str;

    /// The byte patterns that announce it. An empty list means the format has no magic and
    /// is only tried on whole blobs that nothing else claimed (obfuscation layers).
    fn magics(&self) -> &'static [Magic];

    /// Check cheaply whether a real structure starts at `data[0]` (`data` runs to the end of
    /// the enclosing blob) and how long it is. Most candidates are false hits of short
    /// magics, so reject them in a few instructions.
    fn probe(&self, data: &[u8]) -> Option<Probe>;

    /// Read the structure starting at `data[0]` (cut to the probed length when one was
    /// known) and yield its entries.
    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError>;

    /// Whether the format says what a whole blob is rather than where a structure starts:
    /// an operating-system image (VxWorks, eCos, ThreadX) is code and data with no header of
    /// its own, known only by markers anywhere inside it. Such a format's magics are those
    /// markers; when one occurs, `probe` and `unpack` get the whole blob, and its node spans
    /// the blob without claiming it, so the search for structures embedded in the image runs
    /// as usual.
    fn describes_whole_blob(&self) -> bool {
        false
    }

    /// A search of its own for formats whose header has no fixed bytes to put in the
    /// magic scan (lzma-alone: any properties byte, any dictionary): called by the scanner
    /// for every window it searches. `None` (the default) leaves the format to its magics.
    fn finder(&self) -> Option<Finder> {
        None
    }
}

/// A format's own candidate search: push to `starts` every offset in `window` (a range of
/// `data`, which runs on past it so a header that starts in the window can be read whole)
/// where the format may start. It must be fast: it runs over every byte of every image.
pub type Finder = fn(data: &[u8], window: std::ops::Range<usize>, starts: &mut Vec<usize>);
