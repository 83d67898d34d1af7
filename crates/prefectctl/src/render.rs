//! `render`: the release's manifests, built offline (see [`crate::build`]), checked as the API
//! server would check them, and written as YAML or JSON.

use std::io::{self, Write as _};

use crate::{
    build, capabilities,
    cli::{Format, ReleaseArgs, RenderArgs},
    failure::Failure,
    output, release,
};

/// `prefectctl render`: writes the manifests to standard output as each is serialized.
pub fn run(args: &ReleaseArgs, render: &RenderArgs) -> Result<(), Failure> {
    let capabilities = capabilities::offline(&render.kube_version, &render.api_versions)
        .map_err(Failure::input)?;
    let release = release::prepare(args)?;
    let graph = build::graph(&release, &capabilities, &mut build::Offline, args.debug)?;
    release::check_graph(&graph)?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let written = match render.output {
        Format::Yaml => {
            prefect_plugin_host::write_yaml(&graph, &mut out).map_err(|err| match err {
                err @ prefect_plugin_host::WriteError::Yaml { .. } => {
                    Some(prefect_plugin_host::with_causes(&err))
                }
                prefect_plugin_host::WriteError::Output(_) => None,
            })
        }
        Format::Json => output::write_json_list(&graph, &mut out).map_err(|err| {
            // serde_json reports the output's failures as I/O errors.
            (!err.is_io()).then(|| err.to_string())
        }),
    };
    // A closed pipe (`prefectctl render | head`) is not an error worth reporting.
    let written = written.and_then(|()| out.flush().map_err(|_| None));
    // The process ends right after: the graph, the values and the plugins' manifests are left
    // to the operating system rather than freed one allocation at a time (at 10,000 resources,
    // a tenth of the run).
    std::mem::forget(graph);
    std::mem::forget(release);
    match written {
        Err(Some(message)) => Err(Failure::runtime(vec![message])),
        Ok(()) | Err(None) => Ok(()),
    }
}
