//! The Ingress that exposes the API and UI outside the cluster (`networking.k8s.io/v1`), and
//! the URL it makes the server reachable at.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::networking::v1::{
        HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
        IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
    },
};

use crate::{COMPONENT, values};

/// The URL users reach the server at through the Ingress (`https://HOST`), when the Ingress is
/// on and has a host.
pub fn external_url(values: &values::Ingress) -> Option<String> {
    if !values.enabled || values.host.hostname.is_empty() {
        return None;
    }
    let scheme = if values.tls { "https" } else { "http" };
    Some(format!("{scheme}://{}", values.host.hostname))
}

/// The Ingress, if enabled, to the Service's port named `service_port`.
pub fn build(ctx: &Context, values: &values::Ingress, service_port: &str) -> Option<Ingress> {
    if !values.tls && !values.tls_secret_name.is_empty() {
        ctx.warn(
            "ingress.tlsSecretName",
            "ignored because ingress.tls is off: turn it on to serve the host over TLS",
        );
    }
    if values.self_signed && !values.tls {
        ctx.warn(
            "ingress.selfSigned",
            "ignored because ingress.tls is off: turn it on to serve the host over TLS with a \
             self-signed certificate",
        );
    }
    if !values.enabled {
        return None;
    }
    if let Some(minor) = kube_minor(&ctx.capabilities().kube_version)
        && minor < 19
    {
        ctx.error(
            "ingress.enabled",
            format!(
                "the Ingress is networking.k8s.io/v1, which Kubernetes serves from 1.19; the \
                 cluster runs {}: expose the server another way (service.type)",
                ctx.capabilities().kube_version
            ),
        );
    }
    let host = &values.host;
    if host.hostname.is_empty() {
        ctx.error(
            "ingress.host.hostname",
            "the Ingress needs the host name users open the UI at, such as prefect.example.com",
        );
    }
    check_path(ctx, &host.path, "ingress.host.path");
    let extra_paths = ctx.list::<HTTPIngressPath>(&values.extra_paths, "ingress.extraPaths");
    let mut rules = Vec::new();
    if !host.hostname.is_empty() {
        let mut main = rule(ctx, service_port, &host.hostname, &host.path, host.path_type);
        if let Some(http) = &mut main.http {
            // Before the server's own path, so that a more specific path of the user's (a
            // redirect, another Service) is not hidden behind `/`.
            http.paths.splice(0..0, extra_paths);
        }
        rules.push(main);
    }
    for (index, extra) in values.extra_hosts.iter().enumerate() {
        let at = format!("ingress.extraHosts[{index}]");
        if extra.name.is_empty() {
            ctx.error(format!("{at}.name"), "give the extra host's name");
        }
        check_path(ctx, &extra.path, &format!("{at}.path"));
        rules.push(rule(ctx, service_port, &extra.name, &extra.path, extra.path_type));
    }
    rules.extend(ctx.list::<IngressRule>(&values.extra_rules, "ingress.extraRules"));

    let mut tls = Vec::new();
    if values.tls && !host.hostname.is_empty() {
        tls.push(IngressTLS {
            hosts: Some(vec![host.hostname.clone()]),
            secret_name: Some(tls_secret_name(values)),
        });
    }
    tls.extend(ctx.list::<IngressTLS>(&values.extra_tls, "ingress.extraTls"));

    let mut metadata = ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT);
    if !values.annotations.is_empty() {
        metadata.annotations = Some(values.annotations.clone());
    }
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: (!values.class_name.is_empty()).then(|| values.class_name.clone()),
            rules: Some(rules),
            tls: (!tls.is_empty()).then_some(tls),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    })
}

/// The name of the TLS Secret of `host.hostname`.
pub fn tls_secret_name(values: &values::Ingress) -> String {
    if values.tls_secret_name.is_empty() {
        format!("{}-tls", values.host.hostname)
    } else {
        values.tls_secret_name.clone()
    }
}

fn rule(
    ctx: &Context,
    service_port: &str,
    host: &str,
    path: &str,
    path_type: values::PathType,
) -> IngressRule {
    IngressRule {
        host: Some(host.to_owned()),
        http: Some(HTTPIngressRuleValue {
            paths: vec![HTTPIngressPath {
                path: Some(path.to_owned()),
                path_type: path_type.as_str().to_owned(),
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: ctx.full_name(COMPONENT),
                        port: Some(ServiceBackendPort {
                            name: Some(service_port.to_owned()),
                            number: None,
                        }),
                    }),
                    ..IngressBackend::default()
                },
            }],
        }),
    }
}

fn check_path(ctx: &Context, path: &str, at: &str) {
    if !path.starts_with('/') {
        ctx.error(at, "an Ingress path starts with `/`");
    }
}

/// The minor version of a `MAJOR.MINOR.PATCH` Kubernetes version.
fn kube_minor(version: &str) -> Option<u32> {
    version.split('.').nth(1)?.parse().ok()
}
