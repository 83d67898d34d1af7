//! A component that runs as a StatefulSet of one pod with its data on a claim, such as a
//! database or a message broker: the StatefulSet `<release>-<component>`, its headless Service
//! `<release>-<component>-hl` (which gives the pod its stable DNS name), the client Service
//! `<release>-<component>` that other components connect through, and the claim template of
//! its data volume.
//!
//! Both Services target the container port named `port_name`, so the container must declare
//! it:
//!
//! ```
//! use prefect_plugin_sdk::{Context, Error, workload::stateful};
//! # use std::collections::BTreeMap;
//!
//! fn services(ctx: &mut Context, port: i32, annotations: &BTreeMap<String, String>) -> Result<(), Error> {
//!     ctx.add(stateful::headless_service(ctx, "cache", 6379, "cache"))?;
//!     ctx.add(stateful::client_service(ctx, "cache", port, "cache", annotations))
//! }
//! ```

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{StatefulSet, StatefulSetSpec},
        core::v1::{
            PersistentVolumeClaim, PersistentVolumeClaimSpec, PodTemplateSpec, Service,
            ServicePort, ServiceSpec,
        },
    },
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};

use crate::Context;

/// The name of the data volume in the pod, and of its claim template: `data`.
pub const DATA_VOLUME: &str = "data";

/// The headless Service's name: `<release>-<component>-hl`.
pub fn headless_service_name(ctx: &Context, component: &str) -> String {
    format!("{}-hl", ctx.full_name(component))
}

/// The client Service's name, the host other components connect to: `<release>-<component>`.
pub fn client_service_name(ctx: &Context, component: &str) -> String {
    ctx.full_name(component)
}

/// The headless Service that governs the StatefulSet: no cluster IP, `port` to the container
/// port `port_name`, and the pod's DNS name published before the pod is ready (a starting
/// pod's own scripts, or replicas, may need it).
pub fn headless_service(ctx: &Context, component: &str, port: i32, port_name: &str) -> Service {
    Service {
        metadata: ctx.metadata(&headless_service_name(ctx, component), component),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            ports: Some(vec![service_port(port, port_name)]),
            selector: Some(ctx.selector_labels(component)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The ClusterIP Service clients connect through: `port` (users usually set it, as
/// `service.port`) to the container port `port_name`, with the user's `annotations`.
pub fn client_service(
    ctx: &Context,
    component: &str,
    port: i32,
    port_name: &str,
    annotations: &BTreeMap<String, String>,
) -> Service {
    let mut metadata = ctx.metadata(&client_service_name(ctx, component), component);
    if !annotations.is_empty() {
        metadata.annotations = Some(annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            ports: Some(vec![service_port(port, port_name)]),
            selector: Some(ctx.selector_labels(component)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The StatefulSet `<release>-<component>` of one pod from `template`, governed by the
/// headless Service; `claim` (see [`data_claim`]) becomes its volumeClaimTemplates, or the
/// pod has no claim when it is `None` (the template then needs a volume of its own for the
/// data).
pub fn statefulset(
    ctx: &Context,
    component: &str,
    template: PodTemplateSpec,
    claim: Option<PersistentVolumeClaim>,
) -> StatefulSet {
    StatefulSet {
        metadata: ctx.metadata(&ctx.full_name(component), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(headless_service_name(ctx, component)),
            selector: ctx.pod_selector(component),
            template,
            volume_claim_templates: claim.map(|claim| vec![claim]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// The claim template of the data volume ([`DATA_VOLUME`]), with `spec` (see
/// [`claim_spec`](super::claim_spec)) and the user's `annotations`. It carries the
/// component's labels, which go on the claims the StatefulSet makes: those are in no release
/// record, and `uninstall --delete-data` finds them by their labels.
pub fn data_claim(
    ctx: &Context,
    component: &str,
    spec: PersistentVolumeClaimSpec,
    annotations: &BTreeMap<String, String>,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_owned()),
            labels: Some(ctx.labels(component)),
            annotations: (!annotations.is_empty()).then(|| annotations.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..PersistentVolumeClaim::default()
    }
}

fn service_port(port: i32, port_name: &str) -> ServicePort {
    ServicePort {
        name: Some(port_name.to_owned()),
        port,
        target_port: Some(IntOrString::String(port_name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}
