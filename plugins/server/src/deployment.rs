//! The Deployment that runs `prefect server start`: the API and the UI on port 4200, as a
//! non-root user on a read-only root filesystem, with emptyDirs where Prefect writes.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::{
            apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy},
            core::v1::{
                Container, ContainerPort, EnvVar, HTTPGetAction, Lifecycle,
                PersistentVolumeClaimVolumeSource, Probe, Volume,
            },
        },
        apimachinery::pkg::util::intstr::IntOrString,
    },
    wire::DEFAULT_PREFECT_TAG,
    workload::{check_digest, empty_dir, mount},
};

use crate::{
    COMPONENT, CONTAINER_PORT_NAME,
    database::Database,
    env, pvc,
    secrets::SecretKey,
    values::{HttpProbe, Persistence, Values},
};

/// What the server processes refer to that other modules decide.
pub struct Wiring<'a> {
    /// The database and how its URL reaches the container.
    pub database: &'a Database,
    /// The Secret key that holds the basic-auth string, when basic auth is on.
    pub basic_auth: Option<&'a SecretKey>,
    /// The ServiceAccount the server pods run as.
    pub service_account: &'a str,
    /// Whether a server process upgrades the database when it starts; not when the
    /// migrations Job does.
    pub migrate_on_start: bool,
    /// The messaging settings ([`crate::messaging`]).
    pub messaging: &'a [EnvVar],
}

/// The Deployment.
pub fn build(ctx: &Context, values: &Values, wiring: &Wiring) -> Deployment {
    let mut labels = ctx.labels(COMPONENT);
    labels.extend(values.deployment_labels.clone());
    let mut metadata = ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT);
    metadata.labels = Some(labels);
    if !values.deployment_annotations.is_empty() {
        metadata.annotations = Some(values.deployment_annotations.clone());
    }

    let mut template = values.pod.template(
        ctx,
        COMPONENT,
        container(ctx, values, wiring),
        volumes(ctx, wiring.database, &values.sqlite.persistence),
    );
    if let Some(spec) = template.spec.as_mut() {
        spec.termination_grace_period_seconds = values.termination_grace_period_seconds;
        spec.service_account_name = Some(wiring.service_account.to_owned());
        // The server never calls the Kubernetes API.
        spec.automount_service_account_token = Some(false);
        // Kubernetes would otherwise add `PREFECT_SERVER_PORT=tcp://...` and the like for the
        // release's Services, which look like Prefect settings.
        spec.enable_service_links = Some(false);
    }

    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            // The autoscaler sets the number of pods.
            replicas: (!values.autoscaling.enabled).then_some(values.replica_count),
            revision_history_limit: Some(values.revision_history_limit),
            selector: ctx.pod_selector(COMPONENT),
            strategy: strategy(ctx, values, wiring.database),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn container(ctx: &Context, values: &Values, wiring: &Wiring) -> Container {
    let port = values.service.target_port;
    let base_path = api_base_path(ctx, values);
    let http = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(CONTAINER_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    };
    let probe_path = |probe: &HttpProbe, check: &str| {
        probe.path.clone().unwrap_or_else(|| format!("{base_path}/{check}"))
    };

    Container {
        name: prefect_plugin_sdk::contract::server::CONTAINER.to_owned(),
        image: Some(image(ctx, values)),
        image_pull_policy: Some(values.image.pull_policy(ctx)),
        // The image's own entrypoint, spelt out so that a custom image runs the same way.
        command: Some(if values.command.is_empty() {
            entrypoint()
        } else {
            values.command.clone()
        }),
        args: Some(args(ctx, values)),
        working_dir: Some(env::HOME.to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some(CONTAINER_PORT_NAME.to_owned()),
            container_port: port,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env: Some(env::env(ctx, values, wiring)),
        startup_probe: values.startup_probe.probe(
            ctx,
            http(&format!("{base_path}/health")),
            "startupProbe",
        ),
        liveness_probe: values.liveness_probe.timing().probe(
            ctx,
            http(&probe_path(&values.liveness_probe, "health")),
            "livenessProbe",
        ),
        readiness_probe: values.readiness_probe.timing().probe(
            ctx,
            http(&probe_path(&values.readiness_probe, "ready")),
            "readinessProbe",
        ),
        lifecycle: (!values.lifecycle.is_empty())
            .then(|| ctx.map::<Lifecycle>(&values.lifecycle, "lifecycle"))
            .flatten(),
        volume_mounts: Some(volume_mounts(ctx, values, wiring.database)),
        ..Container::default()
    }
}

/// `args`, or `prefect server start` on `service.targetPort` with `extraArgs`.
fn args(ctx: &Context, values: &Values) -> Vec<String> {
    if !values.args.is_empty() {
        if !values.extra_args.is_empty() {
            ctx.error(
                "extraArgs",
                "args replaces every argument of the container, extraArgs included: put these \
                 in args too, or remove args to keep `prefect server start`",
            );
        }
        return values.args.clone();
    }
    let mut args: Vec<String> = ["prefect", "server", "start"].map(str::to_owned).to_vec();
    if values.background_services.run_as_separate_deployment {
        // The background services run in their own Deployment.
        args.push("--no-services".to_owned());
    }
    args.extend(["--port".to_owned(), values.service.target_port.to_string()]);
    args.extend(values.extra_args.iter().cloned());
    args
}

/// `apiBasePath` without a trailing `/`, refused unless it is a path.
pub fn api_base_path<'a>(ctx: &Context, values: &'a Values) -> &'a str {
    let path = values.api_base_path.as_str();
    let trimmed = values.api_path();
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        ctx.error(
            "apiBasePath",
            format!("`{path}` is not a URL path: give one that starts with `/`, such as /api"),
        );
    } else if trimmed.is_empty() {
        ctx.error(
            "apiBasePath",
            "the UI is served at `/`: give the API a path of its own, such as /api",
        );
    }
    trimmed
}

/// The image's own entrypoint, spelt out so that a custom image runs the same way; every
/// server process (API, background services, migrations) runs through it.
pub fn entrypoint() -> Vec<String> {
    ["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"].map(str::to_owned).to_vec()
}

/// The image tag of every server process: `server.image.prefectTag`, else the global one.
pub fn tag<'a>(ctx: &'a Context, values: &'a Values) -> &'a str {
    let own_tag = &values.image.prefect_tag;
    if own_tag.is_empty() { &ctx.global().prefect.image.prefect_tag } else { own_tag }
}

/// The image reference of every server process.
pub fn image_ref(ctx: &Context, values: &Values) -> String {
    values.image.image(ctx, &ctx.global().prefect.image.prefect_tag)
}

/// The image, refused when its tag says Prefect 2: the settings, the database wiring and the
/// API that clients of this stack expect are Prefect 3's.
fn image(ctx: &Context, values: &Values) -> String {
    let own_tag = &values.image.prefect_tag;
    let tag = tag(ctx, values);
    if is_prefect_2(tag) {
        let (tag_and_origin, where_to_set) = if own_tag.is_empty() {
            (
                format!("{tag} (from global.prefect.image.prefectTag)"),
                "in global.prefect.image.prefectTag or server.image.prefectTag",
            )
        } else {
            (
                tag.to_owned(),
                "in server.image.prefectTag, or leave it empty for global.prefect.image.prefectTag",
            )
        };
        ctx.error(
            "image.prefectTag",
            format!(
                "the image tag {tag_and_origin} is Prefect 2, and the server plugin runs Prefect 3 \
                 only: set a Prefect 3 tag, such as {DEFAULT_PREFECT_TAG}, {where_to_set}; to keep \
                 a Prefect 2 server, run it outside this release and point the worker at it \
                 (agent.serverApiConfig.apiUrl, with --without server)"
            ),
        );
    }
    check_digest(ctx, &values.image.digest, "image.digest");
    image_ref(ctx, values)
}

/// Whether an image tag names a Prefect 2 release (`2`, `2.20.27-python3.11`, `2-python3.11`).
fn is_prefect_2(tag: &str) -> bool {
    tag == "2" || tag.starts_with("2.") || tag.starts_with("2-")
}

/// `updateStrategy`, or the one the database needs: SQLite on a volume that one node at a
/// time can attach must stop the old pod before the new one starts.
fn strategy(ctx: &Context, values: &Values, database: &Database) -> Option<DeploymentStrategy> {
    if values.update_strategy.is_empty() {
        return database.is_sqlite().then(|| DeploymentStrategy {
            type_: Some("Recreate".to_owned()),
            rolling_update: None,
        });
    }
    let strategy: DeploymentStrategy = ctx.map(&values.update_strategy, "updateStrategy")?;
    let rolling = strategy.type_.as_deref().is_none_or(|kind| kind == "RollingUpdate");
    if rolling && *database == (Database::Sqlite { persistent: true }) {
        ctx.error(
            "updateStrategy.type",
            "a rolling update starts the new server pod while the old one still holds the SQLite \
             volume, which can attach to one node only: use Recreate (or leave updateStrategy \
             empty), or move to PostgreSQL",
        );
    }
    Some(strategy)
}

fn volumes(ctx: &Context, database: &Database, persistence: &Persistence) -> Vec<Volume> {
    let mut volumes = vec![empty_dir("home"), empty_dir("tmp"), empty_dir("ui-build")];
    match database {
        Database::Sqlite { persistent: true } => volumes.push(Volume {
            name: "data".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: pvc::claim_name(ctx, persistence),
                read_only: None,
            }),
            ..Volume::default()
        }),
        Database::Sqlite { persistent: false } => volumes.push(empty_dir("data")),
        _ => {}
    }
    volumes
}

fn volume_mounts(
    ctx: &Context,
    values: &Values,
    database: &Database,
) -> Vec<prefect_plugin_sdk::k8s_openapi::api::core::v1::VolumeMount> {
    let ui = &values.ui_config.prefect_ui_static_directory;
    if !ui.starts_with('/') || ui == "/" {
        ctx.error(
            "uiConfig.prefectUiStaticDirectory",
            "give an absolute folder other than `/`, such as /ui_build: an emptyDir is mounted \
             there",
        );
    }
    let mut mounts = vec![mount("home", env::HOME), mount("tmp", "/tmp"), mount("ui-build", ui)];
    if database.is_sqlite() {
        mounts.push(mount("data", "/data"));
    }
    mounts
}
