//! The background services (scheduler, late runs, automations...) in a Deployment of their
//! own, `prefect server services start`, when `backgroundServices.runAsSeparateDeployment`
//! asks: the API server then starts with `--no-services`. They share the server's database,
//! basic auth and messaging, and need PostgreSQL ([`crate::database::check_scale`]), Redis
//! and Prefect 3.1.13 or later ([`check`]).

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{Container, Lifecycle, ServiceAccount},
    },
    wire::DEFAULT_PREFECT_TAG,
    workload::{empty_dir, mount},
};

use crate::{
    deployment::{self, Wiring},
    env, messaging,
    values::Values,
};

/// The component: the Deployment and its ServiceAccount are `<release>-background-services`.
pub const COMPONENT: &str = prefect_plugin_sdk::contract::background_services::COMPONENT;
/// The container of the Deployment, which the postgres and redis plugins wire.
pub const CONTAINER: &str = prefect_plugin_sdk::contract::background_services::CONTAINER;
/// The first Prefect release with `prefect server services start` as this Deployment uses it.
const FIRST_RELEASE: (u32, u32, u32) = (3, 1, 13);

const PATH: &str = "backgroundServices.runAsSeparateDeployment";

/// Reports what background services of their own need besides PostgreSQL: Redis, through
/// which they exchange events with the API server, and a Prefect release that has them.
pub fn check(ctx: &Context, values: &Values) {
    let services = &values.background_services;
    if !services.run_as_separate_deployment {
        return;
    }
    if !messaging::has_redis(ctx, &services.messaging) {
        ctx.error(
            PATH,
            "background services in pods of their own exchange events and work with the API \
             server through Redis: add the redis plugin to the stack, or set \
             backgroundServices.messaging.redis.host to your Redis",
        );
    }
    let tag = deployment::tag(ctx, values);
    let (first_major, first_minor, first_patch) = FIRST_RELEASE;
    let first = format!("{first_major}.{first_minor}.{first_patch}");
    match version(tag) {
        Some(found) if found < FIRST_RELEASE => ctx.error(
            PATH,
            format!(
                "`prefect server services start` needs Prefect {first} or later, and the image \
                 tag {tag} is Prefect {}.{}.{}: set a later tag in server.image.prefectTag or \
                 global.prefect.image.prefectTag, or keep the services in the server pods",
                found.0, found.1, found.2
            ),
        ),
        Some(_) => {}
        None => {
            let message = format!(
                "the image tag {tag} does not start with a Prefect release (X.Y.Z), so nothing \
                 tells that it is {first} or later, which `prefect server services start` \
                 needs: pin a tag such as {DEFAULT_PREFECT_TAG}"
            );
            if is_official(ctx, values) {
                ctx.error(PATH, message);
            } else {
                // A custom image names its own tags; the user knows what it holds.
                ctx.warn(PATH, message);
            }
        }
    }
}

/// The Prefect release an image tag starts with (`3.1.13-python3.12` is 3.1.13).
fn version(tag: &str) -> Option<(u32, u32, u32)> {
    let mut parts = tag.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    Some((major, minor, rest[..digits].parse().ok()?))
}

/// Whether the server runs Prefect's own image, whose tags start with the release.
fn is_official(ctx: &Context, values: &Values) -> bool {
    let repository = if values.image.repository.is_empty() {
        &ctx.global().prefect.image.repository
    } else {
        &values.image.repository
    };
    matches!(repository.as_str(), "prefecthq/prefect" | "docker.io/prefecthq/prefect")
}

/// The Deployment and the ServiceAccount to create, when the services run apart.
pub fn build(
    ctx: &Context,
    values: &Values,
    wiring: &Wiring,
) -> Option<(Deployment, Option<ServiceAccount>)> {
    let services = &values.background_services;
    if !services.run_as_separate_deployment {
        return None;
    }
    let (account_name, account) = services.service_account.build(ctx, COMPONENT, false);
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(deployment::image_ref(ctx, values)),
        image_pull_policy: Some(values.image.pull_policy(ctx)),
        command: Some(if services.command.is_empty() {
            deployment::entrypoint()
        } else {
            services.command.clone()
        }),
        args: Some(if services.args.is_empty() {
            ["prefect", "server", "services", "start"].map(str::to_owned).to_vec()
        } else {
            services.args.clone()
        }),
        working_dir: Some(env::HOME.to_owned()),
        env: Some(env::background_services(ctx, values, wiring)),
        lifecycle: (!services.lifecycle.is_empty())
            .then(|| ctx.map::<Lifecycle>(&services.lifecycle, "backgroundServices.lifecycle"))
            .flatten(),
        volume_mounts: Some(vec![mount("home", env::HOME), mount("tmp", "/tmp")]),
        ..Container::default()
    };
    let volumes = vec![empty_dir("home"), empty_dir("tmp")];
    let mut template = ctx.within("backgroundServices", |ctx| {
        services.pod.template(ctx, COMPONENT, container, volumes)
    });
    if let Some(spec) = template.spec.as_mut() {
        spec.termination_grace_period_seconds = services.termination_grace_period_seconds;
        spec.service_account_name = Some(account_name);
        // The services never call the Kubernetes API.
        spec.automount_service_account_token = Some(false);
        spec.enable_service_links = Some(false);
    }
    let deployment = Deployment {
        metadata: ctx.metadata(&ctx.full_name(COMPONENT), COMPONENT),
        spec: Some(DeploymentSpec {
            replicas: Some(services.replica_count),
            revision_history_limit: Some(services.revision_history_limit),
            selector: ctx.pod_selector(COMPONENT),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    Some((deployment, account))
}

#[cfg(test)]
mod tests {
    use super::version;

    #[test]
    fn the_release_is_read_from_the_start_of_the_tag() {
        assert_eq!(version("3.1.13-python3.12"), Some((3, 1, 13)));
        assert_eq!(version("3.9.1"), Some((3, 9, 1)));
        assert_eq!(version("3.10.0rc1"), Some((3, 10, 0)));
        assert_eq!(version("3-latest"), None);
        assert_eq!(version("3.2-python3.12"), None);
        assert_eq!(version("latest"), None);
    }
}
