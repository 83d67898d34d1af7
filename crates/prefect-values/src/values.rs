//! [`Values`]: the user's values once every layer is merged, with where each came from.

use serde_json::{Map, Value};

use crate::origin::{Origin, Origins};
use crate::{Layer, ValuePath};

/// The user's values after [`merge`](crate::merge): one tree whose top level is a mapping of
/// sections (`global:`, `server:`...), with the [`Origin`] of each value.
///
/// A `null` in these values is kept: it means "remove this default" (see
/// [`coalesce`](crate::coalesce)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    pub(crate) tree: Value,
    pub(crate) origins: Origins,
}

impl Values {
    /// No values at all (an empty mapping).
    pub fn new() -> Values {
        Values { tree: Value::Object(Map::new()), origins: Origins::default() }
    }

    /// The values, a JSON object.
    pub fn tree(&self) -> &Value {
        &self.tree
    }

    /// The values, a JSON object.
    pub fn into_tree(self) -> Value {
        self.tree
    }

    /// The user's values of top-level section `name` (`None` when the user set none).
    pub fn section(&self, name: &str) -> Option<&Value> {
        self.tree.get(name)
    }

    /// Where the value at `path` came from: the layer that set it last. For a path without an
    /// origin of its own (inside a value copied by a YAML alias, or below the values, such as a
    /// default), the origin of its nearest ancestor that has one.
    pub fn origin(&self, path: &ValuePath) -> Option<&Origin> {
        self.origins.nearest(path)
    }

    /// `ORIGIN: SECTION.PATH`, for a message about the value at `path` (as a plugin reports it,
    /// relative to its section) of section `section`: `values.yaml:12: server.ingress.host`, or
    /// without the origin when the user did not set the value (it is a default).
    pub fn describe(&self, section: &str, path: &str) -> String {
        let mut full = ValuePath::root().key(section);
        for segment in ValuePath::parse(path).segments() {
            full = full.child(segment.clone());
        }
        match self.origin(&full) {
            Some(origin) if self.tree.get(section).is_some() => format!("{origin}: {full}"),
            _ => full.to_string(),
        }
    }
}

impl Default for Values {
    fn default() -> Values {
        Values::new()
    }
}

impl From<Layer> for Values {
    fn from(layer: Layer) -> Values {
        Values { tree: layer.tree, origins: layer.origins }
    }
}
