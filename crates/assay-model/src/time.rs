//! UTC calendar dates, written once for the whole workspace: the report's reference time
//! (`as_of`), certificate validity, SBOM timestamps and feed import dates all go through here.
//! No date crate: Assay only needs to print and read `YYYY-MM-DD[THH:MM:SSZ]` in UTC, which is
//! a page of arithmetic (Howard Hinnant's civil-date algorithms).

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Year, month, day of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let s = secs.rem_euclid(86400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Whether a year, month (1–12) and day name a real day of the proleptic Gregorian calendar.
pub fn is_valid_date(year: i64, month: i64, day: i64) -> bool {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Unix seconds of a UTC date and time of day, as file systems and archives store them in
/// fields; `None` for an impossible one (a leap second, 60, is accepted).
pub fn unix_from_civil(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<i64> {
    if !is_valid_date(year, month, day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..=60).contains(&second)
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second)
}

/// Unix seconds of an MS-DOS date and time (FAT directory entries, ZIP headers). They carry
/// no time zone; Assay reads them as UTC. `None` for the all-zero "no date" and for
/// impossible fields.
pub fn from_dos(date: u16, time: u16) -> Option<i64> {
    if date == 0 {
        return None;
    }
    let year = 1980 + i64::from(date >> 9);
    let month = i64::from((date >> 5) & 0x0f);
    let day = i64::from(date & 0x1f);
    let hour = i64::from(time >> 11);
    let minute = i64::from((time >> 5) & 0x3f);
    let second = i64::from(time & 0x1f) * 2;
    unix_from_civil(year, month, day, hour, minute, second)
}

/// Read `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` (UTC) or `@SECONDS` (Unix time) into Unix
/// seconds; `None` for anything else, including impossible dates.
pub fn parse_utc(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Some(secs) = t.strip_prefix('@') {
        return secs.parse().ok();
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if t.get(4..5) != Some("-") || t.get(7..8) != Some("-") {
        return None;
    }
    if !is_valid_date(y, mo, d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86400;
    match t.len() {
        10 => {}
        20 => {
            let seps = (t.get(10..11), t.get(13..14), t.get(16..17), t.get(19..20));
            if !matches!(
                seps,
                (Some("T" | "t" | " "), Some(":"), Some(":"), Some("Z" | "z"))
            ) {
                return None;
            }
            let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
            if h > 23 || mi > 59 || s > 60 {
                return None;
            }
            secs += h * 3600 + mi * 60 + s;
        }
        _ => return None,
    }
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_utc("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_utc("2100-01-01"), Some(4_102_444_800));
        assert_eq!(parse_utc("@1700000000"), Some(1_700_000_000));
        assert_eq!(parse_utc("2024-02-29"), Some(1_709_164_800));
        for secs in [-86_401, 951_782_400, 4_102_444_799] {
            assert_eq!(parse_utc(&format_utc(secs)), Some(secs));
        }
    }

    #[test]
    fn reads_dos_dates_as_utc() {
        // 2023-11-14 22:13:20: date (43 << 9) | (11 << 5) | 14, time (22 << 11) | (13 << 5) | 10.
        let date = (43 << 9) | (11 << 5) | 14;
        let time = (22 << 11) | (13 << 5) | 10;
        assert_eq!(from_dos(date, time), Some(1_700_000_000));
        assert_eq!(from_dos(0, 0), None);
        assert_eq!(from_dos((43 << 9) | (2 << 5) | 30, 0), None, "30 February");
        assert_eq!(from_dos(date, 24 << 11), None, "hour 24");
        assert_eq!(unix_from_civil(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(unix_from_civil(2024, 2, 29, 12, 0, 0), Some(1_709_208_000));
        assert_eq!(unix_from_civil(2023, 2, 29, 0, 0, 0), None);
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "2023-1-01",
            "yesterday",
            "2023-11-14T25:00:00Z",
            "2023-11-14X",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
