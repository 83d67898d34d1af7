//! Names and labels every first-party plugin uses, so that resources of one release look alike
//! whichever plugin made them.

use std::collections::BTreeMap;

/// The value of `app.kubernetes.io/managed-by` on every resource.
pub const MANAGED_BY: &str = "prefectctl";

pub use prefect_plugin_abi::wire::DATA_ANNOTATION;

/// `<release>-<component>`, cut to 63 characters without a trailing `-`; when the release name
/// already ends with the component (`prefect-server` + `server`), the release name alone.
pub fn full_name(release: &str, component: &str) -> String {
    let contains_component = release == component
        || release.strip_suffix(component).is_some_and(|rest| rest.ends_with('-'));
    let mut name = String::with_capacity(release.len() + 1 + component.len());
    name.push_str(release);
    if !contains_component {
        name.push('-');
        name.push_str(component);
    }
    if let Some((end, _)) = name.char_indices().nth(63) {
        name.truncate(end);
    }
    while name.ends_with('-') {
        name.pop();
    }
    name
}

/// The labels that select a component's pods: name and instance, which never change across
/// upgrades (a Deployment's selector is immutable).
pub fn selector(release: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), format!("prefect-{component}")),
        ("app.kubernetes.io/instance".to_owned(), release.to_owned()),
    ])
}

/// The selector labels plus component, part-of and managed-by.
pub fn standard(release: &str, component: &str) -> BTreeMap<String, String> {
    let mut labels = selector(release, component);
    labels.insert("app.kubernetes.io/component".to_owned(), component.to_owned());
    labels.insert("app.kubernetes.io/part-of".to_owned(), "prefect".to_owned());
    labels.insert("app.kubernetes.io/managed-by".to_owned(), MANAGED_BY.to_owned());
    labels
}

/// Whether a kind is cluster-scoped (carries no namespace): the graph's own list, so that what
/// a plugin leaves without a namespace is what the host accepts without one.
pub use prefect_manifest::is_cluster_scoped;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_name_joins_cuts_and_avoids_repeats() {
        assert_eq!(full_name("prefect", "server"), "prefect-server");
        assert_eq!(full_name("prefect-server", "server"), "prefect-server");
        assert_eq!(full_name("server", "server"), "server");
        let long = "a".repeat(60);
        assert_eq!(full_name(&long, "server"), format!("{long}-se"));
        assert_eq!(full_name(&"b".repeat(62), "server"), "b".repeat(62));
    }
}
