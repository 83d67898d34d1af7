//! `get values` and `get manifest`: what one revision of a release recorded, read back from its
//! record, as Helm's `get` does.
//!
//! Nothing secret is printed. Values the plugins' schemas mark `writeOnly` (passwords,
//! connection URLs), which the plugins keep in Secrets, are shown as `***`; so is every value of
//! a recorded Secret's `data` and `stringData`.

use prefect_cluster::record::Revision;
use prefect_plugin_abi::wire::GlobalValues;
use prefect_plugin_host::{Plugin, PluginSpec};
use prefect_values::{Layer, ValuePath};
use serde_json::{Map, Value};

use crate::{
    changes,
    cli::{GetManifestArgs, GetValuesArgs, ReleaseArgs, ValuesFormat},
    failure::Failure,
    inspect_cmd::{DocumentFormat, document, not_installed},
    release::{self, GLOBAL},
    session::Session,
    stack::Base,
};

/// What replaces a secret.
const MASK: &str = "***";

/// `prefectctl get values`.
pub fn values(args: &ReleaseArgs, get: &GetValuesArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let history = session.history()?;
    let revision = pick(&session, &history, get.revision)?;
    let plugins = recorded_stack(args, &session, revision)?;
    if get.all {
        for (plugin, recorded) in plugins.iter().zip(&revision.plugins) {
            if plugin.manifest.version != recorded.version {
                eprintln!(
                    "warning: plugin {} is version {} here; revision {} ran version {}, whose \
                     defaults may differ from those shown",
                    plugin.name(),
                    plugin.manifest.version,
                    revision.revision,
                    recorded.version
                );
            }
        }
    }
    let mut values =
        if get.all { computed(&revision.values, &plugins) } else { revision.values.clone() };
    let masked = mask_secrets(&mut values, &plugins);
    if !masked.is_empty() {
        eprintln!(
            "warning: {} {} secret and shown as {MASK}: leave {} out of a values file for \
             -f, and the release keeps the recorded {}",
            masked.join(", "),
            if masked.len() == 1 { "is" } else { "are" },
            if masked.len() == 1 { "it" } else { "them" },
            if masked.len() == 1 { "value" } else { "values" },
        );
    }
    let format = match get.output {
        ValuesFormat::Yaml => DocumentFormat::Yaml,
        ValuesFormat::Json => DocumentFormat::Json,
    };
    document(&values, format)
}

/// `prefectctl get manifest`.
pub fn manifest(args: &ReleaseArgs, get: &GetManifestArgs) -> Result<String, Failure> {
    let session = Session::open(args)?;
    let history = session.history()?;
    let revision = pick(&session, &history, get.revision)?;
    let mut out = String::new();
    for object in &revision.objects {
        out.push_str("---\n");
        let yaml = serde_saphyr::to_string_with_options(
            &mask_secret_data(object),
            prefect_plugin_host::yaml_options(),
        )
        .map_err(|err| Failure::runtime(vec![format!("cannot write an object as YAML: {err}")]))?;
        out.push_str(&yaml);
        if !yaml.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Revision `wanted` of the release, else its latest.
fn pick<'a>(
    session: &Session,
    history: &'a [Revision],
    wanted: Option<u32>,
) -> Result<&'a Revision, Failure> {
    let Some(latest) = history.last() else { return Err(not_installed(session)) };
    let Some(number) = wanted else { return Ok(latest) };
    history.iter().find(|r| r.revision == number).ok_or_else(|| {
        let numbers: Vec<u32> = history.iter().map(|r| r.revision).collect();
        Failure::runtime(vec![format!(
            "{} has no revision {number} (revisions: {}): prefectctl history lists them",
            session.describe(),
            ranges(&numbers)
        )])
    })
}

/// `1-3, 5`: sorted revision numbers as runs.
fn ranges(numbers: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &n in numbers {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => runs.push((n, n)),
        }
    }
    runs.iter()
        .map(
            |&(start, end)| {
                if start == end { start.to_string() } else { format!("{start}-{end}") }
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plugins `revision` recorded, loaded from the plugin folders, in run order. Only
/// `--plugin-dir` and `--plugin-sha256` count: the stack is the recorded one.
fn recorded_stack(
    args: &ReleaseArgs,
    session: &Session,
    revision: &Revision,
) -> Result<Vec<Plugin>, Failure> {
    let args = ReleaseArgs {
        plugins: Vec::new(),
        without: Vec::new(),
        values: Vec::new(),
        set: Vec::new(),
        set_string: Vec::new(),
        ..args.clone()
    };
    let plugins =
        revision.plugins.iter().map(|p| (p.name.clone(), PluginSpec::parse(&p.spec))).collect();
    let base = Base { plugins, what: format!("revision {}", revision.revision) };
    let source = format!("release {} revision {}", session.release, revision.revision);
    let values = prefect_values::merge(&[Layer::recorded(revision.values.clone(), &source)]);
    let pins = release::pins(&args, Some(&values))?;
    release::load_stack(&args, &base, &pins).map_err(|failure| {
        failure.and(format!(
            "the values of revision {} are read with its plugins, which know the defaults and \
             which values are secret: make them findable (--plugin-dir DIR or \
             $PREFECTCTL_PLUGIN_PATH)",
            revision.revision
        ))
    })
}

/// Every value the plugins ran with: `global` and each plugin's section, its defaults under
/// the user's values (as the host gives them to the plugin).
fn computed(user: &Value, plugins: &[Plugin]) -> Value {
    let section = |name: &str| user.get(name).unwrap_or(&Value::Null);
    let mut all = Map::new();
    let global = serde_json::to_value(GlobalValues::default()).unwrap_or(Value::Null);
    all.insert(GLOBAL.to_owned(), prefect_values::coalesce(&global, section(GLOBAL)));
    for plugin in plugins {
        let m = &plugin.manifest;
        all.insert(m.name.clone(), prefect_values::coalesce(&m.values_defaults, section(&m.name)));
    }
    Value::Object(all)
}

/// Replaces every value the stack's schemas mark `writeOnly` with `***`, and returns the paths
/// of those replaced. An empty string says nothing of a secret and is kept.
fn mask_secrets(values: &mut Value, plugins: &[Plugin]) -> Vec<String> {
    let mut masked = Vec::new();
    for section in release::sections(plugins) {
        if let Some(value) = values.get_mut(&section.name) {
            let path = ValuePath::root().key(&section.name);
            mask(value, &section.schema, &path, &mut masked);
        }
    }
    masked
}

fn mask(value: &mut Value, schema: &Value, path: &ValuePath, masked: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else { return };
    if value.is_null() || value.as_str() == Some("") || value.as_str() == Some(MASK) {
        return;
    }
    if schema.get("writeOnly") == Some(&Value::Bool(true)) {
        *value = Value::String(MASK.to_owned());
        masked.push(path.to_string());
        return;
    }
    for keyword in ["anyOf", "oneOf", "allOf"] {
        for branch in schema.get(keyword).and_then(Value::as_array).into_iter().flatten() {
            mask(value, branch, path, masked);
        }
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties");
            let others = schema.get("additionalProperties");
            for (key, item) in map.iter_mut() {
                if let Some(below) = properties.and_then(|p| p.get(key)).or(others) {
                    mask(item, below, &path.key(key), masked);
                }
            }
        }
        Value::Array(items) => {
            let prefix = schema.get("prefixItems").and_then(Value::as_array);
            for (i, item) in items.iter_mut().enumerate() {
                let below = prefix.and_then(|p| p.get(i)).or(schema.get("items"));
                if let Some(below) = below {
                    mask(item, below, &path.index(i), masked);
                }
            }
        }
        _ => {}
    }
}

/// `object` with each value of a Secret's `data` and `stringData` shown as `***`, as `diff`
/// shows a Secret whose value does not change.
fn mask_secret_data(object: &Value) -> Value {
    changes::redact(Some(object), Some(object)).0.unwrap_or_else(|| object.clone())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn revisions_read_as_runs() {
        assert_eq!(ranges(&[1, 2, 3]), "1-3");
        assert_eq!(ranges(&[3, 4, 5, 7, 9, 10]), "3-5, 7, 9-10");
        assert_eq!(ranges(&[4]), "4");
    }

    #[test]
    fn write_only_values_are_masked_wherever_the_schema_puts_them() {
        let secret = json!({ "type": "string", "writeOnly": true });
        let schema = json!({
            "type": "object",
            "properties": {
                "basicAuth": { "type": "object", "properties": {
                    "enabled": { "type": "boolean" },
                    "authString": secret,
                } },
                "extra": { "type": "array", "items": { "anyOf": [
                    { "type": "null" },
                    { "type": "object", "properties": { "url": secret } },
                ] } },
                "tokens": { "type": "object", "additionalProperties": secret },
                "empty": secret,
            },
        });
        let mut value = json!({
            "basicAuth": { "enabled": true, "authString": "admin:s3cret" },
            "extra": [{ "url": "redis://:pw@redis" }, null],
            "tokens": { "a\\b": "t0ken" },
            "empty": "",
            "visible": "kept",
        });
        let mut masked = Vec::new();
        mask(&mut value, &schema, &ValuePath::root().key("server"), &mut masked);
        assert_eq!(
            value,
            json!({
                "basicAuth": { "enabled": true, "authString": "***" },
                "extra": [{ "url": "***" }, null],
                "tokens": { "a\\b": "***" },
                "empty": "",
                "visible": "kept",
            })
        );
        assert_eq!(
            masked,
            ["server.basicAuth.authString", "server.extra[0].url", r#"server.tokens["a\\b"]"#]
        );
    }

    #[test]
    fn secret_data_is_masked_and_other_objects_are_kept() {
        let secret = json!({
            "kind": "Secret",
            "metadata": { "name": "prefect-basic-auth" },
            "data": { "auth-string": "YWRtaW46czNjcmV0" },
            "stringData": { "url": "redis://:pw@redis" },
        });
        let masked = mask_secret_data(&secret);
        assert_eq!(masked["data"], json!({ "auth-string": "***" }));
        assert_eq!(masked["stringData"], json!({ "url": "***" }));
        assert_eq!(masked["metadata"], secret["metadata"]);
        let config = json!({ "kind": "ConfigMap", "data": { "a": "visible" } });
        assert_eq!(mask_secret_data(&config), config);
    }
}
