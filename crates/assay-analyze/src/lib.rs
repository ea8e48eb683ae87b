//! Detectors (see issue 4).
