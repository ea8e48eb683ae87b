//! Every detector, one module each, registered in [`registry`].

use crate::Detector;

/// The registered detectors.
pub fn registry() -> Vec<&'static dyn Detector> {
    vec![]
}
