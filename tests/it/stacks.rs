//! Every combination of the first-party plugins renders a coherent stack, whatever the order of
//! the `--plugin` flags; the meaningful ones are snapshots reviewed by eye.

use expect_test::expect_file;

use crate::harness::{TempDir, prefectctl_in};

/// The plugins `server` may be combined with (dask-rbac pulls agent in).
// tidy: every plugin but server, network-policy
const OPTIONAL: [&str; 6] =
    ["agent", "postgres", "redis", "openshift-security", "dask-rbac", "metrics"];

/// Values a worker-only stack needs: where Prefect Cloud is.
const CLOUD: &str = "agent:\n  apiConfig: cloud\n  cloudApiConfig:\n    accountId: 0ff44b2d-0000-4000-8000-000000000001\n    workspaceId: 0ff44b2d-0000-4000-8000-000000000002\n";

/// `render` with `plugins` (each as `--plugin`), `extra` arguments and a values file.
fn render(dir: &TempDir, plugins: &[&str], extra: &[&str]) -> crate::harness::Run {
    let mut args = vec!["render", "-n", "prefect", "-f", "values.yaml"];
    for plugin in plugins {
        args.extend(["--plugin", plugin]);
    }
    args.extend_from_slice(extra);
    prefectctl_in(dir.path(), &args)
}

fn subsets() -> Vec<Vec<&'static str>> {
    (0..1u32 << OPTIONAL.len())
        .map(|mask| {
            OPTIONAL
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, p)| *p)
                .collect()
        })
        .collect()
}

#[test]
fn every_combination_with_the_server_renders_in_any_flag_order() {
    let dir = TempDir::new("combinations");
    dir.write("values.yaml", "");
    for plugins in subsets() {
        let forward = render(&dir, &plugins, &[]).ok();
        let mut reversed = plugins.clone();
        reversed.reverse();
        assert_eq!(
            render(&dir, &reversed, &[]).ok(),
            forward,
            "order changed the output of {plugins:?}"
        );
        assert!(
            forward.contains(
                "kind: Deployment\nmetadata:\n  labels:\n    app.kubernetes.io/component: server"
            ),
            "{plugins:?}"
        );
        let has = |text: &str| forward.contains(text);
        let with_agent = plugins.contains(&"agent") || plugins.contains(&"dask-rbac");
        assert_eq!(has("name: prefect-worker\n"), with_agent, "{plugins:?}");
        let statefulset = |component: &str| {
            has(&format!(
                "kind: StatefulSet\nmetadata:\n  labels:\n    app.kubernetes.io/component: {component}\n"
            ))
        };
        assert_eq!(statefulset("postgresql"), plugins.contains(&"postgres"), "{plugins:?}");
        assert_eq!(has("sqlite+aiosqlite"), !plugins.contains(&"postgres"), "{plugins:?}");
        assert_eq!(statefulset("redis"), plugins.contains(&"redis"), "{plugins:?}");
        assert_eq!(has("prefect_redis.messaging"), plugins.contains(&"redis"), "{plugins:?}");
        assert_eq!(has("runAsUser:"), !plugins.contains(&"openshift-security"), "{plugins:?}");
        assert_eq!(has("- services"), plugins.contains(&"dask-rbac"), "{plugins:?}");
        assert_eq!(has("name: prefect-metrics\n"), plugins.contains(&"metrics"), "{plugins:?}");
    }
}

#[test]
fn worker_only_stacks_against_prefect_cloud() {
    let dir = TempDir::new("worker-only");
    dir.write("values.yaml", CLOUD);
    for plugins in
        [vec!["agent"], vec!["dask-rbac"], vec!["agent", "dask-rbac", "openshift-security"]]
    {
        let out = render(&dir, &plugins, &["--without", "server"]).ok();
        assert!(!out.contains("prefect-server"), "{plugins:?}:\n{out}");
        assert!(out.contains("value: https://api.prefect.cloud/api/accounts/"), "{plugins:?}");
    }
    // Without a server and without Cloud, the worker has nowhere to go.
    dir.write("values.yaml", "");
    let stderr = render(&dir, &["agent"], &["--without", "server"]).fails(1);
    assert!(stderr.contains("agent.apiConfig: the worker needs a Prefect API"), "{stderr}");
    // postgres and redis need the server they configure.
    for plugin in ["postgres", "redis"] {
        let stderr = render(&dir, &[plugin], &["--without", "server"]).fails(1);
        assert!(
            stderr.contains(&format!(
                "`{plugin}` requires `server`, which --without server leaves out"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn snapshot_server_agent_postgres() {
    let dir = TempDir::new("snapshot");
    dir.write("values.yaml", "server:\n  replicaCount: 2\n");
    expect_file!["../snapshots/server-agent-postgres.yaml"]
        .assert_eq(&render(&dir, &["agent", "postgres"], &[]).ok());
}

#[test]
fn snapshot_full_stack_on_openshift() {
    let dir = TempDir::new("snapshot");
    dir.write(
        "values.yaml",
        "openshift-security:\n  route:\n    enabled: true\n    host: prefect.apps.example.com\ndask-rbac:\n  operator: true\n",
    );
    let out = render(&dir, &["postgres", "dask-rbac", "openshift-security"], &[]).ok();
    expect_file!["../snapshots/full-stack-openshift.yaml"].assert_eq(&out);
}

#[test]
fn snapshot_worker_only_on_kubernetes_1_20() {
    let dir = TempDir::new("snapshot");
    dir.write(
        "values.yaml",
        &format!(
            "{CLOUD}  autoscaling:\n    enabled: true\n  podDisruptionBudget:\n    enabled: true\n"
        ),
    );
    let out = render(&dir, &["agent"], &["--without", "server", "--kube-version", "1.20.2"]).ok();
    expect_file!["../snapshots/worker-only-cloud-1.20.yaml"].assert_eq(&out);
}

#[test]
fn the_servers_api_path_and_global_env_reach_every_prefect_container_of_the_stack() {
    let dir = TempDir::new("api-path");
    dir.write(
        "values.yaml",
        "global:\n  prefect:\n    env:\n      - name: HTTPS_PROXY\n        value: http://proxy.example:3128\n\
         server:\n  apiBasePath: /prefect/api\n",
    );
    let out = render(&dir, &["agent", "metrics"], &[]).ok();
    // The exporter, the worker and its pool-sync init container call the API under its path.
    assert_eq!(
        out.matches("value: http://prefect-server.prefect.svc:4200/prefect/api\n").count(),
        3
    );
    assert!(!out.contains(":4200/api"), "{out}");
    assert_eq!(out.matches("path: /prefect/api/health").count(), 2, "startup and liveness: {out}");
    // The server, the worker and its init container get the global variables; the exporter
    // is not Prefect.
    assert_eq!(out.matches("- name: HTTPS_PROXY\n").count(), 3, "{out}");

    // A global variable is checked where it is written.
    dir.write("values.yaml", "global:\n  prefect:\n    env:\n      - value: x\n");
    let stderr = render(&dir, &[], &[]).fails(2);
    assert!(stderr.contains("values.yaml:4: global.prefect.env[0]: missing `name`"), "{stderr}");
}
