//! The questions across images, asked the same way by the pages and the API: each takes its
//! query parameters and returns one serialisable answer, read from the store's indexed fact
//! table (the timeline and "new since approved" compare stored reports).

use crate::Failure;
use assay_store::{FactHit, FactKind, ImageFilter, ImageRecord, SharedFact, Store};
use serde::{Deserialize, Serialize};

/// Hits returned at most by one question (`limit`).
pub const MAX_HITS: i64 = 1000;
/// Hits returned by a question that gives no `limit`.
pub const DEFAULT_HITS: i64 = 200;

/// `?kind=key&value=…`: images holding a fact.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FindQuery {
    /// key, password-hash, password, endpoint, listener-port, component, cve or rule.
    #[serde(default)]
    pub kind: String,
    /// The value looked for.
    #[serde(default)]
    pub value: String,
    /// At most this many hits.
    pub limit: Option<i64>,
}

/// Images holding a fact, with where in each it was found.
#[derive(Debug, Clone, Serialize)]
pub struct FindAnswer {
    /// The kind asked about.
    pub kind: FactKind,
    /// The value asked about.
    pub value: String,
    /// The hits, by vendor, model and version.
    pub hits: Vec<FactHit>,
}

/// A fact kind named in a URL.
pub fn kind(name: &str) -> Result<FactKind, Failure> {
    name.parse::<FactKind>().map_err(Failure::bad_request)
}

/// The number of hits a question answers with, for its `limit` parameter.
pub fn hit_limit(asked: Option<i64>) -> i64 {
    limit(asked)
}

fn limit(asked: Option<i64>) -> i64 {
    asked.unwrap_or(DEFAULT_HITS).clamp(1, MAX_HITS)
}

/// Answer a [`FindQuery`].
pub fn find(store: &Store, q: &FindQuery) -> Result<FindAnswer, Failure> {
    let kind = kind(&q.kind)?;
    let value = q.value.trim();
    if value.is_empty() {
        return Err(Failure::bad_request("give a value to look for"));
    }
    Ok(FindAnswer {
        kind,
        value: value.to_string(),
        hits: store.images_with(kind, value, limit(q.limit))?,
    })
}

/// `?component=busybox&version=1.36`: images with a component older than a version.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BelowQuery {
    /// Component name.
    #[serde(default)]
    pub component: String,
    /// The bound (excluded).
    #[serde(default)]
    pub version: String,
    /// At most this many hits.
    pub limit: Option<i64>,
}

/// Images carrying a component below a version.
#[derive(Debug, Clone, Serialize)]
pub struct BelowAnswer {
    /// The component.
    pub component: String,
    /// The bound.
    pub version: String,
    /// The hits (each hit's `detail` is the version found).
    pub hits: Vec<FactHit>,
}

/// Answer a [`BelowQuery`].
pub fn below(store: &Store, q: &BelowQuery) -> Result<BelowAnswer, Failure> {
    let (component, version) = (q.component.trim(), q.version.trim());
    if component.is_empty() || version.is_empty() {
        return Err(Failure::bad_request("give a component and a version"));
    }
    Ok(BelowAnswer {
        component: component.to_string(),
        version: version.to_string(),
        hits: store.components_below(component, version, limit(q.limit))?,
    })
}

/// `?kind=key&min=2`: values found in several images.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SharedQuery {
    /// The fact kind.
    #[serde(default)]
    pub kind: String,
    /// In at least this many distinct image contents (2 by default).
    pub min: Option<i64>,
    /// At most this many values.
    pub limit: Option<i64>,
}

/// Values shared by several images, most shared first.
#[derive(Debug, Clone, Serialize)]
pub struct SharedAnswer {
    /// The kind.
    pub kind: FactKind,
    /// The least number of images asked for.
    pub min: i64,
    /// The values.
    pub values: Vec<SharedFact>,
}

/// Answer a [`SharedQuery`].
pub fn shared(store: &Store, q: &SharedQuery) -> Result<SharedAnswer, Failure> {
    let kind = kind(&q.kind)?;
    let min = q.min.unwrap_or(2).max(1);
    Ok(SharedAnswer {
        kind,
        min,
        values: store.shared_facts(kind, min, limit(q.limit))?,
    })
}

/// `?vendor=acme&model=r1`: a vendor's releases, or the releases since a model's approval.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReleaseQuery {
    /// Vendor.
    #[serde(default)]
    pub vendor: String,
    /// Model (required for "new since approved").
    #[serde(default)]
    pub model: Option<String>,
    /// Timeline: the first release shown (0-based).
    pub offset: Option<i64>,
    /// Timeline: releases shown at most (1–200, 20 by default).
    pub limit: Option<i64>,
}

/// Releases at most in one timeline page: each entry compares two stored reports.
pub const MAX_TIMELINE: i64 = 200;
/// Releases in a timeline page unless asked otherwise.
pub const DEFAULT_TIMELINE: i64 = 20;

/// A vendor's timeline (of one model when given).
pub fn timeline(
    store: &Store,
    q: &ReleaseQuery,
) -> Result<Vec<assay_store::TimelineEntry>, Failure> {
    if q.vendor.trim().is_empty() {
        return Err(Failure::bad_request("give a vendor"));
    }
    let model = q.model.as_deref().filter(|m| !m.is_empty());
    let limit = q.limit.unwrap_or(DEFAULT_TIMELINE).clamp(1, MAX_TIMELINE);
    Ok(store.vendor_timeline_page(q.vendor.trim(), model, q.offset.unwrap_or(0), limit)?)
}

/// What a model's releases after its approved one changed; 404 when none is approved.
pub fn since_approved(
    store: &Store,
    q: &ReleaseQuery,
) -> Result<assay_store::NewSinceApproved, Failure> {
    let model = q
        .model
        .as_deref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Failure::bad_request("give a vendor and a model"))?;
    store
        .new_since_approved(q.vendor.trim(), model)?
        .ok_or_else(|| {
            Failure::not_found(format!("no release of {} {model} is approved", q.vendor))
        })
}

/// `?q=…`: one box that finds images by name, by content hash, or by any fact value.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SearchQuery {
    /// What to look for.
    #[serde(default)]
    pub q: String,
}

/// What a search found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchAnswer {
    /// The text searched for.
    pub q: String,
    /// Images whose name contains it, or whose content has this SHA-256.
    pub images: Vec<ImageRecord>,
    /// Images holding it as a fact of any kind.
    pub facts: Vec<FactHit>,
}

/// Images and facts listed at most per search.
const SEARCH_LIMIT: i64 = 100;
/// Facts listed at most per kind in a search (a common component name would fill the page).
const SEARCH_PER_KIND: i64 = 25;

/// Answer a [`SearchQuery`]: names (contains), content hashes (exact), facts of every kind
/// (exact value; component and endpoint names in any case).
pub fn search(store: &Store, q: &SearchQuery) -> Result<SearchAnswer, Failure> {
    let text = q.q.trim();
    if text.is_empty() {
        return Ok(SearchAnswer {
            q: String::new(),
            images: Vec::new(),
            facts: Vec::new(),
        });
    }
    let lower = text.to_ascii_lowercase();
    let mut images = if assay_store::is_sha256(&lower) {
        store.images_with_content(&lower)?
    } else {
        Vec::new()
    };
    images.extend(store.list_images(&ImageFilter {
        name_contains: Some(text.to_string()),
        limit: Some(SEARCH_LIMIT),
        ..ImageFilter::default()
    })?);
    let mut facts = Vec::new();
    for kind in FactKind::ALL {
        let left = SEARCH_LIMIT - i64::try_from(facts.len()).unwrap_or(SEARCH_LIMIT);
        if left <= 0 {
            break;
        }
        facts.extend(store.images_with(kind, text, left.min(SEARCH_PER_KIND))?);
    }
    Ok(SearchAnswer {
        q: text.to_string(),
        images,
        facts,
    })
}

/// The fact kinds with a word on each, for forms.
pub fn kinds() -> Vec<(&'static str, &'static str)> {
    FactKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str(),
                match k {
                    FactKind::Key => "private key or host key fingerprint",
                    FactKind::PasswordHash => "password hash",
                    FactKind::Password => "cracked or plain-text password",
                    FactKind::Endpoint => "endpoint host",
                    FactKind::ListenerPort => "listener port",
                    FactKind::Component => "component (any version)",
                    FactKind::Cve => "CVE",
                    FactKind::Rule => "finding rule",
                    _ => "other",
                },
            )
        })
        .collect()
}
