//! [`Error`]: why the graph refused a plugin's resources or a host pass's changes.
//!
//! Every message names the plugin (or pass) and the resource, and says what to do next; the
//! host prints them as they are, one per line.

use std::fmt;

use crate::{InvalidObject, ResourceKey};

/// A `Result` whose error is, by default, this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the graph refused a plugin's resources or a host pass's changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An object a plugin returned is not a valid Kubernetes object. An object with several
    /// problems gives one error per problem.
    #[error("plugin `{plugin}`: {}: {problem}", which(item, key))]
    InvalidObject {
        /// The plugin that returned the object.
        plugin: String,
        /// Where in the plugin's response the object is.
        item: Item,
        /// The object's key, when its `apiVersion`, `kind` and `metadata.name` are strings.
        key: Option<ResourceKey>,
        /// What is wrong, and in which field. (Part of the message, not a separate cause.)
        problem: InvalidObject,
    },
    /// A plugin added a resource that is already in the graph.
    #[error(
        "{key} is added by both `{first_plugin}` and `{second_plugin}`: a plugin that means to change another's resource returns it in `changed`; otherwise rename one of them"
    )]
    Conflict {
        /// The resource.
        key: ResourceKey,
        /// The plugin that added it first.
        first_plugin: String,
        /// The plugin that added it again.
        second_plugin: String,
    },
    /// A plugin returned the same resource twice in one response.
    #[error(
        "plugin `{plugin}` returns {key} twice, as {first} and {second}: return each resource once"
    )]
    Duplicate {
        /// The plugin.
        plugin: String,
        /// The resource.
        key: ResourceKey,
        /// Where it is first in the response.
        first: Item,
        /// Where it is again.
        second: Item,
    },
    /// A plugin changed a resource that is not in the graph.
    #[error(
        "plugin `{plugin}` changes {key} ({item}), which no plugin before it added: return a new resource in `items`, not in `changed`, and keep the kind, namespace and name of a resource you change"
    )]
    ChangedMissing {
        /// The plugin.
        plugin: String,
        /// The key of the object it returned as changed.
        key: ResourceKey,
        /// Where in the response the object is.
        item: Item,
    },
    /// A plugin changed the API group of a resource in the graph (the same kind, namespace and
    /// name in another group), which would make it another object.
    #[error(
        "plugin `{plugin}` changes {} into {} ({item}): a plugin cannot change a resource's API group, kind, namespace or name; add a new resource in `items` instead",
        key.long(),
        new_key.long()
    )]
    ChangedIdentity {
        /// The plugin.
        plugin: String,
        /// The resource in the graph.
        key: ResourceKey,
        /// The key of the object the plugin returned.
        new_key: ResourceKey,
        /// Where in the response the object is.
        item: Item,
    },
    /// A plugin removed a resource that is not in the graph.
    #[error(
        "plugin `{plugin}` removes {key} ({item}), which is not in the graph: remove only resources of the request's `items`, by their API group, kind, namespace and name"
    )]
    RemovedMissing {
        /// The plugin.
        plugin: String,
        /// The key it named.
        key: ResourceKey,
        /// Where in the response the key is.
        item: Item,
    },
    /// A host pass ([`Graph::transform_all`](crate::Graph::transform_all)) left a resource
    /// invalid.
    #[error("the `{pass}` pass makes {key} invalid: {problem}")]
    PassInvalid {
        /// The pass's name.
        pass: String,
        /// The resource, as it was before the pass.
        key: ResourceKey,
        /// What is wrong now. (Part of the message, not a separate cause.)
        problem: InvalidObject,
    },
    /// A host pass changed a resource's API group, kind, namespace or name.
    #[error(
        "the `{pass}` pass changes {} into {}: a pass must keep each resource's API group, kind, namespace and name",
        key.long(),
        new_key.long()
    )]
    PassChangedIdentity {
        /// The pass's name.
        pass: String,
        /// The resource, as it was before the pass.
        key: ResourceKey,
        /// The key after the pass.
        new_key: ResourceKey,
    },
}

/// Where an object is in a plugin's response; displays as the response's field and index,
/// `items[2]` or `changed[0]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// The object at this index of the resources the plugin adds (`items`).
    Added(usize),
    /// The object at this index of the resources the plugin changed (`changed`).
    Changed(usize),
    /// The reference at this index of the resources the plugin removed (`removed`).
    Removed(usize),
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Added(index) => write!(f, "items[{index}]"),
            Item::Changed(index) => write!(f, "changed[{index}]"),
            Item::Removed(index) => write!(f, "removed[{index}]"),
        }
    }
}

/// `Service/prefect/x (items[2])`, or `items[2]` when the key is unknown.
fn which(item: &Item, key: &Option<ResourceKey>) -> String {
    match key {
        Some(key) => format!("{key} ({item})"),
        None => item.to_string(),
    }
}
