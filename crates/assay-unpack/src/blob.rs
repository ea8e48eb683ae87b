//! Cheaply clonable, sliceable views of bytes, whether they come from the memory-mapped image
//! or from a decompressed buffer, so that carving never copies.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::{Arc, OnceLock};

/// Anything that owns a contiguous run of bytes and can be shared across threads.
pub trait ByteSource: Send + Sync {
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// A hint that `range` will not be read again soon. A memory-mapped file drops those
    /// pages from the process's resident set (the kernel reads them back from the page cache
    /// if they are touched again), so scanning a large image does not hold it all in memory.
    fn release(&self, _range: Range<usize>) {}
}

impl ByteSource for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl ByteSource for &'static [u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl ByteSource for memmap2::Mmap {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn release(&self, range: Range<usize>) {
        if range.start >= range.end || range.end > self.len() {
            return;
        }
        // Page-align inward: only whole pages inside the range are dropped.
        let page = page_size();
        let start = range.start.div_ceil(page) * page;
        let end = range.end / page * page;
        if start < end {
            // SAFETY: the map is a read-only, shared mapping of a file. MADV_DONTNEED on such
            // a mapping only drops resident pages; later reads fault them back in from the
            // file with the same contents, so no reference into the map observes a change.
            #[allow(unsafe_code)]
            unsafe {
                let _ = self.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    start,
                    end - start,
                );
            }
        }
    }
}

/// Page size assumed when the system gives none that makes sense: 64 KiB is a multiple of every
/// common page size (4, 16 and 64 KiB), so ranges aligned to it are aligned on any of them and
/// releasing stays correct, only coarser.
const FALLBACK_PAGE_SIZE: usize = 64 * 1024;

/// The size of the system's memory pages, which the ranges given to `madvise` must be aligned
/// to (4 KiB on most x86 machines, 16 or 64 KiB on many ARM ones): asked once, with
/// [`FALLBACK_PAGE_SIZE`] when the answer is not a plausible page size.
fn page_size() -> usize {
    static PAGE_SIZE: OnceLock<usize> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf takes an integer name and returns an integer; it reads or writes no
        // memory of ours and may be called from any thread.
        #[allow(unsafe_code)]
        let answer = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(answer)
            .ok()
            .filter(|&p| p.is_power_of_two() && (512..=FALLBACK_PAGE_SIZE).contains(&p))
            .unwrap_or(FALLBACK_PAGE_SIZE)
    })
}

/// A shared, immutable view of bytes: an `Arc` to the owner plus a range.
#[derive(Clone)]
pub struct Blob {
    owner: Arc<dyn ByteSource>,
    start: usize,
    end: usize,
}

impl Blob {
    /// Wrap an owner of bytes (a `Vec<u8>`, a memory map).
    pub fn new(owner: impl ByteSource + 'static) -> Self {
        let len = owner.bytes().len();
        Blob {
            owner: Arc::new(owner),
            start: 0,
            end: len,
        }
    }

    /// The same bytes, narrowed to `range` (relative to this view). Returns `None` when the
    /// range does not fit, so hostile offsets cannot panic.
    pub fn slice(&self, range: Range<usize>) -> Option<Blob> {
        if range.start > range.end || range.end > self.len() {
            return None;
        }
        Some(Blob {
            owner: Arc::clone(&self.owner),
            start: self.start + range.start,
            end: self.start + range.end,
        })
    }

    /// The view from `offset` to the end, or an empty view when `offset` is past the end.
    pub fn tail(&self, offset: usize) -> Blob {
        let offset = offset.min(self.len());
        self.slice(offset..self.len())
            .unwrap_or_else(|| self.clone())
    }

    /// Hint that `range` of this view will not be read again soon (see
    /// [`ByteSource::release`]); a no-op for bytes in ordinary memory.
    pub fn release(&self, range: Range<usize>) {
        let end = range.end.min(self.len());
        if range.start < end {
            self.owner
                .release(self.start + range.start..self.start + end);
        }
    }

    /// Number of bytes in the view.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the view holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.owner.bytes()[self.start..self.end]
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Self {
        Blob::new(v)
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_bytes_and_reject_bad_ranges() {
        let b = Blob::from(b"hello world".to_vec());
        let w = b.slice(6..11).unwrap();
        assert_eq!(&*w, b"world");
        assert_eq!(&*w.slice(1..3).unwrap(), b"or");
        assert!(w.slice(2..9).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = w.slice(3..2);
        assert!(reversed.is_none());
        assert!(b.tail(99).is_empty());
    }

    #[test]
    fn page_size_comes_from_the_system() {
        let page = page_size();
        assert!(page.is_power_of_two() && page >= 4096, "{page}");
        assert_eq!(FALLBACK_PAGE_SIZE % page, 0);
    }

    #[test]
    fn releasing_a_mapped_range_keeps_its_bytes() {
        let mut file = tempfile::tempfile().unwrap();
        let bytes: Vec<u8> = (0..5 * page_size()).map(|i| (i % 251) as u8).collect();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        // SAFETY: the file is ours and nothing else writes it while it is mapped.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
        let blob = Blob::new(map);
        blob.release(100..4 * page_size() + 7);
        assert_eq!(&*blob, &bytes[..]);
    }
}
