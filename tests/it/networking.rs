//! How users reach the server from outside the cluster: through the Gateway API
//! (`server.gateway`, `server.httproute`), custom resources made only where the cluster serves
//! them, which `render` learns from `--api-versions` and `apply` from discovery; and through an
//! Ingress with the self-signed certificate `apply` makes and keeps.

use crate::{
    cluster::{Cluster, install_crds},
    harness::{base64_decode, prefectctl},
};

const GATEWAY_VALUES: &str = "server.gateway.enabled=true,server.gateway.className=istio,\
                              server.httproute.hostnames[0]=prefect.example.com";

const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";

/// `kind/name` of each document of a rendered YAML stream.
fn kinds(yaml: &str) -> Vec<String> {
    yaml.split("\n---\n")
        .filter_map(|document| {
            let field = |name: &str| {
                document.lines().find_map(|line| line.strip_prefix(name)).map(str::trim)
            };
            Some(format!(
                "{}/{}",
                field("kind: ")?,
                document
                    .split("metadata:")
                    .nth(1)?
                    .lines()
                    .find_map(|line| line.trim().strip_prefix("name: "))?
            ))
        })
        .collect()
}

#[test]
fn render_makes_the_gateway_api_objects_only_when_told_the_cluster_serves_them() {
    let refused = prefectctl(&["--set", GATEWAY_VALUES, "render"]).fails(1);
    assert!(
        refused.contains(
            "the cluster does not serve gateway.networking.k8s.io/v1 Gateway and HTTPRoute (the \
             Gateway API's CRDs): install them and apply again, pass --api-versions \
             gateway.networking.k8s.io/v1 to render, or expose the server with ingress.enabled \
             instead"
        ),
        "{refused}"
    );

    for flags in [
        vec!["--api-versions", GATEWAY_API],
        vec!["-a", "gateway.networking.k8s.io/v1/Gateway,gateway.networking.k8s.io/v1/HTTPRoute"],
    ] {
        let mut args = vec!["--set", GATEWAY_VALUES, "render"];
        args.extend(flags);
        let yaml = prefectctl(&args).ok();
        let kinds = kinds(&yaml);
        assert!(kinds.contains(&"Gateway/prefect-server".to_owned()), "{kinds:?}");
        assert!(kinds.contains(&"HTTPRoute/prefect-server".to_owned()), "{kinds:?}");
        assert!(!kinds.iter().any(|kind| kind.starts_with("Ingress/")), "{kinds:?}");
        assert!(
            yaml.contains("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"),
            "{yaml}"
        );
    }

    // With the ingress, one of them must go.
    let both = prefectctl(&[
        "--set",
        GATEWAY_VALUES,
        "--set",
        "server.ingress.enabled=true,server.ingress.host.hostname=prefect.example.com",
        "render",
        "-a",
        GATEWAY_API,
    ])
    .fails(1);
    assert!(
        both.contains(
            "the Gateway and the Ingress would both expose the server: turn off \
                       ingress.enabled or gateway.enabled"
        ),
        "{both}"
    );
}

/// The Gateway API's Gateway and HTTPRoute as bare CRDs (a test fixture).
pub const GATEWAY_CRDS: &str = include_str!("fixtures/gateway-api-crds.yaml");

/// The names of the CustomResourceDefinitions in [`GATEWAY_CRDS`].
pub const GATEWAY_CRD_NAMES: [&str; 2] =
    ["gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"];

/// `apply` asks discovery: refused with what to do while the cluster does not serve the Gateway
/// API, applied once it does, and the API server takes the Gateway and both routes.
#[test]
fn apply_makes_the_gateway_once_the_cluster_serves_the_gateway_api() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let apply = || {
        prefectctl(&[
            "--kubeconfig",
            &kubeconfig,
            "-n",
            "prefect",
            "--set",
            GATEWAY_VALUES,
            "--set",
            "server.httproute.tls.redirect=true",
            "apply",
        ])
    };

    let refused = apply().fails(1);
    assert!(
        refused.contains("the cluster does not serve gateway.networking.k8s.io/v1"),
        "{refused}"
    );
    assert_ne!(
        cluster.kubectl(&["get", "deployment", "prefect-server", "-n", "prefect"], None).code,
        0
    );

    install_crds(&cluster, GATEWAY_CRDS, &GATEWAY_CRD_NAMES);
    let applied = apply();
    assert_eq!(applied.code, 0, "apply failed:\n{}", applied.stderr);
    assert!(
        applied.stdout.contains(
            "The Prefect UI and API:\n  https://prefect.example.com/ (the HTTPRoute; the API is \
             under https://prefect.example.com/api)\n"
        ),
        "{}",
        applied.stdout
    );
    let get = |kind: &str, name: &str, path: &str| {
        cluster
            .kubectl(&["get", kind, name, "-n", "prefect", "-o", &format!("jsonpath={path}")], None)
            .ok()
    };
    assert_eq!(get("gateway", "prefect-server", "{.spec.gatewayClassName}"), "istio");
    assert_eq!(get("gateway", "prefect-server", "{.spec.listeners[*].name}"), "http https");
    assert_eq!(
        get(
            "httproute",
            "prefect-server",
            "{.spec.rules[0].backendRefs[0].name}:{.spec.rules[0].backendRefs[0].port}"
        ),
        "prefect-server:4200"
    );
    assert_eq!(get("httproute", "prefect-server", "{.spec.hostnames[0]}"), "prefect.example.com");
    assert_eq!(
        get("httproute", "prefect-server-tls-redirect", "{.spec.parentRefs[0].sectionName}"),
        "http"
    );
    // The UI calls the API where users reach it.
    let env = get("deployment", "prefect-server", "{.spec.template.spec.containers[0].env}");
    assert!(
        env.contains(r#""name":"PREFECT_UI_API_URL","value":"https://prefect.example.com/api""#),
        "{env}"
    );
}

/// `ingress.selfSigned`: the first apply makes the certificate's Secret, an upgrade keeps it,
/// and no output shows the key.
#[test]
fn apply_makes_a_self_signed_certificate_once_and_keeps_it() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let apply = |annotation: &str| {
        let run = prefectctl(&[
            "--kubeconfig",
            &kubeconfig,
            "-n",
            "prefect",
            "--set",
            "server.ingress.enabled=true,server.ingress.host.hostname=prefect.example.com,\
             server.ingress.tls=true,server.ingress.selfSigned=true",
            "--set",
            &format!("server.ingress.annotations.revision={annotation}"),
            "apply",
        ]);
        assert_eq!(run.code, 0, "apply failed:\n{}", run.stderr);
        assert!(!format!("{}{}", run.stdout, run.stderr).contains("PRIVATE KEY"), "{run:?}");
        run
    };
    let secret = |path: &str| {
        cluster
            .kubectl(
                &[
                    "get",
                    "secret",
                    "prefect.example.com-tls",
                    "-n",
                    "prefect",
                    "-o",
                    &format!("jsonpath={path}"),
                ],
                None,
            )
            .ok()
    };

    apply("first");
    assert_eq!(secret("{.type}"), "kubernetes.io/tls");
    let certificate = secret("{.data.tls\\.crt}");
    let pem = String::from_utf8(base64_decode(&certificate)).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    let key = secret("{.data.tls\\.key}");
    assert!(!key.is_empty());
    let tls = cluster
        .kubectl(
            &["get", "ingress", "prefect-server", "-n", "prefect", "-o", "jsonpath={.spec.tls}"],
            None,
        )
        .ok();
    assert_eq!(
        tls,
        r#"[{"hosts":["prefect.example.com"],"secretName":"prefect.example.com-tls"}]"#
    );

    apply("second");
    let annotation = cluster
        .kubectl(
            &[
                "get",
                "ingress",
                "prefect-server",
                "-n",
                "prefect",
                "-o",
                "jsonpath={.metadata.annotations.revision}",
            ],
            None,
        )
        .ok();
    assert_eq!(annotation, "second", "the upgrade wrote");
    assert_eq!(secret("{.data.tls\\.crt}"), certificate, "the certificate is kept");
    assert_eq!(secret("{.data.tls\\.key}"), key, "the key is kept");
}
