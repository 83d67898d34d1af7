//! One pod's life on the node, as the kubelet leads it: network and volumes first (the pod
//! waits while a volume cannot be made), init containers one after the other (each must
//! succeed), then every container at once with its probes; restarts as `restartPolicy` says,
//! with the kubelet's back-off (10 s, doubling, at most 5 min); `Succeeded` or `Failed` when
//! containers that are not restarted have all ended; on deletion, each container's stop signal,
//! SIGKILL after the grace period, and the pod object removed. Its status is written back
//! whenever it changes.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use k8s_openapi::api::core::v1::{Container, Namespace, Pod, Probe, Service};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, Preconditions},
};
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::{
    container::{self, PodContext},
    dns,
    env::PodFacts,
    events::Events,
    network::{self, NodeNetwork},
    openshift, probe,
    sandbox::PodFiles,
    status::{ContainerStatus, PodStatus, State, now},
    volumes::{self, Failure},
};

/// What every pod of the node shares.
pub struct Node {
    /// The API.
    pub client: Client,
    /// The Node's name.
    pub name: String,
    /// The pod network.
    pub network: Arc<NodeNetwork>,
    /// Where pods keep their folders.
    pub dir: PathBuf,
    /// The cluster's Services, as last read.
    pub services: RwLock<Vec<Service>>,
    /// Events.
    pub events: Events,
}

/// A pod's status, shared by the tasks of its containers, and the signal that it changed.
#[derive(Clone)]
struct Shared {
    status: Arc<Mutex<PodStatus>>,
    changed: Arc<Notify>,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut PodStatus)) {
        change(&mut self.status.lock().unwrap());
        self.changed.notify_one();
    }

    fn init(&self, index: usize, change: impl FnOnce(&mut ContainerStatus)) {
        self.update(|s| change(&mut s.init[index]));
    }

    fn container(&self, index: usize, change: impl FnOnce(&mut ContainerStatus)) {
        self.update(|s| change(&mut s.containers[index]));
    }
}

/// Which list a container is in.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Init,
    Main,
}

/// `restartPolicy`.
#[derive(Clone, Copy, PartialEq)]
enum Restart {
    Always,
    OnFailure,
    Never,
}

impl Restart {
    fn after(self, exit_code: i32) -> bool {
        match self {
            Restart::Always => true,
            Restart::OnFailure => exit_code != 0,
            Restart::Never => false,
        }
    }
}

/// Runs the pod until it is deleted; `updates` carries the pod as the API has it (`None` once
/// it is gone).
pub async fn run(node: Arc<Node>, mut updates: watch::Receiver<Option<Pod>>) {
    let Some(pod) = updates.borrow().clone() else { return };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let annotations = Api::<Namespace>::all(node.client.clone())
        .get_opt(&namespace)
        .await
        .ok()
        .flatten()
        .and_then(|ns| ns.metadata.annotations)
        .unwrap_or_default();
    let pod = openshift::admit(pod, &annotations);
    let spec = pod.spec.clone().unwrap_or_default();
    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let specs = spec.containers.clone();
    let waiting = if init_specs.is_empty() { "ContainerCreating" } else { "PodInitializing" };
    let status = PodStatus::new(
        &node.network.gateway().to_string(),
        init_specs
            .iter()
            .map(|c| ContainerStatus::new(&c.name, image(c), "PodInitializing"))
            .collect(),
        specs.iter().map(|c| ContainerStatus::new(&c.name, image(c), waiting)).collect(),
    );
    let shared = Shared { status: Arc::new(Mutex::new(status)), changed: Arc::new(Notify::new()) };
    let pods = Api::<Pod>::namespaced(node.client.clone(), &namespace);
    let writer =
        tokio::spawn(write_status(pods.clone(), name.clone(), uid.clone(), shared.clone()));
    shared.changed.notify_one();

    // Deletion: the grace period the API gives, or the pod's own.
    let grace =
        Arc::new(AtomicU64::new(spec.termination_grace_period_seconds.unwrap_or(30) as u64));
    let (stop_tx, stop) = watch::channel(false);
    let forward = {
        let grace = grace.clone();
        tokio::spawn(async move {
            loop {
                let deleting = match &*updates.borrow() {
                    None => Some(0),
                    Some(pod) => pod.metadata.deletion_timestamp.as_ref().map(|_| {
                        pod.metadata.deletion_grace_period_seconds.unwrap_or(30).max(0) as u64
                    }),
                };
                if let Some(seconds) = deleting {
                    grace.store(seconds, Ordering::Relaxed);
                    let _ = stop_tx.send(true);
                    return;
                }
                if updates.changed().await.is_err() {
                    let _ = stop_tx.send(true);
                    return;
                }
            }
        })
    };

    let dir = node.dir.join("pods").join(format!("{namespace}_{name}_{uid}"));
    let ctx = match prepare(&node, &pod, &dir, &shared, stop.clone()).await {
        Some(ctx) => Arc::new(ctx),
        None => {
            finish(&node, &pods, &name, &uid, None, &dir).await;
            writer.abort();
            forward.abort();
            return;
        }
    };
    let restart = match spec.restart_policy.as_deref() {
        Some("Never") => Restart::Never,
        Some("OnFailure") => Restart::OnFailure,
        _ => Restart::Always,
    };

    let mut initialized = true;
    for (index, container) in init_specs.iter().enumerate() {
        let policy = if restart == Restart::Never { Restart::Never } else { Restart::OnFailure };
        let code = supervise(
            &node,
            &ctx,
            container,
            Kind::Init,
            index,
            policy,
            &shared,
            stop.clone(),
            &grace,
        )
        .await;
        if code != Some(0) {
            initialized = false;
            if code.is_some() {
                shared.update(|s| {
                    s.phase = "Failed";
                    s.reason = Some("InitContainerFailed".to_owned());
                    for c in &mut s.containers {
                        c.state = State::waiting("PodInitializing", None);
                    }
                });
            }
            break;
        }
    }
    if initialized {
        shared.update(|s| {
            s.initialized = true;
            for c in &mut s.containers {
                c.state = State::waiting("ContainerCreating", None);
            }
        });
        let tasks: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(index, container)| {
                let (node, ctx, shared, stop, grace) =
                    (node.clone(), ctx.clone(), shared.clone(), stop.clone(), grace.clone());
                let container = container.clone();
                tokio::spawn(async move {
                    supervise(
                        &node,
                        &ctx,
                        &container,
                        Kind::Main,
                        index,
                        restart,
                        &shared,
                        stop,
                        &grace,
                    )
                    .await
                })
            })
            .collect();
        let mut codes = Vec::new();
        for task in tasks {
            codes.push(task.await.ok().flatten());
        }
        if !*stop.borrow() {
            let succeeded = codes.iter().all(|code| *code == Some(0));
            shared.update(|s| s.phase = if succeeded { "Succeeded" } else { "Failed" });
        }
    }
    // Ended or deleted: wait for the deletion, then give the pod back.
    let mut stop = stop;
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            break;
        }
    }
    finish(&node, &pods, &name, &uid, Some(&ctx.network), &dir).await;
    writer.abort();
    forward.abort();
}

fn image(container: &Container) -> &str {
    container.image.as_deref().unwrap_or_default()
}

/// The pod's network, `/etc` files and volumes, each tried again until it can be made, as the
/// kubelet does; `None` if the pod was deleted first.
async fn prepare(
    node: &Arc<Node>,
    pod: &Pod,
    dir: &std::path::Path,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) -> Option<PodContext> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let short: String = uid.chars().filter(char::is_ascii_hexdigit).take(10).collect();
    let network = loop {
        match node.network.add_pod(&short) {
            Ok(network) => break network,
            Err(err) => {
                node.events.warning(pod, "FailedCreatePodSandBox", &format!("{err:#}")).await;
                if wait_or_stop(&mut stop, Duration::from_secs(2)).await {
                    return None;
                }
            }
        }
    };
    shared.update(|s| s.pod_ip = Some(network.ip.to_string()));
    let files = loop {
        match pod_files(pod, dir, &network) {
            Ok(files) => break files,
            Err(err) => {
                node.events.warning(pod, "FailedCreatePodSandBox", &err.to_string()).await;
                if wait_or_stop(&mut stop, Duration::from_secs(2)).await {
                    node.network.remove_pod(&network);
                    return None;
                }
            }
        }
    };
    let facts = PodFacts {
        pod_ip: network.ip.to_string(),
        host_ip: node.network.gateway().to_string(),
        node_name: node.name.clone(),
    };
    let volumes = loop {
        match volumes::make(&node.client, pod, &dir.join("volumes"), &facts).await {
            Ok(volumes) => break volumes,
            Err(Failure::Wait(message)) | Err(Failure::Unsupported(message)) => {
                node.events
                    .warning(pod, "FailedMount", &format!("MountVolume.SetUp failed: {message}"))
                    .await;
                if wait_or_stop(&mut stop, Duration::from_secs(1)).await {
                    node.network.remove_pod(&network);
                    return None;
                }
            }
        }
    };
    let services = node
        .services
        .read()
        .unwrap()
        .iter()
        .filter(|s| {
            let ns = s.metadata.namespace.as_deref();
            ns == Some(namespace.as_str())
                || (ns == Some("default") && s.metadata.name.as_deref() == Some("kubernetes"))
        })
        .cloned()
        .collect();
    Some(PodContext {
        client: node.client.clone(),
        pod: pod.clone(),
        dir: dir.to_owned(),
        node: node.network.clone(),
        network,
        volumes,
        files,
        facts,
        services,
    })
}

/// Sleeps `pause`; true if the pod is to stop.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    let _ = tokio::time::timeout(pause, stop.changed()).await;
    *stop.borrow()
}

/// `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` of the pod, as the kubelet writes them
/// for `dnsPolicy: ClusterFirst`.
fn pod_files(
    pod: &Pod,
    dir: &std::path::Path,
    network: &network::PodNetwork,
) -> std::io::Result<PodFiles> {
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc)?;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let spec = pod.spec.as_ref();
    let hostname = container::hostname(pod);
    let mut fqdn = hostname.clone();
    if let Some(subdomain) = spec.and_then(|s| s.subdomain.as_deref()) {
        fqdn = format!(
            "{hostname}.{subdomain}.{namespace}.svc.{}\t{hostname}",
            crate::services::DOMAIN
        );
    }
    let mut hosts = format!(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{fqdn}\n",
        network.ip
    );
    for alias in spec.and_then(|s| s.host_aliases.as_ref()).into_iter().flatten() {
        hosts.push_str(&format!(
            "{}\t{}\n",
            alias.ip,
            alias.hostnames.clone().unwrap_or_default().join("\t")
        ));
    }
    let resolv = match spec.and_then(|s| s.dns_policy.as_deref()) {
        // "Default" is the node's resolver, which has nowhere to send queries here.
        Some("Default") | Some("None") => "nameserver 127.0.0.53\n".to_owned(),
        _ => format!(
            "search {namespace}.svc.{d} svc.{d} {d}\nnameserver {}\noptions ndots:5\n",
            dns::ADDRESS,
            d = crate::services::DOMAIN
        ),
    };
    let files = PodFiles {
        hosts: etc.join("hosts"),
        resolv_conf: etc.join("resolv.conf"),
        hostname: etc.join("hostname"),
    };
    std::fs::write(&files.hosts, hosts)?;
    std::fs::write(&files.resolv_conf, resolv)?;
    std::fs::write(&files.hostname, format!("{hostname}\n"))?;
    Ok(files)
}

/// Runs one container until it ends for good (its last exit code) or the pod stops (`None`).
#[allow(clippy::too_many_arguments)]
async fn supervise(
    node: &Arc<Node>,
    ctx: &Arc<PodContext>,
    container: &Container,
    kind: Kind,
    index: usize,
    restart: Restart,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
    grace: &AtomicU64,
) -> Option<i32> {
    let set = |change: &dyn Fn(&mut ContainerStatus)| match kind {
        Kind::Init => shared.init(index, |c| change(c)),
        Kind::Main => shared.container(index, |c| change(c)),
    };
    let pod = &ctx.pod;
    let mut attempt = 0;
    let mut backoff = Duration::from_secs(10);
    loop {
        if *stop.borrow() {
            return None;
        }
        let mut process = match container::start(ctx, container, attempt).await {
            Ok(process) => process,
            Err(err) => {
                let (reason, message) = err.reason();
                let message = message.to_owned();
                set(&|c| c.state = State::waiting(reason, Some(message.clone())));
                node.events.warning(pod, "Failed", &format!("Error: {message}")).await;
                if wait_or_stop(&mut stop, backoff).await {
                    return None;
                }
                backoff = (backoff * 2).min(Duration::from_secs(300));
                continue;
            }
        };
        let started_at = now();
        let started = started_at.clone();
        if kind == Kind::Main {
            shared.update(|s| s.phase = "Running");
        }
        set(&|c| {
            c.state = State::Running { started_at: started.clone() };
            c.ready = false;
            c.started = container.startup_probe.is_none();
        });
        node.events.normal(pod, "Started", &format!("Started container {}", container.name)).await;
        // Held to the end of the run: a container without probes is never unhealthy.
        let (unhealthy_tx, mut unhealthy) = tokio::sync::mpsc::channel::<String>(1);
        let _healthy = unhealthy_tx.clone();
        let probes = (kind == Kind::Main).then(|| {
            tokio::spawn(probe_container(
                node.clone(),
                pod.clone(),
                container.clone(),
                process.target.clone(),
                index,
                shared.clone(),
                unhealthy_tx,
            ))
        });
        let stopped_for_good;
        let code = tokio::select! {
            code = process.wait() => { stopped_for_good = false; code }
            why = unhealthy.recv() => {
                let why = why.unwrap_or_default();
                node.events.normal(pod, "Killing", &format!("Container {} {why}, will be restarted", container.name)).await;
                stopped_for_good = false;
                process.stop(Duration::from_secs(grace.load(Ordering::Relaxed))).await
            }
            _ = stopped(&mut stop) => {
                node.events.normal(pod, "Killing", &format!("Stopping container {}", container.name)).await;
                stopped_for_good = true;
                process.stop(Duration::from_secs(grace.load(Ordering::Relaxed))).await
            }
        };
        if let Some(probes) = probes {
            probes.abort();
        }
        let finished = now();
        let terminated = State::Terminated {
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.to_owned(),
            started_at: started_at.clone(),
            finished_at: finished,
        };
        let again = !stopped_for_good && restart.after(code);
        set(&|c| {
            c.ready = false;
            c.started = false;
            if again {
                c.last_state = Some(terminated.clone());
                c.restart_count += 1;
                c.state = State::waiting(
                    "CrashLoopBackOff",
                    Some(format!(
                        "back-off {}s restarting failed container={}",
                        backoff.as_secs(),
                        container.name
                    )),
                );
            } else {
                c.state = terminated.clone();
            }
        });
        if stopped_for_good {
            return None;
        }
        if !again {
            return Some(code);
        }
        node.events
            .warning(
                pod,
                "BackOff",
                &format!("Back-off restarting failed container {}", container.name),
            )
            .await;
        if wait_or_stop(&mut stop, backoff).await {
            return None;
        }
        backoff = (backoff * 2).min(Duration::from_secs(300));
        attempt += 1;
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// The probes of a running container: startup first, then readiness and liveness; a failed
/// startup or liveness probe is sent to `unhealthy`.
async fn probe_container(
    node: Arc<Node>,
    pod: Pod,
    container: Container,
    target: probe::Target,
    index: usize,
    shared: Shared,
    unhealthy: tokio::sync::mpsc::Sender<String>,
) {
    let start = tokio::time::Instant::now();
    let delay = move |p: &Probe| {
        start + Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64)
    };
    let period = |p: &Probe| Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64);
    let threshold = |p: &Probe| p.failure_threshold.unwrap_or(3).max(1);
    if let Some(startup) = &container.startup_probe
        && !watch(&node, &pod, &target, startup, start, "Startup", true).await
    {
        let _ = unhealthy.send("failed startup probe".to_owned()).await;
        return;
    }
    shared.container(index, |c| {
        c.started = true;
        if container.readiness_probe.is_none() {
            c.ready = true;
        }
    });
    let readiness = container.readiness_probe.clone().map(|readiness| {
        let (node, pod, target, shared) =
            (node.clone(), pod.clone(), target.clone(), shared.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(delay(&readiness)).await;
            let (mut passes, mut failures) = (0, 0);
            loop {
                match probe::run(&readiness, &target).await {
                    Ok(()) => {
                        passes += 1;
                        failures = 0;
                        if passes >= readiness.success_threshold.unwrap_or(1).max(1) {
                            shared.container(index, |c| c.ready = true);
                        }
                    }
                    Err(why) => {
                        failures += 1;
                        passes = 0;
                        node.events
                            .warning(&pod, "Unhealthy", &format!("Readiness probe failed: {why}"))
                            .await;
                        if failures >= threshold(&readiness) {
                            shared.container(index, |c| c.ready = false);
                        }
                    }
                }
                tokio::time::sleep(period(&readiness)).await;
            }
        })
    });
    struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(task) = &self.0 {
                task.abort();
            }
        }
    }
    let _readiness = AbortOnDrop(readiness);
    let Some(liveness) = &container.liveness_probe else {
        std::future::pending::<()>().await;
        return;
    };
    watch(&node, &pod, &target, liveness, start, "Liveness", false).await;
    let _ = unhealthy.send("failed liveness probe".to_owned()).await;
}

/// Runs `probe` every period from its initial delay after `start`, each failure an
/// `Unhealthy` event (`<kind> probe failed: ...`). Returns `true` at the first pass when
/// `until_pass` (a startup probe), `false` once `failureThreshold` runs in a row have failed.
async fn watch(
    node: &Node,
    pod: &Pod,
    target: &probe::Target,
    probe: &Probe,
    start: tokio::time::Instant,
    kind: &str,
    until_pass: bool,
) -> bool {
    let delay = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
    let period = Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
    tokio::time::sleep_until(start + delay).await;
    let mut failures = 0;
    loop {
        match probe::run(probe, target).await {
            Ok(()) if until_pass => return true,
            Ok(()) => failures = 0,
            Err(why) => {
                failures += 1;
                node.events.warning(pod, "Unhealthy", &format!("{kind} probe failed: {why}")).await;
                if failures >= probe.failure_threshold.unwrap_or(3).max(1) {
                    return false;
                }
            }
        }
        tokio::time::sleep(period).await;
    }
}

/// Writes the pod's status whenever it changes.
async fn write_status(pods: Api<Pod>, name: String, uid: String, shared: Shared) {
    let mut last = serde_json::Value::Null;
    loop {
        shared.changed.notified().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let status = shared.status.lock().unwrap().to_json(&uid);
        if status == last {
            continue;
        }
        let patch = Patch::Merge(json!({ "status": status }));
        match pods.patch_status(&name, &PatchParams::default(), &patch).await {
            Ok(_) => last = status,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                shared.changed.notify_one();
            }
        }
    }
}

/// The pod is done on this node: its network and folders go, and the object is deleted for
/// good (the kubelet's last word on a pod being deleted).
async fn finish(
    node: &Node,
    pods: &Api<Pod>,
    name: &str,
    uid: &str,
    network: Option<&network::PodNetwork>,
    dir: &std::path::Path,
) {
    if let Some(network) = network {
        node.network.remove_pod(network);
    }
    for part in ["volumes", "scratch"] {
        let _ = std::fs::remove_dir_all(dir.join(part));
    }
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
        ..DeleteParams::default()
    };
    let _ = pods.delete(name, &params).await;
}
