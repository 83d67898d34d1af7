//! The base job template of the worker's pool: inline values go into a ConfigMap the worker
//! mounts, or an existing ConfigMap is mounted as it is.

use std::{collections::BTreeMap, fmt::Write};

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::core::v1::ConfigMap,
    serde_json::{self, Value, json},
};
use sha2::{Digest, Sha256};

use crate::{COMPONENT, values::BaseJobTemplate};

/// The key that holds the template, in the ConfigMap (as in the prefect-worker chart).
pub const KEY: &str = "baseJobTemplate.json";

/// The template the values give.
#[derive(Debug)]
pub struct Template {
    /// The ConfigMap the worker pods mount.
    pub config_map_name: String,
    /// The ConfigMap to create, for an inline template.
    pub config_map: Option<ConfigMap>,
}

impl Template {
    /// The SHA-256 of an inline template's text, in hex: a pod annotation, so that a changed
    /// template rolls the worker pods. None for an existing ConfigMap, which the plugin never
    /// reads.
    pub fn checksum(&self) -> Option<String> {
        let text = self.config_map.as_ref()?.data.as_ref()?.get(KEY)?;
        Some(Sha256::digest(text.as_bytes()).iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }))
    }
}

/// Whether a given template is no template: `{}` or empty text (Prefect takes an empty base
/// job template for none, and so does prefect-helm), or `[]`, which is what
/// `--set agent.config.baseJobTemplate.configuration={}` gives in Helm's syntax.
fn is_empty(given: &Value) -> bool {
    match given {
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
        Value::String(text) => {
            let text = text.trim();
            text.is_empty() || serde_json::from_str::<Value>(text).is_ok_and(|v| v == json!({}))
        }
        _ => false,
    }
}

/// The template, if the values give one.
pub fn resolve(ctx: &Context, template: &BaseJobTemplate) -> Option<Template> {
    let name = if template.name.is_empty() { own_name(ctx) } else { template.name.clone() };
    let given = template.configuration.as_ref().filter(|given| !is_empty(given));
    if given.is_none() && !template.name.is_empty() {
        ctx.warn(
            "config.baseJobTemplate.name",
            "ignored: it names the ConfigMap made for configuration, and there is none",
        );
    }
    let inline = given.map(|given| {
        // The text of a JSON file, as `--set-file` gives it (prefect-helm documents it so).
        let parsed = given.as_str().map(serde_json::from_str::<Value>);
        let configuration = match parsed {
            Some(Ok(parsed)) => parsed,
            Some(Err(err)) => {
                ctx.error(
                    "config.baseJobTemplate.configuration",
                    format!(
                        "a base job template given as text must be JSON ({err}): start from \
                         `prefect work-pool get-default-base-job-template --type kubernetes`"
                    ),
                );
                return template_map(ctx, &name, given);
            }
            None => given.clone(),
        };
        let is_template = configuration.get("job_configuration").is_some()
            && configuration.get("variables").is_some();
        if !is_template {
            ctx.error(
                "config.baseJobTemplate.configuration",
                "a base job template is a mapping with `job_configuration` and `variables`: \
                 start from `prefect work-pool get-default-base-job-template --type kubernetes`",
            );
        }
        template_map(ctx, &name, &configuration)
    });
    match (inline, template.existing_config_map_name.is_empty()) {
        (Some(_), false) => {
            ctx.error(
                "config.baseJobTemplate.existingConfigMapName",
                "set either configuration or existingConfigMapName, not both",
            );
            None
        }
        (Some(map), true) => Some(Template { config_map_name: name, config_map: Some(map) }),
        (None, false) => Some(Template {
            config_map_name: template.existing_config_map_name.clone(),
            config_map: None,
        }),
        (None, true) => None,
    }
}

/// The ConfigMap `name` that holds `configuration` as JSON.
fn template_map(ctx: &Context, name: &str, configuration: &Value) -> ConfigMap {
    ConfigMap {
        metadata: ctx.metadata(name, COMPONENT),
        data: Some(BTreeMap::from([(KEY.to_owned(), format!("{configuration:#}"))])),
        ..ConfigMap::default()
    }
}

fn own_name(ctx: &Context) -> String {
    format!("{}-base-job-template", ctx.full_name(COMPONENT))
}
