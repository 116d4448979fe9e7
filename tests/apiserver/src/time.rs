//! RFC 3339 timestamps without a date library.

/// The current UTC time, seconds precision, as Kubernetes writes it.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_unix(secs)
}

/// `seconds` from now, as [`now_rfc3339`] writes it.
pub fn rfc3339_in(seconds: u64) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_unix(secs + seconds)
}

/// Format seconds since the epoch (civil-from-days, proleptic Gregorian calendar).
pub fn format_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// `seconds` and `nanos` since the epoch with `digits` fractional digits (0 for `metav1.Time`, 6 for
/// `metav1.MicroTime`), as Go's `time.RFC3339` and `RFC3339Micro` layouts write UTC times.
pub fn format_unix_fraction(seconds: i64, nanos: u32, digits: usize) -> String {
    let whole = format_unix(seconds.max(0) as u64);
    if digits == 0 {
        return whole;
    }
    let fraction = format!("{nanos:09}");
    format!("{}.{}Z", whole.trim_end_matches('Z'), &fraction[..digits.min(9)])
}

/// Seconds and nanoseconds since the epoch of an RFC 3339 timestamp (`Z` or `±hh:mm` offsets).
pub fn parse_rfc3339(text: &str) -> Option<(i64, u32)> {
    let number = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<i64>().ok());
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let rest = text.get(19..)?;
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(tail) => tail.split_at(tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len())),
        None => ("", rest),
    };
    let nanos = if fraction.is_empty() { 0 } else { format!("{:0<9}", &fraction[..fraction.len().min(9)]).parse().ok()? };
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = (zone.get(1..3)?.parse::<i64>().ok()?, zone.get(4..6)?.parse::<i64>().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset, nanos))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_what_it_formats() {
        for secs in [0, 951_782_400, 1_798_761_599, 1_767_225_600] {
            assert_eq!(super::parse_rfc3339(&super::format_unix(secs as u64)), Some((secs, 0)));
        }
        assert_eq!(super::parse_rfc3339("2026-01-01T01:00:00.5+01:00"), Some((1_767_225_600, 500_000_000)));
        assert_eq!(super::format_unix_fraction(1_767_225_600, 1_500, 6), "2026-01-01T00:00:00.000001Z");
        assert_eq!(super::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(super::format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::format_unix(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
