//! The base job template the worker creates its work pool with: inline values go into a
//! ConfigMap the worker mounts, or an existing ConfigMap is mounted as it is.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{Context, Problems, k8s_openapi::api::core::v1::ConfigMap, serde_json};

use crate::{COMPONENT, values::BaseJobTemplate};

/// The key that holds the template, in the ConfigMap (as in the prefect-worker chart).
pub const KEY: &str = "baseJobTemplate.json";

/// The name of the ConfigMap to mount, if there is a template.
pub fn config_map_name(
    ctx: &Context,
    template: &BaseJobTemplate,
    problems: &mut Problems,
) -> Option<String> {
    match (&template.configuration, template.existing_config_map_name.is_empty()) {
        (Some(_), false) => {
            problems.error(
                "config.baseJobTemplate.existingConfigMapName",
                "set either configuration or existingConfigMapName, not both",
            );
            None
        }
        (Some(_), true) => Some(own_name(ctx)),
        (None, false) => Some(template.existing_config_map_name.clone()),
        (None, true) => None,
    }
}

/// The ConfigMap for an inline template.
pub fn config_map(
    ctx: &Context,
    template: &BaseJobTemplate,
    problems: &mut Problems,
) -> Option<ConfigMap> {
    let configuration = template.configuration.as_ref()?;
    let is_template = configuration.get("job_configuration").is_some()
        && configuration.get("variables").is_some();
    if !is_template {
        problems.error(
            "config.baseJobTemplate.configuration",
            "a base job template is a mapping with `job_configuration` and `variables`: start \
             from `prefect work-pool get-default-base-job-template --type kubernetes`",
        );
    }
    let json = serde_json::to_string_pretty(configuration).ok()?;
    Some(ConfigMap {
        metadata: ctx.metadata(&own_name(ctx), COMPONENT),
        data: Some(BTreeMap::from([(KEY.to_owned(), json)])),
        ..ConfigMap::default()
    })
}

fn own_name(ctx: &Context) -> String {
    format!("{}-base-job-template", ctx.full_name(COMPONENT))
}
