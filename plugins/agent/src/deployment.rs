//! The Deployment of the worker (`prefect worker start`) or legacy agent (`prefect agent
//! start`), as a non-root user on a read-only root filesystem; with a base job template, the
//! worker pod starts with [`pool_sync`]'s init container; without one, a Kubernetes worker's pod
//! starts with [`default_template`]'s, so that a pool it creates runs flows in the release's
//! namespace.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::{
            apps::v1::{Deployment, DeploymentSpec},
            core::v1::{
                ConfigMapVolumeSource, Container, ContainerPort, EnvVar, HTTPGetAction, Probe,
                Volume, VolumeMount,
            },
        },
        apimachinery::pkg::util::intstr::IntOrString,
    },
    workload::{check_digest, empty_dir, env_var, global_env, mount, set_env},
};

use crate::{
    COMPONENT,
    api::{self, Api},
    default_template, job_namespaces,
    job_template::{self, Template},
    pod_settings, pool_sync,
    prefect_version::{self, Tag},
    values::{Mode, Values},
};

/// The home folder of the image's `prefect` user; an emptyDir, as the root filesystem is
/// read-only.
const HOME: &str = "/home/prefect";
/// The port of the worker's health check (`PREFECT_WORKER_WEBSERVER_PORT`).
const HEALTH_PORT: i32 = 8080;
/// Where the base job template's ConfigMap is mounted.
const TEMPLATE_DIR: &str = "/etc/prefect/base-job-template";
const TEMPLATE_VOLUME: &str = "base-job-template";
/// The pod annotation that changes with an inline base job template.
const TEMPLATE_CHECKSUM: &str = "checksum/base-job-template";

/// Where the template a worker creates its pool with comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolTemplate {
    /// `agent.config.baseJobTemplate`, mounted from its ConfigMap.
    Values,
    /// Prefect's default with the release's namespace, written by an init container.
    PrefectDefault,
    /// None: not a Kubernetes worker.
    None,
}

/// The Deployment.
pub fn build(
    ctx: &Context,
    values: &Values,
    api: &Api,
    job_template: Option<&Template>,
    service_account: &str,
    job_namespaces: &[String],
) -> Deployment {
    let mut volumes = vec![empty_dir("home"), empty_dir("tmp")];
    if let Some(job_template) = job_template {
        volumes.push(Volume {
            name: TEMPLATE_VOLUME.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: job_template.config_map_name.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    let pool_template = match job_template {
        Some(_) => PoolTemplate::Values,
        None if creates_jobs(values) => PoolTemplate::PrefectDefault,
        None => PoolTemplate::None,
    };
    if values.mode == Mode::Worker && values.config.work_pool.trim().is_empty() {
        ctx.error(
            "config.workPool",
            "the worker needs a work pool to poll: name one, such as kubernetes (the worker \
             creates it if it does not exist)",
        );
    }
    let main = container(ctx, values, api, pool_template, job_namespaces);
    let mut template = values.pod.template(ctx, COMPONENT, main, volumes);
    if let Some(spec) = template.spec.as_mut() {
        spec.service_account_name = Some(service_account.to_owned());
        spec.enable_service_links = Some(false);
        // Before the init containers, which take the worker's envFrom.
        if let Some(main) = spec.containers.first_mut() {
            pod_settings::extra_env_from(ctx, values, main);
        }
        pod_settings::dns(ctx, values, spec);
        if job_template.is_some()
            && values.mode == Mode::Worker
            && let Some(main) = spec.containers.first()
        {
            let command = pool_sync::command(&values.config.work_pool, &template_file());
            let sync = pool_sync::init_container_beside(main, pool_sync::NAME, command);
            spec.init_containers
                .get_or_insert_with(Vec::new)
                .push(pod_settings::own_init(ctx, values, sync));
        } else if job_template.is_none()
            && creates_jobs(values)
            && let Some(main) = spec.containers.first()
        {
            // Where a new pool sends flow runs: the first namespace they may go to.
            let namespace = job_namespaces.first().map_or(ctx.namespace(), String::as_str);
            let command = default_template::command(namespace);
            let default = pool_sync::init_container_beside(main, default_template::NAME, command);
            spec.init_containers
                .get_or_insert_with(Vec::new)
                .push(pod_settings::own_init(ctx, values, default));
        }
        let extra = ctx.list::<Container>(
            &values.init_container.extra_containers,
            "initContainer.extraContainers",
        );
        if !extra.is_empty() {
            spec.init_containers.get_or_insert_with(Vec::new).extend(extra);
        }
    }
    if let Some(checksum) = job_template.and_then(Template::checksum) {
        template
            .metadata
            .get_or_insert_with(Default::default)
            .annotations
            .get_or_insert_with(Default::default)
            .insert(TEMPLATE_CHECKSUM.to_owned(), checksum);
    }

    let mut labels = ctx.labels(COMPONENT);
    labels.extend(values.deployment_labels.clone());
    let mut metadata = ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT);
    metadata.labels = Some(labels);
    if !values.deployment_annotations.is_empty() {
        metadata.annotations = Some(values.deployment_annotations.clone());
    }
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            // With an autoscaler, the replica count is its to set: a fixed one here would be
            // reset on every apply.
            replicas: (!values.autoscaling.enabled).then_some(values.replica_count),
            revision_history_limit: values.revision_history_limit,
            selector: ctx.pod_selector(COMPONENT),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn container(
    ctx: &Context,
    values: &Values,
    api: &Api,
    pool_template: PoolTemplate,
    job_namespaces: &[String],
) -> Container {
    // Prefect 2's agent has no health check: the probes, on by default, are left out there.
    let probed = values.liveness_probe.enabled || values.readiness_probe.enabled;
    let health = probed && values.mode == Mode::Worker;
    let mut env = api_env(api);
    env.extend(settings(ctx, values, health, job_namespaces));
    for var in global_env(ctx) {
        set_env(&mut env, var);
    }
    for (index, item) in values.extra_env_vars.iter().enumerate() {
        if let Some(var) = ctx.convert::<EnvVar>(item.clone(), &format!("extraEnvVars[{index}]")) {
            set_env(&mut env, var);
        }
    }
    if creates_jobs(values) {
        // From the final environment, so that a credential from extraEnvVars is the one
        // named; a setting the user gave stays.
        for setting in api::job_secret_settings(&env, api.key_propagation) {
            if !env.iter().any(|var| var.name == setting.name) {
                env.push(setting);
            }
        }
        job_namespaces::check_secrets(ctx, &env, job_namespaces);
    }
    if health
        && !values.args.is_empty()
        && !values.args.iter().any(|arg| arg.contains("--with-healthcheck"))
    {
        ctx.warn(
            "args",
            "the probes ask the worker's health check, which answers only with \
             --with-healthcheck: add it to args, or turn livenessProbe and readinessProbe off, \
             or the pods will never be ready",
        );
    }
    let check = Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/health".to_owned()),
            port: IntOrString::String("health".to_owned()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    };
    Container {
        name: "prefect-worker".to_owned(),
        image: Some(image(ctx, values, api)),
        image_pull_policy: Some(values.image.pull_policy(ctx)),
        // The image's own entrypoint, spelt out so that a custom image runs the same way.
        command: Some(if values.command.is_empty() {
            ["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"].map(str::to_owned).to_vec()
        } else {
            values.command.clone()
        }),
        args: Some(if values.args.is_empty() {
            args(values, health, pool_template)
        } else {
            values.args.clone()
        }),
        working_dir: Some(HOME.to_owned()),
        env: Some(env),
        ports: health.then(|| {
            vec![ContainerPort {
                name: Some("health".to_owned()),
                container_port: HEALTH_PORT,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            }]
        }),
        liveness_probe: if health {
            values.liveness_probe.probe(ctx, check.clone(), "livenessProbe")
        } else {
            None
        },
        readiness_probe: if health {
            values.readiness_probe.probe(ctx, check, "readinessProbe")
        } else {
            None
        },
        volume_mounts: Some(mounts(pool_template == PoolTemplate::Values)),
        ..Container::default()
    }
}

/// The home folder and the API connection: what every Prefect command in the pod needs.
fn api_env(api: &Api) -> Vec<EnvVar> {
    let mut env = vec![env_var("HOME", HOME)];
    env.extend(api.env.iter().cloned());
    env
}

/// The home folder and /tmp on the pod's emptyDirs (the root filesystem is read-only), and the
/// base job template, read-only.
fn mounts(with_template: bool) -> Vec<VolumeMount> {
    let mut mounts = vec![mount("home", HOME), mount("tmp", "/tmp")];
    if with_template {
        mounts.push(VolumeMount { read_only: Some(true), ..mount(TEMPLATE_VOLUME, TEMPLATE_DIR) });
    }
    mounts
}

/// The base job template, as the worker and the init container read it.
fn template_file() -> String {
    format!("{TEMPLATE_DIR}/{}", job_template::KEY)
}

/// The image: in worker mode the global Prefect image, with the Kubernetes worker for
/// `type: kubernetes`; in agent mode the Prefect 2 image the user must name.
fn image(ctx: &Context, values: &Values, api: &Api) -> String {
    let global_tag = &ctx.global().prefect.image.prefect_tag;
    let default_tag = match values.mode {
        Mode::Worker if values.config.type_ == "kubernetes" => format!("{global_tag}-kubernetes"),
        Mode::Worker | Mode::Agent => global_tag.clone(),
    };
    let tag = if values.image.prefect_tag.is_empty() {
        Tag::Global(&default_tag)
    } else {
        Tag::Own(&values.image.prefect_tag)
    };
    prefect_version::check(ctx, values, tag, api.stack_server);
    check_digest(ctx, &values.image.digest, "image.digest");
    values.image.image(ctx, &default_tag)
}

/// The start command's arguments.
fn args(values: &Values, health: bool, pool_template: PoolTemplate) -> Vec<String> {
    let config = &values.config;
    let mut args: Vec<String> = Vec::new();
    let mut push = |flag: &str, value: &str| {
        args.push(flag.to_owned());
        args.push(value.to_owned());
    };
    match values.mode {
        Mode::Worker => {
            push("--type", &config.type_);
            push("--pool", &config.work_pool);
            for queue in &config.work_queues {
                push("--work-queue", queue);
            }
            push("--install-policy", config.install_policy.as_str());
            match pool_template {
                PoolTemplate::Values => push("--base-job-template", &template_file()),
                PoolTemplate::PrefectDefault => push("--base-job-template", default_template::FILE),
                PoolTemplate::None => {}
            }
        }
        Mode::Agent => {
            if config.work_queues.is_empty() {
                push("--work-queue", "default");
            }
            for queue in &config.work_queues {
                push("--work-queue", queue);
            }
        }
    }
    if !config.name.is_empty() && values.mode == Mode::Worker {
        push("--name", &config.name);
    }
    if let Some(limit) = config.limit {
        push("--limit", &limit.to_string());
    }
    push("--prefetch-seconds", &config.prefetch_seconds.to_string());
    let verb = match values.mode {
        Mode::Worker => "worker",
        Mode::Agent => "agent",
    };
    let mut all = vec!["prefect".to_owned(), verb.to_owned(), "start".to_owned()];
    all.extend(args);
    if health {
        all.push("--with-healthcheck".to_owned());
    }
    all.extend(values.extra_args.iter().cloned());
    all
}

/// The Prefect settings the values decide.
fn settings(
    ctx: &Context,
    values: &Values,
    health: bool,
    job_namespaces: &[String],
) -> Vec<EnvVar> {
    let config = &values.config;
    let cluster_uid = if values.cluster_uid.is_empty() {
        format!("{}/{}", ctx.namespace(), ctx.release_name())
    } else {
        values.cluster_uid.clone()
    };
    let mut env = match values.mode {
        Mode::Worker => {
            vec![env_var("PREFECT_WORKER_QUERY_SECONDS", &config.query_interval.to_string())]
        }
        Mode::Agent => {
            vec![env_var("PREFECT_AGENT_QUERY_INTERVAL", &config.query_interval.to_string())]
        }
    };
    env.push(env_var("PREFECT_KUBERNETES_CLUSTER_UID", &cluster_uid));
    if creates_jobs(values) && !config.observer_cluster_wide {
        // The worker's observer watches flow-run pods and Jobs; without a namespace it
        // watches the whole cluster, which the namespaced Roles forbid.
        env.push(env_var(
            "PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES",
            &job_namespaces.join(","),
        ));
    }
    if health {
        env.push(env_var("PREFECT_WORKER_WEBSERVER_HOST", "0.0.0.0"));
        env.push(env_var("PREFECT_WORKER_WEBSERVER_PORT", &HEALTH_PORT.to_string()));
    }
    if let Some(http2) = config.http2 {
        env.push(env_var("PREFECT_API_ENABLE_HTTP2", &http2.to_string()));
    }
    if values.debug {
        env.push(env_var("PREFECT_DEBUG_MODE", "true"));
    }
    env
}

/// Whether the worker submits flow runs as Kubernetes Jobs.
fn creates_jobs(values: &Values) -> bool {
    values.mode == Mode::Worker && values.config.type_ == "kubernetes"
}
