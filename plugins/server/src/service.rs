//! The Service in front of the server pods: what workers, the CLI and the Ingress talk to.

use prefect_plugin_sdk::{
    Context, Problems,
    k8s_openapi::{
        api::core::v1::{Service, ServicePort, ServiceSpec},
        apimachinery::pkg::util::intstr::IntOrString,
    },
};

use crate::{
    COMPONENT, CONTAINER_PORT_NAME,
    values::{self, ServiceType},
};

/// The name of the Service's port, which the Ingress routes to (as in the prefect-server
/// chart, so that references to it keep working).
pub const PORT_NAME: &str = "server-svc-port";

/// The Service.
pub fn build(ctx: &Context, values: &values::Service, problems: &mut Problems) -> Service {
    let cluster_ip_only = values.type_ == ServiceType::ClusterIP;
    if cluster_ip_only && values.node_port.is_some() {
        problems.error(
            "service.nodePort",
            "a ClusterIP Service has no node port: set service.type to NodePort or LoadBalancer, \
             or remove nodePort",
        );
    }
    if cluster_ip_only && values.external_traffic_policy.is_some() {
        problems.error(
            "service.externalTrafficPolicy",
            "only NodePort and LoadBalancer Services take an external traffic policy: set \
             service.type, or remove externalTrafficPolicy",
        );
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
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_owned()),
                port: values.port,
                target_port: Some(IntOrString::String(CONTAINER_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                node_port: values.node_port,
                ..ServicePort::default()
            }]),
            selector: Some(ctx.selector_labels(COMPONENT)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
