//! Bringing an existing work pool's base job template up to date.
//!
//! `prefect worker start --base-job-template` uses the template only when it creates the pool:
//! a pool that already exists keeps the template it was created with, whatever the values say
//! now. So the worker pod starts with an init container that, when the pool exists, replaces
//! its template with the mounted one; when the pool does not exist yet, it leaves the pool to
//! the worker, which creates it with the template.

use prefect_plugin_sdk::k8s_openapi::api::core::v1::{Container, EnvVar, VolumeMount};

/// The init container's name.
pub const NAME: &str = "sync-base-job-template";

/// The pool's name and the template file are the arguments `$1` and `$2`: the pool's name is a
/// value, so it never becomes part of the script. `inspect` fails when the pool does not exist,
/// and also when the API cannot be reached: then this pod leaves the template as it is, and
/// the worker, which needs the API too, reports the problem.
const SCRIPT: &str = r#"if ! answer=$(prefect work-pool inspect "$1" 2>&1); then
  printf '%s\n' "$answer"
  echo "work pool $1 not read: the worker creates it with the base job template if it does not exist"
  exit 0
fi
echo "work pool $1 exists: updating its base job template from $2"
exec prefect work-pool update "$1" --base-job-template "$2""#;

/// The init container: `main`'s image, pull policy, working folder, security context and
/// resources, with `env` and `mounts`.
pub fn init_container(
    main: &Container,
    env: Vec<EnvVar>,
    mounts: Vec<VolumeMount>,
    pool: &str,
    template_file: &str,
) -> Container {
    Container {
        name: NAME.to_owned(),
        image: main.image.clone(),
        image_pull_policy: main.image_pull_policy.clone(),
        command: Some(
            ["/bin/sh", "-c", SCRIPT, NAME, pool, template_file].map(str::to_owned).to_vec(),
        ),
        working_dir: main.working_dir.clone(),
        env: Some(env),
        volume_mounts: Some(mounts),
        security_context: main.security_context.clone(),
        resources: main.resources.clone(),
        ..Container::default()
    }
}
