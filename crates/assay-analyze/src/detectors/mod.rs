//! Every detector, one module each, registered in [`registry`].

use crate::Detector;

pub mod accounts;
pub mod bind_shell;
pub mod completeness;
pub mod credentials;
pub mod endpoints;
pub mod exposure;
pub mod hardening;
pub mod keys;
pub mod magic_compare;
pub mod remote_access;
pub mod reverse_shell;
pub mod rulepack;
pub mod secrets;
pub mod text;

/// The registered detectors.
pub fn registry() -> Vec<&'static dyn Detector> {
    vec![
        &remote_access::RemoteAccess,
        &endpoints::Endpoints,
        &reverse_shell::ReverseShell,
        &hardening::Hardening,
        &accounts::Accounts,
        &credentials::Credentials,
        &keys::Keys,
        &secrets::Secrets,
        &rulepack::RulePackDetector,
        &magic_compare::MagicCompare,
        &exposure::Exposure,
        &bind_shell::BindShell,
        &completeness::Completeness,
    ]
}
