//! Image bytes stored by content: the name of a blob is the SHA-256 of its bytes, so the
//! same image added under a hundred names is stored once, and a blob that does not hash to
//! its name is caught when it is read.
//!
//! Two stores: a directory on disk (the default; `ROOT/sha256/ab/cd/abcd…`, written to a
//! temporary file in the same file system and renamed into place, so a reader never sees a
//! partial blob) and an S3-compatible bucket ([`crate::s3::S3Blobs`]).

use crate::StoreError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A blob that was put: its name, size, and whether the store lacked it before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutBlob {
    /// SHA-256 of the bytes (lower-case hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether these bytes were new to the store (false: deduplicated).
    pub new: bool,
}

/// A blob's bytes as a local file the scanner can map: the stored file itself, or a
/// temporary download that is deleted when this value is dropped.
#[derive(Debug)]
pub struct LocalBlob {
    path: PathBuf,
    _temporary: Option<tempfile::TempPath>,
}

impl LocalBlob {
    /// Where the bytes are.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn temporary(path: tempfile::TempPath) -> Self {
        LocalBlob {
            path: path.to_path_buf(),
            _temporary: Some(path),
        }
    }
}

/// Where image bytes live. Implementations are shared between worker threads.
pub trait BlobStore: Send + Sync {
    /// Store the bytes of `file` under their SHA-256 (nothing is written when the store has
    /// them already).
    fn put_file(&self, file: &Path) -> Result<PutBlob, StoreError>;
    /// Whether the store holds this blob.
    fn contains(&self, sha256: &str) -> Result<bool, StoreError>;
    /// The blob as a local file; a download goes to `scratch` and is checked against its
    /// name.
    fn fetch(&self, sha256: &str, scratch: &Path) -> Result<LocalBlob, StoreError>;
    /// Remove a blob (an image deleted from the store); whether it was there.
    fn delete(&self, sha256: &str) -> Result<bool, StoreError>;
    /// Where the store is, for messages (no credentials).
    fn describe(&self) -> String;
}

/// Whether `s` is a SHA-256 in lower-case hex: only such names become paths or keys.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The sharded relative path of a blob: `sha256/ab/cd/abcd…`.
pub(crate) fn shard_path(sha256: &str) -> Result<String, StoreError> {
    if !is_sha256(sha256) {
        return Err(StoreError::Invalid(format!("{sha256:?} is not a SHA-256")));
    }
    Ok(format!(
        "sha256/{}/{}/{sha256}",
        &sha256[..2],
        &sha256[2..4]
    ))
}

/// Copy `reader` to `writer`, returning the SHA-256 and length of what passed.
pub(crate) fn copy_hashing(
    reader: &mut dyn Read,
    writer: &mut dyn Write,
) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        writer.write_all(chunk)?;
        total += n as u64;
    }
    Ok((assay_model::hex(&hasher.finalize()), total))
}

/// SHA-256 and size of a file.
pub(crate) fn hash_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut file = File::open(path).map_err(|e| StoreError::io("reading", path, e))?;
    copy_hashing(&mut file, &mut std::io::sink()).map_err(|e| StoreError::io("reading", path, e))
}

/// Blobs in a directory tree on local disk (or a shared file system all workers mount).
#[derive(Debug, Clone)]
pub struct DiskBlobs {
    root: PathBuf,
}

impl DiskBlobs {
    /// Blobs under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))
            .map_err(|e| StoreError::io("creating", &root, e))?;
        Ok(DiskBlobs { root })
    }

    /// The file of a blob.
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join(shard_path(sha256)?))
    }
}

impl BlobStore for DiskBlobs {
    fn put_file(&self, file: &Path) -> Result<PutBlob, StoreError> {
        let tmp_dir = self.root.join("tmp");
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)
            .map_err(|e| StoreError::io("creating a file in", &tmp_dir, e))?;
        let mut source = File::open(file).map_err(|e| StoreError::io("reading", file, e))?;
        let (sha256, size) = copy_hashing(&mut source, tmp.as_file_mut())
            .map_err(|e| StoreError::io("copying", file, e))?;
        let dest = self.path_of(&sha256)?;
        if dest.exists() {
            return Ok(PutBlob {
                sha256,
                size,
                new: false,
            });
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| StoreError::io("syncing", tmp.path(), e))?;
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("creating", dir, e))?;
        match tmp.persist_noclobber(&dest) {
            Ok(_) => {}
            // Another process stored the same bytes meanwhile: theirs is as good.
            Err(e) if dest.exists() => drop(e),
            Err(e) => return Err(StoreError::io("storing", &dest, e.error)),
        }
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(PutBlob {
            sha256,
            size,
            new: true,
        })
    }

    fn contains(&self, sha256: &str) -> Result<bool, StoreError> {
        Ok(self.path_of(sha256)?.is_file())
    }

    fn fetch(&self, sha256: &str, _scratch: &Path) -> Result<LocalBlob, StoreError> {
        let path = self.path_of(sha256)?;
        if !path.is_file() {
            return Err(StoreError::BlobMissing(sha256.to_string()));
        }
        Ok(LocalBlob {
            path,
            _temporary: None,
        })
    }

    fn delete(&self, sha256: &str) -> Result<bool, StoreError> {
        let path = self.path_of(sha256)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("deleting", path, e)),
        }
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_are_stored_once_under_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path().join("blobs")).unwrap();
        let a = dir.path().join("a.bin");
        let b = dir.path().join("b.bin");
        std::fs::write(&a, b"firmware").unwrap();
        std::fs::write(&b, b"firmware").unwrap();
        let first = blobs.put_file(&a).unwrap();
        let second = blobs.put_file(&b).unwrap();
        assert!(first.new && !second.new);
        // `printf firmware | sha256sum`
        assert_eq!(
            first.sha256,
            "c3bf47ea1f4a4a605470313cacb3a44f4a461f68c6faeab07e737610cb5ac835"
        );
        let path = blobs.path_of(&first.sha256).unwrap();
        assert!(path.ends_with(format!(
            "sha256/{}/{}/{}",
            &first.sha256[..2],
            &first.sha256[2..4],
            first.sha256
        )));
        assert_eq!(std::fs::read(&path).unwrap(), b"firmware");
        assert!(blobs.contains(&first.sha256).unwrap());
        // Only the blob is left: no temporary file stays behind.
        assert_eq!(
            std::fs::read_dir(dir.path().join("blobs/tmp"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn names_that_are_not_hashes_never_become_paths() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path()).unwrap();
        assert!(blobs.path_of("../../etc/passwd").is_err());
        assert!(blobs.contains(&"A".repeat(64)).is_err());
        assert!(matches!(
            blobs.fetch(&"0".repeat(64), dir.path()),
            Err(StoreError::BlobMissing(_))
        ));
    }
}
