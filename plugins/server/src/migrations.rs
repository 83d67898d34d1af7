//! The Job `<release>-db-migrations`, which upgrades a PostgreSQL database's schema
//! (`prefect server database upgrade -y`) before the server processes start, so that several
//! server pods never race to migrate it; they then start with
//! `PREFECT_SERVER_DATABASE_MIGRATE_ON_START=false`. With SQLite, or `migrations.enabled`
//! off, there is no Job and the server migrates on start.
//!
//! The annotation [`RUN_BEFORE`] names the Deployments that wait for it: the host applies
//! the Job after the other workloads and before those, waits for it to complete, and replaces
//! it when its spec changes.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context, Problems,
    k8s_openapi::api::{
        batch::v1::{Job, JobSpec},
        core::v1::{Container, SecurityContext},
    },
    workload::{PodValues, empty_dir, mount},
};

use crate::{
    COMPONENT as SERVER, background_services,
    database::Database,
    deployment::{self, Wiring},
    env,
    values::Values,
};

/// The component: the Job is `<release>-db-migrations`.
pub const COMPONENT: &str = "db-migrations";
/// The Job's container, which the postgres plugin wires.
pub const CONTAINER: &str = "prefect-db-migrations";
/// The annotation with the workloads (`Kind/name`, comma-separated) that start only after
/// the Job has completed.
pub const RUN_BEFORE: &str = "prefectctl.io/run-before";

/// Whether the values and the database ask for the Job.
pub fn enabled(values: &Values, database: &Database) -> bool {
    values.migrations.enabled && !database.is_sqlite()
}

/// The Job, if enabled.
pub fn build(
    ctx: &Context,
    values: &Values,
    wiring: &Wiring,
    problems: &mut Problems,
) -> Option<Job> {
    if !enabled(values, wiring.database) {
        return None;
    }
    let migrations = &values.migrations;
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(deployment::image_ref(ctx, values)),
        image_pull_policy: Some(values.image.pull_policy(ctx)),
        command: Some(deployment::entrypoint()),
        args: Some(migrations.command.clone()),
        working_dir: Some(env::HOME.to_owned()),
        env: Some(env::migrations(values, wiring.database, problems)),
        volume_mounts: Some(vec![mount("home", env::HOME), mount("tmp", "/tmp")]),
        ..Container::default()
    };
    // The pod values as the server's, under prefect-helm's names for the Job.
    let pod = PodValues {
        resources: migrations.resources.clone(),
        pod_security_context: migrations.pod_security_context.clone(),
        container_security_context: Default::default(),
        node_selector: migrations.node_selector.clone(),
        tolerations: migrations.tolerations.clone(),
        affinity: migrations.affinity.clone(),
        extra_volumes: migrations.extra_volumes.clone(),
        extra_volume_mounts: migrations.extra_volume_mounts.clone(),
        ..PodValues::default()
    };
    let mut pod_problems = Problems::default();
    let mut template = pod.template(
        ctx,
        COMPONENT,
        container,
        vec![empty_dir("home"), empty_dir("tmp")],
        &mut pod_problems,
    );
    problems.extend_at("migrations", pod_problems);
    let security = problems
        .map::<SecurityContext>(&migrations.security_context, "migrations.securityContext")
        .filter(|context| *context != SecurityContext::default());
    if let Some(spec) = template.spec.as_mut() {
        if let Some(main) = spec.containers.first_mut() {
            main.security_context = security;
        }
        spec.restart_policy = Some("Never".to_owned());
        spec.service_account_name = Some(wiring.service_account.to_owned());
        spec.automount_service_account_token = Some(false);
        spec.enable_service_links = Some(false);
    }

    let mut before = vec![format!("Deployment/{}", ctx.full_name(SERVER))];
    if values.background_services.run_as_separate_deployment {
        before.push(format!("Deployment/{}", ctx.full_name(background_services::COMPONENT)));
    }
    let mut metadata = ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT);
    metadata.annotations = Some(BTreeMap::from([(RUN_BEFORE.to_owned(), before.join(","))]));
    Some(Job {
        metadata,
        spec: Some(JobSpec {
            active_deadline_seconds: (migrations.timeout_seconds > 0)
                .then_some(migrations.timeout_seconds),
            backoff_limit: Some(migrations.backoff_limit),
            template,
            ..JobSpec::default()
        }),
        ..Job::default()
    })
}
