//! Cheaply clonable, sliceable views of bytes, whether they come from the memory-mapped image
//! or from a decompressed buffer, so that carving never copies.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// Anything that owns a contiguous run of bytes and can be shared across threads.
pub trait ByteSource: AsRef<[u8]> + Send + Sync {}
impl<T: AsRef<[u8]> + Send + Sync> ByteSource for T {}

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
        let len = owner.as_ref().len();
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
        &self.owner.as_ref().as_ref()[self.start..self.end]
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
}
