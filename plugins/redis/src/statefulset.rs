//! The StatefulSet that runs Redis from the official image: one replica, an append-only file on
//! a claim from volumeClaimTemplates (or nothing on disk without persistence), as the image's
//! non-root `redis` user on a read-only root filesystem (with /data and /tmp writable).
//!
//! The password reaches Redis through the environment: `redis-server --requirepass
//! "$REDIS_PASSWORD"` run by `sh -c`, so the manifest holds the variable's name only (and
//! Redis replaces its own process title, so `ps` does not show it either).

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::{
        apps::v1::StatefulSet,
        core::v1::{Container, ContainerPort, ExecAction, PersistentVolumeClaim, Probe},
    },
    secrets::KeptPassword,
    workload::{check_digest, claim_spec, empty_dir, env_from_secret, mount, stateful},
};

use crate::{COMPONENT, PORT, PORT_NAME, values::Values};

/// Where Redis keeps its files, as in the official image.
const DATA_MOUNT: &str = "/data";

/// Redis with the password from `$REDIS_PASSWORD`, then the arguments after the script.
const START_SCRIPT: &str =
    r#"exec redis-server --port 6379 --dir /data --requirepass "$REDIS_PASSWORD" "$@""#;

/// A probe: Redis answers `PONG` to an authenticated ping (redis-cli reads the password from
/// `REDISCLI_AUTH`, never from its arguments).
const PING_SCRIPT: &str =
    r#"[ "$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p 6379 ping)" = PONG ]"#;

/// The StatefulSet.
pub fn build(
    ctx: &Context,
    values: &Values,
    password: &KeptPassword,
    service_account: &str,
) -> StatefulSet {
    check_digest(ctx, &values.image.digest, "image.digest");
    let persistent = values.persistence.enabled;
    if persistent {
        if values.persistence.size.trim().is_empty() {
            ctx.error(
                "persistence.size",
                "give the size of the data volume as a Kubernetes quantity, such as `1Gi`",
            );
        }
        if values.persistence.access_modes.is_empty() {
            ctx.error("persistence.accessModes", "name at least one, such as ReadWriteOnce");
        }
    }
    let mut volumes = vec![empty_dir("tmp")];
    if !persistent {
        volumes.push(empty_dir("data"));
    }
    let mut template =
        values.pod.template(ctx, COMPONENT, container(ctx, values, password), volumes);
    if let Some(spec) = template.spec.as_mut() {
        spec.service_account_name = Some(service_account.to_owned());
        spec.automount_service_account_token = Some(false);
        spec.enable_service_links = Some(false);
    }
    let claim = persistent.then(|| claim(ctx, values));
    stateful::statefulset(ctx, COMPONENT, template, claim)
}

/// `redis-server`'s arguments after the password: an append-only file with persistence, no
/// files at all without.
fn server_arguments(persistent: bool) -> &'static [&'static str] {
    if persistent { &["--appendonly", "yes"] } else { &["--appendonly", "no", "--save", ""] }
}

fn container(ctx: &Context, values: &Values, password: &KeptPassword) -> Container {
    let mut command = vec!["sh", "-c", START_SCRIPT, "redis-server"];
    command.extend(server_arguments(values.persistence.enabled));
    let ping = Probe {
        exec: Some(ExecAction {
            command: Some(["sh", "-c", PING_SCRIPT].map(str::to_owned).to_vec()),
        }),
        ..Probe::default()
    };
    Container {
        name: "redis".to_owned(),
        image: Some(image(ctx, values)),
        image_pull_policy: Some(pull_policy(ctx, values)),
        command: Some(command.into_iter().map(str::to_owned).collect()),
        env: Some(vec![env_from_secret("REDIS_PASSWORD", &password.secret, &password.key)]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        liveness_probe: values.liveness_probe.probe(ctx, ping.clone(), "livenessProbe"),
        readiness_probe: values.readiness_probe.probe(ctx, ping, "readinessProbe"),
        volume_mounts: Some(vec![mount("data", DATA_MOUNT), mount("tmp", "/tmp")]),
        ..Container::default()
    }
}

/// The image reference, with `global.imageRegistry` in front.
pub fn image(ctx: &Context, values: &Values) -> String {
    ctx.pinned_image(&values.image.repository, &values.image.tag, &values.image.digest)
}

/// The image's pull policy, `global.prefect.image.pullPolicy` unless set here.
pub fn pull_policy(ctx: &Context, values: &Values) -> String {
    values.image.pull_policy.unwrap_or(ctx.global().prefect.image.pull_policy).as_str().to_owned()
}

/// The claim template of the data volume, from `persistence` (with its access modes).
fn claim(ctx: &Context, values: &Values) -> PersistentVolumeClaim {
    let persistence = &values.persistence;
    let mut spec = claim_spec(&persistence.size, &persistence.storage_class);
    spec.access_modes = Some(persistence.access_modes.clone());
    stateful::data_claim(ctx, COMPONENT, spec, &persistence.annotations)
}
