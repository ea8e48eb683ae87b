//! The OpenWrt "end of file system" marker `de ad c0 de`: written where a JFFS2 overlay
//! partition will start, it tells the kernel to format the rest of the flash on first boot.
//! Recorded as a 4-byte container so that it is named in the outline instead of being left
//! as an unknown region. Only accepted when followed by erased (or zeroed) flash or the end
//! of the blob, since the four bytes alone are a weak signature.

use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// The `deadc0de` marker.
pub struct Jffs2Eof;

static MAGICS: &[Magic] = &[Magic::at_start(b"\xde\xad\xc0\xde")];

impl Format for Jffs2Eof {
    fn name(&self) -> &'static str {
        "jffs2-eof-marker"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        if !data.starts_with(b"\xde\xad\xc0\xde") {
            return None;
        }
        // What follows must be the end of the blob or erased/zeroed flash.
        let rest = &data[4..data.len().min(4 + 64)];
        if !rest.iter().all(|&b| b == 0xff) && !rest.iter().all(|&b| b == 0) {
            return None;
        }
        Some(Probe {
            length: Some(4),
            description: "JFFS2 end-of-filesystem marker (deadc0de)".into(),
        })
    }

    fn unpack(&self, _data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        Ok(Unpacked::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_marker_at_end_or_before_erased_flash() {
        assert_eq!(Jffs2Eof.probe(b"\xde\xad\xc0\xde").unwrap().length, Some(4));
        let mut d = b"\xde\xad\xc0\xde".to_vec();
        d.extend_from_slice(&[0xff; 100]);
        assert!(Jffs2Eof.probe(&d).is_some());
        d[10] = 1;
        assert!(Jffs2Eof.probe(&d).is_none());
        assert!(Jffs2Eof.probe(b"\xde\xad").is_none());
    }
}
