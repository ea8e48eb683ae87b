//! Passwords for encrypted archive members: the user's, the empty one, and a committed list of
//! publicly documented firmware and vendor archive passwords (`passwords.txt`), tried in that
//! order, with the work of key derivation bounded per scan.
//!
//! Firmware update bundles are often zips or 7z archives with a password that is public (the
//! vendor's tool carries it, a wiki documents it). Trying candidates costs key derivations
//! (PBKDF2 for WinZip AES, 2^n SHA-256 rounds for 7z), so a hostile archive with a million
//! encrypted members could otherwise take hours: a scan-wide work budget stops trying once
//! it is spent, and an archive reuses the password that opened one member for the others and
//! stops trying the whole list after a few members no candidate opened.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The committed list (see the file's header for its format).
const LIST: &str = include_str!("passwords.txt");

/// Hash rounds (SHA-1 or SHA-256 compressions of key derivation) one scan may spend on
/// trying passwords: 2^24, about 2 000 WinZip AES-256 derivations (8 000 rounds each) or 32
/// 7z derivations at 7-Zip's usual 2^19 rounds; a second or so in a release build.
pub const KEY_WORK_PER_SCAN: u64 = 1 << 24;

/// Members of one archive that no candidate opened before the archive stops trying the whole
/// list (later members are tried with a password that opened an earlier one, if any).
const MAX_FAILED_MEMBERS: usize = 2;

/// The passwords of the committed list, in order.
pub fn builtin() -> impl Iterator<Item = &'static str> {
    LIST.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
}

/// Where a password that opened something came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The n-th (from 1) `--password` the user gave (the password itself is not reported).
    User(usize),
    /// The empty password.
    Empty,
    /// The n-th (from 1) password of the built-in list.
    List(usize),
}

impl Origin {
    /// How a report names it: `user supplied #1`, `empty`, `built-in list #3 (test)`.
    pub fn describe(&self) -> String {
        match *self {
            Origin::User(n) => format!("user supplied #{n}"),
            Origin::Empty => "empty".into(),
            Origin::List(n) => format!(
                "built-in list #{n} ({})",
                builtin().nth(n - 1).unwrap_or_default()
            ),
        }
    }
}

/// The passwords a scan may try and the key-derivation work it has left. Shared by every
/// archive of the scan (it lives in the scan's [`Budget`](crate::limits::Budget)).
#[derive(Debug)]
pub struct Keyring {
    user: Vec<Vec<u8>>,
    work_left: AtomicU64,
    exhausted: AtomicBool,
}

impl Default for Keyring {
    fn default() -> Self {
        Keyring::new(Vec::new())
    }
}

impl Keyring {
    /// A keyring with these user passwords (tried first) and the default work budget.
    pub fn new(user: Vec<String>) -> Self {
        Keyring::with_work(user, KEY_WORK_PER_SCAN)
    }

    /// A keyring with an explicit work budget (hash rounds), for tests and callers that
    /// want to spend more or less.
    pub fn with_work(user: Vec<String>, work: u64) -> Self {
        Keyring {
            user: user.into_iter().map(String::into_bytes).collect(),
            work_left: AtomicU64::new(work),
            exhausted: AtomicBool::new(false),
        }
    }

    /// Every candidate in the order tried: the user's, the empty password, the list.
    pub fn candidates(&self) -> impl Iterator<Item = (&[u8], Origin)> {
        let user = self
            .user
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_slice(), Origin::User(i + 1)));
        let list = builtin()
            .enumerate()
            .map(|(i, p)| (p.as_bytes(), Origin::List(i + 1)));
        user.chain(std::iter::once((&b""[..], Origin::Empty)))
            .chain(list)
    }

    /// The password of a candidate origin.
    fn password(&self, origin: Origin) -> Option<&[u8]> {
        match origin {
            Origin::User(n) => self.user.get(n.checked_sub(1)?).map(Vec::as_slice),
            Origin::Empty => Some(b""),
            Origin::List(n) => builtin().nth(n.checked_sub(1)?).map(str::as_bytes),
        }
    }

    /// Take `rounds` of key-derivation work from the scan's budget; `false` (and nothing
    /// taken) when not that much is left.
    pub fn spend(&self, rounds: u64) -> bool {
        let ok = self
            .work_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                w.checked_sub(rounds)
            })
            .is_ok();
        if !ok {
            self.exhausted.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// Whether an attempt was refused for want of work: which archives got to try then
    /// depends on thread timing, so the driver reports the tree as timing dependent.
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }
}

/// What trying the candidates on one member gave.
#[derive(Debug)]
pub enum Outcome<T> {
    /// A candidate opened it.
    Opened(T, Origin),
    /// No candidate opened it (or the archive no longer tries the whole list).
    NotFound,
    /// The scan's key-derivation work budget is spent.
    OutOfWork,
}

/// The password attempts of one archive: remembers the password that opened a member so the
/// others try it first, and gives up on the list after `MAX_FAILED_MEMBERS` failures.
pub struct Attempts<'k> {
    keyring: &'k Keyring,
    found: Option<Origin>,
    failed: usize,
    out_of_work: bool,
    skip_empty: bool,
}

impl<'k> Attempts<'k> {
    /// No attempt made yet.
    pub fn new(keyring: &'k Keyring) -> Self {
        Attempts {
            keyring,
            found: None,
            failed: 0,
            out_of_work: false,
            skip_empty: false,
        }
    }

    /// Leave out the empty password, for schemes that cannot use one (7-Zip refuses to
    /// encrypt with it), so that it costs no work.
    pub fn skip_empty(mut self) -> Self {
        self.skip_empty = true;
        self
    }

    /// Whether the scan's work budget ran out during this archive's attempts.
    pub fn out_of_work(&self) -> bool {
        self.out_of_work
    }

    /// Try candidates on one member: `attempt(password)` gives `Some` when the password is
    /// right; each attempt first takes `cost` hash rounds from the scan's budget.
    pub fn open<T>(
        &mut self,
        cost: u64,
        mut attempt: impl FnMut(&[u8]) -> Option<T>,
    ) -> Outcome<T> {
        if let Some(origin) = self.found {
            if let Some(p) = self.keyring.password(origin) {
                if !self.keyring.spend(cost) {
                    self.out_of_work = true;
                    return Outcome::OutOfWork;
                }
                if let Some(v) = attempt(p) {
                    return Outcome::Opened(v, origin);
                }
            }
        }
        if self.failed >= MAX_FAILED_MEMBERS {
            return Outcome::NotFound;
        }
        for (password, origin) in self.keyring.candidates() {
            if Some(origin) == self.found || (self.skip_empty && password.is_empty()) {
                continue;
            }
            if !self.keyring.spend(cost) {
                self.out_of_work = true;
                return Outcome::OutOfWork;
            }
            if let Some(v) = attempt(password) {
                self.found = Some(origin);
                return Outcome::Opened(v, origin);
            }
        }
        self.failed += 1;
        Outcome::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_password_has_a_source() {
        let mut sourced = false;
        let mut count = 0;
        for line in LIST.lines() {
            if line.starts_with("# source:") {
                sourced = true;
            } else if line.is_empty() {
                sourced = false;
            } else if !line.starts_with('#') {
                assert!(sourced, "{line:?} has no '# source:' line above it");
                assert_eq!(line.trim(), line, "{line:?} has stray spaces");
                count += 1;
            }
        }
        assert_eq!(builtin().count(), count);
        assert!(count > 0);
    }

    #[test]
    fn order_is_user_empty_list() {
        let k = Keyring::new(vec!["mine".into()]);
        let c: Vec<_> = k.candidates().take(3).collect();
        assert_eq!(c[0], (&b"mine"[..], Origin::User(1)));
        assert_eq!(c[1], (&b""[..], Origin::Empty));
        assert_eq!(c[2].1, Origin::List(1));
        assert_eq!(Origin::User(1).describe(), "user supplied #1");
        assert!(Origin::List(1).describe().starts_with("built-in list #1 ("));
    }

    #[test]
    fn found_password_is_reused_and_failures_stop_the_list() {
        let k = Keyring::new(vec![]);
        let mut a = Attempts::new(&k);
        let mut tried = 0;
        let r = a.open(1, |p| {
            tried += 1;
            (p == b"test").then_some(())
        });
        let Outcome::Opened((), origin) = r else {
            panic!("{r:?}")
        };
        assert_eq!(k.password(origin), Some(&b"test"[..]));
        tried = 0;
        assert!(matches!(
            a.open(1, |p| {
                tried += 1;
                (p == b"test").then_some(())
            }),
            Outcome::Opened(..)
        ));
        assert_eq!(tried, 1, "the found password is tried first");
        // Members nobody opens: the list is tried MAX_FAILED_MEMBERS times, then only the
        // found password.
        for _ in 0..MAX_FAILED_MEMBERS {
            assert!(matches!(a.open(1, |_| None::<()>), Outcome::NotFound));
        }
        tried = 0;
        assert!(matches!(
            a.open(1, |_| {
                tried += 1;
                None::<()>
            }),
            Outcome::NotFound
        ));
        assert_eq!(tried, 1);
    }

    #[test]
    fn work_budget_stops_attempts() {
        let k = Keyring::with_work(vec![], 3);
        let mut a = Attempts::new(&k);
        let mut tried = 0;
        let r = a.open(1, |_| {
            tried += 1;
            None::<()>
        });
        assert!(matches!(r, Outcome::OutOfWork));
        assert_eq!(tried, 3);
        assert!(a.out_of_work());
        assert!(!k.spend(1));
    }
}
