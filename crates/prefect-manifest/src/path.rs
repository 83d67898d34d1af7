//! Field paths as messages and provenance print them: `spec.template.spec.containers[0].image`,
//! and `metadata.labels["app.kubernetes.io/name"]` for a key that is not a plain field name.

use std::fmt;

/// The path of field `key` of the object at `parent` (the empty string is the root).
pub(crate) fn field(parent: &str, key: &str) -> String {
    match (is_plain(key), parent.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{parent}.{key}"),
        (false, _) => format!("{parent}[{key:?}]"),
    }
}

/// Whether `key` is written as `.key` rather than `["key"]`.
fn is_plain(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A path not yet written out: a walk over every field of thousands of objects builds one
/// per field on the stack and formats it ([`fmt::Display`], as [`field`] and [`index`] would)
/// only for the few fields it reports.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The object itself.
    Root,
    /// Field `key` of the map at the parent path.
    Field(&'a Path<'a>, &'a str),
    /// Item `index` of the sequence at the parent path.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// Field `key` of the map at this path.
    pub(crate) fn field(&'a self, key: &'a str) -> Path<'a> {
        Path::Field(self, key)
    }

    /// Item `index` of the sequence at this path.
    pub(crate) fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Path::Root => Ok(()),
            Path::Field(parent, key) => {
                parent.fmt(f)?;
                match (is_plain(key), matches!(parent, Path::Root)) {
                    (true, true) => f.write_str(key),
                    (true, false) => write!(f, ".{key}"),
                    (false, _) => write!(f, "[{key:?}]"),
                }
            }
            Path::Index(parent, index) => {
                parent.fmt(f)?;
                write!(f, "[{index}]")
            }
        }
    }
}

/// The path of item `index` of the sequence at `parent`.
pub(crate) fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_quoted_keys() {
        assert_eq!(field("", "spec"), "spec");
        assert_eq!(field("spec", "runAsUser"), "spec.runAsUser");
        assert_eq!(field("metadata.labels", "app"), "metadata.labels.app");
        assert_eq!(
            field("metadata.labels", "app.kubernetes.io/name"),
            r#"metadata.labels["app.kubernetes.io/name"]"#
        );
        assert_eq!(field("", "a b"), r#"["a b"]"#);
        assert_eq!(index("spec.containers", 0), "spec.containers[0]");
    }

    #[test]
    fn a_lazy_path_writes_what_field_and_index_would() {
        let root = Path::Root;
        let labels = root.field("metadata");
        let labels = labels.field("labels");
        let odd = labels.field("app.kubernetes.io/name");
        assert_eq!(
            odd.to_string(),
            field(&field(&field("", "metadata"), "labels"), "app.kubernetes.io/name")
        );
        let spec = root.field("spec");
        let containers = spec.field("containers");
        let first = containers.index(0);
        assert_eq!(first.field("image").to_string(), "spec.containers[0].image");
        assert_eq!(root.field("a b").to_string(), r#"["a b"]"#);
        assert_eq!(root.to_string(), "");
    }
}
