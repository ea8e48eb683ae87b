//! Member names of the archive formats made absolute the same way: for tar, cpio, zip and 7z
//! ([`absolute`]) trailing separators dropped, a leading `./` dropped where the format writes
//! one, and a leading `/` added; for the DOS archivers CAB, ARJ and RAR ([`dos_absolute`])
//! both `\` and `/` separate. `..` is kept verbatim: the driver checks and reports it. Also
//! the MS-DOS time stamps those DOS archivers store ([`dos_time`]).

/// Make a member name absolute without resolving `..`. `separators` are the characters
/// trimmed from the end (`/`, and `\` for formats written on Windows); with `dot_prefix`, a
/// leading `./` is dropped and `.` names the root.
pub(crate) fn absolute(name: &str, separators: &[char], dot_prefix: bool) -> String {
    let mut trimmed = name.trim_end_matches(separators);
    if dot_prefix {
        trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
        if trimmed == "." {
            return "/".into();
        }
    }
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// Make a name written by a DOS or Windows archiver (CAB, ARJ, RAR) absolute: `\` and `/`
/// both separate, empty and `.` components are dropped, `..` is kept verbatim for the driver
/// to check.
pub(crate) fn dos_absolute(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for part in name.split(['/', '\\']) {
        if part.is_empty() || part == "." {
            continue;
        }
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{absolute, dos_absolute};

    #[test]
    fn dos_names_become_absolute() {
        assert_eq!(dos_absolute("dir\\\\sub\\f.txt"), "/dir/sub/f.txt");
        assert_eq!(dos_absolute("./a/b/"), "/a/b");
        assert_eq!(dos_absolute("..\\x"), "/../x");
        assert_eq!(dos_absolute(""), "/");
    }

    #[test]
    fn names_become_absolute() {
        assert_eq!(absolute("./etc/passwd", &['/'], true), "/etc/passwd");
        assert_eq!(absolute("./", &['/'], true), "/");
        assert_eq!(absolute("", &['/'], true), "/");
        assert_eq!(absolute("bin\\", &['/', '\\'], false), "/bin");
        assert_eq!(absolute("./x", &['/', '\\'], false), "/./x");
        assert_eq!(absolute("../../etc/x", &['/'], true), "/../../etc/x");
    }
}

/// Unix seconds of an MS-DOS date and time (`date` in the high 16 bits of `stamp`, as ARJ and
/// RAR store it), read as UTC; `None` when a field is out of range.
pub(crate) fn dos_time(stamp: u32) -> Option<i64> {
    let (date, time) = (stamp >> 16, stamp & 0xffff);
    let year = 1980 + i64::from(date >> 9);
    let month = i64::from((date >> 5) & 15);
    let day = i64::from(date & 31);
    let (hour, min, sec) = (
        i64::from(time >> 11),
        i64::from((time >> 5) & 63),
        i64::from(time & 31) * 2,
    );
    if !(1..=12).contains(&month) || day == 0 || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + min * 60 + sec)
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn dos_time_converts() {
        // 2023-11-14 22:13:20 (what arj lists for the fixtures).
        let stamp = (((2023 - 1980) << 9 | 11 << 5 | 14) << 16) | (22 << 11 | 13 << 5 | 10);
        assert_eq!(super::dos_time(stamp), Some(1_700_000_000));
        assert_eq!(super::dos_time(0), None);
    }
}
