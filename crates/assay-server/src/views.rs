//! The page templates, compiled once. Template names end in `.html`, so minijinja escapes
//! every value it inserts: names, versions, paths and evidence from hostile images come out
//! as text, never as markup.

use crate::{Failure, ServerError};
use axum::response::Html;
use minijinja::{Environment, Value};

/// The compiled templates.
pub(crate) struct Views {
    env: Environment<'static>,
}

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("images.html", include_str!("../templates/images.html")),
    ("image.html", include_str!("../templates/image.html")),
    ("upload.html", include_str!("../templates/upload.html")),
    ("added.html", include_str!("../templates/added.html")),
    ("diff.html", include_str!("../templates/diff.html")),
    (
        "questions.html",
        include_str!("../templates/questions.html"),
    ),
    ("hits.html", include_str!("../templates/hits.html")),
    ("shared.html", include_str!("../templates/shared.html")),
    ("timeline.html", include_str!("../templates/timeline.html")),
    ("search.html", include_str!("../templates/search.html")),
    ("jobs.html", include_str!("../templates/jobs.html")),
    ("users.html", include_str!("../templates/users.html")),
    ("audit.html", include_str!("../templates/audit.html")),
];

/// The stylesheet every page links (`/static/fleet.css`; the CSP allows only it).
pub(crate) const STYLESHEET: &str = include_str!("../templates/fleet.css");

/// Unix ms as `YYYY-MM-DD HH:MM UTC`.
fn ms_time(ms: i64) -> String {
    let secs = u64::try_from(ms.div_euclid(1000)).unwrap_or(0);
    let t = assay_report::sbom::rfc3339_utc(secs);
    // `YYYY-MM-DDTHH:MM:SSZ`
    match (t.get(..10), t.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => t,
    }
}

/// Bytes as `12.3 MiB`.
fn filesize(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("?"))
    }
}

impl Views {
    pub(crate) fn new() -> Result<Self, ServerError> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        env.add_filter("ms_time", ms_time);
        env.add_filter("filesize", filesize);
        Ok(Views { env })
    }

    /// Render a page.
    pub(crate) fn render(&self, name: &str, context: Value) -> Result<Html<String>, Failure> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(context))
            .map(Html)
            .map_err(|e| Failure::internal(format!("rendering {name}: {e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes_what_it_is_given() {
        let views = Views::new().unwrap();
        let page = views
            .render(
                "error.html",
                minijinja::context! { status => "400", message => "<script>alert(1)</script>" },
            )
            .unwrap()
            .0;
        assert!(page.contains("&lt;script&gt;alert(1)&lt;"), "{page}");
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn times_and_sizes_read_as_people_write_them() {
        assert_eq!(ms_time(1_717_200_000_000), "2024-06-01 00:00 UTC");
        assert_eq!(filesize(512), "512 bytes");
        assert_eq!(filesize(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
