//! A bounded reader over hostile bytes: every read is checked, nothing panics, and lengths
//! read from the input can be checked against what remains before anything is allocated.

use crate::FormatError;

/// Byte order of a format's integer fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

/// Position-tracking reader over a byte slice whose reads fail instead of panicking.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    endian: Endian,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data` reading integers in `endian` order.
    pub fn new(data: &'a [u8], endian: Endian) -> Self {
        Cursor {
            data,
            pos: 0,
            endian,
        }
    }

    /// A cursor at `pos` (an error when `pos` is past the end).
    pub fn at(data: &'a [u8], pos: usize, endian: Endian) -> Result<Self, FormatError> {
        if pos > data.len() {
            return Err(FormatError::Truncated {
                what: "seek",
                offset: pos as u64,
            });
        }
        Ok(Cursor { data, pos, endian })
    }

    /// Current offset from the start of the data.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current offset.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Move to an absolute offset.
    pub fn seek(&mut self, pos: usize) -> Result<(), FormatError> {
        if pos > self.data.len() {
            return Err(FormatError::Truncated {
                what: "seek",
                offset: pos as u64,
            });
        }
        self.pos = pos;
        Ok(())
    }

    /// Skip `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), FormatError> {
        self.bytes(n).map(|_| ())
    }

    /// Take the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let out = &self.data[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(FormatError::Truncated {
                what: "read",
                offset: self.pos as u64,
            }),
        }
    }

    /// Take the next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Read one byte.
    pub fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    /// Read a 16-bit integer in the cursor's byte order.
    pub fn u16(&mut self) -> Result<u16, FormatError> {
        let a = self.array()?;
        Ok(match self.endian {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    /// Read a 32-bit integer in the cursor's byte order.
    pub fn u32(&mut self) -> Result<u32, FormatError> {
        let a = self.array()?;
        Ok(match self.endian {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    /// Read a 64-bit integer in the cursor's byte order.
    pub fn u64(&mut self) -> Result<u64, FormatError> {
        let a = self.array()?;
        Ok(match self.endian {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }
}

/// Read a little-endian u16 at `off`, `None` when out of bounds.
pub fn le16(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
/// Read a little-endian u32 at `off`, `None` when out of bounds.
pub fn le32(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
/// Read a little-endian u64 at `off`, `None` when out of bounds.
pub fn le64(d: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        d.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}
/// Read a big-endian u16 at `off`, `None` when out of bounds.
pub fn be16(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        d.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
/// Read a big-endian u32 at `off`, `None` when out of bounds.
pub fn be32(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        d.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
/// Read a big-endian u64 at `off`, `None` when out of bounds.
pub fn be64(d: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_be_bytes(
        d.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// A NUL-terminated string from a fixed-size field, lossily decoded.
pub fn cstr(field: &[u8]) -> String {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_endians_and_fails_past_end() {
        let d = [1u8, 2, 3, 4, 5];
        let mut c = Cursor::new(&d, Endian::Big);
        assert_eq!(c.u16().unwrap(), 0x0102);
        let mut l = Cursor::new(&d, Endian::Little);
        assert_eq!(l.u32().unwrap(), 0x04030201);
        assert!(l.u16().is_err());
        assert_eq!(l.u8().unwrap(), 5);
        assert!(c.bytes(usize::MAX).is_err());
        assert_eq!(be32(&d, 1), Some(0x02030405));
        assert_eq!(le32(&d, 2), None);
        assert_eq!(cstr(b"abc\0def"), "abc");
    }
}
