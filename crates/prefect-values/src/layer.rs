//! [`Layer`]: the values of one source (a values file or a `--set` flag) and where each came from.

use serde_json::Value;

use crate::origin::{Origin, Origins};
use crate::set::{self, Assignments, SetKind};
use crate::{Error, Result, ValuePath, yaml};

/// The values of one source, a values file or a `--set` flag, with the [`Origin`] of each
/// key and sequence item. The top level is always a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub(crate) tree: Value,
    pub(crate) origins: Origins,
    /// A flag's assignments, which [`merge`](crate::merge) applies one by one to the values
    /// below, as Helm does, instead of merging `tree` over them; `None` for a file.
    pub(crate) assignments: Option<Assignments>,
}

impl Layer {
    /// Reads the values file at `path` (`-f/--values`) as [`read_text`](crate::read_text)
    /// does; messages show `path` as given.
    ///
    /// See [`Layer::from_yaml_str`] for what the file may hold.
    pub fn from_yaml_file(path: impl AsRef<std::path::Path>) -> Result<Layer> {
        let name = path.as_ref().display().to_string();
        let text = crate::read_text_file(path.as_ref())
            .map_err(|reason| Error::Read { path: name.clone(), reason })?;
        Layer::from_yaml_str(&text, &name)
    }

    /// Reads values from the YAML `text` of a file that messages call `display_name`.
    ///
    /// `text` is one YAML document whose top level is a mapping (an empty document is an empty
    /// mapping). Scalars follow YAML 1.2: `yes`, `on`, `off` are strings (until
    /// [`read_yaml11_booleans`](crate::read_yaml11_booleans) reads them where a boolean is
    /// expected), `0777` is the integer 777, `~` is null. Keys are strings: a scalar key is taken as its text. Anchors, aliases
    /// and `<<` merge keys are expanded. Errors name the file and the line (and column).
    pub fn from_yaml_str(text: &str, display_name: &str) -> Result<Layer> {
        let (tree, origins) = yaml::load(text, display_name)?;
        Ok(Layer { tree, origins, assignments: None })
    }

    /// Reads the argument `arg` of a `--set` (or, for [`SetKind::String`], `--set-string`)
    /// flag, in Helm's syntax: `a.b=1,c[0]=x,d={x,y},annotations.kubernetes\.io/name=x`.
    ///
    /// The [module documentation of `set`](crate::set) has the details. Errors name the flag
    /// and its argument, e.g. `--set server.replicas: missing "=" (use --set KEY=VALUE)`.
    pub fn from_set(arg: &str, kind: SetKind) -> Result<Layer> {
        Ok(Layer::of_assignments(set::parse(arg, kind)?))
    }

    /// Reads the argument `arg` of a `--set-json` flag: `KEY=JSON` assignments with the keys of
    /// `--set` (`a.b={"c":1},d=[1,2]`), or one JSON object merged at the top, as Helm reads
    /// both (see the [module documentation of `set`](crate::set)). Errors name the flag and the
    /// key, and say where the JSON is wrong.
    pub fn from_set_json(arg: &str) -> Result<Layer> {
        Ok(match set::parse_json(arg)? {
            Ok(assignments) => Layer::of_assignments(assignments),
            Err((tree, origins)) => Layer { tree, origins, assignments: None },
        })
    }

    /// Reads the argument `arg` of a `--set-file` flag: `KEY=PATH` assignments with the keys of
    /// `--set`; each value is the text `read` returns for `PATH`, a string. Reading belongs to
    /// the caller, which knows where paths are relative to and what `-` means. An error names
    /// the flag, the key, the path and why `read` failed.
    pub fn from_set_file(
        arg: &str,
        mut read: impl FnMut(&str) -> std::io::Result<String>,
    ) -> Result<Layer> {
        Ok(Layer::of_assignments(set::parse_file(arg, &mut read)?))
    }

    fn of_assignments(assignments: Assignments) -> Layer {
        let mut tree = Value::Object(Default::default());
        let mut origins = Origins::default();
        assignments.apply(&mut tree, &mut origins);
        Layer { tree, origins, assignments: Some(assignments) }
    }

    /// Values kept from elsewhere, such as the values an earlier revision of the release
    /// recorded, with `source` as the origin of every value (`release prefect revision 3`).
    /// A top level that is not a mapping counts as no values.
    pub fn recorded(tree: Value, source: &str) -> Layer {
        let tree = if tree.is_object() { tree } else { Value::Object(Default::default()) };
        let mut origins = Origins::default();
        let origin = Origin::Recorded { source: source.to_owned() };
        record_all(&tree, &ValuePath::root(), &origin, &mut origins);
        Layer { tree, origins, assignments: None }
    }

    /// The values, a JSON object.
    pub fn tree(&self) -> &Value {
        &self.tree
    }

    /// Where the value at exactly `path` came from (`None` inside a value copied by a YAML
    /// alias, whose origin is that of the alias).
    pub fn origin(&self, path: &ValuePath) -> Option<&Origin> {
        self.origins.exact(path)
    }

    /// Every key and item path that has an origin, with it, in path order.
    pub fn origins(&self) -> impl Iterator<Item = (&ValuePath, &Origin)> {
        self.origins.iter()
    }
}

/// Gives `origin` to every key and item below `path`.
pub(crate) fn record_all(value: &Value, path: &ValuePath, origin: &Origin, origins: &mut Origins) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let below = path.key(key);
                origins.insert(below.clone(), origin.clone());
                record_all(item, &below, origin, origins);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let below = path.index(index);
                origins.insert(below.clone(), origin.clone());
                record_all(item, &below, origin, origins);
            }
        }
        _ => {}
    }
}
