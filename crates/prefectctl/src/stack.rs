//! The stack: which plugins a release is made of, loaded, with their dependencies, in run order.
//!
//! The order depends only on the plugins' manifests, never on the order of the flags:
//! generators run before transformers, a plugin runs after those it `requires` and those it
//! runs `after`, and ties go by name.

use std::collections::{BTreeMap, BTreeSet};

use prefect_plugin_abi::wire::{PluginKind, PluginManifest};
use prefect_plugin_host::{Locator, Plugin, PluginSpec, checksum, load, name_of_file};

/// The plugins a release has when no flag says otherwise.
pub const DEFAULT_STACK: &[&str] = &["server"];

/// The plugins the flags start from: the default stack for a new release, or the plugins an
/// installed release recorded (an upgrade keeps them unless `--without` drops one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// Each plugin's name and how it was selected.
    pub plugins: Vec<(String, PluginSpec)>,
    /// What the base is, for messages: `the default stack`, `release prefect`.
    pub what: String,
}

impl Base {
    /// The default stack.
    pub fn default_stack() -> Base {
        Base {
            plugins: DEFAULT_STACK
                .iter()
                .map(|name| ((*name).to_owned(), PluginSpec::Name((*name).to_owned())))
                .collect(),
            what: "the default stack".to_owned(),
        }
    }

    fn names(&self) -> Vec<&str> {
        self.plugins.iter().map(|(name, _)| name.as_str()).collect()
    }
}

/// A stack that could not be assembled; every problem, not just the first.
#[derive(Debug)]
pub struct StackErrors {
    /// What went wrong, one message per problem.
    pub messages: Vec<String>,
    /// Whether a `--plugin` the user gave names nothing that exists: a rejected flag (exit 2),
    /// not a failure to load what exists (exit 1).
    pub flag_rejected: bool,
}

/// The problems with `--plugin` and `--without` themselves, before anything is loaded: a
/// plugin both selected and left out, or left out without being in the base.
pub fn check_flags(base: &Base, selected: &[String], without: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    for arg in selected {
        if let PluginSpec::Name(name) = PluginSpec::parse(arg)
            && without.contains(&name)
        {
            errors.push(format!(
                "--plugin {name} and --without {name} contradict each other: keep one"
            ));
        }
    }
    // Against a recorded release, a plugin it no longer has was left out before: the same
    // command run again must work, as a Helm upgrade does ([`left_out_before`] warns).
    let is_default = *base == Base::default_stack();
    for name in without {
        if is_default && !base.names().contains(&name.as_str()) {
            errors.push(format!(
                "--without {name}: `{name}` is not in {} ({}); leave the flag out",
                base.what,
                base.names().join(", ")
            ));
        }
    }
    errors
}

/// The `--without` names a recorded release no longer has, each with a warning for the user:
/// nothing to leave out, which is also what a typo looks like.
pub fn left_out_before(base: &Base, without: &[String]) -> Vec<String> {
    if *base == Base::default_stack() {
        return Vec::new();
    }
    without
        .iter()
        .filter(|name| !base.names().contains(&name.as_str()))
        .map(|name| {
            format!(
                "--without {name}: {} has no `{name}` ({}); nothing to leave out",
                base.what,
                base.names().join(", ")
            )
        })
        .collect()
}

/// Loads the base (less `without`) plus `selected`, plus everything they require, and returns
/// the plugins in run order. The flags are those [`check_flags`] accepts.
pub fn resolve(
    base: &Base,
    selected: &[String],
    without: &[String],
    locator: &Locator,
    pins: &BTreeMap<String, String>,
    debug: bool,
) -> Result<Vec<Plugin>, StackErrors> {
    let mut errors = Vec::new();
    let mut flag_rejected = false;
    let chosen: Vec<PluginSpec> = selected.iter().map(|arg| PluginSpec::parse(arg)).collect();
    // A `--plugin` of a name the release recorded by path takes its place: that is how a
    // plugin moves to another file, or to a plugin folder.
    let chosen_names: Vec<String> = chosen
        .iter()
        .filter_map(|spec| match spec {
            PluginSpec::Name(name) => Some(name.clone()),
            PluginSpec::Path(path) => name_of_file(path),
        })
        .collect();
    let mut specs: Vec<PluginSpec> = base
        .plugins
        .iter()
        .filter(|(name, _)| !without.contains(name))
        .filter(|(name, spec)| {
            !(matches!(spec, PluginSpec::Path(_)) && chosen_names.contains(name))
        })
        .map(|(_, spec)| spec.clone())
        .collect();
    for spec in &chosen {
        if !specs.contains(spec) {
            specs.push(spec.clone());
        }
    }

    // A file the release recorded that is gone, unless a `--plugin` brings that plugin anew.
    let mut recorded_gone: Vec<(String, String)> = Vec::new();
    let mut loaded: BTreeMap<String, Plugin> = BTreeMap::new();
    let mut queue: Vec<(PluginSpec, Option<String>)> =
        specs.into_iter().map(|s| (s, None)).collect();
    while let Some((spec, required_by)) = queue.pop() {
        if let PluginSpec::Name(name) = &spec
            && loaded.contains_key(name)
        {
            continue;
        }
        let plugin = match load_spec(&spec, locator, pins) {
            Ok(plugin) => plugin,
            Err(prefect_plugin_host::Error::MissingFile { path })
                if required_by.is_none() && !chosen.contains(&spec) =>
            {
                let name = base.plugins.iter().find(|(_, s)| *s == spec).map(|(n, _)| n.clone());
                let name = name.unwrap_or_else(|| path.display().to_string());
                recorded_gone.push((
                    name.clone(),
                    format!(
                        "plugin `{name}`: {} recorded it as {}, which does not exist any more: \
                         put the file back, give its new place with --plugin PATH, or drop it \
                         from the release with --without {name}",
                        base.what,
                        path.display()
                    ),
                ));
                continue;
            }
            Err(err) => {
                let missing = matches!(
                    err,
                    prefect_plugin_host::Error::NotFound { .. }
                        | prefect_plugin_host::Error::MissingFile { .. }
                );
                flag_rejected |= missing && required_by.is_none() && chosen.contains(&spec);
                let message = prefect_plugin_host::with_causes(&err);
                errors.push(match required_by {
                    Some(by) => format!("{message} (it is required by `{by}`)"),
                    None => message,
                });
                continue;
            }
        };
        if debug {
            eprintln!(
                "debug: loaded plugin {} {} from {}",
                plugin.name(),
                plugin.manifest.version,
                plugin.path.display()
            );
        }
        if let Some(other) = loaded.get(plugin.name()) {
            if other.path != plugin.path {
                errors.push(format!(
                    "two libraries call themselves `{}`: {} and {}; select only one",
                    plugin.name(),
                    other.path.display(),
                    plugin.path.display()
                ));
            }
            continue;
        }
        for required in &plugin.manifest.requires {
            if without.contains(required) {
                errors.push(format!(
                    "`{}` requires `{required}`, which --without {required} leaves out",
                    plugin.name()
                ));
            } else if !loaded.contains_key(required) {
                queue.push((PluginSpec::Name(required.clone()), Some(plugin.name().to_owned())));
            }
        }
        loaded.insert(plugin.name().to_owned(), plugin);
    }
    errors.extend(
        recorded_gone
            .into_iter()
            .filter(|(name, _)| !loaded.contains_key(name))
            .map(|(_, message)| message),
    );
    if !errors.is_empty() {
        return Err(StackErrors { messages: errors, flag_rejected });
    }
    ordered(loaded).map_err(|err| StackErrors { messages: vec![err], flag_rejected: false })
}

/// Loads the plugin `spec` names; when its name is pinned, only after its file's SHA-256
/// matches the pin (before any of its code is loaded).
fn load_spec(
    spec: &PluginSpec,
    locator: &Locator,
    pins: &BTreeMap<String, String>,
) -> prefect_plugin_host::Result<Plugin> {
    let (path, name) = match spec {
        PluginSpec::Name(name) => (locator.find(name)?, Some(name.clone())),
        PluginSpec::Path(path) => (path.clone(), name_of_file(path)),
    };
    let mut checked = None;
    if let Some((name, pinned)) = name.as_ref().and_then(|n| pins.get(n).map(|p| (n, p))) {
        let stamp = prefect_plugin_host::stamp(&path);
        let actual = checksum(&path)?;
        if actual != *pinned {
            return Err(prefect_plugin_host::Error::ChecksumMismatch {
                name: name.clone(),
                path,
                actual,
                pinned: pinned.clone(),
            });
        }
        checked = Some((actual, stamp));
    }
    let expected = matches!(spec, PluginSpec::Name(_)).then_some(name).flatten();
    let plugin = load(&path, expected.as_deref())?;
    if let Some((actual, stamp)) = checked {
        plugin.knows_sha256(actual, stamp);
    }
    Ok(plugin)
}

/// The plugins in run order (see [`run_order`]).
fn ordered(mut plugins: BTreeMap<String, Plugin>) -> Result<Vec<Plugin>, String> {
    let manifests: BTreeMap<&str, &PluginManifest> =
        plugins.iter().map(|(name, plugin)| (name.as_str(), &plugin.manifest)).collect();
    let order = run_order(&manifests)?;
    Ok(order.iter().filter_map(|name| plugins.remove(name)).collect())
}

/// Orders plugins by their manifests: Kahn's algorithm over `requires` and `after` edges (and
/// every generator before every transformer), always taking the smallest ready name, so the
/// result depends only on the set of plugins.
fn run_order(plugins: &BTreeMap<&str, &PluginManifest>) -> Result<Vec<String>, String> {
    let mut before: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (&name, manifest) in plugins {
        let entry = before.entry(name).or_default();
        for dep in manifest.requires.iter().chain(&manifest.after) {
            if plugins.contains_key(dep.as_str()) && dep != name {
                entry.insert(dep);
            }
        }
        if manifest.kind == PluginKind::Transformer {
            let generators = plugins.iter().filter(|(_, m)| m.kind == PluginKind::Generator);
            entry.extend(generators.map(|(other, _)| *other));
        }
    }
    let mut done: Vec<String> = Vec::new();
    let mut pending: BTreeSet<&str> = plugins.keys().copied().collect();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .find(|name| before[*name].iter().all(|dep| done.iter().any(|d| d == dep)))
            .copied();
        let Some(name) = ready else {
            let cycle: Vec<&str> = pending.into_iter().collect();
            return Err(format!(
                "the plugins {} depend on each other in a cycle (through `requires` and `after`, \
                 or a generator that runs after a transformer): one of them must drop its dependency",
                cycle.join(", ")
            ));
        };
        pending.remove(name);
        done.push(name.to_owned());
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use prefect_plugin_abi::{PROTOCOL_VERSION, wire::PluginKind};
    use serde_json::Value;

    use super::*;

    fn manifest(name: &str, requires: &[&str], after: &[&str], kind: PluginKind) -> PluginManifest {
        PluginManifest {
            name: name.to_owned(),
            version: "0.1.0".to_owned(),
            protocol_version: PROTOCOL_VERSION,
            description: String::new(),
            requires: requires.iter().map(|s| (*s).to_owned()).collect(),
            after: after.iter().map(|s| (*s).to_owned()).collect(),
            kind,
            values_schema: Value::Null,
            values_defaults: Value::Null,
            reads: None,
        }
    }

    fn order(manifests: &[PluginManifest]) -> Result<Vec<String>, String> {
        run_order(&manifests.iter().map(|m| (m.name.as_str(), m)).collect())
    }

    #[test]
    fn dependencies_first_then_names_and_transformers_last() {
        use PluginKind::{Generator, Transformer};
        let stack = [
            manifest("openshift-security", &[], &[], Transformer),
            manifest("dask-rbac", &["agent"], &[], Generator),
            manifest("agent", &[], &["server"], Generator),
            manifest("server", &[], &[], Generator),
            manifest("postgres", &["server"], &[], Generator),
            manifest("metrics", &["server"], &[], Generator),
            manifest("redis", &["server"], &[], Generator),
        ];
        let expected =
            ["server", "agent", "dask-rbac", "metrics", "postgres", "redis", "openshift-security"];
        assert_eq!(order(&stack).unwrap(), expected);
        // Whatever order they come in, the same run order.
        let mut reversed = stack.clone();
        reversed.reverse();
        assert_eq!(order(&reversed).unwrap(), expected);
    }

    #[test]
    fn an_absent_after_is_ignored_and_a_cycle_is_named() {
        use PluginKind::Generator;
        let alone = [manifest("agent", &[], &["server"], Generator)];
        assert_eq!(order(&alone).unwrap(), ["agent"]);
        let cycle = [manifest("a", &["b"], &[], Generator), manifest("b", &[], &["a"], Generator)];
        assert!(order(&cycle).unwrap_err().starts_with("the plugins a, b depend on each other"));
    }
}
