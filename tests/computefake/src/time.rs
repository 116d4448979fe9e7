//! Timestamps in the RFC 3339 form the Compute API uses, computed without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

/// `2026-03-01T12:00:00.000Z`-style text (UTC, milliseconds always zero).
pub fn rfc3339(unix_seconds: u64) -> String {
    let (year, month, day) = date_of_day(unix_seconds / 86_400);
    let second_of_day = unix_seconds % 86_400;
    let (hour, minute, second) = (second_of_day / 3600, second_of_day % 3600 / 60, second_of_day % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.000Z")
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01.
fn date_of_day(days_since_epoch: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each counted year.
    let shifted = days_since_epoch + 719_468;
    let cycle = shifted / 146_097;
    let day_of_cycle = shifted % 146_097;
    let year_of_cycle = (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = cycle * 400 + year_of_cycle + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_reference_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(68_169_600), "1972-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_709_208_000), "2024-02-29T12:00:00.000Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59.000Z");
    }
}
