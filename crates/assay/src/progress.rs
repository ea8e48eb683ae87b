//! The progress bar: an adapter from the engine's progress callback to indicatif, shown on a
//! terminal only.

use assay_engine::{AnalysisConfig, Progress, Scan};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

/// A scanner for `config` that draws an unpacking bar on standard error when it is a terminal
/// and `quiet` is off. The bar follows the top-level search of each image and is cleared when
/// the image is unpacked.
pub fn scanner(config: AnalysisConfig, quiet: bool) -> Scan {
    let scan = Scan::new(config);
    if quiet || !std::io::stderr().is_terminal() {
        return scan;
    }
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    scan.on_progress(Arc::new(move |event| {
        let Ok(mut bar) = bar.lock() else { return };
        match event {
            Progress::Unpacking { done, total } => {
                bar.get_or_insert_with(|| unpacking_bar(total))
                    .set_position(done);
            }
            _ => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }))
}

fn unpacking_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} unpacking [{bar:40}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
