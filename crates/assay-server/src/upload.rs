//! Images into the store: a multipart upload streamed to a temporary file (never held in
//! memory, refused past the size limit), or a folder on the server under an import root.

use crate::auth::Caller;
use crate::{App, Failure};
use assay_store::{AddedImage, ImageMeta, Role, ScanSettings, Store};
use axum::extract::Multipart;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// An image that was added, and whether its scan was queued.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// What the store did.
    #[serde(flatten)]
    pub image: AddedImage,
    /// The scan job, when one was queued.
    pub queued: Option<i64>,
}

/// The text fields of an upload (or a folder registration): the release the images belong
/// to, and whether to queue scans.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReleaseFields {
    /// Vendor.
    #[serde(default)]
    pub vendor: String,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Firmware version.
    #[serde(default)]
    pub version: String,
    /// Release date (`YYYY-MM-DD`).
    #[serde(default)]
    pub released: Option<String>,
    /// `yes`/`true`/`on`/`1`: queue a scan of each image.
    #[serde(default)]
    pub queue: Option<String>,
}

impl ReleaseFields {
    fn queue(&self) -> bool {
        matches!(self.queue.as_deref(), Some("yes" | "true" | "on" | "1"))
    }

    fn meta(&self, name: String) -> Result<ImageMeta, Failure> {
        let released = self
            .released
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if let Some(r) = released {
            let ok = r.len() == 10
                && r.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !ok {
                return Err(Failure::bad_request("released: expected YYYY-MM-DD"));
            }
        }
        for (field, value) in [
            ("vendor", &self.vendor),
            ("model", &self.model),
            ("version", &self.version),
        ] {
            if value.len() > MAX_FIELD || value.chars().any(char::is_control) {
                return Err(Failure::bad_request(format!(
                    "{field}: at most {MAX_FIELD} bytes, no control characters"
                )));
            }
        }
        Ok(ImageMeta {
            name,
            vendor: self.vendor.trim().to_string(),
            model: self.model.trim().to_string(),
            version: self.version.trim().to_string(),
            released: released.map(str::to_string),
        })
    }
}

/// Longest text field of a form, in bytes.
const MAX_FIELD: usize = 200;
/// Most text fields an upload may carry.
const MAX_FIELDS: usize = 16;
/// Longest image name kept.
const MAX_NAME: usize = 255;

/// An upload as received: its text fields and the file, on disk.
pub struct Received {
    /// Text fields by name.
    pub fields: HashMap<String, String>,
    /// The file's name as the client gave it, reduced to its last path component.
    pub name: String,
    /// The bytes.
    pub file: tempfile::TempPath,
}

/// A client's file name as an image name: the last component of either kind of path,
/// control characters dropped, cut to 255 bytes; `upload.bin` when nothing is left.
pub fn image_name(client_name: &str) -> String {
    let base = client_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>();
    let mut end = base.len().min(MAX_NAME);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    let name = base.get(..end).unwrap_or_default().trim().to_string();
    if name.is_empty() || name == "." || name == ".." {
        "upload.bin".into()
    } else {
        name
    }
}

/// Read a multipart body: text fields (bounded) and exactly one file field named `file`,
/// streamed into `dir`. 413 when the file passes `max` bytes.
pub async fn receive(mut multipart: Multipart, dir: &Path, max: u64) -> Result<Received, Failure> {
    let mut fields = HashMap::new();
    let mut file: Option<(String, tempfile::TempPath)> = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| Failure::bad_request(format!("upload: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if file.is_some() {
                return Err(Failure::bad_request("upload one file at a time"));
            }
            let client_name = image_name(field.file_name().unwrap_or_default());
            let tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| Failure::internal(format!("upload: a temporary file: {e}")))?;
            let (std_file, path) = tmp.into_parts();
            let mut out = tokio::fs::File::from_std(std_file);
            let mut total: u64 = 0;
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| upload_error(&e.to_string()))?
            {
                total = total.saturating_add(chunk.len() as u64);
                if total > max {
                    return Err(Failure::too_large(format!(
                        "the image is larger than the server's limit of {max} bytes"
                    )));
                }
                out.write_all(&chunk)
                    .await
                    .map_err(|e| Failure::internal(format!("upload: writing: {e}")))?;
            }
            out.flush()
                .await
                .map_err(|e| Failure::internal(format!("upload: writing: {e}")))?;
            file = Some((client_name, path));
        } else {
            if fields.len() >= MAX_FIELDS {
                return Err(Failure::bad_request("upload: too many fields"));
            }
            let mut value = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| upload_error(&e.to_string()))?
            {
                if value.len() + chunk.len() > MAX_FIELD * 4 {
                    return Err(Failure::bad_request(format!(
                        "upload: field {name} is too long"
                    )));
                }
                value.extend_from_slice(&chunk);
            }
            fields.insert(name, String::from_utf8_lossy(&value).into_owned());
        }
    }
    let (name, file) = file.ok_or_else(|| Failure::bad_request("upload: no file field"))?;
    Ok(Received { fields, name, file })
}

/// A body that broke off: over the server's body limit (413), or malformed (400).
fn upload_error(message: &str) -> Failure {
    if message.contains("limit") {
        Failure::too_large(format!("upload: {message}"))
    } else {
        Failure::bad_request(format!("upload: {message}"))
    }
}

/// Store a received upload for an analyst (whose CSRF token, for a session, is the
/// `csrf` field), queue its scan when asked, and audit it.
pub async fn store_upload(
    app: &App,
    caller: &Caller,
    received: Received,
) -> Result<Added, Failure> {
    let user = caller
        .require_change(
            Role::Analyst,
            received.fields.get("csrf").map(String::as_str),
        )?
        .clone();
    let release: ReleaseFields = serde_json::to_value(&received.fields)
        .and_then(serde_json::from_value)
        .map_err(|e| Failure::bad_request(format!("upload: {e}")))?;
    let meta = release.meta(received.name.clone())?;
    let queue = release.queue();
    app.blocking(move |store| {
        let added = add_one(store, &received.file, &meta, queue)?;
        store.audit(
            &user.name,
            "upload",
            &format!("image {}", added.image.image.id),
            &format!(
                "{} ({} bytes, sha256 {})",
                meta.name, added.image.image.size, added.image.image.sha256
            ),
        )?;
        Ok(added)
    })
    .await
}

fn add_one(store: &Store, file: &Path, meta: &ImageMeta, queue: bool) -> Result<Added, Failure> {
    let image = store.add_image(file, meta)?;
    let queued = if queue {
        Some(
            store
                .queue_scan(image.image.id, &ScanSettings::default(), None)?
                .job
                .id,
        )
    } else {
        None
    };
    Ok(Added { image, queued })
}

/// A folder registration: where, and the release of what is in it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegisterForm {
    /// The folder (or a single file) on the server.
    #[serde(default)]
    pub path: String,
    /// Release fields.
    #[serde(flatten)]
    pub release: ReleaseFields,
    /// The session's CSRF token (form posts).
    #[serde(default)]
    pub csrf: Option<String>,
}

/// What registering a folder did.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    /// Images added.
    pub added: Vec<Added>,
    /// Entries skipped, with why.
    pub skipped: Vec<String>,
}

/// Files registered at most by one request.
const MAX_REGISTER_FILES: usize = 10_000;
/// Deepest folder walked.
const MAX_REGISTER_DEPTH: usize = 16;

/// Register images from where the form says: `s3://BUCKET/PREFIX` (a bucket the server was
/// given with `--import-bucket`) or a folder inside an import root.
pub fn register(
    store: &Store,
    settings: &crate::Settings,
    actor: &str,
    form: &RegisterForm,
) -> Result<Registered, Failure> {
    match form.path.trim().strip_prefix("s3://") {
        Some(rest) => register_bucket(store, settings, actor, form, rest),
        None => register_folder(store, &settings.import_roots, actor, form),
    }
}

/// Register every object under a prefix of an import bucket: each is downloaded to the
/// upload directory and stored by content (objects over the upload limit are skipped).
fn register_bucket(
    store: &Store,
    settings: &crate::Settings,
    actor: &str,
    form: &RegisterForm,
    bucket_and_prefix: &str,
) -> Result<Registered, Failure> {
    let (bucket, prefix) = bucket_and_prefix
        .split_once('/')
        .unwrap_or((bucket_and_prefix, ""));
    let location = settings
        .import_buckets
        .iter()
        .find(|l| l.bucket == bucket)
        .ok_or_else(|| {
            Failure::forbidden(format!(
                "s3://{bucket} is not an import bucket of this server (--import-bucket)"
            ))
        })?;
    let clock_store = store.clone();
    let source =
        assay_store::S3Blobs::new(location, std::sync::Arc::new(move || clock_store.now()))?;
    let queue = form.release.queue();
    let mut added = Vec::new();
    let mut skipped = Vec::new();
    for object in source.list(prefix, MAX_REGISTER_FILES)? {
        if object.key.ends_with('/') {
            continue;
        }
        if object.size > settings.max_upload {
            skipped.push(format!("{}: larger than the upload limit", object.key));
            continue;
        }
        let meta = form.release.meta(image_name(&object.key))?;
        let result = source
            .download(&object.key, &settings.upload_dir)
            .map_err(Failure::from)
            .and_then(|local| add_one(store, local.path(), &meta, queue));
        match result {
            Ok(a) => added.push(a),
            Err(e) => skipped.push(format!("{}: {}", object.key, e.message)),
        }
    }
    store.audit(
        actor,
        "register",
        &format!("s3://{bucket}/{prefix}"),
        &format!("{} images added, {} skipped", added.len(), skipped.len()),
    )?;
    Ok(Registered { added, skipped })
}

/// Register every regular file under a folder inside one of the server's import roots (links
/// are not followed; the resolved path must stay inside a root).
fn register_folder(
    store: &Store,
    roots: &[PathBuf],
    actor: &str,
    form: &RegisterForm,
) -> Result<Registered, Failure> {
    if roots.is_empty() {
        return Err(Failure::forbidden(
            "this server registers no folders (start it with --import-root DIR)",
        ));
    }
    let asked = PathBuf::from(form.path.trim());
    let resolved = asked
        .canonicalize()
        .map_err(|_| Failure::bad_request(format!("no folder {}", asked.display())))?;
    let inside = roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|root| resolved.starts_with(&root));
    if !inside {
        return Err(Failure::forbidden(format!(
            "{} is not inside an import root",
            asked.display()
        )));
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    collect(&resolved, 0, &mut files, &mut skipped);
    let queue = form.release.queue();
    let mut added = Vec::new();
    for file in files {
        let name = image_name(&file.to_string_lossy());
        let meta = form.release.meta(name)?;
        match add_one(store, &file, &meta, queue) {
            Ok(a) => added.push(a),
            Err(e) => skipped.push(format!("{}: {}", file.display(), e.message)),
        }
    }
    store.audit(
        actor,
        "register",
        &format!("folder {}", resolved.display()),
        &format!("{} images added, {} skipped", added.len(), skipped.len()),
    )?;
    Ok(Registered { added, skipped })
}

fn collect(path: &Path, depth: usize, out: &mut Vec<PathBuf>, skipped: &mut Vec<String>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        skipped.push(format!("{}: unreadable", path.display()));
        return;
    };
    if meta.is_file() {
        if out.len() < MAX_REGISTER_FILES {
            out.push(path.to_path_buf());
        } else {
            skipped.push(format!(
                "{}: more than {MAX_REGISTER_FILES} files",
                path.display()
            ));
        }
        return;
    }
    if !meta.is_dir() {
        return;
    }
    if depth >= MAX_REGISTER_DEPTH {
        skipped.push(format!(
            "{}: deeper than {MAX_REGISTER_DEPTH} folders",
            path.display()
        ));
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        skipped.push(format!("{}: unreadable", path.display()));
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        collect(&e, depth + 1, out, skipped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_file_names_lose_their_paths_and_control_characters() {
        assert_eq!(image_name("C:\\fw\\R1.bin"), "R1.bin");
        assert_eq!(image_name("../../etc/passwd"), "passwd");
        assert_eq!(image_name("a\u{0}b\nc.bin"), "abc.bin");
        assert_eq!(image_name(".."), "upload.bin");
        assert_eq!(image_name(""), "upload.bin");
        assert_eq!(image_name(&"é".repeat(300)).len(), 254);
    }

    #[test]
    fn release_dates_must_be_dates() {
        let mut f = ReleaseFields {
            released: Some("2024-06-01".into()),
            ..Default::default()
        };
        assert!(f.meta("x".into()).is_ok());
        f.released = Some("June".into());
        assert!(f.meta("x".into()).is_err());
    }
}
