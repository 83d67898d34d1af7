//! The worker pod's settings beyond the SDK's pod values, as prefect-helm names them: DNS
//! (`dnsPolicy`, `dnsConfig`), more `envFrom` sources (`extraEnvVarsCMs`,
//! `extraEnvVarsSecrets`), and what the plugin's own init container takes instead of the
//! worker's (`initContainer.resources`, `containerSecurityContext`, `extraEnvVars`).

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, Container, EnvFromSource, EnvVar, PodDNSConfig, PodDNSConfigOption,
        PodSpec, ResourceRequirements, SecretEnvSource, SecurityContext,
    },
    workload::{quantities, set_env},
};

use crate::values::Values;

/// `extraEnvVarsCMs` after the ConfigMap of `extraEnvVarsCM`, and `extraEnvVarsSecrets` after
/// the Secret of `extraEnvVarsSecret`, as prefect-helm orders them (a later source wins a key).
pub fn extra_env_from(ctx: &Context, values: &Values, main: &mut Container) {
    let named = |names: &[String], path: &str, kind: &str| {
        let mut kept = Vec::new();
        for (index, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                ctx.error(
                    format!("{path}[{index}]"),
                    format!("empty: give the name of an existing {kind}, or remove the entry"),
                );
            } else {
                kept.push(name.clone());
            }
        }
        kept
    };
    let config_maps = named(&values.extra_env_vars_cms, "extraEnvVarsCMs", "ConfigMap");
    let secrets = named(&values.extra_env_vars_secrets, "extraEnvVarsSecrets", "Secret");
    if config_maps.is_empty() && secrets.is_empty() {
        return;
    }
    let from = main.env_from.get_or_insert_with(Vec::new);
    let after_config_maps =
        from.iter().position(|source| source.secret_ref.is_some()).unwrap_or(from.len());
    from.splice(
        after_config_maps..after_config_maps,
        config_maps.into_iter().map(|name| EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name, optional: None }),
            ..EnvFromSource::default()
        }),
    );
    from.extend(secrets.into_iter().map(|name| EnvFromSource {
        secret_ref: Some(SecretEnvSource { name, optional: None }),
        ..EnvFromSource::default()
    }));
}

/// `dnsPolicy` and `dnsConfig`; the policy `None` has no DNS but the config's.
pub fn dns(ctx: &Context, values: &Values, spec: &mut PodSpec) {
    let config = &values.dns_config;
    if !values.dns_policy.is_empty() {
        spec.dns_policy = Some(values.dns_policy.clone());
    }
    if values.dns_policy == "None" && config.nameservers.is_empty() {
        ctx.error(
            "dnsConfig.nameservers",
            "dnsPolicy None gives the pods no DNS server but these: name at least one, or \
             choose another dnsPolicy",
        );
    }
    for (index, option) in config.options.iter().enumerate() {
        if option.name.is_empty() {
            ctx.error(format!("dnsConfig.options[{index}].name"), "a DNS option needs a name");
        }
    }
    let non_empty = |list: &Vec<String>| (!list.is_empty()).then(|| list.clone());
    if config.nameservers.is_empty() && config.searches.is_empty() && config.options.is_empty() {
        return;
    }
    spec.dns_config = Some(PodDNSConfig {
        nameservers: non_empty(&config.nameservers),
        searches: non_empty(&config.searches),
        options: (!config.options.is_empty()).then(|| {
            config
                .options
                .iter()
                .map(|option| PodDNSConfigOption {
                    name: Some(option.name.clone()),
                    value: option.value.clone(),
                })
                .collect()
        }),
    });
}

/// The plugin's init container (`init`, made beside the worker's) with `initContainer`'s
/// resources, security context and extra variables.
pub fn own_init(ctx: &Context, values: &Values, mut init: Container) -> Container {
    let own = &values.init_container;
    if !own.resources.is_empty() {
        init.resources =
            ctx.map::<ResourceRequirements>(&quantities(&own.resources), "initContainer.resources");
    }
    if !own.container_security_context.is_empty() {
        init.security_context = ctx.map::<SecurityContext>(
            &own.container_security_context,
            "initContainer.containerSecurityContext",
        );
    }
    for (index, item) in own.extra_env_vars.iter().enumerate() {
        let path = format!("initContainer.extraEnvVars[{index}]");
        if let Some(var) = ctx.convert::<EnvVar>(item.clone(), &path) {
            set_env(init.env.get_or_insert_with(Vec::new), var);
        }
    }
    init
}
