//! Every detector, one module each, registered in [`registry`].

use crate::Detector;

pub mod accounts;
pub mod credentials;
pub mod keys;
pub mod secrets;
pub mod text;

/// The registered detectors.
pub fn registry() -> Vec<&'static dyn Detector> {
    vec![
        &accounts::Accounts,
        &credentials::Credentials,
        &keys::Keys,
        &secrets::Secrets,
    ]
}
