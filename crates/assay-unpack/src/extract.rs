//! Writing an unpacked tree to disk for browsing (placeholder until the safe writer lands).
