//! What a security reviewer runs on the manifests: checkov, on every first-party stack. A check
//! may fail only when `docs/checkov.md` says why (the [`DOCUMENTED`] list); everything else
//! must pass. checkov comes from PyPI into the tests' cache, once.

use std::{collections::BTreeSet, path::Path, process::Command};

use serde_json::Value;

use crate::harness::{TempDir, prefectctl, workspace};

/// The checkov release the tests run.
const CHECKOV: &str = "checkov==3.3.30";

/// The checks that fail by design on any resource, each explained in `docs/checkov.md`.
const DOCUMENTED: &[&str] = &[
    // Pull policy IfNotPresent with pinned tags (and `image.digest`).
    "CKV_K8S_15",
    // The images' own users (Prefect 1001, postgres and redis 999, nobody 65534).
    "CKV_K8S_40",
    // Prefect, postgres and redis read their credentials from environment variables.
    "CKV_K8S_35",
    // A tag by default; `image.digest` pins one.
    "CKV_K8S_43",
    // The worker creates flow-run Jobs through the API: it needs its token.
    "CKV_K8S_38",
];

/// The checks that fail by design on one resource only, explained there too.
const DOCUMENTED_ON: &[(&str, &str)] = &[
    // The background services serve no port to probe; the process exits when one fails.
    ("CKV_K8S_8", "Deployment.prefect.prefect-background-services"),
    ("CKV_K8S_9", "Deployment.prefect.prefect-background-services"),
];

/// The stacks: a name and `render`'s flags.
const STACKS: &[(&str, &[&str])] = &[
    ("server", &[]),
    ("worker", &["--plugin", "agent"]),
    ("postgres", &["--plugin", "postgres", "--plugin", "agent"]),
    (
        "scaled-out",
        &[
            "--plugin",
            "postgres",
            "--plugin",
            "redis",
            "--set",
            "server.backgroundServices.runAsSeparateDeployment=true,server.replicaCount=2",
        ],
    ),
    ("metrics", &["--plugin", "metrics", "-a", "monitoring.coreos.com/v1"]),
    ("dask", &["--plugin", "dask-rbac", "--plugin", "agent"]),
    ("openshift", &["--plugin", "openshift-security", "--plugin", "agent"]),
];

/// Every plugin, with the NetworkPolicies: the one stack where CKV2_K8S_6 must pass too.
// tidy: every plugin but server, openshift-security
const FULL: &[&str] = &[
    "--plugin",
    "postgres",
    "--plugin",
    "redis",
    "--plugin",
    "agent",
    "--plugin",
    "metrics",
    "--plugin",
    "dask-rbac",
    "--plugin",
    "network-policy",
    "--set",
    "server.backgroundServices.runAsSeparateDeployment=true",
];

/// Pods without a NetworkPolicy: the `network-policy` plugin is opt-in.
const NETWORK_POLICY: &str = "CKV2_K8S_6";

#[test]
fn every_stack_passes_checkov_but_for_the_documented_checks() {
    if !crate::tier::runs(&[crate::tier::Tier::Python]) {
        return;
    }
    let checkov = match kubelet_stand_in::python::tool("checkov-3.3.30", &[CHECKOV]) {
        Ok(root) => root.join("bin/checkov"),
        Err(err) => panic!("checkov could not be installed from PyPI: {err:#}"),
    };
    // Two runs: checkov's graph checks match NetworkPolicies to pods across the files of a
    // run, and the full stack's policies would cover the other stacks' pods (same labels).
    let (without, with) = (TempDir::new("checkov"), TempDir::new("checkov-np"));
    for (name, flags) in STACKS {
        without.write(&format!("{name}.yaml"), &render(flags));
    }
    with.write("full.yaml", &render(FULL));
    let mut failed = run(&checkov, &without);
    failed.extend(run(&checkov, &with));

    let mut undocumented = Vec::new();
    let mut failed_ids = BTreeSet::new();
    for check in &failed {
        let id = check["check_id"].as_str().unwrap_or_default();
        let file = check["file_path"].as_str().unwrap_or_default();
        let resource = check["resource"].as_str().unwrap_or_default();
        failed_ids.insert(id.to_owned());
        let allowed = DOCUMENTED.contains(&id)
            || DOCUMENTED_ON.contains(&(id, resource))
            || (id == NETWORK_POLICY && !file.ends_with("full.yaml"));
        if !allowed {
            let name = check["check_name"].as_str().unwrap_or_default();
            undocumented.push(format!("{id} ({name}) on {resource} in {file}"));
        }
    }
    assert!(
        undocumented.is_empty(),
        "checks failed without a reason:\n{}",
        undocumented.join("\n")
    );

    // The reasons are where users read them, and none is stale.
    let doc = std::fs::read_to_string(workspace().join("docs/checkov.md")).unwrap();
    let on_one = DOCUMENTED_ON.iter().map(|(id, _)| id);
    for id in DOCUMENTED.iter().chain(on_one).chain([&NETWORK_POLICY]) {
        assert!(doc.contains(&format!("`{id}`")), "docs/checkov.md does not explain {id}");
        assert!(failed_ids.contains(*id), "{id} passes now: drop it from the documented list");
    }
}

/// `prefectctl -n prefect render FLAGS`.
fn render(flags: &[&str]) -> String {
    let mut args = vec!["-n", "prefect", "render"];
    args.extend(flags);
    prefectctl(&args).ok()
}

/// The failed checks of a checkov run over the manifests in `dir`.
fn run(checkov: &Path, dir: &TempDir) -> Vec<Value> {
    let out = Command::new(checkov)
        .args(["--framework", "kubernetes", "--quiet", "--compact", "-o", "json", "-d"])
        .arg(dir.path())
        .output()
        .expect("checkov runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "checkov printed no JSON report ({err}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let passed = report["summary"]["passed"].as_u64().unwrap_or_default();
    assert!(passed > 100, "checkov checked next to nothing:\n{report:#}");
    report["results"]["failed_checks"].as_array().cloned().unwrap_or_default()
}
