//! How a plain (unquoted) YAML scalar becomes a value: the YAML 1.2 core schema.
//!
//! `null`, `Null`, `NULL`, `~` and the empty scalar are null; `true`/`false` (also `True`,
//! `TRUE`...) are booleans; `12`, `-3`, `0o17`, `0x1F` are integers; `1.5`, `1e3`, `.5` are
//! floats. Everything else is a string, including the YAML 1.1 booleans `yes`, `no`, `on`, `off`
//! and octal-looking `0777`, which YAML 1.2 reads as the integer 777. `.inf` and `.nan` are
//! refused: JSON values cannot hold them.

use serde_json::{Number, Value};

/// The value of plain scalar `text`, or what is wrong with it.
pub(crate) fn resolve_plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(number) = integer(text) {
        return Ok(Value::Number(number));
    }
    if is_float(text) {
        let number =
            text.parse::<f64>().ok().and_then(Number::from_f64).ok_or_else(|| {
                format!("number {text} is too large; quote it to keep it as text")
            })?;
        return Ok(Value::Number(number));
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        return Err(format!(
            "{text} cannot be a value (JSON has no infinity or NaN); quote it to keep it as text"
        ));
    }
    Ok(Value::String(text.to_owned()))
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`, when it fits in 64 bits (larger decimal
/// integers are floats).
fn integer(text: &str) -> Option<Number> {
    if let Some(octal) = text.strip_prefix("0o") {
        return u64::from_str_radix(octal, 8).ok().filter(|_| all_digits(octal)).map(Number::from);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        let ok = !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
        return u64::from_str_radix(hex, 16).ok().filter(|_| ok).map(Number::from);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !all_digits(unsigned) {
        return None;
    }
    if let Ok(int) = text.parse::<i64>() {
        return Some(Number::from(int));
    }
    text.strip_prefix('+').unwrap_or(text).parse::<u64>().ok().map(Number::from)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (whole.is_empty() && all_digits(fraction))
                || (all_digits(whole) && (fraction.is_empty() || all_digits(fraction)))
        }
        None => all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| all_digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// Non-empty and only ASCII digits.
fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::resolve_plain;

    fn check(inputs: &[&str], expect: Expect) {
        let shown: Vec<String> = inputs
            .iter()
            .map(|text| match resolve_plain(text) {
                Ok(value) => format!("{text:?} => {value}"),
                Err(message) => format!("{text:?} => error: {message}"),
            })
            .collect();
        expect.assert_eq(&shown.join("\n"));
    }

    #[test]
    fn core_schema() {
        check(
            &[
                "",
                "~",
                "null",
                "NULL",
                "true",
                "False",
                "yes",
                "on",
                "off",
                "y",
                "12",
                "-3",
                "+4",
                "0777",
                "0o17",
                "0x1F",
                "0x",
                "1.5",
                "1.",
                ".5",
                "1e3",
                "-1.5E-2",
                "1.2.3",
                "e3",
                ".",
                "-",
                "1_000",
                "18446744073709551615",
                "99999999999999999999",
                "1e999",
                ".inf",
                "-.Inf",
                ".nan",
                "12:30",
            ],
            expect![[r#"
                "" => null
                "~" => null
                "null" => null
                "NULL" => null
                "true" => true
                "False" => false
                "yes" => "yes"
                "on" => "on"
                "off" => "off"
                "y" => "y"
                "12" => 12
                "-3" => -3
                "+4" => 4
                "0777" => 777
                "0o17" => 15
                "0x1F" => 31
                "0x" => "0x"
                "1.5" => 1.5
                "1." => 1.0
                ".5" => 0.5
                "1e3" => 1000.0
                "-1.5E-2" => -0.015
                "1.2.3" => "1.2.3"
                "e3" => "e3"
                "." => "."
                "-" => "-"
                "1_000" => "1_000"
                "18446744073709551615" => 18446744073709551615
                "99999999999999999999" => 1e+20
                "1e999" => error: number 1e999 is too large; quote it to keep it as text
                ".inf" => error: .inf cannot be a value (JSON has no infinity or NaN); quote it to keep it as text
                "-.Inf" => error: -.Inf cannot be a value (JSON has no infinity or NaN); quote it to keep it as text
                ".nan" => error: .nan cannot be a value (JSON has no infinity or NaN); quote it to keep it as text
                "12:30" => "12:30""#]],
        );
    }
}
