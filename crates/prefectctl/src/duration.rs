//! Durations as Helm and kubectl users write them: Go's `500ms`, `90s`, `1h30m`, `1.5h`, or a
//! bare number of seconds (kubectl's `--request-timeout` and earlier prefectctl take it).
//!
//! jiff's "friendly" format is a superset of Go's (it also reads `5 minutes` and ISO 8601's
//! `PT5M`), so it parses; this module only adds the bare seconds and refuses negative spans.

use std::time::Duration;

use jiff::SignedDuration;

/// Reads a duration.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = |why: String| {
        format!("{text:?} is not a duration ({why}): write it as 500ms, 90s, 5m, 1h30m or 1.5h")
    };
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let signed: SignedDuration = text.parse().map_err(|err: jiff::Error| bad(err.to_string()))?;
    Duration::try_from(signed).map_err(|_| bad("it is negative".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_and_bare_seconds() {
        assert_eq!(parse("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2m30.5s"), Ok(Duration::from_millis(150_500)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn mistakes_are_explained() {
        let err = parse("soon").unwrap_err();
        assert!(err.starts_with("\"soon\" is not a duration ("), "{err}");
        assert!(err.ends_with("write it as 500ms, 90s, 5m, 1h30m or 1.5h"), "{err}");
        assert!(parse("-5m").unwrap_err().contains("it is negative"));
        assert!(parse("").is_err() && parse("5m3").is_err() && parse("m").is_err());
    }
}
