//! Every detector, one module each, registered in [`registry`].

use crate::Detector;

pub mod endpoints;
pub mod hardening;
pub mod remote_access;

/// The registered detectors.
pub fn registry() -> Vec<&'static dyn Detector> {
    vec![
        &remote_access::RemoteAccess,
        &endpoints::Endpoints,
        &hardening::Hardening,
    ]
}
