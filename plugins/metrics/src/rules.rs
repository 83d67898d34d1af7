//! The PrometheusRule (`monitoring.coreos.com/v1`): alerts on the exporter and on what it
//! reports, written against the metrics prometheus-prefect-exporter exports, and the user's
//! own rules after them.
//!
//! Every default alert selects the release's series by `job` (the exporter's Service,
//! `<release>-metrics`, as the Prometheus Operator names the job) and `namespace`, so that two
//! releases in one Prometheus do not alert for each other. The crash alert counts the failed
//! runs the exporter reports (`prefect_deployment_failed_flow_runs`, a series per run) that
//! Prometheus did not see an hour before; in the first hour of scraping, that is every crashed
//! run of the exporter's window (`FAILED_RUNS_OFFSET_MINUTES`, 7 days).

use prefect_plugin_sdk::{
    Context,
    serde_json::{Value, json},
};

use crate::{COMPONENT, MONITORING_API, values::PrometheusRule};

/// The PrometheusRule, or `None` when it would hold no rule (an error says so).
pub fn build(ctx: &Context, values: &PrometheusRule) -> Option<Value> {
    let mut rules = if values.default_rules { default_rules(ctx) } else { Vec::new() };
    for (index, rule) in values.rules.iter().enumerate() {
        check(ctx, rule, &format!("prometheusRule.rules[{index}]"));
    }
    rules.extend(values.rules.iter().cloned());
    if rules.is_empty() {
        ctx.error(
            "prometheusRule",
            "the PrometheusRule would hold no rule: set defaultRules to true, add rules, or set \
             enabled to false",
        );
        return None;
    }
    let mut labels = ctx.labels(COMPONENT);
    labels.extend(values.additional_labels.clone());
    Some(json!({
        "apiVersion": MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": {
            "name": ctx.full_name(COMPONENT),
            "namespace": ctx.namespace(),
            "labels": labels,
        },
        "spec": {
            "groups": [{ "name": format!("{}.rules", ctx.full_name(COMPONENT)), "rules": rules }],
        },
    }))
}

/// A rule alerts (`alert`) or records (`record`), and has an expression.
fn check(ctx: &Context, rule: &Value, path: &str) {
    let Some(rule) = rule.as_object() else {
        ctx.error(path, "a rule is a mapping with `alert` (or `record`) and `expr`");
        return;
    };
    let named = |key: &str| rule.get(key).and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    match (named("alert"), named("record")) {
        (false, false) => ctx.error(path, "name the rule: `alert: Name` or `record: name`"),
        (true, true) => ctx.error(path, "a rule either alerts or records: keep one"),
        _ => {}
    }
    if !rule.get("expr").is_some_and(|expr| expr.is_string() && expr != "") {
        ctx.error(format!("{path}.expr"), "give the rule its PromQL expression");
    }
}

/// The default alerts.
fn default_rules(ctx: &Context) -> Vec<Value> {
    let job = ctx.full_name(COMPONENT);
    let namespace = ctx.namespace();
    let select = |matchers: &str| format!(r#"{{job="{job}", namespace="{namespace}"{matchers}}}"#);
    let crashed =
        format!("prefect_deployment_failed_flow_runs{}", select(r#", state_name="Crashed""#));
    vec![
        alert(
            "PrefectExporterDown",
            &format!("absent(up{} == 1)", select("")),
            "5m",
            "critical",
            &format!("Prometheus cannot scrape the Prefect exporter of {namespace}/{job}"),
            "No scrape of the exporter succeeded for 5 minutes: its pod is down, or it cannot \
             read the Prefect API (check the server, and the exporter's logs).",
        ),
        alert(
            "PrefectLateFlowRuns",
            &format!(
                "sum by (work_pool_name, work_queue_name) (prefect_work_queues_late_runs_count{}) > 0",
                select("")
            ),
            "15m",
            "warning",
            "Work queue {{ $labels.work_pool_name }}/{{ $labels.work_queue_name }} has late flow runs",
            "{{ $value }} flow runs have been late for 15 minutes: no worker polls the queue, \
             or its workers are saturated or paused.",
        ),
        alert(
            "PrefectFlowRunsCrashed",
            &format!(
                "count by (deployment_name, flow_name) ({crashed} unless on (last_failed_run_id) \
                 {crashed} offset 1h)"
            ),
            "0m",
            "warning",
            "Flow runs of {{ $labels.flow_name }}/{{ $labels.deployment_name }} crashed in the last hour",
            "{{ $value }} flow runs crashed in the last hour: their infrastructure failed (a pod \
             evicted or killed for memory, an image that cannot be pulled); see the flow runs' \
             logs and the Jobs' events.",
        ),
    ]
}

fn alert(
    name: &str,
    expr: &str,
    duration: &str,
    severity: &str,
    summary: &str,
    description: &str,
) -> Value {
    json!({
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": { "severity": severity },
        "annotations": { "summary": summary, "description": description },
    })
}
