//! Bringing an existing work pool's base job template up to date.
//!
//! `prefect worker start --base-job-template` uses the template only when it creates the pool:
//! a pool that already exists keeps the template it was created with, whatever the values say
//! now. So the worker pod starts with an init container that, when the pool exists, replaces
//! its template with the mounted one; when the pool does not exist yet, it leaves the pool to
//! the worker, which creates it with the template.

use prefect_plugin_sdk::k8s_openapi::api::core::v1::Container;

/// The init container's name.
pub const NAME: &str = "sync-base-job-template";

/// The pool's name and the template file are the arguments `$1` and `$2`: the pool's name is a
/// value, so it never becomes part of the script. `inspect` fails when the pool does not exist
/// (Prefect says "not found!"): the worker will create it with the template. It also fails
/// while the API cannot be reached or refuses the credentials: then the script says why and
/// tries again, so that a template is never skipped (the pod shows `Init` meanwhile).
const SCRIPT: &str = r#"until answer=$(prefect work-pool inspect "$1" 2>&1); do
  case "$answer" in
    *" not found!"*)
      echo "work pool $1 does not exist yet: the worker creates it with the base job template"
      exit 0
      ;;
  esac
  printf '%s\n' "$answer" | tail -n 3
  echo "the Prefect API did not answer about work pool $1: trying again in 5 s"
  sleep 5
done
echo "work pool $1 exists: updating its base job template from $2"
exec prefect work-pool update "$1" --base-job-template "$2""#;

/// The init container's command: the script, with the pool and the template file as its
/// arguments.
pub fn command(pool: &str, template_file: &str) -> Vec<String> {
    ["/bin/sh", "-c", SCRIPT, NAME, pool, template_file].map(str::to_owned).to_vec()
}

/// A container that runs `command` before `main`, as `main` would run it: the same image, pull
/// policy, working folder, security context, resources, environment and mounts (whatever
/// reaches the API for the worker, such as a CA bundle or a proxy from the extra values,
/// reaches it for the init container too).
pub fn init_container_beside(main: &Container, name: &str, command: Vec<String>) -> Container {
    Container {
        name: name.to_owned(),
        image: main.image.clone(),
        image_pull_policy: main.image_pull_policy.clone(),
        command: Some(command),
        working_dir: main.working_dir.clone(),
        env: main.env.clone(),
        env_from: main.env_from.clone(),
        volume_mounts: main.volume_mounts.clone(),
        security_context: main.security_context.clone(),
        resources: main.resources.clone(),
        ..Container::default()
    }
}
