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
    Context,
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
pub const COMPONENT: &str = prefect_plugin_sdk::contract::migrations::COMPONENT;
/// The Job's container, which the postgres plugin wires.
pub const CONTAINER: &str = prefect_plugin_sdk::contract::migrations::CONTAINER;
/// The annotation with the workloads (`Kind/name`, comma-separated) that start only after
/// the Job has completed.
pub const RUN_BEFORE: &str = "prefectctl.io/run-before";

/// What the Job prints after a successful upgrade, before the database revision; prefectctl
/// records the line, and `rollback` to an older Prefect names that revision.
pub const REVISION_MARKER: &str = "prefect database revision: ";

/// Runs `command`, then prints the newest PostgreSQL migration of the image's Prefect, which
/// is where a successful upgrade leaves the database. A failure of the report (Prefect moved
/// its migrations) does not fail the Job.
const REPORT_SCRIPT: &str = r#"report="$1"; shift; "$@" || exit; python -c "$report" || true"#;

/// The Python that prints the revision: alembic's head of Prefect's PostgreSQL migrations.
const HEAD_REVISION: &str = "\
import pathlib, prefect.server.database as d
from alembic.config import Config
from alembic.script import ScriptDirectory
m = pathlib.Path(d.__file__).parent / '_migrations'
c = Config()
c.set_main_option('script_location', str(m))
c.set_main_option('version_locations', str(m / 'versions' / 'postgresql'))
print('prefect database revision: ' + ScriptDirectory.from_config(c).get_current_head())
";

/// The container's arguments: `command`, then the revision report.
fn report_revision(command: &[String]) -> Vec<String> {
    let mut args: Vec<String> =
        ["sh", "-c", REPORT_SCRIPT, "db-migrations", HEAD_REVISION].map(str::to_owned).to_vec();
    args.extend_from_slice(command);
    args
}

/// Whether the values and the database ask for the Job.
pub fn enabled(values: &Values, database: &Database) -> bool {
    values.migrations.enabled && !database.is_sqlite()
}

/// The Job, if enabled.
pub fn build(ctx: &Context, values: &Values, wiring: &Wiring) -> Option<Job> {
    if !enabled(values, wiring.database) {
        return None;
    }
    let migrations = &values.migrations;
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(deployment::image_ref(ctx, values)),
        image_pull_policy: Some(values.image.pull_policy(ctx)),
        command: Some(deployment::entrypoint()),
        args: Some(report_revision(&migrations.command)),
        working_dir: Some(env::HOME.to_owned()),
        env: Some(env::migrations(ctx, values, wiring.database)),
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
    let volumes = vec![empty_dir("home"), empty_dir("tmp")];
    let mut template =
        ctx.within("migrations", |ctx| pod.template(ctx, COMPONENT, container, volumes));
    let security = ctx
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_runs_the_command_first_and_prints_the_marker() {
        let args = report_revision(&["prefect".to_owned(), "server".to_owned()]);
        assert_eq!(args[..2], ["sh", "-c"]);
        assert_eq!(args[5..], ["prefect", "server"]);
        assert!(HEAD_REVISION.contains(&format!("print('{REVISION_MARKER}' + ")));
    }
}
