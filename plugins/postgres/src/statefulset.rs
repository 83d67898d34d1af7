//! The StatefulSet that runs PostgreSQL from the official image: one replica, data on a claim
//! from volumeClaimTemplates, as the image's non-root `postgres` user on a read-only root
//! filesystem (with emptyDirs for the socket folder and /tmp).

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::{
        apps::v1::StatefulSet,
        core::v1::{Container, ContainerPort, ExecAction, PersistentVolumeClaim, Probe},
    },
    secrets::KeptPassword,
    workload::{check_digest, claim_spec, empty_dir, env_from_secret, env_var, mount, stateful},
};

use crate::{COMPONENT, PORT, PORT_NAME, values::Values};

/// Where the data volume is mounted; the data itself is in the `pgdata` folder below it, so
/// that a filesystem's `lost+found` does not make initdb refuse the folder.
const DATA_MOUNT: &str = "/var/lib/postgresql/data";

/// The StatefulSet.
pub fn build(
    ctx: &Context,
    values: &Values,
    password: &KeptPassword,
    service_account: &str,
) -> StatefulSet {
    check_digest(ctx, &values.image.digest, "image.digest");
    let persistent = values.persistence.enabled;
    if persistent && values.persistence.size.trim().is_empty() {
        ctx.error(
            "persistence.size",
            "give the size of the data volume as a Kubernetes quantity, such as `8Gi`",
        );
    }
    let mut volumes = vec![empty_dir("run"), empty_dir("tmp")];
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

fn container(ctx: &Context, values: &Values, password: &KeptPassword) -> Container {
    let auth = &values.auth;
    for (path, value) in [("auth.database", &auth.database), ("auth.username", &auth.username)] {
        if value.is_empty() {
            ctx.error(path, "must not be empty");
        }
    }
    // `pg_isready` through the shell, so that it reads the user and database from the env.
    let ready = Probe {
        exec: Some(ExecAction {
            command: Some(
                [
                    "sh",
                    "-c",
                    r#"exec pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB" -h 127.0.0.1 -p 5432"#,
                ]
                .map(str::to_owned)
                .to_vec(),
            ),
        }),
        ..Probe::default()
    };
    Container {
        name: "postgresql".to_owned(),
        image: Some(image(ctx, values)),
        image_pull_policy: Some(pull_policy(ctx, values)),
        env: Some(vec![
            env_var("POSTGRES_DB", &auth.database),
            env_var("POSTGRES_USER", &auth.username),
            env_from_secret("POSTGRES_PASSWORD", &password.secret, &password.key),
            env_var("PGDATA", &format!("{DATA_MOUNT}/pgdata")),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        liveness_probe: values.liveness_probe.probe(ctx, ready.clone(), "livenessProbe"),
        readiness_probe: values.readiness_probe.probe(ctx, ready, "readinessProbe"),
        volume_mounts: Some(vec![
            mount("data", DATA_MOUNT),
            mount("run", "/var/run/postgresql"),
            mount("tmp", "/tmp"),
        ]),
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

/// The claim template of the data volume, from `persistence`.
fn claim(ctx: &Context, values: &Values) -> PersistentVolumeClaim {
    let persistence = &values.persistence;
    let spec = claim_spec(&persistence.size, &persistence.storage_class);
    stateful::data_claim(ctx, COMPONENT, spec, &persistence.annotations)
}
