//! The Prefect section of `status`: each Prefect server the release runs or its workers use,
//! asked for its health and version, the work pools those workers poll with their workers'
//! heartbeats, and the late and crashed flow runs of the last hour.

use std::fmt::Write as _;

use jiff::{Timestamp, ToSpan as _};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    api::{Address, ApiError, Connection},
    env,
    stack::Stack,
};
use crate::session::Session;

/// What Prefect says, per server.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefectReport {
    /// Each server, the release's own first.
    pub servers: Vec<ServerReport>,
    /// Workers whose server is not in the cluster (Prefect Cloud, another URL).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outside: Vec<String>,
}

/// One server.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerReport {
    /// `Service prefect/prefect-server port 4200`.
    pub address: String,
    /// Whether it is the release's own server.
    pub own: bool,
    /// How it was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// `/api/health` answered `true`.
    pub healthy: bool,
    /// Its Prefect version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `sqlite`, `postgresql` (from the release's server settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The migration its database is at, as the release's migration Job last printed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
    /// Why it could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The release's work pools on it.
    pub pools: Vec<PoolReport>,
    /// Flow runs of the last hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_runs: Option<FlowRuns>,
}

/// A work pool.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolReport {
    /// Its name.
    pub name: String,
    /// The Deployments that poll it.
    pub polled_by: Vec<String>,
    /// `kubernetes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// `READY`, `NOT_READY`, `PAUSED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Its workers.
    pub workers: Vec<WorkerReport>,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A worker as Prefect knows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerReport {
    /// Its name.
    pub name: String,
    /// `ONLINE`, `OFFLINE`.
    pub status: String,
    /// Its last heartbeat, RFC 3339.
    pub last_heartbeat: Option<String>,
    /// Seconds since then.
    pub seconds_ago: Option<i64>,
}

/// Late and crashed flow runs of the last hour.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRuns {
    /// Late: scheduled in the last hour and not started.
    pub late: u64,
    /// Crashed in the last hour.
    pub crashed: u64,
}

/// The auth string the release's server wants, if any (read from its Secret, never shown).
pub fn server_auth(session: &Session, stack: &Stack) -> Result<Option<String>, String> {
    let Some(server) = &stack.server else { return Ok(None) };
    resolve(session, &stack.namespace, &server.container, "PREFECT_SERVER_API_AUTH_STRING")
}

/// The value of a container's variable, or why it cannot be read.
pub fn resolve(
    session: &Session,
    namespace: &str,
    container: &Value,
    name: &str,
) -> Result<Option<String>, String> {
    let resolved = session
        .block_on(env::resolve(&session.cluster, namespace, container, name))
        .map_err(|err| format!("cannot read {name}: {err}"))?;
    Ok(resolved.map(|(_, value)| value).filter(|v| !v.is_empty()))
}

/// Asks every server of the release.
pub fn gather(session: &Session, stack: &Stack) -> PrefectReport {
    let mut report = PrefectReport { servers: Vec::new(), outside: Vec::new() };
    // (address, auth string, whether it is the release's own server)
    let mut targets: Vec<(Address, Result<Option<String>, String>, bool)> = Vec::new();
    if let Some(address) =
        stack.server.as_ref().and_then(|s| s.service.as_ref()).and_then(Address::of_service)
    {
        targets.push((address, server_auth(session, stack), true));
    }
    let mut pools: Vec<(Address, String, String)> = Vec::new();
    for worker in &stack.workers {
        let url = resolve(session, &stack.namespace, &worker.container, "PREFECT_API_URL");
        let address = match url {
            Ok(Some(url)) => Address::of_url(&url, &stack.namespace),
            Ok(None) => Err("its PREFECT_API_URL is not set".to_owned()),
            Err(why) => Err(why),
        };
        match address {
            Ok(address) => {
                if !targets.iter().any(|(a, _, _)| *a == address) {
                    let auth = resolve(
                        session,
                        &stack.namespace,
                        &worker.container,
                        "PREFECT_API_AUTH_STRING",
                    );
                    targets.push((address.clone(), auth, false));
                }
                if let Some(pool) = &worker.pool {
                    pools.push((address, pool.clone(), worker.name.clone()));
                }
            }
            Err(why) => report.outside.push(format!("Deployment {}: {why}", worker.name)),
        }
    }
    for (address, auth, own) in targets {
        let mut server = ServerReport {
            address: address.describe(),
            own,
            route: None,
            healthy: false,
            version: None,
            database: own.then(|| database(stack)).flatten(),
            migration: None,
            error: None,
            pools: Vec::new(),
            flow_runs: None,
        };
        let connection = auth
            .map_err(ApiError::Unreachable)
            .and_then(|auth| Connection::open(session, &address, auth.as_deref()));
        match connection {
            Err(err) => server.error = Some(err.to_string()),
            Ok(connection) => {
                server.route = Some(connection.route());
                ask(&connection, &mut server);
                for (_, pool, worker) in pools.iter().filter(|(a, _, _)| *a == address) {
                    match server.pools.iter_mut().find(|p| p.name == *pool) {
                        Some(known) => known.polled_by.push(worker.clone()),
                        None => server.pools.push(pool_report(&connection, pool, worker)),
                    }
                }
            }
        }
        report.servers.push(server);
    }
    report
}

fn ask(connection: &Connection, server: &mut ServerReport) {
    match connection.get("/health") {
        Ok(answer) => server.healthy = answer == Value::Bool(true),
        Err(err) => {
            server.error = Some(err.to_string());
            return;
        }
    }
    match connection.get("/admin/version") {
        Ok(version) => server.version = version.as_str().map(str::to_owned),
        Err(err) => server.error = Some(err.to_string()),
    }
    let hour_ago = (Timestamp::now() - 1.hour()).to_string();
    let count = |filter: Value| {
        connection
            .post("/flow_runs/count", &json!({ "flow_runs": filter }))
            .map(|n| n.as_u64().unwrap_or(0))
    };
    let late = count(
        json!({ "state": { "name": { "any_": ["Late"] } }, "expected_start_time": { "after_": hour_ago } }),
    );
    let crashed = count(
        json!({ "state": { "type": { "any_": ["CRASHED"] } }, "end_time": { "after_": hour_ago } }),
    );
    match (late, crashed) {
        (Ok(late), Ok(crashed)) => server.flow_runs = Some(FlowRuns { late, crashed }),
        (Err(err), _) | (_, Err(err)) => {
            server.error.get_or_insert_with(|| err.to_string());
        }
    }
}

fn pool_report(connection: &Connection, pool: &str, worker: &str) -> PoolReport {
    let mut report = PoolReport {
        name: pool.to_owned(),
        polled_by: vec![worker.to_owned()],
        r#type: None,
        status: None,
        workers: Vec::new(),
        error: None,
    };
    match connection.get(&format!("/work_pools/{pool}")) {
        Ok(found) => {
            report.r#type = found["type"].as_str().map(str::to_owned);
            report.status = found["status"].as_str().map(str::to_owned);
        }
        Err(ApiError::Status(404, _)) => {
            report.error = Some(
                "the server has no such pool: the worker creates it when it starts".to_owned(),
            );
            return report;
        }
        Err(err) => {
            report.error = Some(err.to_string());
            return report;
        }
    }
    match connection.post(&format!("/work_pools/{pool}/workers/filter"), &json!({})) {
        Ok(workers) => {
            let now = Timestamp::now();
            report.workers = workers
                .as_array()
                .into_iter()
                .flatten()
                .map(|w| {
                    let beat = w["last_heartbeat_time"].as_str().map(str::to_owned);
                    let ago = beat
                        .as_deref()
                        .and_then(|b| b.parse::<Timestamp>().ok())
                        .map(|t| now.as_second() - t.as_second());
                    WorkerReport {
                        name: w["name"].as_str().unwrap_or_default().to_owned(),
                        status: w["status"].as_str().unwrap_or("UNKNOWN").to_owned(),
                        last_heartbeat: beat,
                        seconds_ago: ago,
                    }
                })
                .collect();
        }
        Err(err) => report.error = Some(err.to_string()),
    }
    report
}

/// The database the release's server is set to use, from its settings: the driver or the
/// connection URL's scheme (read, never shown), SQLite when neither is set (Prefect's default).
fn database(stack: &Stack) -> Option<String> {
    let container = &stack.server.as_ref()?.container;
    for name in ["PREFECT_SERVER_DATABASE_DRIVER", "PREFECT_API_DATABASE_DRIVER"] {
        if let Some(env::Source::Literal(driver)) = env::source(container, name) {
            return Some(kind_of(&driver));
        }
    }
    for name in ["PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL"] {
        match env::source(container, name) {
            Some(env::Source::Literal(url)) => return Some(kind_of(&url)),
            Some(_) => return Some("set from a Secret".to_owned()),
            None => {}
        }
    }
    if env::source(container, "PREFECT_SERVER_DATABASE_HOST").is_some() {
        return Some("postgresql".to_owned());
    }
    Some("sqlite".to_owned())
}

fn kind_of(driver_or_url: &str) -> String {
    let scheme = driver_or_url.split([':', '+']).next().unwrap_or_default();
    if scheme.starts_with("postgres") { "postgresql".to_owned() } else { scheme.to_owned() }
}

/// The section as `status` prints it.
pub fn text(report: &PrefectReport) -> String {
    let mut out = String::from("PREFECT\n");
    if report.servers.is_empty() && report.outside.is_empty() {
        out.push_str("no Prefect server or worker in this release\n");
    }
    for server in &report.servers {
        let whose = if server.own { "server" } else { "server (of the workers)" };
        let _ = write!(out, "{whose}: {}", server.address);
        if server.healthy {
            out.push_str(": healthy");
        } else if server.error.is_none() {
            out.push_str(": not healthy");
        }
        if let Some(version) = &server.version {
            let _ = write!(out, ", Prefect {version}");
        }
        if let Some(database) = &server.database {
            let _ = write!(out, ", database {database}");
        }
        if let Some(migration) = &server.migration {
            let _ = write!(out, " at migration {migration}");
        }
        out.push('\n');
        if let Some(error) = &server.error {
            let _ = writeln!(out, "  not reachable: {error}");
        }
        if let Some(runs) = &server.flow_runs {
            let _ = writeln!(
                out,
                "  flow runs in the last hour: {} late, {} crashed",
                runs.late, runs.crashed
            );
        }
        for pool in &server.pools {
            let _ = write!(out, "  work pool {}", pool.name);
            let about: Vec<&str> =
                [pool.r#type.as_deref(), pool.status.as_deref()].into_iter().flatten().collect();
            if !about.is_empty() {
                let _ = write!(out, " ({})", about.join(", "));
            }
            let _ = writeln!(out, ", polled by {}", pool.polled_by.join(", "));
            if let Some(error) = &pool.error {
                let _ = writeln!(out, "    {error}");
            }
            if pool.error.is_none() && pool.workers.is_empty() {
                out.push_str("    no worker has sent a heartbeat yet\n");
            }
            for worker in &pool.workers {
                let ago = worker
                    .seconds_ago
                    .map(|s| format!(", last heartbeat {s} s ago"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    worker {}: {}{ago}", worker.name, worker.status);
            }
        }
    }
    for outside in &report.outside {
        let _ = writeln!(out, "not asked: {outside}");
    }
    out
}
