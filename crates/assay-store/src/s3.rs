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
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign_with_time(SIGNATURE_LIFETIME, &self.now()?);
        let mut response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| s3_error("GET", e))?;
        match response.status().as_u16() {
            200..=299 => {}
            404 => return Err(StoreError::BlobMissing(sha256.to_string())),
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
        if found != sha256 {
            return Err(StoreError::BlobCorrupt {
                expected: sha256.to_string(),
                found,
            });
        }
        Ok(LocalBlob::temporary(tmp.into_temp_path()))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
