//! The `metrics:` values. Names follow the prometheus-prefect-exporter Helm chart where it has
//! the same concept (`csrfAuth`, `pagination`, `serviceMonitor`, `prometheusRule`); the API
//! URL and the credentials are not values: they come from the server plugin of the stack.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    schemars::{self, JsonSchema},
    serde_json::{Value, json},
    wire::PullPolicy,
    workload::{PodValues, ProbeValues, ServiceAccountValues},
};
use serde::{Deserialize, Serialize};

/// The user and group id of `nobody`, which the exporter's image runs as.
pub const EXPORTER_UID: i64 = 65534;

/// A Prometheus duration: a number and a unit, such as `30s`, `1m30s` or `2h`.
const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h|d|w|y))+$";

/// prometheus-prefect-exporter: Prometheus metrics of the stack's Prefect server (deployments,
/// flow runs by state, work pools and queues), scraped by the Prometheus Operator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct Values {
    /// The exporter's image.
    pub image: Image,

    /// How much the exporter logs: `DEBUG`, `INFO`, `WARNING` or `ERROR`.
    #[schemars(extend("enum" = ["DEBUG", "INFO", "WARNING", "ERROR"]))]
    pub log_level: String,

    /// Sends a CSRF token with every request, for a server with CSRF protection on. It is
    /// turned on by itself when the server's container sets
    /// `PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED` to true.
    pub csrf_auth: bool,

    /// How the exporter reads long lists from the Prefect API.
    pub pagination: Pagination,

    /// How far back, in minutes, flow runs count in `prefect_info_flow_runs` (by the time they
    /// started).
    #[schemars(range(min = 1))]
    pub offset_minutes: i32,

    /// Extra environment variables of the exporter, as Kubernetes `EnvVar` objects (see the
    /// exporter's README for `FAILED_RUNS_OFFSET_MINUTES`, `ENABLE_FLOW_RUN_NAME_LABEL`...).
    /// A variable the plugin already sets is replaced by yours.
    pub env: Vec<Value>,

    /// Restarts the exporter when its metrics port stops accepting connections.
    pub liveness_probe: ProbeValues,

    /// Sends scrapes to the exporter only once its metrics port accepts connections.
    pub readiness_probe: ProbeValues,

    /// The Service Prometheus scrapes.
    pub service: Service,

    /// A ServiceMonitor (`monitoring.coreos.com/v1`) that makes the Prometheus Operator scrape
    /// the exporter.
    pub service_monitor: ServiceMonitor,

    /// A PrometheusRule (`monitoring.coreos.com/v1`) with alerts on the exporter and on the
    /// flow runs it reports.
    pub prometheus_rule: PrometheusRule,

    /// The exporter's pod: resources, security contexts, scheduling, extra volumes and
    /// containers.
    #[serde(flatten)]
    pub pod: PodValues,

    /// The ServiceAccount the exporter runs as; its API token is not mounted.
    pub service_account: ServiceAccountValues,
}

impl Default for Values {
    fn default() -> Self {
        Values {
            image: Image::default(),
            log_level: "INFO".to_owned(),
            csrf_auth: false,
            pagination: Pagination::default(),
            offset_minutes: 3,
            env: Vec::new(),
            liveness_probe: ProbeValues::new(true, 30),
            readiness_probe: ProbeValues::new(true, 10),
            service: Service::default(),
            service_monitor: ServiceMonitor::default(),
            prometheus_rule: PrometheusRule::default(),
            pod: PodValues::restricted(
                EXPORTER_UID,
                json!({
                    "requests": { "cpu": "50m", "memory": "192Mi" },
                    "limits": { "cpu": "250m", "memory": "512Mi" },
                }),
            ),
            service_account: ServiceAccountValues::default(),
        }
    }
}

/// `metrics.image`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Image {
    /// Image repository; `global.imageRegistry` is put in front.
    pub repository: String,
    /// Image tag: a release of prometheus-prefect-exporter.
    pub tag: String,
    /// Pull policy; null uses `global.prefect.image.pullPolicy`.
    pub pull_policy: Option<PullPolicy>,
    /// Image digest (`sha256:` and 64 hex digits) put after the tag, so that the pods run
    /// exactly this image whatever the tag points at later; empty runs the tag.
    pub digest: String,
}

impl Default for Image {
    fn default() -> Self {
        Image {
            repository: "prefecthq/prometheus-prefect-exporter".to_owned(),
            tag: "3.6.1".to_owned(),
            pull_policy: None,
            digest: String::new(),
        }
    }
}

/// `metrics.pagination`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Pagination {
    /// Reads lists page by page: more requests, each smaller, which spares a large server.
    pub enabled: bool,
    /// Items per page.
    #[schemars(range(min = 1))]
    pub limit: i32,
}

impl Default for Pagination {
    fn default() -> Self {
        Pagination { enabled: true, limit: 200 }
    }
}

/// `metrics.service`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Service {
    /// Port of the Service; its name, `metrics`, is what the ServiceMonitor scrapes.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Annotations of the Service.
    pub annotations: BTreeMap<String, String>,
}

impl Default for Service {
    fn default() -> Self {
        Service { port: 8000, annotations: BTreeMap::new() }
    }
}

/// `metrics.serviceMonitor`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ServiceMonitor {
    /// Adds the ServiceMonitor, when the cluster serves `monitoring.coreos.com/v1` (the
    /// Prometheus Operator's CRDs; for `render`, say so with `--api-versions
    /// monitoring.coreos.com/v1`).
    pub enabled: bool,
    /// Extra labels of the ServiceMonitor, such as the one your Prometheus selects monitors
    /// by (`release: kube-prometheus-stack`).
    pub additional_labels: BTreeMap<String, String>,
    /// How often Prometheus scrapes. Every scrape makes the exporter read the Prefect API
    /// several times: keep it at 30s or longer.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: String,
    /// How long a scrape may take; at most `interval`.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub scrape_timeout: String,
    /// Relabelings of the scraped samples (Prometheus Operator `RelabelConfig` objects).
    pub metric_relabelings: Vec<Value>,
    /// Relabelings of the target before the scrape (`RelabelConfig` objects).
    pub relabelings: Vec<Value>,
}

impl Default for ServiceMonitor {
    fn default() -> Self {
        ServiceMonitor {
            enabled: true,
            additional_labels: BTreeMap::new(),
            interval: "30s".to_owned(),
            scrape_timeout: "10s".to_owned(),
            metric_relabelings: Vec::new(),
            relabelings: Vec::new(),
        }
    }
}

/// `metrics.prometheusRule`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PrometheusRule {
    /// Adds the PrometheusRule, when the cluster serves `monitoring.coreos.com/v1`.
    pub enabled: bool,
    /// Extra labels of the PrometheusRule, such as the one your Prometheus selects rules by.
    pub additional_labels: BTreeMap<String, String>,
    /// Includes this plugin's alerts: the exporter cannot be scraped, work queues have late
    /// flow runs, flow runs crashed in the last hour.
    pub default_rules: bool,
    /// Your own rules, after the default ones: Prometheus alerting (`alert`, `expr`, `for`,
    /// `labels`, `annotations`) or recording (`record`, `expr`) rules.
    pub rules: Vec<Value>,
}

impl Default for PrometheusRule {
    fn default() -> Self {
        PrometheusRule {
            enabled: true,
            additional_labels: BTreeMap::new(),
            default_rules: true,
            rules: Vec::new(),
        }
    }
}
