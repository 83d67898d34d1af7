//! Starting and stopping one container: its image, environment, user, capabilities, mounts
//! and command composed as the kubelet and the runtime compose them, then the process in its
//! [`Sandbox`], its output in a log file per start.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use kube::{Api, Client};
use rustix::process::{Pid, Signal, kill_process};

use crate::{
    env::{self, Objects, PodFacts},
    images::{self, Image},
    network::{NodeNetwork, PodNetwork},
    probe::Target,
    sandbox::{DEFAULT_CAPABILITIES, Mount, PodFiles, Sandbox, User},
    volumes::Made,
};

/// What the containers of one pod share.
pub struct PodContext {
    /// The API.
    pub client: Client,
    /// The pod as the kubelet took it.
    pub pod: Pod,
    /// Its folder: volumes, logs, scratch.
    pub dir: PathBuf,
    /// The node network.
    pub node: Arc<NodeNetwork>,
    /// Its network.
    pub network: PodNetwork,
    /// Its volumes.
    pub volumes: BTreeMap<String, Made>,
    /// Its `/etc` files.
    pub files: PodFiles,
    /// Its fields that env can read.
    pub facts: PodFacts,
    /// The Services of its namespace and `default/kubernetes`, when the pod started.
    pub services: Vec<Service>,
}

/// Why a container did not start: the reason its status shows while it waits.
#[derive(Debug)]
pub enum StartError {
    /// `ErrImagePull`: no stand-in for the image.
    Image(String),
    /// `CreateContainerConfigError`: a missing reference, a user the security context
    /// forbids.
    Config(String),
    /// `RunContainerError`: the process could not be started.
    Run(String),
}

impl StartError {
    /// The waiting reason and message.
    pub fn reason(&self) -> (&'static str, &str) {
        match self {
            StartError::Image(m) => ("ErrImagePull", m),
            StartError::Config(m) => ("CreateContainerConfigError", m),
            StartError::Run(m) => ("RunContainerError", m),
        }
    }
}

/// A started container.
pub struct Process {
    child: tokio::process::Child,
    /// PID 1 of the container, as this machine numbers it.
    pid: Option<i32>,
    stop_signal: Signal,
    /// How probes reach it.
    pub target: Target,
}

/// Starts `container` of the pod (start number `attempt`, from 0).
pub async fn start(
    ctx: &PodContext,
    container: &Container,
    attempt: i32,
) -> Result<Process, StartError> {
    let reference = container.image.clone().unwrap_or_default();
    let image = tokio::task::spawn_blocking(move || images::resolve(&reference))
        .await
        .map_err(|err| StartError::Image(err.to_string()))?
        .map_err(|err| StartError::Image(format!("{err:#}")))?;

    let objects = objects(ctx, container).await.map_err(StartError::Config)?;
    let spec_env = env::build(&ctx.pod, container, &ctx.services, &objects, &ctx.facts)
        .map_err(StartError::Config)?;
    let user = user(&ctx.pod, container, &image).map_err(StartError::Config)?;

    let known: BTreeMap<&str, &str> =
        spec_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let argv: Vec<String> =
        command(container, &image).iter().map(|part| env::expand(part, &known)).collect();
    if argv.is_empty() {
        return Err(StartError::Run("no command specified".to_owned()));
    }
    let mounts = mounts(ctx, container, &known).map_err(StartError::Config)?;

    let mut process_env: Vec<(String, String)> = image.env.clone();
    let mut set = |name: &str, value: &str| match process_env.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_owned(),
        None => process_env.push((name.to_owned(), value.to_owned())),
    };
    set("HOSTNAME", &hostname(&ctx.pod));
    for (name, value) in &spec_env {
        set(name, value);
    }
    if !process_env.iter().any(|(n, _)| n == "HOME") {
        let home = home_of(&image.passwd, user.uid).unwrap_or_else(|| "/".to_owned());
        process_env.push(("HOME".to_owned(), home));
    }

    let security = effective_security(container);
    let scratch = ctx.dir.join("scratch").join(format!("{}-{attempt}", container.name));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|err| StartError::Run(err.to_string()))?;
    let working_dir = container
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| image.working_dir.clone());
    let pod_hostname = hostname(&ctx.pod);
    let sandbox = Sandbox {
        network_namespace: &ctx.network.namespace,
        hostname: &pod_hostname,
        image: &image,
        pod_files: &ctx.files,
        scratch: &scratch,
        mounts: &mounts,
        read_only_root: security.read_only_root,
        user: &user,
        no_new_privs: security.no_new_privs,
        capabilities: security.capabilities.clone(),
        working_dir: &working_dir,
    };
    let command =
        sandbox.command(&argv, &process_env).map_err(|err| StartError::Run(err.to_string()))?;
    let logs = ctx.dir.join("logs").join(&container.name);
    std::fs::create_dir_all(&logs).map_err(|err| StartError::Run(err.to_string()))?;
    let log = std::fs::File::create(logs.join(format!("{attempt}.log")))
        .map_err(|err| StartError::Run(err.to_string()))?;
    let log_err = log.try_clone().map_err(|err| StartError::Run(err.to_string()))?;
    // What ran, for whoever reads the logs of a failed test: the program and its arguments,
    // never the environment (`Command`'s Debug shows it, and it holds the pod's secrets).
    let argv: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let _ = std::fs::write(logs.join(format!("{attempt}.command")), format!("{argv:?}\n"));
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).stdout(log).stderr(log_err).kill_on_drop(true);
    let child = command.spawn().map_err(|err| StartError::Run(format!("bwrap: {err}")))?;
    let outer = child.id().unwrap_or_default();
    let pid = pid_one(outer).await;

    let mut enter: Vec<String> = vec!["/usr/bin/nsenter".to_owned()];
    if let Some(pid) = pid {
        enter.extend(["-t".to_owned(), pid.to_string()]);
    }
    enter.extend(["-m", "-p", "-n", "-u", "-i", "-r"].map(str::to_owned));
    // nsenter opens the folder before it enters, so it is named through the container's own
    // root: the image's working folder (such as redis's /data) need not exist on this machine.
    match pid {
        Some(pid) if working_dir.starts_with('/') => {
            enter.push(format!("--wd=/proc/{pid}/root{working_dir}"))
        }
        _ => enter.push(format!("--wd={working_dir}")),
    }
    enter.extend(sandbox.setpriv());
    Ok(Process {
        child,
        pid,
        stop_signal: image.stop_signal,
        target: Target {
            node: ctx.node.clone(),
            pod_ip: ctx.network.ip,
            ports: container.ports.clone().unwrap_or_default(),
            enter,
            env: process_env,
        },
    })
}

impl Process {
    /// Waits for the container to end; its exit code (128 + signal when killed).
    pub async fn wait(&mut self) -> i32 {
        exit_code(self.child.wait().await.ok())
    }

    /// Stops the container as a runtime does: its stop signal to PID 1, then SIGKILL after
    /// `grace`. Returns its exit code.
    pub async fn stop(&mut self, grace: Duration) -> i32 {
        if let Some(pid) = self.pid.and_then(Pid::from_raw) {
            let _ = kill_process(pid, self.stop_signal);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => exit_code(status.ok()),
            Err(_) => {
                if let Some(pid) = self.pid.and_then(Pid::from_raw) {
                    let _ = kill_process(pid, Signal::KILL);
                }
                let _ = self.child.start_kill();
                exit_code(self.child.wait().await.ok())
            }
        }
    }
}

fn exit_code(status: Option<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(status) => status.code().or(status.signal().map(|s| 128 + s)).unwrap_or(-1),
        None => -1,
    }
}

/// The container's PID 1: the one child of bubblewrap (which `ip netns exec` became).
async fn pid_one(outer: u32) -> Option<i32> {
    let children = format!("/proc/{outer}/task/{outer}/children");
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&children)
            && let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok())
        {
            return Some(pid);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// The pod's hostname.
pub fn hostname(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default()
}

/// `command` and `args` over the image's `ENTRYPOINT` and `CMD`, as Kubernetes composes them.
fn command(container: &Container, image: &Image) -> Vec<String> {
    let command = container.command.clone().filter(|c| !c.is_empty());
    let args = container.args.clone().filter(|a| !a.is_empty());
    match (command, args) {
        (Some(command), Some(args)) => [command, args].concat(),
        (Some(command), None) => command,
        (None, Some(args)) => [image.entrypoint.clone(), args].concat(),
        (None, None) => [image.entrypoint.clone(), image.cmd.clone()].concat(),
    }
}

/// The ConfigMaps and Secrets the container's environment names.
async fn objects(ctx: &PodContext, container: &Container) -> Result<Objects, String> {
    let namespace = ctx.pod.metadata.namespace.clone().unwrap_or_default();
    let mut maps = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    for source in container.env_from.iter().flatten() {
        maps.extend(source.config_map_ref.as_ref().map(|r| r.name.clone()));
        secrets.extend(source.secret_ref.as_ref().map(|r| r.name.clone()));
    }
    for var in container.env.iter().flatten() {
        let Some(from) = &var.value_from else { continue };
        maps.extend(from.config_map_key_ref.as_ref().map(|r| r.name.clone()));
        secrets.extend(from.secret_key_ref.as_ref().map(|r| r.name.clone()));
    }
    let mut objects = Objects::default();
    let map_api = Api::<ConfigMap>::namespaced(ctx.client.clone(), &namespace);
    for name in maps {
        if let Some(map) = map_api.get_opt(&name).await.map_err(|e| e.to_string())? {
            objects.config_maps.insert(name, map);
        }
    }
    let secret_api = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
    for name in secrets {
        if let Some(secret) = secret_api.get_opt(&name).await.map_err(|e| e.to_string())? {
            objects.secrets.insert(name, secret);
        }
    }
    Ok(objects)
}

/// The user and groups: the security context's, else the image's; `runAsNonRoot` checked as
/// the kubelet checks it.
fn user(pod: &Pod, container: &Container, image: &Image) -> Result<User, String> {
    let pod_context = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let context = container.security_context.as_ref();
    let uid = context
        .and_then(|c| c.run_as_user)
        .or(pod_context.and_then(|c| c.run_as_user))
        .map(|u| u as u32)
        .unwrap_or(image.user);
    let non_root = context
        .and_then(|c| c.run_as_non_root)
        .or(pod_context.and_then(|c| c.run_as_non_root))
        .unwrap_or(false);
    if non_root && uid == 0 {
        return Err(format!(
            "container has runAsNonRoot and image will run as root (pod: \"{}_{}\", container: {})",
            pod.metadata.name.as_deref().unwrap_or(""),
            pod.metadata.namespace.as_deref().unwrap_or(""),
            container.name
        ));
    }
    let gid = context
        .and_then(|c| c.run_as_group)
        .or(pod_context.and_then(|c| c.run_as_group))
        .map(|g| g as u32)
        .or_else(|| passwd_field(&image.passwd, uid, 3).and_then(|g| g.parse().ok()))
        .unwrap_or(0);
    let mut groups: Vec<u32> = Vec::new();
    if let Some(group) = pod_context.and_then(|c| c.fs_group) {
        groups.push(group as u32);
    }
    for group in pod_context.and_then(|c| c.supplemental_groups.clone()).into_iter().flatten() {
        groups.push(group as u32);
    }
    groups.retain(|g| *g != gid);
    groups.sort_unstable();
    groups.dedup();
    if !groups.is_empty() {
        groups.insert(0, gid);
    }
    Ok(User { uid, gid, groups })
}

/// Field `index` of the passwd line of `uid`.
fn passwd_field(passwd: &str, uid: u32, index: usize) -> Option<String> {
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
        .and_then(|fields| fields.get(index).map(|f| (*f).to_owned()))
}

/// The home folder of `uid` in the image, as the runtime sets `HOME` when the pod does not.
fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd_field(passwd, uid, 5).filter(|home| !home.is_empty())
}

/// What the security contexts decide beyond the user.
struct Security {
    read_only_root: bool,
    no_new_privs: bool,
    capabilities: String,
}

fn effective_security(container: &Container) -> Security {
    let context = container.security_context.as_ref();
    let read_only_root = context.and_then(|c| c.read_only_root_filesystem).unwrap_or(false);
    if context.and_then(|c| c.privileged).unwrap_or(false) {
        return Security { read_only_root, no_new_privs: false, capabilities: "+all".to_owned() };
    }
    let mut capabilities: BTreeSet<String> =
        DEFAULT_CAPABILITIES.iter().map(|c| (*c).to_owned()).collect();
    let named = |list: Option<&Vec<String>>| -> Vec<String> {
        list.into_iter()
            .flatten()
            .map(|c| c.to_ascii_lowercase().trim_start_matches("cap_").to_owned())
            .collect()
    };
    let caps = context.and_then(|c| c.capabilities.as_ref());
    for drop in named(caps.and_then(|c| c.drop.as_ref())) {
        if drop == "all" {
            capabilities.clear();
        } else {
            capabilities.remove(&drop);
        }
    }
    capabilities.extend(named(caps.and_then(|c| c.add.as_ref())));
    let mut bounding = "-all".to_owned();
    for capability in &capabilities {
        bounding.push_str(&format!(",+{capability}"));
    }
    Security {
        read_only_root,
        no_new_privs: context.and_then(|c| c.allow_privilege_escalation) == Some(false),
        capabilities: bounding,
    }
}

/// Makes the folders of `sub` under a volume's root as the kubelet does: each with the root's
/// mode and group, so that with an `fsGroup` (an emptyDir's root is 0777, a claim's group is the
/// pod's) the container's user can write in them as in the volume itself.
fn make_sub_path(root: &std::path::Path, sub: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(root)?;
    let mut path = root.to_path_buf();
    for part in sub.split('/').filter(|p| !p.is_empty() && *p != ".") {
        path.push(part);
        if path.exists() {
            continue;
        }
        std::fs::create_dir(&path)?;
        std::os::unix::fs::chown(&path, None, Some(meta.gid()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}

/// The container's volume mounts, with `subPath` and `subPathExpr`.
fn mounts(
    ctx: &PodContext,
    container: &Container,
    known: &BTreeMap<&str, &str>,
) -> Result<Vec<Mount>, String> {
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let volume = ctx
            .volumes
            .get(&mount.name)
            .ok_or_else(|| format!("volumeMount {}: no volume of that name", mount.name))?;
        let sub = match (&mount.sub_path, &mount.sub_path_expr) {
            (Some(path), _) if !path.is_empty() => Some(path.clone()),
            (_, Some(expr)) if !expr.is_empty() => Some(env::expand(expr, known)),
            _ => None,
        };
        let mut source = volume.path.clone();
        if let Some(sub) = sub {
            if sub.starts_with('/') || sub.split('/').any(|p| p == "..") {
                return Err(format!("volumeMount {}: invalid subPath {sub}", mount.name));
            }
            source = source.join(&sub);
            if !source.exists() {
                if volume.read_only {
                    return Err(format!("volumeMount {}: no {sub} in the volume", mount.name));
                }
                make_sub_path(&volume.path, &sub).map_err(|e| e.to_string())?;
            }
        }
        mounts.push(Mount {
            source,
            target: mount.mount_path.clone(),
            read_only: mount.read_only.unwrap_or(false) || volume.read_only,
        });
    }
    Ok(mounts)
}
