//! The Service in front of the server pods: what workers, the CLI and the Ingress talk to.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::core::v1::{Service, ServicePort, ServiceSpec},
        apimachinery::pkg::util::intstr::IntOrString,
    },
};

use crate::{
    COMPONENT, CONTAINER_PORT_NAME,
    values::{self, ServiceType},
};

/// The Service.
pub fn build(ctx: &Context, values: &values::Service) -> Service {
    let cluster_ip_only = values.type_ == ServiceType::ClusterIP;
    if cluster_ip_only && values.node_port.is_some() {
        ctx.error(
            "service.nodePort",
            "a ClusterIP Service has no node port: set service.type to NodePort or LoadBalancer, \
             or remove nodePort",
        );
    }
    if cluster_ip_only && values.external_traffic_policy.is_some() {
        ctx.error(
            "service.externalTrafficPolicy",
            "only NodePort and LoadBalancer Services take an external traffic policy: set \
             service.type, or remove externalTrafficPolicy",
        );
    }
    if values.ip_families.len() == 2 && values.ip_families[0] == values.ip_families[1] {
        ctx.error("service.ipFamilies", "name each IP family once: [IPv4, IPv6] or [IPv6, IPv4]");
    }
    let mut metadata = ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT);
    if !values.annotations.is_empty() {
        metadata.annotations = Some(values.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(values.type_.as_str().to_owned()),
            cluster_ip: (!values.cluster_ip.is_empty()).then(|| values.cluster_ip.clone()),
            external_traffic_policy: values
                .external_traffic_policy
                .map(|policy| policy.as_str().to_owned()),
            ip_family_policy: values.ip_family_policy.map(|policy| format!("{policy:?}")),
            ip_families: (!values.ip_families.is_empty())
                .then(|| values.ip_families.iter().map(|family| format!("{family:?}")).collect()),
            ports: Some(vec![ServicePort {
                name: Some(values.port_name.clone()),
                app_protocol: (!values.app_protocol.is_empty())
                    .then(|| values.app_protocol.clone()),
                port: values.port,
                target_port: Some(IntOrString::String(CONTAINER_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                node_port: values.node_port,
            }]),
            selector: Some(ctx.selector_labels(COMPONENT)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
