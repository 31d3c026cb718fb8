//! Counters and gauges in the Prometheus text exposition format (version 0.0.4), served on
//! `/metrics`. A handful of series with small label sets: no client library needed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Help text and type of each metric family, in output order.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "samlgate_logins_total",
        "counter",
        "Successful logins, by IdP.",
    ),
    (
        "samlgate_rejections_total",
        "counter",
        "Refused SAML responses, by IdP and rejection kind.",
    ),
    (
        "samlgate_login_redirects_total",
        "counter",
        "AuthnRequests sent to an IdP.",
    ),
    ("samlgate_logouts_total", "counter", "Local logouts."),
    (
        "samlgate_access_denied_total",
        "counter",
        "Requests refused by a route rule, by reason.",
    ),
    (
        "samlgate_forward_auth_total",
        "counter",
        "Forward-auth answers, by status.",
    ),
    (
        "samlgate_sessions_expired_total",
        "counter",
        "Sessions ended by a timeout, by reason.",
    ),
    (
        "samlgate_certificate_expiry_timestamp_seconds",
        "gauge",
        "notAfter of each configured certificate, as a Unix time.",
    ),
    (
        "samlgate_requests_refused_total",
        "counter",
        "Requests refused with 400 because their path (or forward-auth URI) has no single reading, by reason.",
    ),
    (
        "samlgate_acs_busy_total",
        "counter",
        "ACS posts answered 503: no validation slot free in time.",
    ),
    (
        "samlgate_logouts_refused_total",
        "counter",
        "Sign-out requests refused by the same-origin check.",
    ),
    (
        "samlgate_idp_signing_keys_changed_total",
        "counter",
        "Refreshes of an IdP's metadata that added or removed a signing key, by IdP.",
    ),
    (
        "samlgate_idp_metadata_refresh_total",
        "counter",
        "Fetches of IdP metadata from its URL, by IdP and result (updated, not_modified, or why it was refused).",
    ),
    (
        "samlgate_idp_metadata_last_success_timestamp",
        "gauge",
        "When the IdP's metadata was last fetched and accepted (or found unchanged), as a Unix time.",
    ),
    (
        "samlgate_idp_metadata_valid_until_timestamp",
        "gauge",
        "validUntil of the IdP metadata in use, as a Unix time (absent when the metadata has none).",
    ),
    (
        "samlgate_idp_ready",
        "gauge",
        "1 when the IdP has usable (unexpired) metadata, 0 when logins for it are refused.",
    ),
];

type Labels = Vec<(&'static str, String)>;

/// The process's metrics. Cheap to clone behind an `Arc`.
#[derive(Default)]
pub struct Metrics {
    values: Mutex<BTreeMap<(&'static str, Labels), f64>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one to a counter.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.update(name, labels, |v| *v += 1.0);
    }

    /// Set a gauge.
    pub fn set(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        self.update(name, labels, |v| *v = value);
    }

    fn update(
        &self,
        name: &'static str,
        labels: &[(&'static str, &str)],
        f: impl FnOnce(&mut f64),
    ) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
        );
        // A poisoned lock only means another thread panicked mid-update; counts stay usable.
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        f(values.entry(key).or_insert(0.0));
    }

    /// The current value of one series (tests and diagnostics).
    pub fn get(&self, name: &'static str, labels: &[(&'static str, &str)]) -> f64 {
        let key: (&'static str, Labels) = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
        );
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.get(&key).copied().unwrap_or(0.0)
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for (family, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {family} {help}");
            let _ = writeln!(out, "# TYPE {family} {kind}");
            for ((name, labels), value) in values.iter() {
                if name != family {
                    continue;
                }
                out.push_str(name);
                if !labels.is_empty() {
                    let rendered: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                        .collect();
                    let _ = write!(out, "{{{}}}", rendered.join(","));
                }
                let _ = writeln!(out, " {value}");
            }
        }
        out
    }
}

/// Label values escape `\`, `"` and newlines (exposition format rules).
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_escaped_labels() {
        let m = Metrics::new();
        m.inc(
            "samlgate_rejections_total",
            &[("idp", "corp"), ("kind", "replay")],
        );
        m.inc(
            "samlgate_rejections_total",
            &[("idp", "corp"), ("kind", "replay")],
        );
        m.inc("samlgate_logins_total", &[("idp", "a\"b")]);
        let text = m.render();
        assert!(text.contains("samlgate_rejections_total{idp=\"corp\",kind=\"replay\"} 2\n"));
        assert!(text.contains("samlgate_logins_total{idp=\"a\\\"b\"} 1\n"));
        assert!(text.contains("# TYPE samlgate_logins_total counter\n"));
        assert_eq!(
            m.get(
                "samlgate_rejections_total",
                &[("idp", "corp"), ("kind", "replay")]
            ),
            2.0
        );
    }
}
