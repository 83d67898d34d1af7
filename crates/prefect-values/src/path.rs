//! [`ValuePath`]: where a value sits in the values tree, printed as users read it.
//!
//! A path is a list of [`Segment`]s, mapping keys and sequence indexes. It prints like the
//! field paths of `prefect-manifest`: `server.image.tag`, `server.tolerations[0].key`, and
//! `server.annotations["kubernetes.io/ingress.class"]` for a key that is not a plain name (plain
//! means: starts with an ASCII letter or `_`, then only ASCII letters, digits, `_` and `-`).

use std::fmt;

/// One step of a [`ValuePath`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A key of a mapping.
    Key(String),
    /// An index of a sequence, from 0.
    Index(usize),
}

/// Where a value sits in the values tree; the empty path is the whole tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValuePath {
    segments: Vec<Segment>,
}

impl ValuePath {
    /// The path of the whole tree.
    pub fn root() -> ValuePath {
        ValuePath::default()
    }

    /// The path of the value under key `key` of the mapping at this path.
    pub fn key(&self, key: &str) -> ValuePath {
        self.child(Segment::Key(key.to_owned()))
    }

    /// The path of item `index` of the sequence at this path.
    pub fn index(&self, index: usize) -> ValuePath {
        self.child(Segment::Index(index))
    }

    /// This path with one more segment.
    pub fn child(&self, segment: Segment) -> ValuePath {
        let mut segments = self.segments.clone();
        segments.push(segment);
        ValuePath { segments }
    }

    /// The segments, from the top of the tree down.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The path one level up, or `None` for the root.
    pub fn parent(&self) -> Option<ValuePath> {
        let (_, rest) = self.segments.split_last()?;
        Some(ValuePath { segments: rest.to_vec() })
    }

    /// Reads a path as [`ValuePath`]'s `Display` writes it (`ingress.tls[0].hosts`,
    /// `annotations["kubernetes.io/x"]`), as plugins report paths in their results. Text that
    /// does not follow that syntax is taken as far as it does, then as one key.
    pub fn parse(text: &str) -> ValuePath {
        let mut segments = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                if let Some((index, tail)) = after.split_once(']')
                    && let Ok(index) = index.parse()
                {
                    segments.push(Segment::Index(index));
                    rest = tail;
                    continue;
                }
                if let Some(quoted) = after.strip_prefix('"')
                    && let Some((key, tail)) = quoted.split_once("\"]")
                {
                    segments.push(Segment::Key(key.to_owned()));
                    rest = tail;
                    continue;
                }
            }
            let rest_key = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_key.find(['.', '[']).unwrap_or(rest_key.len());
            if end == 0 {
                segments.push(Segment::Key(rest_key.to_owned()));
                break;
            }
            segments.push(Segment::Key(rest_key[..end].to_owned()));
            rest = &rest_key[end..];
        }
        ValuePath { segments }
    }

    /// Whether `self` is `prefix` or lies under it.
    pub fn starts_with(&self, prefix: &ValuePath) -> bool {
        self.segments.starts_with(&prefix.segments)
    }
}

impl From<Vec<Segment>> for ValuePath {
    fn from(segments: Vec<Segment>) -> ValuePath {
        ValuePath { segments }
    }
}

impl fmt::Display for ValuePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Key(key) if is_plain(key) && i == 0 => f.write_str(key)?,
                Segment::Key(key) if is_plain(key) => write!(f, ".{key}")?,
                Segment::Key(key) => write!(f, "[{key:?}]")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Whether `key` prints without quotes.
fn is_plain(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_what_display_writes() {
        for text in [
            "ingress.host",
            "tolerations[0].key",
            r#"annotations["kubernetes.io/ingress.class"]"#,
            "env[2]",
            "",
        ] {
            assert_eq!(ValuePath::parse(text).to_string(), text);
        }
        assert_eq!(
            ValuePath::parse("a[1].b").segments(),
            [Segment::Key("a".into()), Segment::Index(1), Segment::Key("b".into())]
        );
    }
}
