//! The way over from prefect-helm: `values import --from-helm` converts the charts' values
//! files, and what it prints renders to objects that carry the same settings; a prefect-helm
//! section given to `render` as it is is refused with the way to convert it.

use expect_test::expect;
use serde_json::Value;

use crate::harness::{TempDir, prefectctl_in, prefectctl_with};

/// A prefect-worker values file as a prefect-helm user writes it: a self-hosted server, a work
/// pool and queue, a pinned image, and values prefectctl cannot take.
const WORKER_VALUES: &str = r#"worker:
  apiConfig: selfHostedServer
  selfHostedServerApiConfig:
    apiUrl: http://prefect-server.prefect.svc.cluster.local:4200/api
  config:
    workPool: data-pool
    workQueues:
      - etl
    limit: 4
  image:
    repository: prefecthq/prefect
    prefectTag: 3.4.7-python3.12-kubernetes
  replicaCount: 2
  podAnnotations:
    team: data
  extraEnvVars:
    - name: RELEASE_NAME
      value: "{{ .Release.Name }}"
  cloudApiConfig:
    accountId: not-used-with-a-self-hosted-server
serviceAccount:
  annotations:
    iam.example.com/role: prefect-worker
fullnameOverride: data-worker
"#;

/// A prefect-server values file: three replicas on the PostgreSQL subchart, a NodePort
/// Service, an ingress and the background services apart.
const SERVER_VALUES: &str = r#"global:
  prefect:
    image:
      prefectTag: 3.4.7-python3.12
server:
  replicaCount: 3
  loggingLevel: INFO
  uiConfig:
    prefectUiApiUrl: https://prefect.example.com/api
  resources:
    requests:
      cpu: 500m
      memory: 512Mi
    limits:
      cpu: "2"
      memory: 1Gi
service:
  type: NodePort
  nodePort: "30420"
ingress:
  enabled: true
  className: nginx
  servicePort: server-http
  host:
    hostname: prefect.example.com
postgresql:
  auth:
    password: s3cret-password
  primary:
    persistence:
      enabled: true
      size: 20Gi
    initdb:
      user: admin
backgroundServices:
  runAsSeparateDeployment: true
  messaging:
    redis:
      host: redis.example.com
migrations:
  entrypoint: ["/bin/bash", "-c"]
"#;

/// `values import --from-helm FILES` in `dir`: the values printed and what standard error said.
fn import(dir: &TempDir, files: &[&str]) -> (String, String) {
    let mut args = vec!["values", "import", "--from-helm"];
    args.extend_from_slice(files);
    let run = prefectctl_in(dir.path(), &args);
    let stderr = run.stderr.clone();
    (run.ok(), stderr)
}

/// `render -o json ARGS` in `dir`: the manifests.
fn render(dir: &TempDir, args: &[&str]) -> Value {
    let args = [args, &["render", "-o", "json"]].concat();
    serde_json::from_str(&prefectctl_in(dir.path(), &args).ok()).expect("JSON output")
}

/// The object of `kind` named `name` in rendered manifests.
fn object<'a>(manifests: &'a Value, kind: &str, name: &str) -> &'a Value {
    manifests["items"]
        .as_array()
        .expect("a List")
        .iter()
        .find(|item| item["kind"] == kind && item["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {manifests:#}"))
}

/// The first container of a workload's pod template.
fn container(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]["containers"][0]
}

/// The value of the environment variable `name` of `container`.
fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    let vars = container["env"].as_array().expect("env");
    &vars.iter().find(|var| var["name"] == name).unwrap_or_else(|| panic!("no {name}"))["value"]
}

#[test]
fn a_worker_charts_values_render_as_the_agents() {
    let dir = TempDir::new("helm-import");
    dir.write("worker-values.yaml", WORKER_VALUES);
    let (values, stderr) = import(&dir, &["worker-values.yaml"]);
    expect![[r#"
        # prefectctl values, from prefect-helm's worker-values.yaml by `prefectctl values import --from-helm`
        agent:
          serverApiConfig:
            apiUrl: http://prefect-server.prefect.svc.cluster.local:4200/api
          config:
            workPool: data-pool
            workQueues:
            - etl
            limit: 4
          image:
            prefectTag: 3.4.7-python3.12-kubernetes
          replicaCount: 2
          podAnnotations:
            team: data
          serviceAccount:
            annotations:
              iam.example.com/role: prefect-worker
    "#]]
    .assert_eq(&values);
    expect![[r#"
        not converted: worker-values.yaml:16: worker.extraEnvVars: a Helm template (`{{ ... }}`): prefectctl values are not templates; write the value it renders to
        not converted: worker-values.yaml:20: worker.cloudApiConfig.accountId: not used: `worker.apiConfig` is `selfHostedServer`, so prefect-helm ignores it too
        not converted: worker-values.yaml:24: fullnameOverride: prefectctl names the worker's objects `<release>-worker`: choose the release name with `--release NAME`
        note: save the values above (VALUES) and render them with `prefectctl --without server --plugin agent -f VALUES render`
    "#]]
    .assert_eq(&stderr);

    dir.write("values.yaml", &values);
    let manifests =
        render(&dir, &["--without", "server", "--plugin", "agent", "-f", "values.yaml"]);
    let worker = object(&manifests, "Deployment", "prefect-worker");
    assert_eq!(worker["spec"]["replicas"], 2);
    assert_eq!(worker["spec"]["template"]["metadata"]["annotations"]["team"], "data");
    let main = container(worker);
    assert_eq!(main["image"], "prefecthq/prefect:3.4.7-python3.12-kubernetes");
    let args: Vec<&str> =
        main["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
    let text = args.join(" ");
    assert!(text.contains("--pool data-pool"), "{text}");
    assert!(text.contains("--work-queue etl"), "{text}");
    assert!(text.contains("--limit 4"), "{text}");
    assert_eq!(
        env(main, "PREFECT_API_URL"),
        "http://prefect-server.prefect.svc.cluster.local:4200/api"
    );
    let account = object(&manifests, "ServiceAccount", "prefect-worker");
    assert_eq!(account["metadata"]["annotations"]["iam.example.com/role"], "prefect-worker");
}

#[test]
fn a_server_charts_values_render_with_the_postgres_plugin() {
    let dir = TempDir::new("helm-import");
    dir.write("server-values.yaml", SERVER_VALUES);
    let (values, stderr) = import(&dir, &["server-values.yaml"]);
    expect![[r#"
        not converted: server-values.yaml:23: ingress.servicePort: prefectctl has no `server.ingress.servicePort`
        not converted: server-values.yaml:34: postgresql.primary.initdb.user: a setting of the Bitnami PostgreSQL chart that the postgres plugin does not have
        not converted: server-values.yaml:41: migrations.entrypoint: prefectctl runs `server.migrations.command` through the image's entrypoint: put your own first in the command
        note: prefect-helm's server ran on its PostgreSQL subchart (`postgresql.enabled`, the chart's default): add `--plugin postgres` to render and apply; the postgres plugin runs the official image, so move the data with a dump and restore
        note: save the values above (VALUES) and render them with `prefectctl --plugin postgres -f VALUES render`
    "#]]
    .assert_eq(&stderr);
    // The chart's default requests are left out: only the limit the user changed is said.
    assert!(
        values.contains("limits:\n      cpu: '2'") || values.contains("cpu: \"2\""),
        "{values}"
    );
    assert!(!values.contains("512Mi"), "{values}");

    dir.write("values.yaml", &values);
    let manifests = render(&dir, &["--plugin", "postgres", "-f", "values.yaml"]);
    let server = object(&manifests, "Deployment", "prefect-server");
    assert_eq!(server["spec"]["replicas"], 3);
    let main = container(server);
    assert_eq!(main["image"], "prefecthq/prefect:3.4.7-python3.12");
    assert_eq!(main["resources"]["limits"]["cpu"], "2");
    assert_eq!(env(main, "PREFECT_UI_API_URL"), "https://prefect.example.com/api");
    assert_eq!(env(main, "PREFECT_LOGGING_SERVER_LEVEL"), "INFO");
    let service = object(&manifests, "Service", "prefect-server");
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["ports"][0]["nodePort"], 30420);
    let ingress = object(&manifests, "Ingress", "prefect-server");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "prefect.example.com");
    object(&manifests, "Deployment", "prefect-background-services");
    let postgres = object(&manifests, "StatefulSet", "prefect-postgresql");
    let claim = &postgres["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "20Gi");
}

#[test]
fn files_merge_in_order_one_chart_each() {
    let dir = TempDir::new("helm-import");
    dir.write("base.yaml", "server:\n  replicaCount: 2\nsqlite:\n  enabled: true\n");
    dir.write("prod.yaml", "server:\n  replicaCount: 4\n");
    dir.write(
        "worker.yaml",
        "worker:\n  apiConfig: selfHostedServer\n  config:\n    workPool: p\n",
    );
    let (values, stderr) = import(&dir, &["base.yaml", "prod.yaml", "worker.yaml"]);
    expect![[r#"
        # prefectctl values, from prefect-helm's base.yaml, prod.yaml, worker.yaml by `prefectctl values import --from-helm`
        server:
          replicaCount: 4
        agent:
          config:
            workPool: p
    "#]]
    .assert_eq(&values);
    expect![[r#"
        note: save the values above (VALUES) and render them with `prefectctl --plugin agent -f VALUES render`
    "#]]
    .assert_eq(&stderr);
}

#[test]
fn unreadable_or_invalid_files_exit_2_naming_the_file() {
    let dir = TempDir::new("helm-import");
    dir.write("broken.yaml", "worker:\n  config: [\n");
    dir.write("both.yaml", "worker: {}\npostgresql: {}\n");
    dir.write("unclear.yaml", "serviceAccount:\n  create: false\n");
    let stderr = |files: &[&str]| {
        let args = [&["values", "import", "--from-helm"], files].concat();
        prefectctl_in(dir.path(), &args).fails(2)
    };
    expect![[r#"
        error: cannot read prefect-helm values file missing.yaml: No such file or directory (os error 2) (check the path given to --from-helm)
    "#]]
    .assert_eq(&stderr(&["missing.yaml"]));
    expect![[r#"
        error: broken.yaml:2:11: invalid YAML: unclosed bracket '['
    "#]]
    .assert_eq(&stderr(&["broken.yaml"]));
    expect![[r#"
        error: both.yaml: holds values of both prefect-helm charts (`worker` of prefect-worker, `postgresql` of prefect-server): split it into one file per chart
    "#]]
    .assert_eq(&stderr(&["both.yaml"]));
    expect![[r#"
        error: unclear.yaml: none of its keys (serviceAccount) tells which prefect-helm chart it is for: give `--chart server` or `--chart worker`
    "#]]
    .assert_eq(&stderr(&["unclear.yaml"]));
    let run = prefectctl_in(
        dir.path(),
        &["values", "import", "--from-helm", "unclear.yaml", "--chart", "worker"],
    );
    // prefect-helm's worker talks to Prefect Cloud unless told otherwise; prefectctl's to the
    // stack's server: the chart's default is said.
    let values = run.ok();
    assert!(
        values.contains("agent:\n  apiConfig: cloud\n  serviceAccount:\n    create: false"),
        "{values}"
    );
}

#[test]
fn a_prefect_helm_section_given_to_render_is_refused_with_the_way_to_convert_it() {
    let dir = TempDir::new("helm-import");
    dir.write("worker-values.yaml", WORKER_VALUES);
    let stderr =
        prefectctl_in(dir.path(), &["--plugin", "agent", "-f", "worker-values.yaml", "render"])
            .fails(2);
    expect![[r#"
        error: worker-values.yaml:1: worker: `worker` is a section of prefect-helm's values, not prefectctl's (here: agent): convert the file with `prefectctl values import --from-helm FILE`
        error: worker-values.yaml:21: serviceAccount: `serviceAccount` is a section of prefect-helm's values, not prefectctl's (here: server.serviceAccount or agent.serviceAccount): convert the file with `prefectctl values import --from-helm FILE`
        error: worker-values.yaml:24: fullnameOverride: `fullnameOverride` is a section of prefect-helm's values, not prefectctl's (here: --release): convert the file with `prefectctl values import --from-helm FILE`
    "#]]
    .assert_eq(&stderr);
    dir.write("server-values.yaml", "service:\n  type: NodePort\n");
    let stderr = prefectctl_in(dir.path(), &["-f", "server-values.yaml", "render"]).fails(2);
    expect![[r#"
        error: server-values.yaml:1: service: `service` is a section of prefect-helm's values, not prefectctl's (here: server.service): convert the file with `prefectctl values import --from-helm FILE`
    "#]]
    .assert_eq(&stderr);
}

/// The server chart's own names, which the server plugin shares, each set away from its
/// default.
const SERVER_NAMES: &str = r#"global:
  prefect:
    env:
      - name: PREFECT_LOGGING_EXTRA_LOGGERS
        value: myapp
server:
  apiBasePath: /prefect/api
  terminationGracePeriodSeconds: 0
  lifecycle:
    preStop:
      exec:
        command: ["sleep", "5"]
  startupProbe:
    config:
      failureThreshold: 60
  livenessProbe:
    path: "{{ .Values.server.apiBasePath }}/healthz"
  extraInitContainers:
    - name: wait-for-network
      image: busybox:1.36
      command: ["true"]
service:
  portName: http-api
  ipFamilyPolicy: PreferDualStack
  ipFamilies: [IPv4, IPv6]
  appProtocol: http
sqlite:
  enabled: true
"#;

#[test]
fn the_server_charts_own_names_carry_over() {
    let dir = TempDir::new("helm-import");
    dir.write("server-values.yaml", SERVER_NAMES);
    let (values, stderr) = import(&dir, &["server-values.yaml"]);
    expect![[r#"
        not converted: server-values.yaml:17: server.livenessProbe.path: a Helm template (`{{ ... }}`): prefectctl values are not templates; write the value it renders to
        note: save the values above (VALUES) and render them with `prefectctl -f VALUES render`
    "#]]
    .assert_eq(&stderr);
    dir.write("values.yaml", &values);
    let manifests = render(&dir, &["-f", "values.yaml"]);
    let server = object(&manifests, "Deployment", "prefect-server");
    let pod = &server["spec"]["template"]["spec"];
    // 0 is a value: the pods are killed at once.
    assert_eq!(pod["terminationGracePeriodSeconds"], 0);
    assert_eq!(pod["initContainers"][0]["name"], "wait-for-network");
    let main = container(server);
    assert_eq!(main["lifecycle"]["preStop"]["exec"]["command"][0], "sleep");
    assert_eq!(main["startupProbe"]["failureThreshold"], 60);
    assert_eq!(main["startupProbe"]["httpGet"]["path"], "/prefect/api/health");
    assert_eq!(env(main, "PREFECT_SERVER_API_BASE_PATH"), "/prefect/api");
    assert_eq!(env(main, "PREFECT_LOGGING_EXTRA_LOGGERS"), "myapp");
    let service = object(&manifests, "Service", "prefect-server");
    assert_eq!(service["spec"]["ipFamilyPolicy"], "PreferDualStack");
    assert_eq!(service["spec"]["ipFamilies"], serde_json::json!(["IPv4", "IPv6"]));
    assert_eq!(service["spec"]["ports"][0]["name"], "http-api");
    assert_eq!(service["spec"]["ports"][0]["appProtocol"], "http");
}

#[test]
fn helm_get_values_output_reads_from_standard_input() {
    let dir = TempDir::new("helm-import");
    // What `helm get values RELEASE` prints, its heading included.
    let helm_output = "USER-SUPPLIED VALUES:\nworker:\n  apiConfig: selfHostedServer\n  \
                       config:\n    workPool: from-helm\n  replicaCount: 3\n  extraArgs: [\"{{ x }}\"]\n";
    let run =
        prefectctl_with(dir.path(), &["values", "import", "--from-helm", "-"], Some(helm_output));
    let stderr = run.stderr.clone();
    expect![[r#"
        # prefectctl values, from prefect-helm's standard input by `prefectctl values import --from-helm`
        agent:
          config:
            workPool: from-helm
          replicaCount: 3
    "#]]
    .assert_eq(&run.ok());
    expect![[r#"
        not converted: <stdin>:7: worker.extraArgs: a Helm template (`{{ ... }}`): prefectctl values are not templates; write the value it renders to
        note: save the values above (VALUES) and render them with `prefectctl --without server --plugin agent -f VALUES render`
    "#]]
    .assert_eq(&stderr);
}
