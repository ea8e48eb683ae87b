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
    let month_days = [
        31,
        28 + i64::from(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[(mo - 1) as usize] {
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
