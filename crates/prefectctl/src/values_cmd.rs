//! `values`: the documented defaults of a stack, as YAML to copy, or the JSON Schema of the
//! whole values file, for editors; `values import` is [`crate::helm_import`].

use prefect_plugin_abi::wire::GlobalValues;
use prefect_plugin_host::PluginSpec;
use serde_json::Value;

use crate::{
    cli::{ReleaseArgs, ValuesArgs, ValuesCommand},
    failure::Failure,
    release::{self, GLOBAL},
};

/// `prefectctl values`.
pub fn run(args: &ReleaseArgs, values: &ValuesArgs) -> Result<String, Failure> {
    if let Some(ValuesCommand::Import(import)) = &values.command {
        return crate::helm_import::run(args, import);
    }
    let plugins = release::load_stack(
        args,
        &crate::stack::Base::default_stack(),
        &release::pins(args, None)?,
    )?;
    if values.schema {
        let schema = prefect_values::values_file_schema(&release::sections(&plugins));
        let mut text = serde_json::to_string_pretty(&schema).map_err(anyhow::Error::from)?;
        text.push('\n');
        return Ok(text);
    }

    // With `--plugin`, only the sections of the plugins named; otherwise the whole stack's.
    let named: Vec<String> = args
        .plugins
        .iter()
        .map(|arg| PluginSpec::parse(arg))
        .filter_map(|spec| match spec {
            PluginSpec::Name(name) => Some(name),
            PluginSpec::Path(_) => None,
        })
        .collect();
    let only_named = !args.plugins.is_empty();
    let mut out = String::new();
    if !only_named {
        let defaults = serde_json::to_value(GlobalValues::default()).unwrap_or(Value::Null);
        let schema = prefect_plugin_abi::wire::global_values_schema();
        out.push_str(&prefect_values::documented_yaml(GLOBAL, &schema, &defaults));
    }
    for plugin in &plugins {
        let explicitly_named = named.contains(&plugin.manifest.name)
            || args.plugins.iter().any(|arg| plugin.path.ends_with(arg.trim_start_matches("./")));
        if only_named && !explicitly_named {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let m = &plugin.manifest;
        out.push_str(&prefect_values::documented_yaml(
            &m.name,
            &m.values_schema,
            &m.values_defaults,
        ));
    }
    Ok(out)
}
