//! The HTML report: one self-contained page for the people who decide whether to trust a
//! device. The first screen says in plain words what was found and how bad it is; below come
//! the findings by severity with their evidence and location chain, a map of the image
//! (entropy plot with its containers), the unpacked container tree, the components and the
//! warnings.
//!
//! The page has no scripts, fonts, images or links to anything outside itself (styles are
//! inline, the chart is inline SVG), so it opens offline and can be archived as evidence.
//! Everything taken from the image is escaped: templates are `minijinja` HTML templates with
//! auto-escaping, and no value is ever marked safe. Before the HTML escaping, every value
//! shows its control and invisible formatting characters as visible escapes
//! ([`assay_model::terminal`]): a browser honours a right-to-left override or a zero-width
//! joiner in text as a terminal does, and `&#x202e;` would still be one.
//!
//! One concern per file: `words` says things in plain words (headline, labels, sizes), `page`
//! builds the model the template renders, `tree` the container tree, `chart` the image map.

mod chart;
mod page;
mod tree;
mod words;

use crate::RuleDoc;
use assay_model::Report;
use minijinja::Environment;
use page::build_page;

pub use words::headline;

/// Entropy of the image, block by block, for the image map; computed by the caller, which
/// holds the image bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntropyProfile {
    /// Bytes per block (the last block may be shorter).
    pub block_size: u64,
    /// Shannon entropy of each block in bits per byte (0–8), in image order.
    pub values: Vec<f64>,
}

/// Why an HTML report could not be rendered (a bug in the templates, never the input).
#[derive(Debug, thiserror::Error)]
#[error("rendering the HTML report: {0}")]
pub struct HtmlError(#[from] minijinja::Error);

/// Render the report as one self-contained HTML page.
pub fn to_html(
    report: &Report,
    rules: &[RuleDoc],
    entropy: &EntropyProfile,
) -> Result<String, HtmlError> {
    let mut env = Environment::new();
    env.set_formatter(visible_then_html_escaped);
    env.add_template("report.css", include_str!("../../templates/report.css"))?;
    env.add_template("report.html", include_str!("../../templates/report.html"))?;
    let page = build_page(report, rules, entropy);
    Ok(env.get_template("report.html")?.render(&page)?)
}

/// The template's formatter: a string value with its controls and invisible formatting
/// characters made visible (line breaks and tabs kept: HTML folds them), then HTML-escaped.
fn visible_then_html_escaped(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match value.as_str().map(assay_model::terminal::escape_document) {
        Some(std::borrow::Cow::Owned(visible)) if !value.is_safe() => {
            minijinja::escape_formatter(out, state, &minijinja::Value::from(visible))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

#[cfg(test)]
mod tests;
