//! [`Provenance`]: who added a resource, and which fields each later plugin changed.

use std::fmt;

/// Who added a resource and which fields were changed after, by whom, in order.
///
/// It displays as `added by server; changed by openshift-security
/// (spec.template.spec.securityContext.runAsUser, spec.template.spec.securityContext.runAsGroup)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The plugin that added the resource.
    pub added_by: String,
    /// The changes since, oldest first; consecutive changes by one plugin are merged.
    pub changes: Vec<Change>,
    /// The plugin that removed the resource from the graph, if one did
    /// ([`Graph::removed`](crate::Graph::removed)).
    pub removed_by: Option<String>,
}

/// The fields one plugin (or host pass) changed in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The plugin, or the name of the host pass, that made the change.
    pub plugin: String,
    /// The paths of the leaves that were added, removed or changed, such as
    /// `spec.template.spec.containers[0].image` (see [`crate::diff`]).
    pub paths: Vec<String>,
}

impl Provenance {
    /// The provenance of a resource `plugin` has just added.
    pub fn new(plugin: &str) -> Provenance {
        Provenance { added_by: plugin.to_owned(), changes: Vec::new(), removed_by: None }
    }

    /// Records that `plugin` changed `paths`; merged into the last change if that was by
    /// `plugin` too. Nothing is recorded for no paths.
    pub fn record(&mut self, plugin: &str, paths: Vec<String>) {
        if paths.is_empty() {
            return;
        }
        match self.changes.last_mut() {
            Some(last) if last.plugin == plugin => {
                for path in paths {
                    if !last.paths.contains(&path) {
                        last.paths.push(path);
                    }
                }
            }
            _ => self.changes.push(Change { plugin: plugin.to_owned(), paths }),
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "added by {}", self.added_by)?;
        for change in &self.changes {
            write!(f, "; changed by {} ({})", change.plugin, change.paths.join(", "))?;
        }
        if let Some(plugin) = &self.removed_by {
            write!(f, "; removed by {plugin}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn consecutive_changes_by_one_plugin_merge() {
        let mut provenance = Provenance::new("server");
        provenance.record("openshift-security", vec!["spec.a".to_owned(), "spec.b".to_owned()]);
        provenance.record("openshift-security", vec!["spec.b".to_owned(), "spec.c".to_owned()]);
        provenance.record("global", vec![]);
        provenance.record("global", vec!["metadata.labels.team".to_owned()]);
        expect![[r#"added by server; changed by openshift-security (spec.a, spec.b, spec.c); changed by global (metadata.labels.team)"#]]
            .assert_eq(&provenance.to_string());
    }
}
