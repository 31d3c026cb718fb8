//! Durations as admins write them: `180s`, `30m`, `8h`, `1d` (one number, one unit).

use time::Duration;

/// Parse `<integer><unit>` with unit `s`, `m`, `h` or `d`. A bare number is refused: a unit-less
/// `clock_skew = 180` is too easy to misread as minutes.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("\"{text}\" has no unit (write e.g. \"180s\", \"30m\", \"8h\")"))?;
    let (number, unit) = t.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" does not start with a whole number"))?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "\"{text}\": unknown unit \"{unit}\" (use s, m, h or d)"
            ));
        }
    };
    n.checked_mul(seconds_per_unit)
        .map(Duration::seconds)
        .ok_or_else(|| format!("\"{text}\" is too large"))
}

/// `180s`, `30m`, `8h` back again, for messages.
pub fn format_duration(d: Duration) -> String {
    let s = d.whole_seconds();
    if s != 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s != 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_duration("180s"), Ok(Duration::seconds(180)));
        assert_eq!(parse_duration("30m"), Ok(Duration::minutes(30)));
        assert_eq!(parse_duration("8h"), Ok(Duration::hours(8)));
        assert_eq!(parse_duration("1d"), Ok(Duration::days(1)));
    }

    #[test]
    fn refuses_a_bare_number_and_unknown_units() {
        assert!(parse_duration("180").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }

    #[test]
    fn formats_in_the_largest_whole_unit() {
        assert_eq!(format_duration(Duration::seconds(300)), "5m");
        assert_eq!(format_duration(Duration::seconds(301)), "301s");
        assert_eq!(format_duration(Duration::hours(8)), "8h");
    }
}
