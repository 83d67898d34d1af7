//! Field paths as messages and provenance print them: `spec.template.spec.containers[0].image`,
//! and `metadata.labels["app.kubernetes.io/name"]` for a key that is not a plain field name.

/// The path of field `key` of the object at `parent` (the empty string is the root).
pub(crate) fn field(parent: &str, key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (plain, parent.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{parent}.{key}"),
        (false, _) => format!("{parent}[{key:?}]"),
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
}
