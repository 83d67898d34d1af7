//! Snapshots of rendered stacks, reviewed by eye: `UPDATE_EXPECT=1 cargo test` rewrites the
//! files under `tests/snapshots/`, and the diff is the review.

use expect_test::expect_file;

use crate::harness::{TempDir, prefectctl_in};

fn render(values: &str, args: &[&str]) -> String {
    let dir = TempDir::new("snapshot");
    dir.write("values.yaml", values);
    let mut all = vec!["render", "-f", "values.yaml"];
    all.extend_from_slice(args);
    prefectctl_in(dir.path(), &all).ok()
}

#[test]
fn default_stack() {
    expect_file!["../snapshots/default-stack.yaml"].assert_eq(&render("", &[]));
}

/// A production-like server: PostgreSQL from an existing Secret, two replicas, an Ingress with
/// TLS, basic auth from an existing Secret, scheduling constraints, and a release of its own.
#[test]
fn server_behind_an_ingress_with_postgres_and_basic_auth() {
    let values = r#"
server:
  replicaCount: 2
  externalDatabase:
    existingSecret: prefect-db
    existingSecretKey: url
  basicAuth:
    enabled: true
    existingSecret: prefect-auth
  ingress:
    enabled: true
    className: nginx
    tls: true
    host:
      hostname: prefect.example.com
    annotations:
      cert-manager.io/cluster-issuer: letsencrypt
  nodeSelector:
    kubernetes.io/os: linux
  tolerations:
    - key: dedicated
      operator: Equal
      value: prefect
      effect: NoSchedule
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: ScheduleAnyway
  env:
    - name: PREFECT_SERVER_ANALYTICS_ENABLED
      value: "false"
  extraEnvVarsSecret: prefect-extra
  podAnnotations:
    prometheus.io/scrape: "true"
"#;
    expect_file!["../snapshots/server-ingress-postgres-auth.yaml"]
        .assert_eq(&render(values, &["--release", "ops", "-n", "prefect"]));
}

/// What OpenShift users and air-gapped clusters change: security context keys removed with
/// `null`, a mirror registry with a pull secret, labels on everything, SQLite without a volume.
#[test]
fn overrides_with_null_registry_and_common_labels() {
    let values = r#"
global:
  imageRegistry: registry.internal:5000
  prefect:
    image:
      prefectTag: 3.9.0-python3.11
      pullSecrets: [mirror-credentials]
  commonLabels:
    team: data-platform
  commonAnnotations:
    owner: "on"
server:
  podSecurityContext:
    runAsUser: null
    runAsGroup: null
    fsGroup: null
  containerSecurityContext:
    runAsUser: null
    runAsGroup: null
  sqlite:
    persistence:
      enabled: false
  resources:
    limits: null
"#;
    expect_file!["../snapshots/server-overrides.yaml"].assert_eq(&render(values, &[]));
}

/// The server scaled out on PostgreSQL and a Redis of the user's (no redis plugin): three API
/// pods, the background services apart, the migrations Job that runs before both, and
/// messaging and Docket's URL from `backgroundServices.messaging.redis`.
#[test]
fn server_scaled_out_with_postgres_and_external_redis() {
    let values = r#"
server:
  replicaCount: 3
  backgroundServices:
    runAsSeparateDeployment: true
    messaging:
      redis:
        host: redis.example
"#;
    expect_file!["../snapshots/server-scaled-out-external-redis.yaml"]
        .assert_eq(&render(values, &["-n", "prefect", "--plugin", "postgres"]));
}
