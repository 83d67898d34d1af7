//! `plugins list`, `plugins describe` and `plugins new`.

use std::fmt::Write as _;

use prefect_plugin_abi::wire::PluginKind;
use prefect_plugin_host::{Plugin, PluginSpec, checksum, load, with_causes};
use serde_json::Value;

use crate::{
    cli::{DescribeFormat, PluginsCommand, ReleaseArgs},
    failure::Failure,
    release,
};

/// `prefectctl plugins ...`.
pub fn run(args: &ReleaseArgs, command: &PluginsCommand) -> Result<String, Failure> {
    match command {
        PluginsCommand::List => Ok(list(args)),
        PluginsCommand::Describe { name, output } => describe(args, name, *output),
        PluginsCommand::New { name, path, sdk_from } => {
            crate::scaffold::run(&crate::scaffold::Request {
                name,
                path: path.as_deref(),
                sdk_from: sdk_from.as_deref(),
            })
        }
    }
}

/// Every plugin in the plugin folders, and those given by path with `--plugin`; a library that
/// does not load is reported on standard error and left out of the table.
fn list(args: &ReleaseArgs) -> String {
    let locator = release::locator(args);
    let mut candidates: Vec<(Option<String>, std::path::PathBuf)> =
        locator.discover().into_iter().map(|(name, path)| (Some(name), path)).collect();
    for arg in &args.plugins {
        if let PluginSpec::Path(path) = PluginSpec::parse(arg) {
            candidates.push((None, path));
        }
    }
    let mut rows =
        vec![["NAME", "VERSION", "PROTOCOL", "KIND", "SHA256", "PATH"].map(str::to_owned)];
    for (name, path) in candidates {
        match load(&path, name.as_deref()).and_then(|plugin| Ok((checksum(&path)?, plugin))) {
            Ok((sha256, plugin)) => rows.push([
                plugin.manifest.name.clone(),
                plugin.manifest.version.clone(),
                plugin.manifest.protocol_version.to_string(),
                if plugin.is_executable() { "executable" } else { "library" }.to_owned(),
                sha256,
                path.display().to_string(),
            ]),
            Err(err) => eprintln!("warning: {}", with_causes(&err)),
        }
    }
    crate::output::table(&rows)
}

fn describe(args: &ReleaseArgs, arg: &str, output: DescribeFormat) -> Result<String, Failure> {
    let plugin = match PluginSpec::parse(arg) {
        PluginSpec::Name(name) => {
            release::locator(args).find(&name).and_then(|path| load(&path, Some(&name)))
        }
        PluginSpec::Path(path) => load(&path, None),
    }
    .map_err(|err| Failure::runtime(vec![with_causes(&err)]))?;
    match output {
        DescribeFormat::Text => Ok(description(&plugin)),
        DescribeFormat::Json => description_json(&plugin),
    }
}

fn description_json(plugin: &Plugin) -> Result<String, Failure> {
    let mut json = serde_json::to_value(&plugin.manifest).map_err(anyhow::Error::from)?;
    json["path"] = Value::String(plugin.path.display().to_string());
    json["sha256"] = Value::String(
        checksum(&plugin.path).map_err(|err| Failure::runtime(vec![with_causes(&err)]))?,
    );
    let mut text = serde_json::to_string_pretty(&json).map_err(anyhow::Error::from)?;
    text.push('\n');
    Ok(text)
}

fn description(plugin: &Plugin) -> String {
    let m = &plugin.manifest;
    let list = |items: &[String]| if items.is_empty() { "-".to_owned() } else { items.join(", ") };
    let kind = match m.kind {
        PluginKind::Generator => "generator (adds resources)",
        PluginKind::Transformer => "transformer (changes other plugins' resources; runs last)",
    };
    let mut out = String::new();
    let _ = writeln!(out, "name:        {}", m.name);
    let _ = writeln!(out, "description: {}", m.description);
    let _ = writeln!(out, "version:     {}", m.version);
    let _ = writeln!(out, "protocol:    {}", m.protocol_version);
    let _ = writeln!(out, "kind:        {kind}");
    let _ = writeln!(out, "requires:    {}", list(&m.requires));
    let _ = writeln!(out, "runs after:  {}", list(&m.after));
    let _ = writeln!(out, "path:        {}", plugin.path.display());
    let _ = writeln!(
        out,
        "sha256:      {}",
        checksum(&plugin.path).unwrap_or_else(|err| format!("unknown ({})", with_causes(&err)))
    );
    let _ = writeln!(
        out,
        "\nvalues (section `{}:`; `prefectctl values --plugin {}` prints them all):",
        m.name, m.name
    );
    let mut rows = Vec::new();
    if let Some(properties) = m.values_schema.get("properties").and_then(Value::as_object) {
        for (key, schema) in properties {
            let text = schema.get("description").and_then(Value::as_str).unwrap_or_default();
            let first = text.split("\n\n").next().unwrap_or_default().replace('\n', " ");
            rows.push([format!("  {key}"), first]);
        }
    }
    out.push_str(&crate::output::table(&rows));
    out
}
