//! Durations as users write them on the command line: `90s`, `5m`, `1h30m`, or plain seconds.

use std::time::Duration;

/// Reads a duration: numbers each followed by `h`, `m` or `s`, or one bare number of seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("{text:?} is not a duration: write it as 90s, 5m, 1h30m or a number of seconds");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let value: u64 = number.parse().map_err(|_| bad())?;
        total = value.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse("5 minutes").unwrap_err().contains("write it as 90s, 5m"));
        assert!(parse("").is_err() && parse("5m3").is_err() && parse("m").is_err());
    }
}
