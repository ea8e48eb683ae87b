//! Images: bytes into the blob store, a record with the lab's name and release, approvals.

use crate::db::{Row, TxKind, Value};
use crate::records::{
    AddedImage, Approval, DeletedImage, ImageMeta, ImageRecord, ImageSummary, JobState, ModelCount,
};
use crate::version_key::version_key;
use crate::{Store, StoreError};
use std::path::Path;

/// The columns of an image, in the order [`image_of_row`] reads them.
pub(crate) const IMAGE_COLUMNS: &str =
    "i.id, i.sha256, i.size, i.name, i.vendor, i.model, i.version, i.released, i.added_at";

/// An image from a row that starts with [`IMAGE_COLUMNS`].
pub(crate) fn image_of_row(row: &Row) -> Result<ImageRecord, StoreError> {
    Ok(ImageRecord {
        id: row.int(0)?,
        sha256: row.text(1)?,
        size: u64::try_from(row.int(2)?).unwrap_or(0),
        meta: ImageMeta {
            name: row.text(3)?,
            vendor: row.text(4)?,
            model: row.text(5)?,
            version: row.text(6)?,
            released: row.opt_text(7)?,
        },
        added_at: row.int(8)?,
    })
}

/// Which images to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilter {
    /// Only this vendor.
    pub vendor: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Only images whose name contains this text.
    pub name_contains: Option<String>,
    /// At most this many (newest releases of each model last, as in a timeline).
    pub limit: Option<i64>,
    /// Skip this many first.
    pub offset: Option<i64>,
}

impl Store {
    /// Add an image file: its bytes go to the blob store (once per content), its record
    /// names it. Adding the same bytes with the same name and release again changes nothing.
    pub fn add_image(&self, file: &Path, meta: &ImageMeta) -> Result<AddedImage, StoreError> {
        if meta.name.is_empty() {
            return Err(StoreError::Invalid("an image needs a name".into()));
        }
        let blob = self.inner.blobs.put_file(file)?;
        let now = self.now();
        let size = i64::try_from(blob.size).unwrap_or(i64::MAX);
        self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "INSERT INTO blobs (sha256, size, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT (sha256) DO NOTHING",
                &[blob.sha256.as_str().into(), size.into(), now.into()],
            )?;
            let inserted = sql.query(
                "INSERT INTO images (sha256, size, name, vendor, model, version, version_key,
                                     released, added_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (sha256, name, vendor, model, version) DO NOTHING
                 RETURNING id",
                &[
                    blob.sha256.as_str().into(),
                    size.into(),
                    meta.name.as_str().into(),
                    meta.vendor.as_str().into(),
                    meta.model.as_str().into(),
                    meta.version.as_str().into(),
                    version_key(&meta.version).into(),
                    meta.released.clone().into(),
                    now.into(),
                ],
            )?;
            let new_record = !inserted.is_empty();
            let rows = sql.query(
                &format!(
                    "SELECT {IMAGE_COLUMNS} FROM images i
                     WHERE i.sha256 = $1 AND i.name = $2 AND i.vendor = $3 AND i.model = $4
                       AND i.version = $5"
                ),
                &[
                    blob.sha256.as_str().into(),
                    meta.name.as_str().into(),
                    meta.vendor.as_str().into(),
                    meta.model.as_str().into(),
                    meta.version.as_str().into(),
                ],
            )?;
            let row = rows
                .first()
                .ok_or_else(|| StoreError::Row("the image just added is not there".into()))?;
            Ok(AddedImage {
                image: image_of_row(row)?,
                new_content: blob.new,
                new_record,
            })
        })
    }

    /// One image.
    pub fn image(&self, id: i64) -> Result<ImageRecord, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            let rows = sql.query(
                &format!("SELECT {IMAGE_COLUMNS} FROM images i WHERE i.id = $1"),
                &[id.into()],
            )?;
            rows.first()
                .map(image_of_row)
                .transpose()?
                .ok_or_else(|| StoreError::NotFound {
                    what: "image",
                    id: id.to_string(),
                })
        })
    }

    /// Every image record over this content.
    pub fn images_with_content(&self, sha256: &str) -> Result<Vec<ImageRecord>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {IMAGE_COLUMNS} FROM images i WHERE i.sha256 = $1 ORDER BY i.id"),
                &[sha256.into()],
            )?
            .iter()
            .map(image_of_row)
            .collect()
        })
    }

    /// Images by vendor, model and version order.
    pub fn list_images(&self, filter: &ImageFilter) -> Result<Vec<ImageRecord>, StoreError> {
        let (sql_text, params) = filtered_images(filter, IMAGE_COLUMNS, true);
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(&sql_text, &params)?
                .iter()
                .map(image_of_row)
                .collect()
        })
    }

    /// Images as a catalogue page shows them: each with its newest report, the state of its
    /// newest scan job and whether it is an approved release, in one indexed query (no query
    /// per image).
    pub fn image_summaries(&self, filter: &ImageFilter) -> Result<Vec<ImageSummary>, StoreError> {
        let columns = format!(
            "{IMAGE_COLUMNS},
             (SELECT MAX(r.id) FROM reports r WHERE r.sha256 = i.sha256),
             (SELECT j.state FROM jobs j WHERE j.sha256 = i.sha256 ORDER BY j.id DESC LIMIT 1),
             (SELECT CAST(COUNT(*) AS BIGINT) FROM approvals a WHERE a.image_id = i.id)"
        );
        let (sql_text, params) = filtered_images(filter, &columns, true);
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(&sql_text, &params)?
                .iter()
                .map(|row| {
                    Ok(ImageSummary {
                        image: image_of_row(row)?,
                        report_id: row.opt_int(9)?,
                        job_state: row.opt_text(10)?.map(|s| JobState::parse(&s)).transpose()?,
                        approved: row.int(11)? > 0,
                    })
                })
                .collect()
        })
    }

    /// How many images a filter selects (its limit and offset aside), for paging.
    pub fn count_images(&self, filter: &ImageFilter) -> Result<i64, StoreError> {
        let (sql_text, params) = filtered_images(filter, "CAST(COUNT(*) AS BIGINT)", false);
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(&sql_text, &params)?
                .first()
                .map(|r| r.int(0))
                .transpose()
                .map(Option::unwrap_or_default)
        })
    }

    /// Every vendor and model with its number of images, for browsing the catalogue.
    pub fn catalogue(&self) -> Result<Vec<ModelCount>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                "SELECT vendor, model, CAST(COUNT(*) AS BIGINT) FROM images
                 GROUP BY vendor, model ORDER BY vendor, model",
                &[],
            )?
            .iter()
            .map(|row| {
                Ok(ModelCount {
                    vendor: row.text(0)?,
                    model: row.text(1)?,
                    images: row.int(2)?,
                })
            })
            .collect()
        })
    }

    /// Delete an image record. When no other record names the same content, its blob, its
    /// scan jobs, its reports and their facts go too; otherwise they stay for the other
    /// records (jobs queued through this record move to another one).
    pub fn delete_image(&self, id: i64) -> Result<DeletedImage, StoreError> {
        let image = self.image(id)?;
        let sha = image.sha256.clone();
        let (reports_deleted, content_deleted) = self.db().transaction(TxKind::Write, |sql| {
            sql.execute("DELETE FROM approvals WHERE image_id = $1", &[id.into()])?;
            let other = sql
                .query(
                    "SELECT id FROM images WHERE sha256 = $1 AND id <> $2 ORDER BY id LIMIT 1",
                    &[sha.as_str().into(), id.into()],
                )?
                .first()
                .map(|r| r.int(0))
                .transpose()?;
            let mut reports = 0;
            match other {
                Some(other) => {
                    sql.execute(
                        "UPDATE jobs SET image_id = $1 WHERE image_id = $2",
                        &[other.into(), id.into()],
                    )?;
                }
                None => {
                    let content = [Value::from(sha.as_str())];
                    sql.execute("DELETE FROM facts WHERE sha256 = $1", &content)?;
                    sql.execute(
                        "DELETE FROM report_bodies WHERE report_id IN
                           (SELECT id FROM reports WHERE sha256 = $1)",
                        &content,
                    )?;
                    reports = sql.execute("DELETE FROM reports WHERE sha256 = $1", &content)?;
                    sql.execute("DELETE FROM jobs WHERE sha256 = $1", &content)?;
                    sql.execute("DELETE FROM blobs WHERE sha256 = $1", &content)?;
                }
            }
            sql.execute("DELETE FROM images WHERE id = $1", &[id.into()])?;
            Ok((reports, other.is_none()))
        })?;
        // The bytes go after the records: a failure here leaves an unreferenced blob, never a
        // record without its bytes.
        let blob_deleted = content_deleted && self.inner.blobs.delete(&sha)?;
        Ok(DeletedImage {
            image,
            reports_deleted: i64::try_from(reports_deleted).unwrap_or(i64::MAX),
            blob_deleted,
        })
    }

    /// Record that `image_id` is the approved release of its model (replacing an earlier
    /// approval of the same image).
    pub fn approve(&self, image_id: i64, by: &str, note: &str) -> Result<Approval, StoreError> {
        self.image(image_id)?;
        let now = self.now();
        self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "INSERT INTO approvals (image_id, approved_by, note, approved_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (image_id) DO UPDATE
                   SET approved_by = excluded.approved_by, note = excluded.note,
                       approved_at = excluded.approved_at",
                &[image_id.into(), by.into(), note.into(), now.into()],
            )?;
            Ok(())
        })?;
        Ok(Approval {
            image_id,
            approved_by: by.to_string(),
            note: note.to_string(),
            approved_at: now,
        })
    }

    /// The newest approved release of a model, with its approval.
    pub fn approved_release(
        &self,
        vendor: &str,
        model: &str,
    ) -> Result<Option<(ImageRecord, Approval)>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            let rows = sql.query(
                &format!(
                    "SELECT {IMAGE_COLUMNS}, a.approved_by, a.note, a.approved_at
                     FROM approvals a JOIN images i ON i.id = a.image_id
                     WHERE i.vendor = $1 AND i.model = $2
                     ORDER BY i.version_key DESC, a.approved_at DESC, i.id DESC LIMIT 1"
                ),
                &[vendor.into(), model.into()],
            )?;
            rows.first()
                .map(|row| {
                    let image = image_of_row(row)?;
                    let approval = Approval {
                        image_id: image.id,
                        approved_by: row.text(9)?,
                        note: row.text(10)?,
                        approved_at: row.int(11)?,
                    };
                    Ok((image, approval))
                })
                .transpose()
        })
    }
}

/// The query selecting `columns` of the images a filter selects and its parameters; `paged`:
/// in catalogue order, from the filter's offset, at most its limit.
fn filtered_images(filter: &ImageFilter, columns: &str, paged: bool) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(v) = &filter.vendor {
        params.push(v.into());
        clauses.push(format!("i.vendor = ${}", params.len()));
    }
    if let Some(m) = &filter.model {
        params.push(m.into());
        clauses.push(format!("i.model = ${}", params.len()));
    }
    if let Some(n) = &filter.name_contains {
        let escaped = n
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        params.push(format!("%{escaped}%").into());
        clauses.push(format!("i.name LIKE ${} ESCAPE '\\'", params.len()));
    }
    let mut sql_text = format!("SELECT {columns} FROM images i");
    if !clauses.is_empty() {
        sql_text.push_str(" WHERE ");
        sql_text.push_str(&clauses.join(" AND "));
    }
    if !paged {
        return (sql_text, params);
    }
    sql_text.push_str(" ORDER BY i.vendor, i.model, i.version_key, i.released, i.id");
    params.push(filter.limit.unwrap_or(i64::MAX).max(0).into());
    sql_text.push_str(&format!(" LIMIT ${}", params.len()));
    params.push(filter.offset.unwrap_or(0).max(0).into());
    sql_text.push_str(&format!(" OFFSET ${}", params.len()));
    (sql_text, params)
}
