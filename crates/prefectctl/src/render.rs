//! `render`: the release's manifests, built offline (see [`crate::build`]), checked as the API
//! server would check them, and written as YAML or JSON.

use crate::{
    build, capabilities,
    cli::{Format, ReleaseArgs, RenderArgs},
    failure::Failure,
    output, release,
};

/// `prefectctl render`.
pub fn run(args: &ReleaseArgs, render: &RenderArgs) -> Result<String, Failure> {
    let capabilities = capabilities::offline(&render.kube_version, &render.api_versions)
        .map_err(Failure::input)?;
    let release = release::prepare(args)?;
    let graph = build::graph(&release, &capabilities, &mut build::Offline, args.debug)?;
    release::check_graph(&graph)?;
    let text = match render.output {
        Format::Yaml => prefect_plugin_host::yaml_stream(&graph).map_err(anyhow::Error::msg)?,
        Format::Json => output::json_list(&graph)?,
    };
    Ok(text)
}
