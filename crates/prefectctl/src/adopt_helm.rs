//! `apply --adopt-helm RELEASE`: a running prefect-helm release taken over in place.
//!
//! The Helm release's values are read from its deployed record (`sh.helm.release.v1.*`) and
//! converted as `values import --from-helm` converts them ([`helm_import::import`]), under the
//! flags' values; its database stays where it is: the SQLite claim is mounted as it is
//! (`server.sqlite.persistence.existingClaim`), and a server that read its connection from a
//! Secret (the Bitnami PostgreSQL subchart's, or `secret.*`) keeps reading that Secret. Then:
//!
//! 1. objects of the same name that cannot change in place (a Deployment whose selector
//!    differs) are deleted with their pods, waiting until they are gone, just before the write
//!    that recreates them: the only interruption;
//! 2. the fields Helm set on every other object of the same name become prefectctl's, so the
//!    write removes what prefectctl does not set rather than leaving Helm's behind;
//! 3. the write, taking over conflicting fields;
//! 4. Helm's other objects are deleted, except data (claims and Secrets) and the subcharts'
//!    databases the server still uses (the Bitnami PostgreSQL and Redis), which keep running
//!    as Helm left them; and Helm's record is marked superseded, so `helm` neither lists the
//!    release as deployed nor upgrades it.
//!
//! Nothing that holds data is ever deleted.

use std::{collections::BTreeSet, fmt::Write as _, time::Duration};

use prefect_cluster::{
    helm::HelmRelease,
    record::{Revision, Status},
};
use prefect_manifest::ResourceKey;
use prefect_values::{Layer, Values};
use serde_json::{Map, Value, json};

use crate::{
    cli::{HelmChart, ReleaseArgs},
    failure::Failure,
    helm_import::{self, Stack},
    plan::{self, Plan},
    release::{self, Release},
    session::{Session, failure},
    stack::Base,
};

/// The Helm releases to take over, read and converted.
pub struct Adoption {
    releases: Vec<HelmRelease>,
    /// Helm's objects, from the releases' manifests.
    objects: Vec<Value>,
    /// The converted values, with the adoption's database wiring.
    values: Map<String, Value>,
    /// The plugins the values need, in stack order.
    plugins: Vec<String>,
}

/// The workloads whose selector cannot change: a different one means a new object.
const WORKLOADS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];
/// What prefect-helm's subcharts run, by their `app.kubernetes.io/name`: kept running when
/// their chart's objects go, since the server's data is in them.
const SUBCHART_DATABASES: &[&str] = &["postgresql", "redis"];
/// The kinds that hold data: never deleted.
const DATA: &[&str] = &["PersistentVolumeClaim", "Secret"];
/// The kinds without a namespace that a chart may hold.
const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "Namespace",
    "PriorityClass",
    "StorageClass",
    "CustomResourceDefinition",
    "IngressClass",
    "PersistentVolume",
];

impl Adoption {
    /// Reads each named Helm release's deployed revision in the session's namespace and
    /// converts its values; says on standard error what was not converted.
    pub fn read(
        session: &Session,
        args: &ReleaseArgs,
        names: &[String],
    ) -> Result<Adoption, Failure> {
        let mut releases = Vec::new();
        let mut errors = Vec::new();
        for name in names {
            match deployed(session, name)? {
                Ok(release) => releases.push(release),
                Err(message) => errors.push(message),
            }
        }
        let mut charts: Vec<(HelmChart, Values)> = Vec::new();
        for release in &releases {
            let chart = match release.chart.as_str() {
                "prefect-server" => HelmChart::Server,
                "prefect-worker" => HelmChart::Worker,
                other => {
                    errors.push(format!(
                        "{} is of the chart {other}: --adopt-helm takes over releases of \
                         prefect-helm's prefect-server and prefect-worker charts",
                        release.describe()
                    ));
                    continue;
                }
            };
            if charts.iter().any(|(c, _)| *c == chart) {
                errors.push(format!(
                    "{} is the second release of the chart {} given to --adopt-helm: one \
                     prefectctl release runs one server and one worker; adopt the other into \
                     another --release",
                    release.describe(),
                    release.chart
                ));
                continue;
            }
            let source = format!("{}'s values", release.describe());
            charts.push((
                chart,
                prefect_values::merge(&[Layer::recorded(release.config.clone(), &source)]),
            ));
        }
        if !errors.is_empty() {
            return Err(Failure::runtime(errors));
        }
        let mut objects = Vec::new();
        for release in &releases {
            objects.extend(manifest_objects(release)?);
        }
        let imported = helm_import::import(&charts, Stack::load(args).as_ref(), &[]);
        for text in &imported.not_converted {
            eprintln!("not converted: {text}");
        }
        let mut values = imported.values;
        let mut needed: Vec<&str> = imported.needed;
        let server = objects.iter().find(|o| is_server_deployment(o));
        let kept_database = server.is_some_and(|server| wire_database(server, &mut values));
        if kept_database {
            // The server keeps the database Helm ran; a new one is for later, by choice.
            values.remove("postgres");
            needed.retain(|plugin| *plugin != "postgres");
        }
        for note in &imported.notes {
            if !(kept_database && note.contains("--plugin postgres")) {
                eprintln!("note: {note}");
            }
        }
        let mut plugins = Vec::new();
        for (chart, _) in &charts {
            plugins.push(match chart {
                HelmChart::Server => "server".to_owned(),
                HelmChart::Worker => "agent".to_owned(),
            });
        }
        plugins.extend(needed.iter().map(|p| (*p).to_owned()));
        plugins.dedup();
        Ok(Adoption { releases, objects, values, plugins })
    }

    /// Helm's objects.
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// The keys of Helm's objects.
    pub fn keys(&self) -> BTreeSet<ResourceKey> {
        self.objects.iter().filter_map(|o| ResourceKey::of(o).ok()).collect()
    }

    /// `Helm release prefect-server (revision 1, chart prefect-server 2025.9.1)`, and so on.
    pub fn describe(&self) -> String {
        let described: Vec<String> = self.releases.iter().map(HelmRelease::describe).collect();
        described.join(" and ")
    }

    /// The release to write: the plugins and values of `history`'s deployed revision, if any,
    /// with the adopted plugins and values on top, under the flags.
    pub fn prepare(
        &self,
        session: &Session,
        args: &ReleaseArgs,
        history: &[Revision],
    ) -> Result<Release, Failure> {
        let base = plan::base_revision(history).filter(|r| r.status == Status::Deployed);
        let mut plugins: Vec<(String, prefect_plugin_host::PluginSpec)> = base
            .map(|b| {
                b.plugins
                    .iter()
                    .map(|p| (p.name.clone(), prefect_plugin_host::PluginSpec::parse(&p.spec)))
                    .collect()
            })
            .unwrap_or_default();
        for name in &self.plugins {
            if !plugins.iter().any(|(n, _)| n == name) {
                plugins.push((name.clone(), prefect_plugin_host::PluginSpec::Name(name.clone())));
            }
        }
        let adopted = Layer::recorded(Value::Object(self.values.clone()), &self.describe());
        let layer = match base {
            Some(base) => {
                let source = format!("release {} revision {}", session.release, base.revision);
                let merged = prefect_values::merge(&[
                    Layer::recorded(base.values.clone(), &source),
                    adopted,
                ]);
                Layer::recorded(merged.tree().clone(), &format!("{source} and {}", self.describe()))
            }
            None => adopted,
        };
        let base = Base { plugins, what: self.describe() };
        release::prepare_on(args, &session.namespace, &base, Some(layer))
    }

    /// What taking over does to each of Helm's objects, given what the write will apply.
    pub fn fates(&self, plan: &Plan) -> Vec<(ResourceKey, Fate)> {
        let mut fates = Vec::new();
        for object in &self.objects {
            let Ok(key) = ResourceKey::of(object) else { continue };
            let fate = match plan.graph.get(&key) {
                Some(ours)
                    if WORKLOADS.contains(&key.kind.as_str())
                        && ours["spec"]["selector"] != object["spec"]["selector"] =>
                {
                    Fate::Replace
                }
                Some(_) => Fate::TakeOver,
                None if DATA.contains(&key.kind.as_str()) => Fate::KeepData,
                None if is_subchart_database(object) => Fate::KeepRunning,
                None => Fate::Delete,
            };
            fates.push((key, fate));
        }
        fates
    }

    /// Steps 1 and 2: Helm's workloads that cannot become prefectctl's deleted with their
    /// pods (waiting until they are gone, at most `timeout`), and Helm's fields of the rest
    /// made prefectctl's.
    pub fn clear_the_way(
        &self,
        session: &Session,
        plan: &Plan,
        timeout: Duration,
    ) -> Result<(), Failure> {
        let fates = self.fates(plan);
        for (key, fate) in &fates {
            let target = plan.target(key);
            let namespace = key.namespace.as_deref();
            match fate {
                Fate::Replace => {
                    session
                        .block_on(
                            session.cluster.delete_with_dependents(target, namespace, &key.name),
                        )
                        .map_err(failure)?;
                }
                Fate::TakeOver => {
                    session
                        .block_on(session.cluster.take_helm_fields(target, namespace, &key.name))
                        .map_err(failure)?;
                }
                _ => {}
            }
        }
        let started = std::time::Instant::now();
        for (key, _) in fates.iter().filter(|(_, fate)| *fate == Fate::Replace) {
            let target = plan.target(key);
            loop {
                let live = session
                    .block_on(session.cluster.get(target, key.namespace.as_deref(), &key.name))
                    .map_err(failure)?;
                if live.is_none() {
                    break;
                }
                if started.elapsed() > timeout {
                    return Err(Failure::runtime(vec![format!(
                        "{key}, made by Helm, was deleted to be replaced but is still there \
                         after {}s (its pods have not stopped: `kubectl describe` it); nothing \
                         else was changed: apply again with --adopt-helm once it is gone, or \
                         give a longer --timeout",
                        timeout.as_secs()
                    )]));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        session.step("cleared Helm's objects out of the way");
        Ok(())
    }

    /// Step 4, after the write: Helm's leftovers deleted, its records superseded; what
    /// happened to each of Helm's objects, as the command reports it.
    pub fn finish(&self, session: &Session, plan: &Plan, revision: u32) -> Result<String, Failure> {
        let fates = self.fates(plan);
        for (key, fate) in &fates {
            if *fate != Fate::Delete {
                continue;
            }
            let Some(target) = plan.target_of(key) else { continue };
            session
                .block_on(session.cluster.delete(target, key.namespace.as_deref(), &key.name))
                .map_err(failure)?;
        }
        let by = format!("prefectctl release {} revision {revision}", session.release);
        for release in &self.releases {
            session
                .block_on(session.cluster.supersede_helm_release(release, &by))
                .map_err(failure)?;
        }
        session.step("deleted Helm's leftovers and superseded its records");
        Ok(self.report(&fates, &by))
    }

    /// What was (or, in a dry run, would be) done to Helm's objects.
    pub fn report(&self, fates: &[(ResourceKey, Fate)], by: &str) -> String {
        let mut out = String::new();
        for fate in [Fate::Replace, Fate::TakeOver, Fate::Delete, Fate::KeepData, Fate::KeepRunning]
        {
            let keys: Vec<String> =
                fates.iter().filter(|(_, f)| *f == fate).map(|(k, _)| k.to_string()).collect();
            if !keys.is_empty() {
                let _ = writeln!(out, "{}: {}", fate.said(), keys.join(", "));
            }
        }
        let records: Vec<&str> = self.releases.iter().map(|r| r.secret.as_str()).collect();
        let _ = writeln!(
            out,
            "Helm's record{} {} marked superseded by {by}: `helm list` no longer shows the \
             release; do not `helm upgrade` or `helm uninstall` it",
            if records.len() == 1 { "" } else { "s" },
            records.join(", ")
        );
        out
    }
}

/// What taking over does to one of Helm's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Deleted with its pods and made anew: a workload whose selector differs.
    Replace,
    /// Kept, its fields prefectctl's.
    TakeOver,
    /// Deleted: prefectctl has no such object.
    Delete,
    /// Kept as it is: it holds data.
    KeepData,
    /// Kept running as Helm made it: a subchart's database the server uses.
    KeepRunning,
}

impl Fate {
    fn said(self) -> &'static str {
        match self {
            Fate::Replace => "replaced (selectors differ)",
            Fate::TakeOver => "taken over",
            Fate::Delete => "deleted (prefectctl has no such object)",
            Fate::KeepData => "kept, being data",
            Fate::KeepRunning => "kept running as Helm made it (the server's database)",
        }
    }
}

/// The deployed revision of the Helm release `name`, or why there is none to take over.
fn deployed(session: &Session, name: &str) -> Result<Result<HelmRelease, String>, Failure> {
    let history = session
        .block_on(session.cluster.helm_history(&session.namespace, name))
        .map_err(failure)?;
    let Some(latest) = history.last() else {
        return Ok(Err(format!(
            "no Helm release {name} in namespace {}: `helm list -n {}` lists them (only \
             Helm's default storage, Secrets, is read)",
            session.namespace, session.namespace
        )));
    };
    if let Some(release) = history.iter().rev().find(|r| r.status == "deployed") {
        return Ok(Ok(release.clone()));
    }
    Ok(Err(if history.iter().all(|r| r.status == "superseded") {
        format!(
            "{} is not deployed: every revision is superseded (taken over already?); apply \
             without --adopt-helm",
            latest.describe()
        )
    } else {
        format!(
            "{} is {}, not deployed: take over a deployed release (`helm rollback {name}` or \
             `helm upgrade` it first)",
            latest.describe(),
            latest.status
        )
    }))
}

/// The objects of `release`'s manifest, each with its namespace.
fn manifest_objects(release: &HelmRelease) -> Result<Vec<Value>, Failure> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(&release.manifest).map_err(|err| {
        Failure::runtime(vec![format!(
            "the manifest of {} cannot be read ({err}): `helm get manifest {}` shows it",
            release.describe(),
            release.name
        )])
    })?;
    Ok(documents
        .into_iter()
        .filter(|document| document.get("kind").is_some())
        .map(|mut object| {
            let scoped = object["kind"].as_str().is_some_and(|k| CLUSTER_SCOPED.contains(&k));
            if !scoped && object["metadata"]["namespace"].as_str().is_none() {
                object["metadata"]["namespace"] = json!(release.namespace);
            }
            object
        })
        .collect())
}

/// prefect-helm's server Deployment.
fn is_server_deployment(object: &Value) -> bool {
    object["kind"] == "Deployment"
        && object["metadata"]["labels"]["app.kubernetes.io/component"] == "server"
}

fn is_subchart_database(object: &Value) -> bool {
    object["metadata"]["labels"]["app.kubernetes.io/name"]
        .as_str()
        .is_some_and(|name| SUBCHART_DATABASES.contains(&name))
}

/// Points the server at the database Helm's server used, as its Deployment says: the SQLite
/// claim it mounted at `/data`, or the Secret it read its connection URL from. Whether it
/// did the latter (a database that stays as it is).
fn wire_database(server: &Value, values: &mut Map<String, Value>) -> bool {
    let pod = &server["spec"]["template"]["spec"];
    let server_values = values.entry("server").or_insert_with(|| json!({}));
    let containers = pod["containers"].as_array().into_iter().flatten();
    let url = containers.flat_map(|c| c["env"].as_array().into_iter().flatten()).find(|env| {
        ["PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL"]
            .contains(&env["name"].as_str().unwrap_or_default())
    });
    if let Some(reference) =
        url.map(|env| &env["valueFrom"]["secretKeyRef"]).filter(|r| r.is_object())
    {
        server_values["externalDatabase"] = json!({
            "existingSecret": reference["name"],
            "existingSecretKey": reference["key"],
        });
        return true;
    }
    let mounted = pod["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["volumeMounts"].as_array().into_iter().flatten())
        .find(|mount| mount["mountPath"] == "/data")
        .and_then(|mount| mount["name"].as_str());
    let claim = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|volume| volume["name"].as_str() == mounted)
        .and_then(|volume| volume["persistentVolumeClaim"]["claimName"].as_str());
    if let Some(claim) = claim {
        if !server_values["sqlite"].is_object() {
            server_values["sqlite"] = json!({});
        }
        let persistence = &mut server_values["sqlite"]["persistence"];
        if !persistence.is_object() {
            *persistence = json!({});
        }
        persistence["existingClaim"] = json!(claim);
    }
    false
}
