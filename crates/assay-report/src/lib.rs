//! Report outputs (see issue 6).
