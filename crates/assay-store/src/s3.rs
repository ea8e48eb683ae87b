//! Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage, …), under the same
//! sharded names as on disk.
//!
//! Requests are signed with AWS Signature V4 as presigned URLs by `rusty-s3` (signing only,
//! no HTTP stack) and sent by `ureq` (a small blocking client): together a fraction of the
//! build of `object_store`'s async AWS stack, and blocking fits the store's blocking API.

use crate::blobs::{copy_hashing, hash_file, shard_path, BlobStore, LocalBlob, PutBlob};
use crate::{Clock, StoreError};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::fs::File;
use std::path::Path;
use std::time::Duration;

/// How long a signed request stays valid.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Where a bucket is and how to sign for it.
#[derive(Clone)]
pub struct S3Location {
    /// The service endpoint (`https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`).
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The region named in signatures (`us-east-1` for most S3-compatible servers).
    pub region: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Address the bucket as a path (`endpoint/bucket/key`, what self-hosted servers expect)
    /// rather than as a host name (`bucket.endpoint/key`).
    pub path_style: bool,
}

impl std::fmt::Debug for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Location")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// An object of a bucket, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Blobs in an S3-compatible bucket.
pub struct S3Blobs {
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    clock: Clock,
    describe: String,
}

fn s3_error(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::ObjectStorage(format!("{what}: {e}"))
}

impl S3Blobs {
    /// A client for the bucket at `location`; nothing is sent until the first request.
    pub fn new(location: &S3Location, clock: Clock) -> Result<Self, StoreError> {
        let endpoint: url::Url = location.endpoint.parse().map_err(|e| {
            StoreError::BadBlobLocation(location.endpoint.clone(), format!("endpoint: {e}"))
        })?;
        let style = if location.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            location.bucket.clone(),
            location.region.clone(),
        )
        .map_err(|e| StoreError::BadBlobLocation(location.bucket.clone(), e.to_string()))?;
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(10)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                .build(),
        );
        Ok(S3Blobs {
            bucket,
            credentials: Credentials::new(location.access_key.clone(), location.secret_key.clone()),
            agent,
            clock,
            describe: format!("s3://{} at {}", location.bucket, location.endpoint),
        })
    }

    fn now(&self) -> Result<jiff::Timestamp, StoreError> {
        jiff::Timestamp::from_millisecond((self.clock)()).map_err(|e| s3_error("clock", e))
    }

    /// Create the bucket (for a new deployment and for tests); an existing bucket of ours
    /// is fine.
    pub fn create_bucket(&self) -> Result<(), StoreError> {
        let url = self
            .bucket
            .create_bucket(&self.credentials)
            .sign_with_time(SIGNATURE_LIFETIME, &self.now()?);
        let response = self
            .agent
            .put(url.as_str())
            .send_empty()
            .map_err(|e| s3_error("creating the bucket", e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) || status == 409 {
            Ok(())
        } else {
            Err(s3_error(
                "creating the bucket",
                format!("HTTP {status}: {}", body_text(response)),
            ))
        }
    }

    /// Download object `key` into a temporary file in `scratch`: the file and the SHA-256 of
    /// its bytes; `None` when there is no such object.
    fn get(
        &self,
        key: &str,
        scratch: &Path,
    ) -> Result<Option<(tempfile::TempPath, String)>, StoreError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign_with_time(SIGNATURE_LIFETIME, &self.now()?);
        let mut response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| s3_error("GET", e))?;
        match response.status().as_u16() {
            200..=299 => {}
            404 => return Ok(None),
            status => {
                return Err(s3_error(
                    "GET",
                    format!("HTTP {status} for {key}: {}", body_text(response)),
                ))
            }
        }
        std::fs::create_dir_all(scratch).map_err(|e| StoreError::io("creating", scratch, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(scratch)
            .map_err(|e| StoreError::io("creating a file in", scratch, e))?;
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let (found, _) = copy_hashing(&mut reader, tmp.as_file_mut())
            .map_err(|e| s3_error("downloading", format!("{key}: {e}")))?;
        Ok(Some((tmp.into_temp_path(), found)))
    }

    /// The objects under `prefix`, in key order, at most `max` (images to register from a
    /// bucket the lab drops firmware into).
    pub fn list(&self, prefix: &str, max: usize) -> Result<Vec<S3Object>, StoreError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign_with_time(SIGNATURE_LIFETIME, &self.now()?);
            let response = self
                .agent
                .get(url.as_str())
                .call()
                .map_err(|e| s3_error("LIST", e))?;
            let status = response.status().as_u16();
            let text = body_text_all(response)?;
            if !(200..300).contains(&status) {
                return Err(s3_error(
                    "LIST",
                    format!(
                        "HTTP {status}: {}",
                        text.chars().take(400).collect::<String>()
                    ),
                ));
            }
            // Some servers (s3rver) answer in an older spelling of S3's namespace, which the
            // parser does not know; the documents are otherwise the same.
            let text = text.replace(
                "xmlns=\"http://doc.s3.amazonaws.com/2006-03-01/\"",
                "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
            );
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&text)
                .map_err(|e| s3_error("LIST", format!("unreadable listing: {e}")))?;
            for object in page.contents {
                if out.len() >= max {
                    return Ok(out);
                }
                out.push(S3Object {
                    size: object.size.unwrap_or(0),
                    key: object.key,
                });
            }
            match page.next_continuation_token {
                Some(t) if out.len() < max => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Download any object of the bucket (not a blob of the store) into `scratch`; removed
    /// when the returned value is dropped.
    pub fn download(&self, key: &str, scratch: &Path) -> Result<LocalBlob, StoreError> {
        let (tmp, _) = self
            .get(key, scratch)?
            .ok_or_else(|| StoreError::NotFound {
                what: "object",
                id: key.to_string(),
            })?;
        Ok(LocalBlob::temporary(tmp))
    }

    fn head(&self, key: &str) -> Result<bool, StoreError> {
        let url = self
            .bucket
            .head_object(Some(&self.credentials), key)
            .sign_with_time(SIGNATURE_LIFETIME, &self.now()?);
        let response = self
            .agent
            .head(url.as_str())
            .call()
            .map_err(|e| s3_error("HEAD", e))?;
        match response.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            status => Err(s3_error("HEAD", format!("HTTP {status} for {key}"))),
        }
    }
}

/// A whole response body as text (a listing: at most 16 MiB).
fn body_text_all(mut response: ureq::http::Response<ureq::Body>) -> Result<String, StoreError> {
    response
        .body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_string()
        .map_err(|e| s3_error("reading a response", e))
}

fn body_text(mut response: ureq::http::Response<ureq::Body>) -> String {
    let text = response
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    text.chars().take(400).collect()
}

impl BlobStore for S3Blobs {
    fn put_file(&self, file: &Path) -> Result<PutBlob, StoreError> {
        let (sha256, size) = hash_file(file)?;
        let key = shard_path(&sha256)?;
        if self.head(&key)? {
            return Ok(PutBlob {
                sha256,
                size,
                new: false,
            });
        }
        let body = File::open(file).map_err(|e| StoreError::io("reading", file, e))?;
        let url = self
            .bucket
            .put_object(Some(&self.credentials), &key)
            .sign_with_time(SIGNATURE_LIFETIME, &self.now()?);
        let response = self
            .agent
            .put(url.as_str())
            .send(body)
            .map_err(|e| s3_error("PUT", e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(s3_error(
                "PUT",
                format!("HTTP {status} for {key}: {}", body_text(response)),
            ));
        }
        Ok(PutBlob {
            sha256,
            size,
            new: true,
        })
    }

    fn contains(&self, sha256: &str) -> Result<bool, StoreError> {
        self.head(&shard_path(sha256)?)
    }

    fn fetch(&self, sha256: &str, scratch: &Path) -> Result<LocalBlob, StoreError> {
        let key = shard_path(sha256)?;
        let (tmp, found) = self
            .get(&key, scratch)?
            .ok_or_else(|| StoreError::BlobMissing(sha256.to_string()))?;
        if found != sha256 {
            return Err(StoreError::BlobCorrupt {
                expected: sha256.to_string(),
                found,
            });
        }
        Ok(LocalBlob::temporary(tmp))
    }

    fn delete(&self, sha256: &str) -> Result<bool, StoreError> {
        let key = shard_path(sha256)?;
        if !self.head(&key)? {
            return Ok(false);
        }
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), &key)
            .sign_with_time(SIGNATURE_LIFETIME, &self.now()?);
        let response = self
            .agent
            .delete(url.as_str())
            .call()
            .map_err(|e| s3_error("DELETE", e))?;
        match response.status().as_u16() {
            200..=299 | 404 => Ok(true),
            status => Err(s3_error(
                "DELETE",
                format!("HTTP {status} for {key}: {}", body_text(response)),
            )),
        }
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
