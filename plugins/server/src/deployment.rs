//! The Deployment that runs `prefect server start`: the API and the UI on port 4200, as a
//! non-root user on a read-only root filesystem, with emptyDirs where Prefect writes.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::{
            apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy},
            core::v1::{
                Affinity, Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction,
                LocalObjectReference, PersistentVolumeClaimVolumeSource, PodSecurityContext,
                PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecurityContext, Toleration,
                TopologySpreadConstraint, Volume, VolumeMount,
            },
        },
        apimachinery::pkg::{
            apis::meta::v1::{LabelSelector, ObjectMeta},
            util::intstr::IntOrString,
        },
    },
    serde_json::{Map, Value, json},
};

use crate::{
    COMPONENT, CONTAINER_PORT_NAME, PORT,
    database::Database,
    env,
    problems::Problems,
    pvc,
    secrets::SecretKey,
    values::{ProbeValues, Values},
};

/// What the Deployment refers to that other modules decide.
pub struct Wiring<'a> {
    /// The database and how its URL reaches the container.
    pub database: &'a Database,
    /// The Secret key that holds the basic-auth string, when basic auth is on.
    pub basic_auth: Option<&'a SecretKey>,
    /// The ServiceAccount the pods run as.
    pub service_account: &'a str,
}

/// The Deployment.
pub fn build(
    ctx: &Context,
    values: &Values,
    wiring: &Wiring,
    problems: &mut Problems,
) -> Deployment {
    if wiring.database.is_sqlite() && values.replica_count > 1 {
        problems.error(
            "replicaCount",
            "the embedded SQLite database is one file that only one server pod can use: keep \
             replicaCount at 1, or move to PostgreSQL (externalDatabase, or the postgres plugin) \
             to run more",
        );
    }

    let mut labels = ctx.labels(COMPONENT);
    labels.extend(values.deployment_labels.clone());
    let mut metadata = ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT);
    metadata.labels = Some(labels);
    if !values.deployment_annotations.is_empty() {
        metadata.annotations = Some(values.deployment_annotations.clone());
    }

    let selector = ctx.selector_labels(COMPONENT);
    let mut pod_labels = ctx.labels(COMPONENT);
    for (key, value) in &values.pod_labels {
        if selector.get(key).is_some_and(|fixed| fixed != value) {
            problems.error(
                "podLabels",
                format!(
                    "`{key}` selects the server's pods and cannot change: remove it from \
                     podLabels"
                ),
            );
            continue;
        }
        pod_labels.insert(key.clone(), value.clone());
    }

    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(values.replica_count),
            revision_history_limit: Some(values.revision_history_limit),
            selector: LabelSelector { match_labels: Some(selector), ..LabelSelector::default() },
            strategy: strategy(values, wiring.database, problems),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: (!values.pod_annotations.is_empty())
                        .then(|| values.pod_annotations.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(ctx, values, wiring, problems)),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn pod_spec(ctx: &Context, values: &Values, wiring: &Wiring, problems: &mut Problems) -> PodSpec {
    let global = &ctx.global().prefect.image;
    let image_pull_secrets: Vec<LocalObjectReference> = global
        .pull_secrets
        .iter()
        .map(|name| LocalObjectReference { name: name.clone() })
        .collect();

    let mut containers = vec![container(ctx, values, wiring, problems)];
    containers.extend(problems.list::<Container>(&values.extra_containers, "extraContainers"));

    PodSpec {
        service_account_name: Some(wiring.service_account.to_owned()),
        // The server never calls the Kubernetes API.
        automount_service_account_token: Some(false),
        // Kubernetes would otherwise add `PREFECT_SERVER_PORT=tcp://...` and the like for the
        // release's Services, which look like Prefect settings.
        enable_service_links: Some(false),
        image_pull_secrets: (!image_pull_secrets.is_empty()).then_some(image_pull_secrets),
        security_context: problems
            .map::<PodSecurityContext>(&values.pod_security_context, "podSecurityContext")
            .filter(|context| *context != PodSecurityContext::default()),
        priority_class_name: (!values.priority_class_name.is_empty())
            .then(|| values.priority_class_name.clone()),
        node_selector: (!values.node_selector.is_empty()).then(|| values.node_selector.clone()),
        tolerations: non_empty(problems.list::<Toleration>(&values.tolerations, "tolerations")),
        affinity: (!values.affinity.is_empty())
            .then(|| problems.map::<Affinity>(&values.affinity, "affinity"))
            .flatten(),
        topology_spread_constraints: non_empty(topology_spread(ctx, values, problems)),
        containers,
        volumes: Some(volumes(ctx, values, wiring.database, problems)),
        ..PodSpec::default()
    }
}

fn container(
    ctx: &Context,
    values: &Values,
    wiring: &Wiring,
    problems: &mut Problems,
) -> Container {
    let global = &ctx.global().prefect.image;
    let repository = or(&values.image.repository, &global.repository);
    let tag = or(&values.image.prefect_tag, &global.prefect_tag);
    let pull_policy = values.image.pull_policy.unwrap_or(global.pull_policy);

    let mut args: Vec<String> =
        ["prefect", "server", "start", "--port", &PORT.to_string()].map(str::to_owned).to_vec();
    args.extend(values.extra_args.iter().cloned());

    let env_from = env::env_from(values);
    Container {
        name: "prefect-server".to_owned(),
        image: Some(ctx.image(repository, tag)),
        image_pull_policy: Some(pull_policy.as_str().to_owned()),
        // The image's own entrypoint, spelt out so that a custom image runs the same way.
        command: Some(
            ["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"].map(str::to_owned).to_vec(),
        ),
        args: Some(args),
        working_dir: Some(env::HOME.to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some(CONTAINER_PORT_NAME.to_owned()),
            container_port: PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env: Some(env::env(values, wiring.database, wiring.basic_auth, problems)),
        env_from: (!env_from.is_empty()).then_some(env_from),
        resources: (!values.resources.is_empty())
            .then(|| {
                problems.map::<ResourceRequirements>(&quantities(&values.resources), "resources")
            })
            .flatten(),
        security_context: problems
            .map::<SecurityContext>(&values.container_security_context, "containerSecurityContext")
            .filter(|context| *context != SecurityContext::default()),
        liveness_probe: probe(&values.liveness_probe, "/api/health", "livenessProbe", problems),
        readiness_probe: probe(&values.readiness_probe, "/api/ready", "readinessProbe", problems),
        volume_mounts: Some(volume_mounts(values, wiring.database, problems)),
        ..Container::default()
    }
}

/// An HTTP probe of `path` with the user's timing.
fn probe(values: &ProbeValues, path: &str, at: &str, problems: &mut Problems) -> Option<Probe> {
    if !values.enabled {
        return None;
    }
    let mut probe = Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(CONTAINER_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    };
    let timing: Probe = problems.map(&values.config, &format!("{at}.config"))?;
    probe.initial_delay_seconds = timing.initial_delay_seconds;
    probe.period_seconds = timing.period_seconds;
    probe.timeout_seconds = timing.timeout_seconds;
    probe.failure_threshold = timing.failure_threshold;
    probe.success_threshold = timing.success_threshold;
    probe.termination_grace_period_seconds = timing.termination_grace_period_seconds;
    Some(probe)
}

/// `updateStrategy`, or the one the database needs: SQLite on a volume that one node at a
/// time can attach must stop the old pod before the new one starts.
fn strategy(
    values: &Values,
    database: &Database,
    problems: &mut Problems,
) -> Option<DeploymentStrategy> {
    if values.update_strategy.is_empty() {
        return database.is_sqlite().then(|| DeploymentStrategy {
            type_: Some("Recreate".to_owned()),
            rolling_update: None,
        });
    }
    let strategy: DeploymentStrategy = problems.map(&values.update_strategy, "updateStrategy")?;
    let rolling = strategy.type_.as_deref().is_none_or(|kind| kind == "RollingUpdate");
    if rolling && *database == (Database::Sqlite { persistent: true }) {
        problems.error(
            "updateStrategy.type",
            "a rolling update starts the new server pod while the old one still holds the SQLite \
             volume, which can attach to one node only: use Recreate (or leave updateStrategy \
             empty), or move to PostgreSQL",
        );
    }
    Some(strategy)
}

fn volumes(
    ctx: &Context,
    values: &Values,
    database: &Database,
    problems: &mut Problems,
) -> Vec<Volume> {
    let mut volumes = vec![empty_dir("home"), empty_dir("tmp"), empty_dir("ui-build")];
    match database {
        Database::Sqlite { persistent: true } => volumes.push(Volume {
            name: "data".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: pvc::claim_name(ctx),
                read_only: None,
            }),
            ..Volume::default()
        }),
        Database::Sqlite { persistent: false } => volumes.push(empty_dir("data")),
        _ => {}
    }
    volumes.extend(problems.list::<Volume>(&values.extra_volumes, "extraVolumes"));
    volumes
}

fn volume_mounts(
    values: &Values,
    database: &Database,
    problems: &mut Problems,
) -> Vec<VolumeMount> {
    let ui = &values.ui_config.prefect_ui_static_directory;
    if !ui.starts_with('/') || ui == "/" {
        problems.error(
            "uiConfig.prefectUiStaticDirectory",
            "give an absolute folder other than `/`, such as /ui_build: an emptyDir is mounted \
             there",
        );
    }
    let mut mounts = vec![mount("home", env::HOME), mount("tmp", "/tmp"), mount("ui-build", ui)];
    if database.is_sqlite() {
        mounts.push(mount("data", "/data"));
    }
    mounts.extend(problems.list::<VolumeMount>(&values.extra_volume_mounts, "extraVolumeMounts"));
    mounts
}

/// The user's constraints, each selecting the server's pods unless it says otherwise.
fn topology_spread(
    ctx: &Context,
    values: &Values,
    problems: &mut Problems,
) -> Vec<TopologySpreadConstraint> {
    let selector = json!({ "matchLabels": ctx.selector_labels(COMPONENT) });
    let constraints: Vec<Value> = values
        .topology_spread_constraints
        .iter()
        .map(|constraint| {
            let mut constraint = constraint.clone();
            if let Some(object) = constraint.as_object_mut()
                && !object.contains_key("labelSelector")
            {
                object.insert("labelSelector".to_owned(), selector.clone());
            }
            constraint
        })
        .collect();
    problems.list(&constraints, "topologySpreadConstraints")
}

/// `resources` with numbers turned into the strings Kubernetes quantities are (`cpu: 1` is
/// what many values files say).
fn quantities(resources: &Map<String, Value>) -> Map<String, Value> {
    let mut resources = resources.clone();
    for section in ["requests", "limits"] {
        if let Some(Value::Object(amounts)) = resources.get_mut(section) {
            for amount in amounts.values_mut() {
                if let Value::Number(number) = amount {
                    *amount = Value::String(number.to_string());
                }
            }
        }
    }
    resources
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount { name: name.to_owned(), mount_path: path.to_owned(), ..VolumeMount::default() }
}

fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}
