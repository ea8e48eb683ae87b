//! Questions across images, answered from the indexed `facts` table (never by re-reading
//! reports), and the release-to-release views built on `assay_report::diff`.

use crate::db::{Row, TxKind};
use crate::facts::FactKind;
use crate::images::{image_of_row, ImageFilter, IMAGE_COLUMNS};
use crate::records::{FactHit, ImageRecord, NewSinceApproved, SharedFact, TimelineEntry};
use crate::version_key::version_key;
use crate::{Store, StoreError};
use assay_model::Report;
use std::collections::HashMap;

fn hit_of_row(row: &Row, kind: FactKind) -> Result<FactHit, StoreError> {
    Ok(FactHit {
        image: image_of_row(row)?,
        report_id: row.int(9)?,
        kind,
        value: row.text(10)?,
        detail: row.text(11)?,
        path: row.text(12)?,
    })
}

/// The join from a fact to every image record over the reported content.
const HIT_FROM: &str = "FROM facts f JOIN images i ON i.sha256 = f.sha256";

impl Store {
    /// Every image holding this fact: images sharing a key fingerprint, a password hash, a
    /// cracked password, an endpoint host, a listener port, a component (any version), a
    /// CVE or a finding rule. At most `limit` hits, by vendor, model and version.
    ///
    /// Values are compared exactly, except that endpoint hosts and component names are
    /// matched in lower case.
    pub fn images_with(
        &self,
        kind: FactKind,
        value: &str,
        limit: i64,
    ) -> Result<Vec<FactHit>, StoreError> {
        let value = match kind {
            FactKind::Endpoint | FactKind::Component => value.to_ascii_lowercase(),
            _ => value.to_string(),
        };
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!(
                    "SELECT {IMAGE_COLUMNS}, f.report_id, f.value, f.detail, f.path {HIT_FROM}
                     WHERE f.kind = $1 AND f.value = $2
                     ORDER BY i.vendor, i.model, i.version_key, i.id, f.path
                     LIMIT $3"
                ),
                &[kind.as_str().into(), value.into(), limit.max(0).into()],
            )?
            .iter()
            .map(|r| hit_of_row(r, kind))
            .collect()
        })
    }

    /// Images carrying component `name` in a version below `bound` ("BusyBox older than
    /// 1.36"), by the order of [`version_key`](crate::version_key). At most `limit` hits.
    pub fn components_below(
        &self,
        name: &str,
        bound: &str,
        limit: i64,
    ) -> Result<Vec<FactHit>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!(
                    "SELECT {IMAGE_COLUMNS}, f.report_id, f.value, f.detail, f.path {HIT_FROM}
                     WHERE f.kind = 'component' AND f.value = $1 AND f.version_key < $2
                     ORDER BY i.vendor, i.model, i.version_key, i.id
                     LIMIT $3"
                ),
                &[
                    name.to_ascii_lowercase().into(),
                    version_key(bound).into(),
                    limit.max(0).into(),
                ],
            )?
            .iter()
            .map(|r| hit_of_row(r, FactKind::Component))
            .collect()
        })
    }

    /// Values of a kind found in at least `min_images` distinct image contents, most shared
    /// first: the keys many devices ship, the password used everywhere.
    pub fn shared_facts(
        &self,
        kind: FactKind,
        min_images: i64,
        limit: i64,
    ) -> Result<Vec<SharedFact>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                "SELECT f.value, CAST(COUNT(DISTINCT f.sha256) AS BIGINT) AS n
                 FROM facts f
                 WHERE f.kind = $1
                 GROUP BY f.value
                 HAVING COUNT(DISTINCT f.sha256) >= $2
                 ORDER BY n DESC, f.value
                 LIMIT $3",
                &[
                    kind.as_str().into(),
                    min_images.max(1).into(),
                    limit.max(0).into(),
                ],
            )?
            .iter()
            .map(|row| {
                Ok(SharedFact {
                    kind,
                    value: row.text(0)?,
                    images: row.int(1)?,
                })
            })
            .collect()
        })
    }

    /// The newest report about an image's content, if any.
    pub fn newest_report_id(&self, sha256: &str) -> Result<Option<i64>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                "SELECT id FROM reports WHERE sha256 = $1 ORDER BY id DESC LIMIT 1",
                &[sha256.into()],
            )?
            .first()
            .map(|r| r.int(0))
            .transpose()
        })
    }

    /// A vendor's releases (of one model, or of every model) in version order, each with
    /// what it added and removed against the release before it of the same model: accounts,
    /// boot services, endpoints, keys, components, findings, files (`assay_report::diff`).
    pub fn vendor_timeline(
        &self,
        vendor: &str,
        model: Option<&str>,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        self.vendor_timeline_page(vendor, model, 0, i64::MAX)
    }

    /// [`vendor_timeline`](Self::vendor_timeline) from release `offset` (0-based), at most
    /// `limit` releases: each page compares its first release with the one before it, so a
    /// page costs its own releases' reports, not the whole history's.
    pub fn vendor_timeline_page(
        &self,
        vendor: &str,
        model: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let offset = offset.max(0);
        // One release more before the page, to compare the page's first release with.
        let before = i64::from(offset > 0);
        let images = self.list_images(&ImageFilter {
            vendor: Some(vendor.to_string()),
            model: model.map(str::to_string),
            offset: Some(offset - before),
            limit: Some(limit.max(0).saturating_add(before)),
            ..ImageFilter::default()
        })?;
        let mut cache = ReportCache::default();
        let mut out: Vec<TimelineEntry> = Vec::with_capacity(images.len());
        let mut previous: Option<(ImageRecord, Option<i64>)> = None;
        for image in images {
            let report_id = self.newest_report_id(&image.sha256)?;
            let before = previous
                .as_ref()
                .filter(|(p, _)| p.meta.model == image.meta.model);
            let changes = match (before.and_then(|(_, r)| *r), report_id) {
                (Some(old), Some(new)) => {
                    let (a, b) = cache.pair(self, old, new)?;
                    Some(assay_report::diff::diff(a, b))
                }
                _ => None,
            };
            out.push(TimelineEntry {
                previous: before.map(|(p, _)| p.id),
                image: image.clone(),
                report_id,
                changes,
            });
            previous = Some((image, report_id));
        }
        if before > 0 && !out.is_empty() {
            out.remove(0);
        }
        Ok(out)
    }

    /// What every release of a model after its approved release changed against the approved
    /// one; `None` when no release of the model is approved.
    pub fn new_since_approved(
        &self,
        vendor: &str,
        model: &str,
    ) -> Result<Option<NewSinceApproved>, StoreError> {
        let Some((approved, approval)) = self.approved_release(vendor, model)? else {
            return Ok(None);
        };
        let approved_key = version_key(&approved.meta.version);
        let approved_report = self.newest_report_id(&approved.sha256)?;
        let mut cache = ReportCache::default();
        let mut releases = Vec::new();
        for image in self.list_images(&ImageFilter {
            vendor: Some(vendor.to_string()),
            model: Some(model.to_string()),
            ..ImageFilter::default()
        })? {
            let later = version_key(&image.meta.version) > approved_key
                || (image.meta.version == approved.meta.version && image.id > approved.id);
            if !later || image.sha256 == approved.sha256 {
                continue;
            }
            let report_id = self.newest_report_id(&image.sha256)?;
            let changes = match (approved_report, report_id) {
                (Some(old), Some(new)) => {
                    let (a, b) = cache.pair(self, old, new)?;
                    Some(assay_report::diff::diff(a, b))
                }
                _ => None,
            };
            releases.push(TimelineEntry {
                image,
                report_id,
                previous: Some(approved.id),
                changes,
            });
        }
        Ok(Some(NewSinceApproved {
            approved,
            approval,
            releases,
        }))
    }
}

/// Reports read once per view.
#[derive(Default)]
struct ReportCache(HashMap<i64, Report>);

impl ReportCache {
    fn load(&mut self, store: &Store, id: i64) -> Result<(), StoreError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.0.entry(id) {
            slot.insert(store.report(id)?.report()?);
        }
        Ok(())
    }

    /// Two reports, read when not read before.
    fn pair(&mut self, store: &Store, a: i64, b: i64) -> Result<(&Report, &Report), StoreError> {
        self.load(store, a)?;
        self.load(store, b)?;
        let missing = || StoreError::Row("report cache".into());
        Ok((
            self.0.get(&a).ok_or_else(missing)?,
            self.0.get(&b).ok_or_else(missing)?,
        ))
    }
}
