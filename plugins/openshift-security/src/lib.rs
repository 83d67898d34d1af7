//! The `openshift-security` plugin of prefectctl: a transformer that makes every workload in
//! the graph, from any plugin, run under OpenShift's `restricted-v2` SCC ([`pods`]), and
//! optionally exposes the server with a Route instead of an Ingress ([`route`]).
//!
//! It runs after every generator; the provenance of each resource it rewrites lists the
//! fields it changed.
#![forbid(unsafe_code)]

pub mod pods;
pub mod route;

use prefect_plugin_sdk::{
    Context, Error, Manifest, Plugin, export_plugin, pods as sdk_pods,
    schemars::{self, JsonSchema},
};
use serde::{Deserialize, Serialize};

use crate::route::RouteValues;

/// Makes every workload fit OpenShift's restricted-v2 SCC.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Values {
    /// An OpenShift Route to the server's UI and API, instead of an Ingress.
    pub route: RouteValues,
}

/// The plugin.
pub struct OpenshiftSecurity;

impl Plugin for OpenshiftSecurity {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("openshift-security", env!("CARGO_PKG_VERSION"))
            .description("runs every workload under OpenShift's restricted-v2 SCC; optional Route")
            .transformer()
            // Every workload, the server's Service for the Route, and its Ingress, which the
            // Route replaces.
            .reads(&[&sdk_pods::KINDS[..], &["Service", "Ingress"]].concat())
    }

    fn prebuilt_manifest() -> Option<&'static str> {
        // `UPDATE_EXPECT=1 cargo test` rewrites it (`the_prebuilt_manifest_is_what_the_code_builds`).
        Some(include_str!("../manifest.json"))
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let mut unfit = Vec::new();
        ctx.update_pod_templates(|workload, template| {
            unfit.extend(pods::restrict(workload, template));
        });
        for message in unfit {
            ctx.error("", message);
        }
        let route = route::build(ctx, &values.route);
        if ctx.failed() {
            return Ok(());
        }
        if let Some(route) = route {
            ctx.add_object(route);
        }
        Ok(())
    }
}

export_plugin!(OpenshiftSecurity);

#[cfg(test)]
mod tests;
