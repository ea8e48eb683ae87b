//! What the detectors are configured with, as a value: the compiled YARA rule pack (built-in
//! rules plus the user's rule directories) and the extra password candidates. A scan carries
//! one [`DetectorConfig`] down into its [`Analysis`](crate::Analysis); two scans with different
//! configs run side by side in one process, each with its own answers.

use crate::detectors::rulepack::{RulePack, RulePackError};
use crate::{Detector, Rule};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

/// The built-in rule pack, compiled once on first use and shared by every config that adds no
/// rule directory.
static BUILTIN_PACK: LazyLock<Arc<RulePack>> = LazyLock::new(|| {
    // The built-in rules are part of the program; the rule pack's tests compile them.
    Arc::new(RulePack::builtin().expect("built-in YARA rules compile"))
});

/// The config of a plain scan: built-in rules, no extra words.
static DEFAULT: LazyLock<DetectorConfig> = LazyLock::new(|| DetectorConfig {
    rule_pack: Arc::clone(&BUILTIN_PACK),
    extra_words: Arc::from(Vec::new()),
});

/// The detectors' settings. Cheap to clone (the compiled pack and the word list are shared).
#[derive(Debug, Clone)]
pub struct DetectorConfig {
    rule_pack: Arc<RulePack>,
    extra_words: Arc<[String]>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DEFAULT.clone()
    }
}

impl DetectorConfig {
    /// Built-in rules, no extra password candidates.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared default config, for an [`Analysis`](crate::Analysis) built without one.
    pub fn builtin() -> &'static DetectorConfig {
        &DEFAULT
    }

    /// Compile the built-in rules plus every `*.yar`/`*.yara` file of each directory (sorted
    /// by name, one namespace per file). With no directory the shared built-in pack is kept.
    pub fn with_rule_dirs(mut self, dirs: &[PathBuf]) -> Result<Self, RulePackError> {
        self.rule_pack = if dirs.is_empty() {
            Arc::clone(&BUILTIN_PACK)
        } else {
            Arc::new(RulePack::compile(dirs)?)
        };
        Ok(self)
    }

    /// Use an already compiled pack (a server compiles a tenant's rules once).
    pub fn with_rule_pack(mut self, pack: Arc<RulePack>) -> Self {
        self.rule_pack = pack;
        self
    }

    /// Extra candidate passwords for the hash cracker, tried after the account's own variants
    /// and before the built-in list.
    pub fn with_extra_words(mut self, words: Vec<String>) -> Self {
        self.extra_words = Arc::from(words);
        self
    }

    /// The candidates of a word list file's bytes: one per line, `\r` trimmed, empty lines
    /// skipped, invalid UTF-8 replaced.
    pub fn words_of_list(bytes: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The compiled rule pack.
    pub fn rule_pack(&self) -> &RulePack {
        &self.rule_pack
    }

    /// The extra password candidates.
    pub fn extra_words(&self) -> &[String] {
        &self.extra_words
    }

    /// Every rule of every registered detector under this config, in registry order (the
    /// rule pack's include the user's rules).
    pub fn rules(&self) -> Vec<Rule<&str>> {
        crate::detectors::registry()
            .into_iter()
            .flat_map(|d: &'static dyn Detector| d.rules_in(self))
            .collect()
    }
}
