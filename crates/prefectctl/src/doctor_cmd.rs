//! `prefectctl doctor`: checks that the release works as a Prefect deployment, each with a
//! pass or fail line and, when it fails, what to do. Read only; exit 1 when a check fails, so
//! that it can gate a pipeline.

use std::fmt::Write as _;

use prefect_cluster::{k8s_openapi::api::core::v1::Pod, record::Status};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    cli::{ReleaseArgs, ReportFormat, StatusArgs},
    failure::Failure,
    inspect_cmd::Live,
    prefect::{
        api::{Address, ApiError, Connection},
        env,
        report::{resolve, server_auth},
        stack::{Stack, Worker, image_version},
    },
    session::Session,
};

/// What `doctor` prints, and whether a check failed.
pub struct Doctor {
    /// The report.
    pub text: String,
    /// Whether a check failed.
    pub failed: bool,
}

/// One check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// One check.
#[derive(Debug, Serialize)]
struct Check {
    check: String,
    outcome: Outcome,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn pass(check: &str, detail: impl Into<String>) -> Check {
    Check { check: check.to_owned(), outcome: Outcome::Pass, detail: detail.into(), fix: None }
}

fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check: check.to_owned(),
        outcome: Outcome::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn skip(check: &str, detail: impl Into<String>) -> Check {
    Check { check: check.to_owned(), outcome: Outcome::Skip, detail: detail.into(), fix: None }
}

/// Variables that hold a credential, which a flow-run Job must take from a Secret.
const CREDENTIALS: &[&str] = &["PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"];

/// `prefectctl doctor`.
pub fn run(args: &ReleaseArgs, doctor_args: &StatusArgs) -> Result<Doctor, Failure> {
    let session = Session::open(args)?;
    let live = Live::read(&session)?;
    let stack = Stack::find(&session.namespace, &live.objects);
    let mut checks = vec![release(&session, &live)];
    let own_server = server(&session, &stack, &mut checks);
    let mut credentials = Vec::new();
    let mut job_namespaces = vec![session.namespace.clone()];
    for worker in &stack.workers {
        workers(
            &session,
            &stack,
            worker,
            own_server.as_ref(),
            &mut checks,
            &mut credentials,
            &mut job_namespaces,
        );
    }
    checks.extend(claims(&session, &stack));
    checks.push(flow_run_jobs(&session, &job_namespaces, &credentials));
    checks.push(pods(&session));
    let failed = checks.iter().any(|c| c.outcome == Outcome::Fail);
    let text = match doctor_args.output {
        ReportFormat::Json => {
            let document = json!({ "release": session.release, "namespace": session.namespace, "healthy": !failed, "checks": checks });
            format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default())
        }
        ReportFormat::Text => text(&session, &checks, failed),
    };
    Ok(Doctor { text, failed })
}

fn text(session: &Session, checks: &[Check], failed: bool) -> String {
    let mut out = String::new();
    for check in checks {
        let mark = match check.outcome {
            Outcome::Pass => "ok  ",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        let detail = format!("{mark}  {}: {}", check.check, check.detail);
        wrap(&mut out, &detail, "      ");
        if let Some(fix) = &check.fix {
            wrap(&mut out, &format!("      fix: {fix}"), "           ");
        }
    }
    let failures = checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
    if failed {
        let _ = writeln!(
            out,
            "\n{failures} of {} checks failed for {}",
            checks.len(),
            session.describe()
        );
    } else {
        let _ = writeln!(out, "\nevery check passed for {}", session.describe());
    }
    out
}

/// Writes `text` in lines of at most `WIDTH` characters where spaces allow, continued with
/// `indent`; lines that `text` breaks itself (log lines) are kept as they are. (Ten lines here
/// rather than a wrapping crate: messages are plain ASCII and this is the one place.)
fn wrap(out: &mut String, text: &str, indent: &str) {
    const WIDTH: usize = 100;
    for paragraph in text.split('\n') {
        let mut line: String = paragraph.chars().take_while(|c| *c == ' ').collect();
        let start = line.len();
        for word in paragraph[start..].split(' ') {
            if line.len() > start && line.len() + 1 + word.len() > WIDTH {
                out.push_str(line.trim_end());
                out.push('\n');
                line = indent.to_owned();
            } else if line.len() > start {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// The current revision is deployed and no apply holds the release's lock.
fn release(session: &Session, live: &Live) -> Check {
    const CHECK: &str = "release";
    let current = live.current();
    let revision = current.revision;
    match current.status {
        Status::Deployed => {}
        Status::Pending => {
            return fail(
                CHECK,
                format!("revision {revision} is pending: an apply is running or was interrupted"),
                "run `prefectctl apply` again: it completes what an interrupted apply left",
            );
        }
        Status::Failed => {
            return fail(
                CHECK,
                format!("revision {revision} failed: {}", current.description),
                "fix the cause and run `prefectctl apply` again, or go back with `prefectctl rollback`",
            );
        }
        other => {
            return fail(
                CHECK,
                format!("revision {revision} is {}", other.as_str()),
                "run `prefectctl apply` to deploy the release again",
            );
        }
    }
    match session.block_on(session.cluster.lock_state(&session.namespace, &session.release)) {
        Ok(Some(lock)) if lock.expires_in > 0 => fail(
            CHECK,
            format!(
                "revision {revision} is deployed, but {} holds the release's lock since {}",
                lock.holder, lock.since
            ),
            format!(
                "an apply, rollback or uninstall is running; if its process is gone, the lock \
                 expires in {} s and the next command takes it over",
                lock.expires_in
            ),
        ),
        Ok(_) => pass(CHECK, format!("revision {revision} is deployed; no command holds the lock")),
        Err(err) if err.status() == Some(403) => pass(
            CHECK,
            format!("revision {revision} is deployed (the lock is not readable: {err})"),
        ),
        Err(err) => skip(CHECK, format!("revision {revision} is deployed; the lock: {err}")),
    }
}

/// The release's own server answers; returns its address and the version it says.
fn server(
    session: &Session,
    stack: &Stack,
    checks: &mut Vec<Check>,
) -> Option<(Address, Option<String>)> {
    const CHECK: &str = "server";
    let server = stack.server.as_ref()?;
    let Some(address) = server.service.as_ref().and_then(Address::of_service) else {
        checks.push(fail(
            CHECK,
            "the server's Service is not in the cluster",
            "run `prefectctl apply` to restore it",
        ));
        return None;
    };
    let auth = match server_auth(session, stack) {
        Ok(auth) => auth,
        Err(why) => {
            checks.push(skip(CHECK, format!("{}: {why}", address.describe())));
            return Some((address, None));
        }
    };
    let answer = Connection::open(session, &address, auth.as_deref())
        .and_then(|c| Ok((c.get("/health")?, c.get("/admin/version")?, c.route())));
    match answer {
        Ok((Value::Bool(true), version, route)) => {
            let version = version.as_str().map(str::to_owned);
            checks.push(pass(
                CHECK,
                format!(
                    "{} answers: healthy, Prefect {}, through {route}",
                    address.describe(),
                    version.as_deref().unwrap_or("?")
                ),
            ));
            Some((address, version))
        }
        Ok((health, _, _)) => {
            checks.push(fail(
                CHECK,
                format!("{} answers /health with {health}", address.describe()),
                "read the server's log: kubectl logs deployment/<release>-server",
            ));
            Some((address, None))
        }
        Err(err) => {
            checks.push(fail(
                CHECK,
                format!("{} does not answer: {err}", address.describe()),
                "see the pods check below, and `prefectctl status`",
            ));
            Some((address, None))
        }
    }
}

/// A worker's checks: its server answers, its credential is accepted, its version suits the
/// server's, and its pool puts flow runs where its Role reaches.
fn workers(
    session: &Session,
    stack: &Stack,
    worker: &Worker,
    own_server: Option<&(Address, Option<String>)>,
    checks: &mut Vec<Check>,
    credentials: &mut Vec<String>,
    job_namespaces: &mut Vec<String>,
) {
    let name = &worker.name;
    let check = |what: &str| format!("{what} ({name})");
    let namespace = &stack.namespace;
    let url = match resolve(session, namespace, &worker.container, "PREFECT_API_URL") {
        Ok(Some(url)) => url,
        Ok(None) => {
            checks.push(fail(
                &check("worker API"),
                "the worker has no PREFECT_API_URL",
                "set agent.apiConfig (the stack's server, a URL, or Prefect Cloud) and apply",
            ));
            return;
        }
        Err(why) => {
            checks.push(skip(&check("worker API"), why));
            return;
        }
    };
    let auth = resolve(session, namespace, &worker.container, "PREFECT_API_AUTH_STRING");
    let auth = match auth {
        Ok(auth) => auth,
        Err(why) => {
            checks.push(skip(&check("basic auth"), why));
            None
        }
    };
    credentials.extend(auth.iter().cloned());
    if let Ok(Some(key)) = resolve(session, namespace, &worker.container, "PREFECT_API_KEY") {
        credentials.push(key);
    }
    let address = match Address::of_url(&url, namespace) {
        Ok(address) => address,
        Err(why) => {
            checks.push(skip(&check("worker API"), format!("{why}: not checked from here")));
            return;
        }
    };
    // The Service the URL names exists and has the port.
    match session.block_on(session.cluster.service(&address.namespace, &address.service)) {
        Ok(Some(service)) => {
            let has_port = service["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["port"].as_u64() == Some(u64::from(address.port)));
            if !has_port {
                checks.push(fail(
                    &check("worker API"),
                    format!("PREFECT_API_URL {url} names port {}, which Service {}/{} does not have", address.port, address.namespace, address.service),
                    "correct the URL in agent.apiConfig, or use the stack's server (agent.apiConfig: server)",
                ));
                return;
            }
        }
        Ok(None) => {
            checks.push(fail(
                &check("worker API"),
                format!(
                    "PREFECT_API_URL {url} names Service {}/{}, which does not exist",
                    address.namespace, address.service
                ),
                "correct the URL in agent.apiConfig, or install the server it names",
            ));
            return;
        }
        Err(err) => {
            checks.push(skip(&check("worker API"), err.to_string()));
            return;
        }
    }
    let own = own_server.is_some_and(|(a, _)| *a == address);
    let unauthenticated = Connection::open(session, &address, None);
    let health = unauthenticated.as_ref().map_err(Clone::clone).and_then(|c| c.get("/health"));
    match health {
        Ok(Value::Bool(true)) => checks.push(pass(
            &check("worker API"),
            format!(
                "PREFECT_API_URL {url} reaches {}{}, which answers",
                if own { "the release's server, " } else { "" },
                address.describe()
            ),
        )),
        Ok(other) => checks.push(fail(
            &check("worker API"),
            format!("{} answers /health with {other}", address.describe()),
            "read the server's log",
        )),
        Err(err) => {
            let fix = match err {
                ApiError::Status(404, _) => format!(
                    "the path is not Prefect's API: correct PREFECT_API_URL (agent.apiConfig) to end in \
                     the server's API path, http://{}.{}.svc:{}/api",
                    address.service, address.namespace, address.port
                ),
                _ => {
                    "make the server ready first (see the server and pods checks, and `prefectctl \
                      status`)"
                        .to_owned()
                }
            };
            checks.push(fail(&check("worker API"), format!("PREFECT_API_URL {url}: {err}"), fix));
            return;
        }
    }
    // The credential: what the server says to the worker's own.
    let connection = match Connection::open(session, &address, auth.as_deref()) {
        Ok(connection) => connection,
        Err(err) => {
            checks.push(skip(&check("basic auth"), err.to_string()));
            return;
        }
    };
    let version = connection.get("/admin/version");
    let auth_source = env::source(&worker.container, "PREFECT_API_AUTH_STRING")
        .map(|s| s.describe())
        .unwrap_or_else(|| "nothing".to_owned());
    let server_source = stack
        .server
        .as_ref()
        .filter(|_| own)
        .and_then(|s| env::source(&s.container, "PREFECT_SERVER_API_AUTH_STRING"))
        .map(|s| format!(" (the server's: {})", s.describe()))
        .unwrap_or_default();
    let server_version = match version {
        Ok(version) => {
            checks.push(pass(
                &check("basic auth"),
                if auth.is_some() {
                    format!("the server accepts the worker's credential ({auth_source})")
                } else {
                    "the server wants no credential and the worker sends none".to_owned()
                },
            ));
            version.as_str().map(str::to_owned)
        }
        Err(ApiError::Status(401, _)) => {
            checks.push(fail(
                &check("basic auth"),
                if auth.is_some() {
                    format!(
                        "the server refuses the worker's credential ({auth_source}){server_source}"
                    )
                } else {
                    format!("the server wants basic auth{server_source} and the worker sends none")
                },
                "give server and worker the same auth string: with the stack's server, let \
                 server.basicAuth set both (apply again); with another server, set \
                 agent.apiConfig's authString or its existingSecret to the server's",
            ));
            own_server.and_then(|(_, v)| v.clone())
        }
        Err(err) => {
            checks.push(skip(&check("basic auth"), err.to_string()));
            None
        }
    };
    checks.push(versions(&check("versions"), server_version.as_deref(), worker));
    if let Some(pool) = &worker.pool {
        let (found, namespace) = pool_namespace(&connection, pool, stack, worker);
        if let Some(namespace) = namespace {
            job_namespaces.push(namespace);
        }
        checks.push(found);
    }
}

/// The worker's Prefect is the server's major version and not newer than it (Prefect servers
/// accept older clients, not newer ones).
fn versions(check: &str, server: Option<&str>, worker: &Worker) -> Check {
    let image = worker.container["image"].as_str().unwrap_or_default();
    let Some(server) = server else {
        return skip(check, "the server's version is unknown");
    };
    let Some(worker_version) = image_version(image) else {
        return skip(check, format!("the worker's image {image} does not say its Prefect version"));
    };
    let parse = |v: &str| v.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    let (s, w) = (parse(server), parse(&worker_version));
    if s.first() != w.first() {
        return fail(
            check,
            format!(
                "the worker runs Prefect {worker_version} ({image}), the server Prefect {server}: different major versions do not talk to each other"
            ),
            "give the worker an image of the server's major version (agent.image.prefectTag)",
        );
    }
    if w > s {
        return fail(
            check,
            format!(
                "the worker runs Prefect {worker_version} ({image}), newer than the server's {server}"
            ),
            "upgrade the server first (server.image.prefectTag), or pin the worker to the server's version (agent.image.prefectTag)",
        );
    }
    pass(check, format!("worker Prefect {worker_version}, server Prefect {server}"))
}

/// The namespace the pool puts flow-run Jobs in is one the worker's Role covers.
fn pool_namespace(
    connection: &Connection,
    pool: &str,
    stack: &Stack,
    worker: &Worker,
) -> (Check, Option<String>) {
    let check = format!("pool namespace ({})", worker.name);
    let found = match connection.get(&format!("/work_pools/{pool}")) {
        Ok(found) => found,
        Err(ApiError::Status(404, _)) => {
            return (
                fail(
                    &check,
                    format!("work pool {pool} does not exist on the server"),
                    "the worker creates it when it starts: see the pods check and the worker's log",
                ),
                None,
            );
        }
        Err(err) => return (skip(&check, format!("work pool {pool}: {err}")), None),
    };
    if found["type"].as_str().is_some_and(|t| t != "kubernetes") {
        return (
            pass(
                &check,
                format!("work pool {pool} is of type {} and makes no Jobs", found["type"]),
            ),
            None,
        );
    }
    let template = &found["base_job_template"];
    let configured =
        template["job_configuration"]["namespace"].as_str().unwrap_or("{{ namespace }}");
    let namespace = if configured.trim().starts_with("{{") {
        let variable = configured.trim().trim_start_matches("{{").trim_end_matches("}}").trim();
        template["variables"]["properties"][variable]["default"]
            .as_str()
            .unwrap_or("default")
            .to_owned()
    } else {
        configured.to_owned()
    };
    let covered = stack.job_namespaces(&worker.service_account);
    let ok = covered.as_ref().is_none_or(|namespaces| namespaces.contains(&namespace));
    if ok {
        return (
            pass(
                &check,
                format!(
                    "work pool {pool} runs flows in namespace {namespace}, where ServiceAccount {} may create Jobs",
                    worker.service_account
                ),
            ),
            Some(namespace),
        );
    }
    let covered = covered.unwrap_or_default().join(", ");
    (
        fail(
            &check,
            format!(
                "work pool {pool} runs flows in namespace {namespace}, but ServiceAccount {} may create Jobs only in {covered}: every flow run fails to start",
                worker.service_account
            ),
            format!(
                "set the pool's namespace to {}: give agent.config.baseJobTemplate.configuration with \
                 variables.properties.namespace.default: {} and apply (prefectctl syncs it to the pool), \
                 or run `prefect work-pool update {pool} --base-job-template FILE`",
                stack.namespace, stack.namespace
            ),
        ),
        Some(namespace),
    )
}

/// Every claim of the release is bound, or why not: its own claims, and those its
/// StatefulSets' controllers made (found by the release's instance label).
fn claims(session: &Session, stack: &Stack) -> Vec<Check> {
    const CHECK: &str = "claims";
    let mut claims = stack.claims.clone();
    let selector = format!("app.kubernetes.io/instance={}", session.release);
    match session.block_on(session.cluster.claims(&stack.namespace, &selector)) {
        Ok(made) => {
            for claim in made {
                let name = claim.metadata.name.clone().unwrap_or_default();
                if !claims.iter().any(|(known, _)| *known == name) {
                    claims.push((name, serde_json::to_value(claim).ok()));
                }
            }
        }
        Err(err) => return vec![skip(CHECK, err.to_string())],
    }
    if claims.is_empty() {
        return vec![pass(CHECK, "the release has no PersistentVolumeClaim")];
    }
    let mut checks = Vec::new();
    let mut events = None;
    for (name, claim) in &claims {
        let Some(claim) = claim else {
            checks.push(fail(
                CHECK,
                format!("PersistentVolumeClaim {name} is not in the cluster"),
                "run `prefectctl apply` to restore it",
            ));
            continue;
        };
        let phase = claim["status"]["phase"].as_str().unwrap_or("Pending");
        if phase == "Bound" {
            let volume = claim["spec"]["volumeName"].as_str().unwrap_or("a volume");
            checks.push(pass(CHECK, format!("PersistentVolumeClaim {name} is bound to {volume}")));
            continue;
        }
        let events = events.get_or_insert_with(|| {
            session.block_on(session.cluster.events(&stack.namespace)).unwrap_or_default()
        });
        let said = events
            .iter()
            .rev()
            .find(|e| e.kind == "PersistentVolumeClaim" && e.name == *name)
            .map(|e| format!(" ({}: {})", e.reason, e.message))
            .unwrap_or_default();
        let value = match claim["metadata"]["labels"]["app.kubernetes.io/component"].as_str() {
            Some("server") => "server.sqlite.persistence.storageClassName",
            Some("postgresql") => "postgres.persistence.storageClassName",
            _ => "the storageClassName of the plugin that makes it",
        };
        let fix = match claim["spec"]["storageClassName"].as_str().filter(|c| !c.is_empty()) {
            Some(class) => format!(
                "StorageClass {class} must exist and provision volumes (`kubectl get storageclass \
                 {class}`), or set {value} to one that does"
            ),
            None => match session.block_on(session.cluster.storage_classes()) {
                Ok(classes) if !classes.iter().any(is_default) => format!(
                    "the cluster has no default StorageClass: mark one default (`kubectl patch \
                     storageclass NAME -p '{{\"metadata\":{{\"annotations\":{{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}}}}'`) \
                     or set {value}"
                ),
                _ => format!("see `kubectl describe pvc {name}` for why no volume is bound"),
            },
        };
        checks.push(fail(
            CHECK,
            format!("PersistentVolumeClaim {name} is {phase}, not bound{said}"),
            fix,
        ));
    }
    checks
}

fn is_default(class: &prefect_cluster::k8s_openapi::api::storage::v1::StorageClass) -> bool {
    class.metadata.annotations.as_ref().is_some_and(|a| {
        [
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        ]
        .iter()
        .any(|k| a.get(*k).is_some_and(|v| v == "true"))
    })
}

/// No flow-run Job holds a credential as a literal value: by name (Prefect's credential
/// variables) or by value (the workers' credentials, compared in memory, never shown).
fn flow_run_jobs(session: &Session, namespaces: &[String], credentials: &[String]) -> Check {
    const CHECK: &str = "flow-run jobs";
    let mut namespaces = namespaces.to_vec();
    namespaces.sort();
    namespaces.dedup();
    let mut leaks = Vec::new();
    let mut seen = 0;
    let mut unreadable = Vec::new();
    for namespace in &namespaces {
        let jobs = match session.block_on(session.cluster.jobs(namespace, "prefect.io/flow-run-id"))
        {
            Ok(jobs) => jobs,
            Err(err) => {
                unreadable.push(err.to_string());
                continue;
            }
        };
        for job in jobs {
            seen += 1;
            let job_name = job.metadata.name.clone().unwrap_or_default();
            let template = job.spec.and_then(|s| s.template.spec);
            let containers = template
                .iter()
                .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()));
            for container in containers {
                for var in container.env.iter().flatten() {
                    let Some(value) = var.value.as_deref().filter(|v| !v.is_empty()) else {
                        continue;
                    };
                    if CREDENTIALS.contains(&var.name.as_str())
                        || credentials.iter().any(|c| c == value)
                    {
                        leaks.push(format!(
                            "Job {namespace}/{job_name} container {} has {} as plain text",
                            container.name, var.name
                        ));
                    }
                }
            }
        }
    }
    if !leaks.is_empty() {
        return fail(
            CHECK,
            leaks.join("; "),
            "the worker that made them does not tell Prefect the Secret of its credential \
             (PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME/_KEY, \
             ..._API_KEY_SECRET_NAME/_KEY): apply the release with this prefectctl, then delete \
             those Jobs (they hold the credential) and rotate it",
        );
    }
    if !unreadable.is_empty() {
        return skip(CHECK, unreadable.join("; "));
    }
    pass(
        CHECK,
        format!(
            "{seen} flow-run Jobs in {}; none holds a credential in plain text",
            namespaces.join(", ")
        ),
    )
}

/// No pod of the release crash-loops or cannot start; the last lines of a crashing
/// container's log.
fn pods(session: &Session) -> Check {
    const CHECK: &str = "pods";
    let selector = format!("app.kubernetes.io/instance={}", session.release);
    let pods = match session.block_on(session.cluster.pods(&session.namespace, &selector)) {
        Ok(pods) => pods,
        Err(err) => return skip(CHECK, err.to_string()),
    };
    let mut troubles = Vec::new();
    for pod in &pods {
        troubles.extend(pod_troubles(session, pod));
    }
    if troubles.is_empty() {
        return pass(CHECK, format!("{} pods, none crash-looping or failing to start", pods.len()));
    }
    let text = troubles.join("\n      ");
    let mut fixes = Vec::new();
    if text.contains("ImagePull") || text.contains("InvalidImageName") {
        fixes.push(
            "check that the image and tag exist and that the cluster may pull them \
             (the component's image values; global.prefect.image.pullSecrets)",
        );
    }
    if text.contains("CreateContainer") {
        fixes.push("create the Secret or ConfigMap the message names, or correct the reference");
    }
    if text.contains("its last lines") || text.contains("restarts") {
        fixes.push("fix what the log says (values, the image, a Secret) and apply again");
    }
    fixes.push("`kubectl describe pod NAME` shows the events");
    fail(CHECK, text, fixes.join("; "))
}

fn pod_troubles(session: &Session, pod: &Pod) -> Vec<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let statuses = pod.status.iter().flat_map(|s| {
        s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten())
    });
    let mut troubles = Vec::new();
    for status in statuses {
        let waiting = status.state.as_ref().and_then(|s| s.waiting.as_ref());
        let reason = waiting.and_then(|w| w.reason.clone()).unwrap_or_default();
        let crash_looping =
            reason == "CrashLoopBackOff" || (status.restart_count >= 3 && !status.ready);
        let cannot_start = matches!(
            reason.as_str(),
            "ErrImagePull"
                | "ImagePullBackOff"
                | "InvalidImageName"
                | "CreateContainerConfigError"
                | "CreateContainerError"
        );
        if !crash_looping && !cannot_start {
            continue;
        }
        let message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
        let mut trouble = format!(
            "Pod {name} container {}: {}{}{}",
            status.name,
            if reason.is_empty() { "restarting".to_owned() } else { reason.clone() },
            if status.restart_count > 0 {
                format!(", {} restarts", status.restart_count)
            } else {
                String::new()
            },
            if message.is_empty() { String::new() } else { format!(" ({message})") },
        );
        if crash_looping {
            let log = session.block_on(session.cluster.log_tail(
                &session.namespace,
                &name,
                &status.name,
                true,
                5,
            ));
            match log {
                Ok(log) if !log.trim().is_empty() => {
                    trouble.push_str("; its last lines:");
                    for line in log.trim_end().lines() {
                        let _ = write!(trouble, "\n        | {}", line.trim_end());
                    }
                }
                Ok(_) => trouble.push_str("; its last run printed nothing"),
                Err(err) => {
                    let _ = write!(trouble, "; its log: {err}");
                }
            }
        }
        troubles.push(trouble);
    }
    troubles
}
