//! Limits that keep a hostile image from exhausting memory, time or recursion, and the shared
//! budget that enforces them across threads.

use crate::passwords::Keyring;
use crate::FormatError;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Configurable bounds of one scan (see ARCHITECTURE.md, "Limits").
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of containers below the image.
    pub max_depth: usize,
    /// Total bytes that decompression and extraction may produce.
    pub max_total_bytes: u64,
    /// Bytes one decoded stream or file may hold.
    pub max_stream_bytes: u64,
    /// Entries one archive or filesystem may hold.
    pub max_entries: usize,
    /// Nodes the whole tree may hold.
    pub max_nodes: usize,
}

impl Limits {
    /// The documented defaults for an image of `image_size` bytes: depth 16, at most
    /// 64 × the image and 16 GiB in all, 4 GiB per stream, a million entries per archive.
    pub fn for_image(image_size: u64) -> Self {
        Limits {
            max_depth: 16,
            max_total_bytes: image_size.saturating_mul(64).clamp(64 << 20, 16 << 30),
            max_stream_bytes: 4 << 30,
            max_entries: 1_000_000,
            max_nodes: 4_000_000,
        }
    }
}

/// What one branch of the scan may still produce: the whole scan's budget at the top, and
/// below it each container's and each file's share (see the driver's "Shares"). A format
/// charges the budget its [`UnpackContext`](crate::UnpackContext) carries; the driver folds a
/// finished share into its parent's with [`absorb`](Self::absorb).
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    used: AtomicU64,
    /// Set when a limit stopped something in this branch (more bytes could change it).
    stopped: AtomicBool,
    /// Archive passwords and the scan's key-derivation work, shared by every share.
    keyring: Arc<Keyring>,
}

impl Budget {
    /// A fresh budget for the given limits.
    pub fn new(limits: Limits) -> Self {
        Budget {
            limits,
            used: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            keyring: Arc::new(Keyring::default()),
        }
    }

    /// This budget with these archive passwords (and their key-derivation work budget).
    pub fn with_keyring(mut self, keyring: Arc<Keyring>) -> Self {
        self.keyring = keyring;
        self
    }

    /// The archive passwords of the scan.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// A fresh share of `bytes` under the same other limits (and the same keyring).
    pub fn share(&self, bytes: u64) -> Budget {
        Budget::new(Limits {
            max_total_bytes: bytes,
            ..self.limits.clone()
        })
        .with_keyring(Arc::clone(&self.keyring))
    }

    /// Count `n` bytes a finished share spent (they are already bounded by that share,
    /// which was carved from what this budget had left).
    pub fn absorb(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_add(n))
            });
    }

    /// Record that a limit stopped something spending from this budget.
    pub fn mark_stopped(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Whether a limit stopped something spending from this budget.
    pub fn was_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// The limits this budget enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes produced so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Bytes that may still be produced.
    pub fn remaining(&self) -> u64 {
        self.limits.max_total_bytes.saturating_sub(self.used())
    }

    /// Take `n` bytes from the budget, or fail without taking anything.
    pub fn charge(&self, n: u64) -> Result<(), FormatError> {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = cur.saturating_add(n);
            if next > self.limits.max_total_bytes {
                self.mark_stopped();
                return Err(FormatError::Limit(format!(
                    "total unpacked bytes would exceed {} bytes",
                    self.limits.max_total_bytes
                )));
            }
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Largest single stream that may be produced now.
    pub fn stream_limit(&self) -> u64 {
        self.limits.max_stream_bytes.min(self.remaining())
    }
}

/// Output of a bounded decode: the bytes, and why it stopped early if it did.
#[derive(Debug)]
pub struct Decoded {
    /// Bytes produced (possibly partial).
    pub data: Vec<u8>,
    /// Set when decoding stopped before the stream's end (error or limit); the bytes
    /// produced until then are kept.
    pub error: Option<FormatError>,
}

/// Read a decoder to its end, never producing more than `limit` bytes. A decoder that
/// would produce more, or fails, yields what it produced so far plus the reason.
pub fn read_bounded<R: Read>(mut reader: R, limit: u64) -> Decoded {
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Decoded { data, error: None },
            Ok(n) => {
                if data.len() as u64 + n as u64 > limit {
                    let keep = (limit as usize).saturating_sub(data.len()).min(n);
                    data.extend_from_slice(&chunk[..keep]);
                    return Decoded {
                        data,
                        error: Some(FormatError::Limit(format!(
                            "decoded stream exceeds {limit} bytes"
                        ))),
                    };
                }
                data.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Decoded {
                    data,
                    error: Some(FormatError::Decode(e.to_string())),
                }
            }
        }
    }
}

/// A reader that counts how many bytes were pulled from the inner one, so that a stream
/// decoder can report how much of the container it consumed.
pub struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> CountingReader<R> {
    /// Wrap a reader.
    pub fn new(inner: R) -> Self {
        CountingReader { inner, count: 0 }
    }
    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_past_total() {
        let mut l = Limits::for_image(0);
        l.max_total_bytes = 10;
        let b = Budget::new(l);
        assert!(b.charge(6).is_ok());
        assert!(b.charge(5).is_err());
        assert_eq!(b.used(), 6);
        assert!(b.charge(4).is_ok());
        assert_eq!(b.remaining(), 0);
    }

    #[test]
    fn bounded_read_stops_at_limit() {
        let src = std::io::repeat(7).take(1000);
        let d = read_bounded(src, 100);
        assert_eq!(d.data.len(), 100);
        assert!(matches!(d.error, Some(FormatError::Limit(_))));
        let ok = read_bounded(&b"abc"[..], 100);
        assert_eq!(ok.data, b"abc");
        assert!(ok.error.is_none());
    }
}
