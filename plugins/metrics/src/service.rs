//! The Service Prometheus scrapes: `<release>-metrics`, its port named `metrics`.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::core::v1::{Service, ServicePort, ServiceSpec},
        apimachinery::pkg::util::intstr::IntOrString,
    },
};

use crate::{COMPONENT, PORT_NAME, values};

/// The Service.
pub fn build(ctx: &Context, values: &values::Service) -> Service {
    let mut metadata = ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT);
    if !values.annotations.is_empty() {
        metadata.annotations = Some(values.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_owned()),
                port: values.port,
                target_port: Some(IntOrString::String(PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            selector: Some(ctx.selector_labels(COMPONENT)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
