//! The ServiceMonitor (`monitoring.coreos.com/v1`, the Prometheus Operator's): Prometheus
//! scrapes the `metrics` port of the exporter's Service. Prometheus names the job after the
//! Service, `<release>-metrics`, which the alerts of [`crate::rules`] select.

use prefect_plugin_sdk::{
    Context,
    serde_json::{Value, json},
};

use crate::{COMPONENT, MONITORING_API, PORT_NAME, values::ServiceMonitor};

/// The ServiceMonitor.
pub fn build(ctx: &Context, values: &ServiceMonitor) -> Value {
    if let (Some(interval), Some(timeout)) =
        (seconds(&values.interval), seconds(&values.scrape_timeout))
        && timeout > interval
    {
        ctx.error(
            "serviceMonitor.scrapeTimeout",
            format!(
                "a scrape cannot take longer than the interval between scrapes ({}): shorten it \
                 or lengthen serviceMonitor.interval",
                values.interval
            ),
        );
    }
    relabelings(ctx, &values.metric_relabelings, "serviceMonitor.metricRelabelings");
    relabelings(ctx, &values.relabelings, "serviceMonitor.relabelings");

    let mut endpoint = json!({
        "port": PORT_NAME,
        "path": "/metrics",
        "interval": values.interval,
        "scrapeTimeout": values.scrape_timeout,
    });
    if !values.metric_relabelings.is_empty() {
        endpoint["metricRelabelings"] = json!(values.metric_relabelings);
    }
    if !values.relabelings.is_empty() {
        endpoint["relabelings"] = json!(values.relabelings);
    }
    let mut labels = ctx.labels(COMPONENT);
    labels.extend(values.additional_labels.clone());
    json!({
        "apiVersion": MONITORING_API,
        "kind": "ServiceMonitor",
        "metadata": {
            "name": ctx.full_name(COMPONENT),
            "namespace": ctx.namespace(),
            "labels": labels,
        },
        "spec": {
            "selector": { "matchLabels": ctx.selector_labels(COMPONENT) },
            "endpoints": [endpoint],
        },
    })
}

/// Relabelings are objects; the Prometheus Operator checks the rest.
fn relabelings(ctx: &Context, items: &[Value], path: &str) {
    for (index, item) in items.iter().enumerate() {
        if !item.is_object() {
            ctx.error(
                format!("{path}[{index}]"),
                "a relabeling is a mapping, such as {action: drop, sourceLabels: [...], regex: ...}",
            );
        }
    }
}

/// A Prometheus duration (`1m30s`) in seconds; the schema has checked its shape.
pub fn seconds(duration: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut chars = duration.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = std::mem::take(&mut number).parse().ok()?;
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0
            }
            ('s', _) => 1,
            ('m', _) => 60,
            ('h', _) => 3600,
            ('d', _) => 86_400,
            ('w', _) => 604_800,
            ('y', _) => 31_536_000,
            _ => return None,
        };
        total += value * unit;
    }
    number.is_empty().then_some(total)
}
