//! Every format Assay recognises, one module each, registered in [`registry`].
//!
//! Order matters only where two formats claim the same offset: the first to probe
//! successfully wins, so put specific formats before generic ones.

use crate::format::Format;

pub mod android_boot;
pub mod android_sparse;
pub mod ext;
pub mod fat;
pub mod gpt;
pub mod gzip;
pub mod iso9660;
pub mod mbr;

#[cfg(test)]
pub(crate) mod disks_testutil;

/// The registered formats, in probe priority order.
pub fn registry() -> Vec<&'static dyn Format> {
    vec![
        &gzip::Gzip,
        // Disk images: file systems before partition tables, whose `55 AA` also ends every
        // FAT boot sector and hybrid ISO.
        &iso9660::Iso9660,
        &ext::Ext,
        &fat::Fat,
        &gpt::Gpt,
        &mbr::Mbr,
        &android_sparse::AndroidSparse,
        &android_boot::AndroidBoot,
    ]
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by format tests.
    use crate::format::{Entry, EntryData, UnpackContext, Unpacked};
    use crate::limits::{Budget, Limits};
    use crate::{Blob, Format};

    /// Run a format's probe and unpack on `data` at offset 0 with default limits.
    pub fn unpack(format: &dyn Format, data: &[u8]) -> Unpacked {
        let probe = format.probe(data).expect("probe accepts the fixture");
        let blob = Blob::from(data.to_vec());
        let view = match probe.length {
            Some(l) => blob.slice(0..(l as usize).min(data.len())).unwrap(),
            None => blob.clone(),
        };
        let budget = Budget::new(Limits::for_image(data.len() as u64));
        format
            .unpack(&view, &UnpackContext { budget: &budget })
            .expect("unpack succeeds")
    }

    /// The bytes of an entry, resolving ranges against the container's bytes.
    pub fn entry_bytes(container: &[u8], e: &Entry) -> Option<Vec<u8>> {
        match &e.data {
            EntryData::None => None,
            EntryData::Owned(b) => Some(b.to_vec()),
            EntryData::Range { offset, length } => container
                .get(*offset as usize..(*offset + *length) as usize)
                .map(|s| s.to_vec()),
        }
    }
}
