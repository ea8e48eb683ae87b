//! What the pages and the API both do, once: read an image with its reports, queue, approve,
//! delete, compare, download, manage users and tokens. Each takes the store and the acting
//! user, runs blocking, and writes the audit log where the security model says so.

use crate::auth::{self, Caller};
use crate::{Failure, Settings};
use assay_store::{
    Approval, DeletedImage, ImageFilter, ImageRecord, ImageSummary, Job, QueuedScan, ReportRecord,
    Role, ScanSettings, Store, UserRecord,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `?vendor=&model=&q=&page=` or `&offset=&limit=`: a page of the catalogue.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ImagesQuery {
    /// Only this vendor.
    pub vendor: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Name contains.
    pub q: Option<String>,
    /// Skip this many.
    pub offset: Option<i64>,
    /// At most this many (at most 500; 50 by default).
    pub limit: Option<i64>,
}

/// Images per page at most.
pub const MAX_PAGE: i64 = 500;
/// Images per page by default.
pub const DEFAULT_PAGE: i64 = 50;

/// A page of the catalogue: how many images the filter selects, and this page of them.
#[derive(Debug, Clone, Serialize)]
pub struct ImagesPage {
    /// Images the filter selects.
    pub total: i64,
    /// The first image's position (0-based).
    pub offset: i64,
    /// The page size.
    pub limit: i64,
    /// The images of this page.
    pub images: Vec<ImageSummary>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A page of images (two indexed queries: the count and the page with scan states).
pub fn images(store: &Store, q: &ImagesQuery) -> Result<ImagesPage, Failure> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let offset = q.offset.unwrap_or(0).max(0);
    let filter = ImageFilter {
        vendor: q.vendor.clone(),
        model: q.model.clone(),
        name_contains: nonempty(&q.q),
        limit: Some(limit),
        offset: Some(offset),
    };
    Ok(ImagesPage {
        total: store.count_images(&filter)?,
        offset,
        limit,
        images: store.image_summaries(&filter)?,
    })
}

/// An image with its reports, its newest scan job, and the other releases of its model.
#[derive(Debug, Clone, Serialize)]
pub struct ImageDetail {
    /// The image.
    pub image: ImageRecord,
    /// Reports about its content, newest first.
    pub reports: Vec<ReportRecord>,
    /// Its content's newest scan job.
    pub job: Option<Job>,
    /// Other images of the same vendor and model (at most 200).
    pub others: Vec<ImageRecord>,
}

/// Read an image's page.
pub fn image_detail(store: &Store, id: i64) -> Result<ImageDetail, Failure> {
    let image = store.image(id)?;
    let mut reports = store.reports_of_image(id)?;
    reports.sort_by_key(|r| std::cmp::Reverse(r.id));
    let job = store.latest_job(&image.sha256)?;
    let others = store
        .list_images(&ImageFilter {
            vendor: Some(image.meta.vendor.clone()),
            model: Some(image.meta.model.clone()),
            limit: Some(200),
            ..ImageFilter::default()
        })?
        .into_iter()
        .filter(|o| o.id != id)
        .collect();
    Ok(ImageDetail {
        image,
        reports,
        job,
        others,
    })
}

/// Queue a scan of an image with the default settings (the existing job when there is one).
pub fn queue_scan(store: &Store, user: &UserRecord, id: i64) -> Result<QueuedScan, Failure> {
    let queued = store.queue_scan(id, &ScanSettings::default(), None)?;
    let detail = if queued.created {
        format!("job {} queued", queued.job.id)
    } else {
        format!(
            "job {} exists ({})",
            queued.job.id,
            queued.job.state.as_str()
        )
    };
    store.audit(&user.name, "queue", &format!("image {id}"), &detail)?;
    Ok(queued)
}

/// Approve an image as its model's release.
pub fn approve(store: &Store, user: &UserRecord, id: i64, note: &str) -> Result<Approval, Failure> {
    let note = note.trim();
    if note.len() > 2000 {
        return Err(Failure::bad_request(
            "an approval note has at most 2000 bytes",
        ));
    }
    let approval = store.approve(id, &user.name, note)?;
    store.audit(&user.name, "approve", &format!("image {id}"), note)?;
    Ok(approval)
}

/// Delete an image (admin): its record, and its blob, reports and facts when no other record
/// names the content.
pub fn delete(store: &Store, user: &UserRecord, id: i64) -> Result<DeletedImage, Failure> {
    let deleted = store.delete_image(id)?;
    store.audit(
        &user.name,
        "delete",
        &format!("image {id}"),
        &format!(
            "{} (sha256 {}); {} reports deleted, blob {}",
            deleted.image.meta.name,
            deleted.image.sha256,
            deleted.reports_deleted,
            if deleted.blob_deleted {
                "deleted"
            } else {
                "kept"
            }
        ),
    )?;
    Ok(deleted)
}

/// A report's signed envelope (audited as a download).
pub fn envelope(store: &Store, caller: &Caller, id: i64) -> Result<String, Failure> {
    let stored = store.report(id)?;
    store.audit(
        &caller.actor(),
        "download",
        &format!("report {id}"),
        "signed envelope",
    )?;
    Ok(stored.envelope.to_json())
}

/// A report's canonical JSON, exactly the signed payload (audited as a download).
pub fn report_json(store: &Store, caller: &Caller, id: i64) -> Result<String, Failure> {
    let payload = store
        .report(id)?
        .envelope
        .payload_bytes()
        .map_err(|e| Failure::internal(format!("report {id}: {e}")))?;
    store.audit(&caller.actor(), "download", &format!("report {id}"), "JSON")?;
    String::from_utf8(payload).map_err(|e| Failure::internal(format!("report {id}: {e}")))
}

/// A stored report rendered as the self-contained HTML report `assay scan --format html`
/// writes, with the image's entropy map when its bytes are at hand.
pub fn report_html(store: &Store, id: i64, scratch: &std::path::Path) -> Result<String, Failure> {
    static CONFIG: std::sync::OnceLock<assay_engine::AnalysisConfig> = std::sync::OnceLock::new();
    let stored = store.report(id)?;
    let report = stored.report()?;
    let sha = stored.record.sha256.clone();
    // The image map is read block by block from the blob (not held in memory); without the
    // blob (an imported report) the report renders without it.
    let entropy = match store.images_with_content(&sha)?.first() {
        Some(image) => store
            .blobs()
            .fetch(&sha, scratch)
            .ok()
            .and_then(|blob| {
                let file = std::fs::File::open(blob.path()).ok()?;
                let mut reader = std::io::BufReader::new(file);
                assay_engine::entropy_profile_of_reader(&mut reader, image.size).ok()
            })
            .unwrap_or_default(),
        None => Default::default(),
    };
    let config = CONFIG.get_or_init(assay_engine::AnalysisConfig::new);
    assay_report::html::to_html(&report, &config.rules(), &entropy)
        .map_err(|e| Failure::internal(e.to_string()))
}

/// Two images' newest reports compared.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The older release.
    pub old: ImageRecord,
    /// The newer release.
    pub new: ImageRecord,
    /// What changed.
    pub diff: assay_report::diff::ReportDiff,
}

/// Compare the newest reports of two images.
pub fn compare(store: &Store, old: i64, new: i64) -> Result<Comparison, Failure> {
    let report_of = |id: i64| -> Result<(ImageRecord, assay_model::Report), Failure> {
        let image = store.image(id)?;
        let report_id = store
            .newest_report_id(&image.sha256)?
            .ok_or_else(|| Failure::not_found(format!("image {id} has no report yet")))?;
        Ok((image, store.report(report_id)?.report()?))
    };
    let (old_image, old_report) = report_of(old)?;
    let (new_image, new_report) = report_of(new)?;
    Ok(Comparison {
        diff: assay_report::diff::diff(&old_report, &new_report),
        old: old_image,
        new: new_image,
    })
}

/// The image's bytes as a local file, for download (audited).
pub fn blob(
    store: &Store,
    caller: &Caller,
    id: i64,
    scratch: &std::path::Path,
) -> Result<(ImageRecord, std::fs::File), Failure> {
    let image = store.image(id)?;
    let local = store.blobs().fetch(&image.sha256, scratch)?;
    // An open file outlives the temporary download's name.
    let file = std::fs::File::open(local.path())
        .map_err(|e| Failure::internal(format!("opening the image: {e}")))?;
    store.audit(
        &caller.actor(),
        "download",
        &format!("image {id}"),
        &image.meta.name,
    )?;
    Ok((image, file))
}

/// A new user (admin).
#[derive(Debug, Clone, Deserialize)]
pub struct NewUser {
    /// Login name.
    pub name: String,
    /// viewer, analyst or admin.
    pub role: String,
    /// At least 12 characters.
    pub password: String,
    /// The session's CSRF token (form posts).
    #[serde(default)]
    pub csrf: Option<String>,
}

/// Create a user (admin).
pub fn create_user(
    store: &Store,
    admin: &UserRecord,
    new: &NewUser,
) -> Result<UserRecord, Failure> {
    let role: Role = new.role.parse()?;
    auth::check_password_strength(&new.password)?;
    let user = store.create_user(new.name.trim(), role, &auth::hash_secret(&new.password)?)?;
    store.audit(
        &admin.name,
        "create-user",
        &format!("user {}", user.name),
        role.as_str(),
    )?;
    Ok(user)
}

/// A change to a user (admin): each field when given.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserChange {
    /// New role.
    pub role: Option<String>,
    /// `active` or `disabled`.
    pub state: Option<String>,
    /// New password (empty: unchanged).
    pub password: Option<String>,
    /// The session's CSRF token (form posts).
    #[serde(default)]
    pub csrf: Option<String>,
}

/// Change a user (admin). An admin cannot take away their own admin role or disable
/// themselves (a store must keep an admin who can log in).
pub fn change_user(
    store: &Store,
    admin: &UserRecord,
    id: i64,
    change: &UserChange,
) -> Result<UserRecord, Failure> {
    let role = change
        .role
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(str::parse::<Role>)
        .transpose()?;
    let disabled = match change.state.as_deref() {
        None | Some("") => None,
        Some("active") => Some(false),
        Some("disabled") => Some(true),
        Some(other) => return Err(Failure::bad_request(format!("state {other:?}"))),
    };
    if id == admin.id && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin)) {
        return Err(Failure::bad_request(
            "you cannot disable yourself or drop your own admin role",
        ));
    }
    let password = change.password.as_deref().filter(|p| !p.is_empty());
    let hash = match password {
        Some(p) => {
            auth::check_password_strength(p)?;
            Some(auth::hash_secret(p)?)
        }
        None => None,
    };
    let user = store.update_user(id, role, hash.as_deref(), disabled)?;
    let mut what = Vec::new();
    if let Some(r) = role {
        what.push(format!("role {}", r.as_str()));
    }
    if let Some(d) = disabled {
        what.push(if d { "disabled" } else { "active" }.to_string());
    }
    if hash.is_some() {
        what.push("password changed".into());
    }
    store.audit(
        &admin.name,
        "change-user",
        &format!("user {}", user.name),
        &what.join(", "),
    )?;
    Ok(user)
}

/// A new API token (admin), for a user.
#[derive(Debug, Clone, Deserialize)]
pub struct NewToken {
    /// The user it acts as.
    pub user_id: i64,
    /// What it is for.
    pub name: String,
    /// The session's CSRF token (form posts).
    #[serde(default)]
    pub csrf: Option<String>,
}

/// A token as issued: the secret, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    /// `assay_<id>_<secret>`, for `Authorization: Bearer`.
    pub token: String,
    /// Its record.
    pub record: assay_store::ApiTokenRecord,
}

/// Issue a token (admin).
pub fn issue_token(
    store: &Store,
    admin: &UserRecord,
    new: &NewToken,
) -> Result<IssuedToken, Failure> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Failure::bad_request(
            "a token needs a name of at most 100 bytes",
        ));
    }
    let user = store.user(new.user_id)?;
    let (token, record) = auth::issue_api_token(store, user.id, name)?;
    store.audit(
        &admin.name,
        "issue-token",
        &format!("token {}", record.id),
        &format!("for user {} ({name})", user.name),
    )?;
    Ok(IssuedToken { token, record })
}

/// Revoke a token (admin).
pub fn revoke_token(store: &Store, admin: &UserRecord, id: i64) -> Result<(), Failure> {
    store.revoke_api_token(id)?;
    store.audit(&admin.name, "revoke-token", &format!("token {id}"), "")?;
    Ok(())
}

/// Where report HTML and downloads fetch blobs to (inside the upload directory).
pub fn scratch(settings: &Settings) -> PathBuf {
    settings.upload_dir.join("scratch")
}
