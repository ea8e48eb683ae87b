//! Shared plumbing of the stream (compression) formats: a bounded output buffer for
//! decoders driven by hand, and the common way a decoded stream becomes an [`Unpacked`].

use crate::format::{Entry, EntryData, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// Size of the output chunks the hand-driven decoders write into. Small enough that a
/// decoder failing mid-stream has handed over most of what it decoded (a failing call's
/// output is lost with some decoders).
pub(crate) const CHUNK: usize = 8 * 1024;

/// Input handed to a sans-I/O decoder per call, for the same reason: a call decodes all it
/// is given before it can fail.
pub(crate) const IN_WINDOW: usize = 1024;

/// Decoded bytes that never grow past a limit; remembers whether the limit cut them.
pub(crate) struct BoundedOut {
    /// Bytes kept so far.
    pub data: Vec<u8>,
    limit: usize,
    /// Set once a push had to be cut at the limit.
    pub hit_limit: bool,
}

impl BoundedOut {
    /// An empty buffer that keeps at most `limit` bytes.
    pub fn new(limit: u64) -> Self {
        BoundedOut {
            data: Vec::new(),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            hit_limit: false,
        }
    }

    /// Bytes that may still be kept.
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.data.len())
    }

    /// Keep `bytes`, cut at the limit; `false` once the limit is reached.
    pub fn push(&mut self, bytes: &[u8]) -> bool {
        let room = self.room();
        if bytes.len() > room {
            self.data.extend_from_slice(&bytes[..room]);
            self.hit_limit = true;
            return false;
        }
        self.data.extend_from_slice(bytes);
        true
    }

    /// The error describing the cut, when there was one.
    pub fn limit_error(&self) -> Option<FormatError> {
        self.hit_limit
            .then(|| FormatError::Limit(format!("decoded stream exceeds {} bytes", self.limit)))
    }

    /// [`finish`] with these bytes; `error` (why decoding stopped) or else the cut.
    pub fn finish(
        self,
        error: Option<FormatError>,
        consumed: u64,
        ctx: &UnpackContext,
    ) -> Result<Unpacked, FormatError> {
        let error = error.or_else(|| self.limit_error());
        finish(self.data, error, consumed, ctx)
    }
}

/// Turn a decode result into the format's [`Unpacked`]: one unnamed stream entry with the
/// decoded bytes, charged to the budget. A decoder that failed before producing anything
/// is an error (most likely a false magic hit); one that failed later keeps its output
/// and says why it stopped.
pub(crate) fn finish(
    data: Vec<u8>,
    error: Option<FormatError>,
    consumed: u64,
    ctx: &UnpackContext,
) -> Result<Unpacked, FormatError> {
    if data.is_empty() {
        if let Some(e) = error {
            return Err(e);
        }
    }
    ctx.charge(data.len() as u64)?;
    let mut out = Unpacked::default();
    match error {
        Some(e @ FormatError::Limit(_)) => out.warn(
            WarningKind::Limit,
            format!("output stops at the limit: {e}"),
        ),
        Some(e) => out.warn(ended_early(&e), format!("stream ends early: {e}")),
        None => {}
    }
    out.consumed = Some(consumed);
    out.entries
        .push(Entry::stream("", EntryData::Owned(Blob::from(data))));
    Ok(out)
}

/// The kind of the warning that a stream stopped early because of `error`: a limit stays a
/// limit (the pipeline then unpacks again on one thread), anything else cut the stream short.
pub(crate) fn ended_early(error: &FormatError) -> WarningKind {
    match error {
        FormatError::Limit(_) => WarningKind::Limit,
        _ => WarningKind::Truncated,
    }
}

/// Map a decoder's I/O error to a [`FormatError`], telling truncation from corruption.
pub(crate) fn io_error(e: std::io::Error, offset: u64) -> FormatError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        FormatError::Truncated {
            what: "compressed stream",
            offset,
        }
    } else {
        FormatError::Decode(e.to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Checks every stream format runs: decode the fixture and compare with the manifest,
    //! stop at a small budget, survive truncation and bit flips.
    use crate::format::{EntryData, Format, WarningKind};
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::stream_sha;
    use crate::formats::testutil::{entry_bytes, probe_and_unpack, sha_hex, unpack};
    use crate::limits::Limits;
    use crate::Blob;
    use std::time::{Duration, Instant};

    const EXPECTED: &str = include_str!("../../tests/fixtures/compress/expected.txt");

    /// The manifest's sha256 for fixture `name`.
    pub fn expected_sha(name: &str) -> String {
        stream_sha(EXPECTED, &format!("/{name}"))
    }

    /// Decode fixture `name` with trailing junk after it: one stream entry with the
    /// manifest's bytes, `consumed` exactly the fixture's length, no warnings.
    pub fn check_fixture(format: &dyn Format, name: &str, bytes: &[u8]) {
        let mut data = bytes.to_vec();
        data.extend_from_slice(b"\x01\x02junk after the stream, not part of it\xff\xff\xff\xff");
        let u = unpack(format, &data);
        assert_eq!(u.entries.len(), 1, "{name}: one stream");
        assert!(u.warnings.is_empty(), "{name}: warnings {:?}", u.warnings);
        let e = &u.entries[0];
        assert!(matches!(e.data, EntryData::Owned(_)));
        let got = entry_bytes(&data, e).unwrap();
        assert_eq!(sha_hex(&got), expected_sha(name), "{name}: decoded bytes");
        assert_eq!(u.consumed, Some(bytes.len() as u64), "{name}: consumed");
    }

    /// A bomb (8 MiB of zeros compressed) under a 1 MiB stream limit, then under a
    /// 512 KiB total budget: output stops exactly there, with a warning.
    pub fn check_bomb(format: &dyn Format, bytes: &[u8]) {
        for (stream, total) in [(1u64 << 20, 1u64 << 30), (1 << 30, 512 << 10)] {
            let mut limits = Limits::for_image(bytes.len() as u64);
            limits.max_stream_bytes = stream;
            limits.max_total_bytes = total;
            let started = Instant::now();
            let u = probe_and_unpack(format, bytes, limits)
                .expect("probe accepts the bomb")
                .expect("unpack keeps partial output");
            let want = stream.min(total) as usize;
            let got = entry_bytes(bytes, &u.entries[0]).unwrap();
            assert_eq!(got.len(), want, "output stops at the limit");
            assert!(got.iter().all(|&b| b == 0));
            assert!(
                u.warnings.iter().any(|(k, _)| *k == WarningKind::Limit),
                "warning: {:?}",
                u.warnings
            );
            assert!(started.elapsed() < Duration::from_secs(20));
        }
    }

    /// The hostile sweep with at most 16 MiB of output a run.
    pub fn check_hostile(format: &dyn Format, bytes: &[u8]) {
        let how = Hostile {
            limits: |l| l.max_stream_bytes = 16 << 20,
            ..Hostile::default()
        };
        hostile_with(format, bytes, &how);
    }

    /// All stream formats back to back in one image, with junk between some: the driver
    /// finds each at its offset, with its exact size, and decodes each to the payload.
    #[test]
    fn driver_carves_consecutive_streams() {
        use crate::formats::registry;
        use crate::{UnpackOptions, Unpacker};
        use assay_model::NodeKind;
        let parts: [(&str, &[u8]); 9] = [
            (
                "lzma",
                include_bytes!("../../tests/fixtures/compress/payload.lzma"),
            ),
            (
                "xz",
                include_bytes!("../../tests/fixtures/compress/payload.xz"),
            ),
            (
                "bzip2",
                include_bytes!("../../tests/fixtures/compress/payload.bz2"),
            ),
            (
                "zstd",
                include_bytes!("../../tests/fixtures/compress/payload.zst"),
            ),
            (
                "lz4",
                include_bytes!("../../tests/fixtures/compress/payload.lz4"),
            ),
            (
                "lz4",
                include_bytes!("../../tests/fixtures/compress/payload-legacy.lz4"),
            ),
            (
                "lzop",
                include_bytes!("../../tests/fixtures/compress/payload.lzo"),
            ),
            (
                "zlib",
                include_bytes!("../../tests/fixtures/compress/payload-9.zlib"),
            ),
            (
                "lzip",
                include_bytes!("../../tests/fixtures/compress/payload.lz"),
            ),
        ];
        let mut image = Vec::new();
        let mut want = Vec::new();
        for (i, (name, bytes)) in parts.iter().enumerate() {
            want.push((*name, image.len() as u64, bytes.len() as u64));
            image.extend_from_slice(bytes);
            if i.is_multiple_of(2) {
                image.extend_from_slice(&[0xa5; 40]);
            }
        }
        let r = Unpacker::with_formats(registry()).unpack_bytes(
            "streams.bin",
            Blob::from(image),
            &UnpackOptions::default(),
        );
        let payload = expected_sha("payload.xz");
        let containers: Vec<_> = r
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Container && n.parent == Some(0))
            .collect();
        let got: Vec<(&str, u64, u64)> = containers
            .iter()
            .map(|n| {
                (
                    n.format.as_deref().unwrap_or(""),
                    n.offset.unwrap_or(u64::MAX),
                    n.size,
                )
            })
            .collect();
        assert_eq!(got, want);
        for c in containers {
            let stream = r
                .nodes
                .iter()
                .find(|n| n.parent == Some(c.id) && n.kind == NodeKind::Stream)
                .expect("stream node");
            assert_eq!(
                stream.sha256.as_deref(),
                Some(payload.as_str()),
                "{}",
                c.location
            );
        }
    }
}
