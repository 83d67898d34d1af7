//! The two Services: a headless one that gives the StatefulSet's pod its stable DNS name, and
//! the one Prefect connects through.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::core::v1::{Service, ServicePort, ServiceSpec},
        apimachinery::pkg::util::intstr::IntOrString,
    },
};

use crate::{COMPONENT, PORT, PORT_NAME, values};

/// The headless Service's name: `<release>-redis-hl`.
pub fn headless_name(ctx: &Context) -> String {
    format!("{}-hl", ctx.full_name(COMPONENT))
}

/// The Service clients connect to: `<release>-redis`.
pub fn client_name(ctx: &Context) -> String {
    ctx.full_name(COMPONENT)
}

/// The headless Service.
pub fn headless(ctx: &Context) -> Service {
    Service {
        metadata: ctx.metadata(&headless_name(ctx), COMPONENT),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            // The pod's DNS name exists before it is ready, as the StatefulSet's pods expect.
            publish_not_ready_addresses: Some(true),
            ports: Some(vec![port(PORT)]),
            selector: Some(ctx.selector_labels(COMPONENT)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The client Service.
pub fn client(ctx: &Context, values: &values::Service) -> Service {
    let mut metadata = ctx.metadata(&client_name(ctx), COMPONENT);
    if !values.annotations.is_empty() {
        metadata.annotations = Some(values.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            ports: Some(vec![port(values.port)]),
            selector: Some(ctx.selector_labels(COMPONENT)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn port(port: i32) -> ServicePort {
    ServicePort {
        name: Some(PORT_NAME.to_owned()),
        port,
        target_port: Some(IntOrString::String(PORT_NAME.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}
