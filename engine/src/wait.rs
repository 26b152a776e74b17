//! When a timed WAIT ends: `duration` ("2 days 3 hours", "30m") or `until`
//! ("2026-11-22 14:30", "2026-11-22 14:30 Europe/Paris", "2026-11-22", RFC 3339).
//!
//! Pure: the deadline is computed from the `now` the caller passes in. Times without a zone
//! are UTC (Conductor uses the server's zone, which is UTC in most deployments).

use baton_model::JsonMap;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp, Unit};
use serde_json::Value;

/// What a WAIT task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// An external signal or update; no deadline.
    Signal,
    /// Until this time (epoch ms); it may already have passed.
    Deadline(i64),
}

/// Reads a WAIT task's input. An error is the task's `reasonForIncompletion`, in Conductor's
/// words where Conductor has them.
pub fn wait_for(input: &JsonMap, now: i64) -> Result<WaitFor, String> {
    let text = |key: &str| match input.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.trim().to_owned()),
        Some(other) => Some(other.to_string()),
    };
    let duration = text("duration").filter(|t| !t.is_empty());
    let until = text("until").filter(|t| !t.is_empty());
    match (duration, until) {
        (Some(_), Some(_)) => {
            Err("Both 'duration' and 'until' specified. Please provide only one input".into())
        }
        (Some(duration), None) => {
            let millis = duration_ms(&duration).ok_or_else(|| {
                format!("Invalid/Unsupported Wait duration format.  Provided: {duration}")
            })?;
            Ok(WaitFor::Deadline(now.saturating_add(millis)))
        }
        (None, Some(until)) => until_ms(&until)
            .map(WaitFor::Deadline)
            .ok_or_else(|| format!("Invalid/Unsupported Wait Until format.  Provided: {until}")),
        (None, None) => Ok(WaitFor::Signal),
    }
}

/// A duration in milliseconds: jiff's friendly format ("2 days 3 hours", "1h30m", "45s"),
/// ISO 8601 ("PT30M"), or a bare number of seconds. Days are 24 hours.
fn duration_ms(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return (seconds >= 0).then(|| seconds.saturating_mul(1000));
    }
    let span: Span = text.parse().ok()?;
    let seconds = span
        .total((Unit::Millisecond, SpanRelativeTo::days_are_24_hours()))
        .ok()?;
    (seconds >= 0.0 && seconds < i64::MAX as f64).then_some(seconds as i64)
}

/// A point in time in epoch milliseconds.
fn until_ms(text: &str) -> Option<i64> {
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp.as_millisecond());
    }
    if let Ok(civil) = DateTime::strptime("%Y-%m-%d %H:%M", text) {
        return in_zone(civil, TimeZone::UTC);
    }
    if let Ok(date) = Date::strptime("%Y-%m-%d", text) {
        return in_zone(
            date.to_datetime(jiff::civil::Time::midnight()),
            TimeZone::UTC,
        );
    }
    // "yyyy-MM-dd HH:mm <zone>": an IANA name, UTC/GMT, or an offset such as +05:30.
    let (civil, zone) = text.rsplit_once(' ')?;
    let civil = DateTime::strptime("%Y-%m-%d %H:%M", civil.trim()).ok()?;
    in_zone(civil, zone_named(zone)?)
}

fn zone_named(name: &str) -> Option<TimeZone> {
    if matches!(name, "UTC" | "GMT" | "Z") {
        return Some(TimeZone::UTC);
    }
    if let Ok(zone) = TimeZone::get(name) {
        return Some(zone);
    }
    let offset: jiff::tz::Offset = format!("2000-01-01T00:00:00{name}")
        .parse::<jiff::Zoned>()
        .ok()
        .map(|zoned| zoned.offset())
        .or_else(|| {
            let (sign, rest) = name.split_at(1);
            let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
            let total = SignedDuration::from_hours(hours.parse().ok()?)
                + SignedDuration::from_mins(minutes.parse().ok()?);
            let total = if sign == "-" { -total } else { total };
            jiff::tz::Offset::from_seconds(total.as_secs() as i32).ok()
        })?;
    Some(TimeZone::fixed(offset))
}

fn in_zone(civil: DateTime, zone: TimeZone) -> Option<i64> {
    civil
        .to_zoned(zone)
        .ok()
        .map(|zoned| zoned.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000_000;

    fn wait(input: Value) -> Result<WaitFor, String> {
        wait_for(input.as_object().unwrap(), NOW)
    }

    #[test]
    fn durations_in_conductor_forms() {
        for (text, seconds) in [
            ("2 days 3 hours", 2 * 86_400 + 3 * 3600),
            ("30m", 1800),
            ("1h", 3600),
            ("1 hour 10 minutes 5 seconds", 3600 + 600 + 5),
            ("10s", 10),
            ("PT2M", 120),
            ("45", 45),
        ] {
            assert_eq!(
                wait(json!({"duration": text})),
                Ok(WaitFor::Deadline(NOW + seconds * 1000)),
                "{text}"
            );
        }
    }

    #[test]
    fn until_in_conductor_forms() {
        let utc = |text: &str| text.parse::<Timestamp>().unwrap().as_millisecond();
        for (text, at) in [
            ("2026-11-22 14:30", utc("2026-11-22T14:30:00Z")),
            ("2026-11-22", utc("2026-11-22T00:00:00Z")),
            ("2026-11-22 14:30 GMT", utc("2026-11-22T14:30:00Z")),
            ("2026-11-22 14:30 Europe/Paris", utc("2026-11-22T13:30:00Z")),
            ("2026-11-22 14:30 +05:30", utc("2026-11-22T09:00:00Z")),
            ("2026-11-22T14:30:00Z", utc("2026-11-22T14:30:00Z")),
        ] {
            assert_eq!(
                wait(json!({"until": text})),
                Ok(WaitFor::Deadline(at)),
                "{text}"
            );
        }
    }

    #[test]
    fn no_time_waits_for_a_signal() {
        assert_eq!(wait(json!({})), Ok(WaitFor::Signal));
        assert_eq!(wait(json!({"duration": ""})), Ok(WaitFor::Signal));
    }

    #[test]
    fn bad_or_conflicting_times_are_refused_with_a_reason() {
        assert_eq!(
            wait(json!({"duration": "1h", "until": "2026-11-22"})),
            Err("Both 'duration' and 'until' specified. Please provide only one input".into())
        );
        assert!(wait(json!({"until": "next tuesday"}))
            .unwrap_err()
            .contains("Invalid/Unsupported Wait Until format.  Provided: next tuesday"));
        assert!(wait(json!({"duration": "soon"}))
            .unwrap_err()
            .contains("Provided: soon"));
        assert!(wait(json!({"duration": "-5"})).is_err());
    }
}
