//! Reports: signed, stored once per (content, settings), their facts indexed in the same
//! transaction; imported reports checked against the lab keys.

use crate::db::{values_placeholders, Row, Sql, TxKind, Value};
use crate::facts::facts_of;
use crate::records::{Completion, Lease, ReportOrigin, ReportRecord};
use crate::{Store, StoreError};
use assay_model::Report;
use assay_report::dsse::{self, Envelope, EnvelopeSignature};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signer;

/// A stored report with its signed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// What the store knows about it.
    pub record: ReportRecord,
    /// The DSSE envelope: the canonical JSON report, signed by the store (and, for an
    /// imported report, by the lab that made it).
    pub envelope: Envelope,
}

impl StoredReport {
    /// The report inside the envelope.
    pub fn report(&self) -> Result<Report, StoreError> {
        let payload = self
            .envelope
            .payload_bytes()
            .map_err(|e| StoreError::BadReport(e.to_string()))?;
        serde_json::from_slice(&payload).map_err(|e| StoreError::BadReport(e.to_string()))
    }
}

/// The columns of a report record, in the order [`record_of_row`] reads them.
const REPORT_COLUMNS: &str = "r.id, r.sha256, r.settings_id, r.signed_by, r.origin, r.job_id, \
     r.worker, r.image_name, r.tool_version, r.stored_at";

fn record_of_row(row: &Row) -> Result<ReportRecord, StoreError> {
    Ok(ReportRecord {
        id: row.int(0)?,
        sha256: row.text(1)?,
        settings_id: row.text(2)?,
        signed_by: row.text(3)?,
        origin: match row.text(4)?.as_str() {
            "import" => ReportOrigin::Import,
            _ => ReportOrigin::Scan,
        },
        job_id: row.opt_int(5)?,
        worker: row.opt_text(6)?,
        image_name: row.text(7)?,
        tool_version: row.text(8)?,
        stored_at: row.int(9)?,
    })
}

/// Rows per multi-row insert of facts (7 values each, far below both engines' limits).
const FACT_ROWS_PER_INSERT: usize = 400;

/// A report about to be stored.
struct NewReport<'a> {
    report: &'a Report,
    payload: &'a [u8],
    envelope: &'a Envelope,
    settings_id: &'a str,
    origin: ReportOrigin,
    job_id: Option<i64>,
    worker: Option<&'a str>,
}

/// Store a report unless one exists for its content and settings; index its facts when
/// stored. Returns the outcome and the report's id.
fn insert_report(sql: &mut dyn Sql, new: &NewReport, now: i64) -> Result<Completion, StoreError> {
    let signed_by: Vec<&str> = new
        .envelope
        .signatures
        .iter()
        .map(|s| s.keyid.as_str())
        .collect();
    let origin = match new.origin {
        ReportOrigin::Scan => "scan",
        ReportOrigin::Import => "import",
    };
    let inserted = sql.query(
        "INSERT INTO reports (sha256, settings_id, signed_by, origin, job_id, worker,
                              image_name, tool_version, stored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (sha256, settings_id) DO NOTHING
         RETURNING id",
        &[
            new.report.image.sha256.as_str().into(),
            new.settings_id.into(),
            signed_by.join(" ").into(),
            origin.into(),
            new.job_id.into(),
            new.worker.into(),
            new.report.image.name.as_str().into(),
            new.report.tool_version.as_str().into(),
            now.into(),
        ],
    )?;
    if let Some(row) = inserted.first() {
        let report_id = row.int(0)?;
        sql.execute(
            "INSERT INTO report_bodies (report_id, envelope) VALUES ($1, $2)",
            &[report_id.into(), new.envelope.to_json().into()],
        )?;
        let payload: serde_json::Value = serde_json::from_slice(new.payload)
            .map_err(|e| StoreError::BadReport(e.to_string()))?;
        let facts = facts_of(new.report, &payload);
        for chunk in facts.chunks(FACT_ROWS_PER_INSERT) {
            let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
            for f in chunk {
                params.push(report_id.into());
                params.push(new.report.image.sha256.as_str().into());
                params.push(f.kind.as_str().into());
                params.push(f.value.as_str().into());
                params.push(f.version_key.as_str().into());
                params.push(f.detail.as_str().into());
                params.push(f.path.as_str().into());
            }
            sql.execute(
                &format!(
                    "INSERT INTO facts (report_id, sha256, kind, value, version_key, detail, path)
                     VALUES {}",
                    values_placeholders(chunk.len(), 7)
                ),
                &params,
            )?;
        }
        return Ok(Completion::Stored { report_id });
    }
    let existing = sql.query(
        "SELECT id FROM reports WHERE sha256 = $1 AND settings_id = $2",
        &[
            new.report.image.sha256.as_str().into(),
            new.settings_id.into(),
        ],
    )?;
    let report_id = existing
        .first()
        .map(|r| r.int(0))
        .transpose()?
        .ok_or_else(|| StoreError::Row("a report both exists and does not".into()))?;
    Ok(Completion::AlreadyStored { report_id })
}

impl Store {
    /// The job's scan finished: sign the report, store it (unless a report for this content
    /// and settings is stored already — an earlier attempt got there first) and mark the job
    /// done. Accepted even when the lease was lost meanwhile: the report is as good as the
    /// one the new lease holder will make, and only one of them is kept.
    pub fn complete(&self, lease: &Lease, report: &Report) -> Result<Completion, StoreError> {
        if report.image.sha256 != lease.job.sha256 {
            return Err(StoreError::BadReport(format!(
                "the report is about {}, the job scans {}",
                report.image.sha256, lease.job.sha256
            )));
        }
        let payload = assay_report::json::to_json(report);
        let envelope = dsse::sign(payload.as_bytes(), &self.inner.signing_key);
        let now = self.now();
        self.db().transaction(TxKind::Write, |sql| {
            let outcome = insert_report(
                sql,
                &NewReport {
                    report,
                    payload: payload.as_bytes(),
                    envelope: &envelope,
                    settings_id: &lease.job.settings_id,
                    origin: ReportOrigin::Scan,
                    job_id: Some(lease.job.id),
                    worker: Some(&lease.owner),
                },
                now,
            )?;
            sql.execute(
                "UPDATE jobs SET state = 'done', finished_at = $1, report_id = $2,
                        lease_owner = NULL, lease_expires = NULL
                 WHERE id = $3",
                &[now.into(), outcome.report_id().into(), lease.job.id.into()],
            )?;
            Ok(outcome)
        })
    }

    /// Import a signed report made elsewhere (`assay scan --sign`, another lab's store): its
    /// envelope must carry a valid signature by one of the configured lab keys. The store
    /// adds its own signature beside the lab's and keeps the payload byte for byte, so both
    /// still verify. Stored once per image content and signing lab. When the store has no
    /// image record for the content, one is made from the report (name and size), so the
    /// report answers questions across images; [`Store::import_report_as`] names it.
    pub fn import_report(&self, envelope_json: &str) -> Result<Completion, StoreError> {
        self.import(envelope_json, None)
    }

    /// [`Store::import_report`], recording the image under this name and release.
    pub fn import_report_as(
        &self,
        envelope_json: &str,
        meta: &crate::ImageMeta,
    ) -> Result<Completion, StoreError> {
        self.import(envelope_json, Some(meta))
    }

    fn import(
        &self,
        envelope_json: &str,
        meta: Option<&crate::ImageMeta>,
    ) -> Result<Completion, StoreError> {
        let mut envelope =
            Envelope::from_json(envelope_json).map_err(|e| StoreError::Signature(e.to_string()))?;
        let mut verified_by = None;
        let mut last_error = None;
        for key in &self.inner.lab_keys {
            match envelope.verify(key) {
                Ok(_) => {
                    verified_by = Some(dsse::key_id(key));
                    break;
                }
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        let Some(lab) = verified_by else {
            return Err(StoreError::Signature(match last_error {
                Some(e) if self.inner.lab_keys.len() == 1 => e,
                _ if self.inner.lab_keys.is_empty() => {
                    "no lab keys are configured, so no import can be trusted".into()
                }
                _ => format!(
                    "not signed by any of the {} configured lab keys",
                    self.inner.lab_keys.len()
                ),
            }));
        };
        let payload = envelope
            .payload_bytes()
            .map_err(|e| StoreError::BadReport(e.to_string()))?;
        let report: Report =
            serde_json::from_slice(&payload).map_err(|e| StoreError::BadReport(e.to_string()))?;
        if report.schema != assay_model::REPORT_SCHEMA {
            return Err(StoreError::BadReport(format!(
                "schema {:?} is not {}",
                report.schema,
                assay_model::REPORT_SCHEMA
            )));
        }
        if !crate::blobs::is_sha256(&report.image.sha256) {
            return Err(StoreError::BadReport(
                "the image hash is not a SHA-256".into(),
            ));
        }
        let own = self.key_id();
        if !envelope.signatures.iter().any(|s| s.keyid == own) {
            let signature = self
                .inner
                .signing_key
                .sign(&dsse::pae(&envelope.payload_type, &payload));
            envelope.signatures.insert(
                0,
                EnvelopeSignature {
                    keyid: own,
                    sig: B64.encode(signature.to_bytes()),
                },
            );
        }
        let now = self.now();
        let settings_id = format!("import:{lab}");
        let size = i64::try_from(report.image.size).unwrap_or(i64::MAX);
        let default_meta = crate::ImageMeta {
            name: report.image.name.clone(),
            ..crate::ImageMeta::default()
        };
        let record = meta.unwrap_or(&default_meta);
        self.db().transaction(TxKind::Write, |sql| {
            let outcome = insert_report(
                sql,
                &NewReport {
                    report: &report,
                    payload: &payload,
                    envelope: &envelope,
                    settings_id: &settings_id,
                    origin: ReportOrigin::Import,
                    job_id: None,
                    worker: None,
                },
                now,
            )?;
            let known = !sql
                .query(
                    "SELECT id FROM images WHERE sha256 = $1 LIMIT 1",
                    &[report.image.sha256.as_str().into()],
                )?
                .is_empty();
            if meta.is_some() || !known {
                sql.execute(
                    "INSERT INTO images (sha256, size, name, vendor, model, version,
                                         version_key, released, added_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (sha256, name, vendor, model, version) DO NOTHING",
                    &[
                        report.image.sha256.as_str().into(),
                        size.into(),
                        record.name.as_str().into(),
                        record.vendor.as_str().into(),
                        record.model.as_str().into(),
                        record.version.as_str().into(),
                        crate::version_key(&record.version).into(),
                        record.released.clone().into(),
                        now.into(),
                    ],
                )?;
            }
            Ok(outcome)
        })
    }

    /// One stored report with its envelope.
    pub fn report(&self, id: i64) -> Result<StoredReport, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            let rows = sql.query(
                &format!(
                    "SELECT {REPORT_COLUMNS}, b.envelope FROM reports r
                     JOIN report_bodies b ON b.report_id = r.id WHERE r.id = $1"
                ),
                &[id.into()],
            )?;
            let row = rows.first().ok_or_else(|| StoreError::NotFound {
                what: "report",
                id: id.to_string(),
            })?;
            Ok(StoredReport {
                record: record_of_row(row)?,
                envelope: Envelope::from_json(&row.text(10)?)
                    .map_err(|e| StoreError::BadReport(e.to_string()))?,
            })
        })
    }

    /// The reports about an image's content, newest first.
    pub fn reports_of_image(&self, image_id: i64) -> Result<Vec<ReportRecord>, StoreError> {
        let image = self.image(image_id)?;
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!(
                    "SELECT {REPORT_COLUMNS} FROM reports r WHERE r.sha256 = $1 ORDER BY r.id DESC"
                ),
                &[image.sha256.as_str().into()],
            )?
            .iter()
            .map(record_of_row)
            .collect()
        })
    }

    /// How many reports are stored.
    pub fn report_count(&self) -> Result<i64, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query("SELECT CAST(COUNT(*) AS BIGINT) FROM reports", &[])?
                .first()
                .map_or(Ok(0), |r| r.int(0))
        })
    }
}
