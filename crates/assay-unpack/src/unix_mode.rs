//! Unix file types as the `S_IFMT` bits of a mode carry them: the one encoding that cpio, tar,
//! zip, 7z, ISO 9660 Rock Ridge and every Unix filesystem share, read and written here once so
//! that no reader spells the octal values again.

use crate::format::EntryKind;

/// The bits of a mode that hold the file type (the rest are permission bits).
pub const S_IFMT: u32 = 0o170000;

/// A Unix file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A regular file (`S_IFREG`).
    Regular,
    /// A directory (`S_IFDIR`).
    Directory,
    /// A symbolic link (`S_IFLNK`).
    Symlink,
    /// A character device (`S_IFCHR`).
    CharDevice,
    /// A block device (`S_IFBLK`).
    BlockDevice,
    /// A named pipe (`S_IFIFO`).
    Fifo,
    /// A Unix socket (`S_IFSOCK`).
    Socket,
}

impl FileType {
    /// The type a mode's `S_IFMT` bits name; `None` for bits that name no type (0, or a value
    /// no Unix uses), which each reader handles as its format demands.
    pub fn of_mode(mode: u32) -> Option<FileType> {
        Some(match mode & S_IFMT {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            _ => return None,
        })
    }

    /// The `S_IFMT` bits of this type, for formats that store the type apart from the mode.
    pub fn bits(self) -> u32 {
        match self {
            FileType::Regular => 0o100000,
            FileType::Directory => 0o040000,
            FileType::Symlink => 0o120000,
            FileType::CharDevice => 0o020000,
            FileType::BlockDevice => 0o060000,
            FileType::Fifo => 0o010000,
            FileType::Socket => 0o140000,
        }
    }

    /// The type of an entry: streams, files and hard links are regular files.
    pub fn of_entry_kind(kind: &EntryKind) -> FileType {
        match kind {
            EntryKind::Directory => FileType::Directory,
            EntryKind::Symlink(_) => FileType::Symlink,
            EntryKind::Device { block: true, .. } => FileType::BlockDevice,
            EntryKind::Device { block: false, .. } => FileType::CharDevice,
            EntryKind::Fifo => FileType::Fifo,
            EntryKind::Socket => FileType::Socket,
            EntryKind::Stream | EntryKind::File | EntryKind::Hardlink(_) => FileType::Regular,
        }
    }

    /// The entry kind of this type. Each format keeps link targets and device numbers in its
    /// own way, so the caller supplies them; each is asked for only when the type needs it.
    pub fn entry_kind(
        self,
        target: impl FnOnce() -> String,
        device: impl FnOnce() -> (u32, u32),
    ) -> EntryKind {
        match self {
            FileType::Regular => EntryKind::File,
            FileType::Directory => EntryKind::Directory,
            FileType::Symlink => EntryKind::Symlink(target()),
            FileType::CharDevice | FileType::BlockDevice => {
                let (major, minor) = device();
                EntryKind::Device {
                    block: self == FileType::BlockDevice,
                    major,
                    minor,
                }
            }
            FileType::Fifo => EntryKind::Fifo,
            FileType::Socket => EntryKind::Socket,
        }
    }
}

/// Major and minor numbers of a device number in Linux's 32-bit encoding (`new_decode_dev`;
/// the old 16-bit encoding is its subset), as most Linux file systems store it.
pub fn linux_dev(dev: u32) -> (u32, u32) {
    ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

impl EntryKind {
    /// The entry kind a Unix mode names, with the link target and device numbers supplied by
    /// the caller (see [`FileType::entry_kind`]); `None` when the mode's type bits name no
    /// Unix file type.
    pub fn from_unix_mode(
        mode: u32,
        target: impl FnOnce() -> String,
        device: impl FnOnce() -> (u32, u32),
    ) -> Option<EntryKind> {
        FileType::of_mode(mode).map(|t| t.entry_kind(target, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_bits() {
        for t in [
            FileType::Regular,
            FileType::Directory,
            FileType::Symlink,
            FileType::CharDevice,
            FileType::BlockDevice,
            FileType::Fifo,
            FileType::Socket,
        ] {
            assert_eq!(FileType::of_mode(t.bits() | 0o4755), Some(t));
            let kind = t.entry_kind(|| "target".into(), || (1, 3));
            assert_eq!(FileType::of_entry_kind(&kind), t);
        }
        assert_eq!(linux_dev(0x0801), (8, 1));
        assert_eq!(linux_dev(0x0010_0403), (4, 0x103));
        assert_eq!(FileType::of_mode(0o644), None);
        assert_eq!(FileType::of_mode(0o030644), None);
    }

    #[test]
    fn modes_make_entry_kinds_asking_only_what_they_need() {
        let never = || -> String { panic!("no link target needed") };
        assert_eq!(
            EntryKind::from_unix_mode(0o060660, never, || (8, 1)),
            Some(EntryKind::Device {
                block: true,
                major: 8,
                minor: 1
            })
        );
        assert_eq!(
            EntryKind::from_unix_mode(0o120777, || "/bin/busybox".into(), || panic!()),
            Some(EntryKind::Symlink("/bin/busybox".into()))
        );
        assert_eq!(
            EntryKind::from_unix_mode(0o100644, never, || panic!()),
            Some(EntryKind::File)
        );
        assert_eq!(EntryKind::from_unix_mode(0, never, || panic!()), None);
    }
}
