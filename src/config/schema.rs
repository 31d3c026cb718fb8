//! Unknown keys are refused: a misspelt `alow_idp_initiated` silently meaning "default" is how
//! fail-open configurations happen. This walk reports every unknown key with its line, before
//! serde (which would stop at the first one) sees the file.

use toml::de::{DeTable, DeValue};

use super::problems::Problems;

const TOP: &[&str] = &[
    "server",
    "sp",
    "idp",
    "session",
    "backend",
    "headers",
    "route",
    "forward_auth",
    "identity_token",
    "oauth",
];
const SERVER: &[&str] = &[
    "listen",
    "public_url",
    "api_prefixes",
    "max_acs_body",
    "log_format",
    "metrics_listen",
    "workers",
    "header_read_timeout",
    "saml_body_timeout",
    "keepalive_timeout",
    "max_connections",
    "acs_concurrency",
    "session_page",
    "access_log",
    "tls_cert",
    "tls_key",
    "redirect_http_listen",
];
const SP: &[&str] = &[
    "entity_id",
    "key",
    "cert",
    "next_cert",
    "old_keys",
    "sign_authn_requests",
    "sign_metadata",
];
const IDP: &[&str] = &[
    "name",
    "metadata",
    "entity_id",
    "mapping",
    "metadata_url",
    "metadata_signing_cert",
    "metadata_refresh",
    "metadata_cache_dir",
    "mdq_url",
    "clock_skew",
    "allow_idp_initiated",
    "allow_sha1",
    "require_signed_assertion",
    "require_signed_response",
    "force_authn",
    "is_passive",
    "name_id_policy",
    "authn_context",
    "allow_cbc",
    "allow_3des",
    "slo",
    "sign_logout_requests",
    "encrypt_logout_name_id",
];
const SESSION: &[&str] = &[
    "store",
    "url",
    "url_file",
    "url_env",
    "key_prefix",
    "pool_size",
    "connect_timeout",
    "command_timeout",
    "idle_timeout",
    "absolute_timeout",
    "cookie_name",
    "secure_cookies",
];
const BACKEND: &[&str] = &[
    "url",
    "connect_timeout",
    "request_timeout",
    "body_timeout",
    "websocket_idle_timeout",
    "ca",
    "client_cert",
    "client_key",
];
const HEADERS: &[&str] = &["names", "extra", "also_strip"];
const ROUTE: &[&str] = &[
    "path",
    "public",
    "require_access_group",
    "require_any_group",
    "require_scope",
    "auth",
    "pass_authorization",
];
const FORWARD_AUTH: &[&str] = &["uri_header"];
const IDENTITY_TOKEN: &[&str] = &[
    "enabled",
    "key",
    "next_key",
    "algorithm",
    "audience",
    "issuer",
    "lifetime",
    "header",
];
const OAUTH: &[&str] = &[
    "name",
    "issuer",
    "audience",
    "jwks_uri",
    "discovery",
    "algorithms",
    "require_typ",
    "clock_skew",
    "jwks_refresh",
    "mapping",
    "introspection_endpoint",
    "client_id",
    "client_auth",
    "client_secret_file",
    "client_key",
    "client_key_id",
    "client_cert",
    "introspection_ca",
    "introspection_cache",
];

fn section_keys(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "server" => SERVER,
        "sp" => SP,
        "idp" => IDP,
        "session" => SESSION,
        "backend" => BACKEND,
        "headers" => HEADERS,
        "route" => ROUTE,
        "forward_auth" => FORWARD_AUTH,
        "identity_token" => IDENTITY_TOKEN,
        "oauth" => OAUTH,
        _ => return None,
    })
}

/// Report every key the configuration format does not know.
pub fn check_unknown_keys(doc: &DeTable<'_>, problems: &mut Problems) {
    for (key, value) in doc.iter() {
        let name: &str = key.get_ref();
        if !TOP.contains(&name) {
            problems.error(
                name.to_string(),
                Some(key.span()),
                format!("unknown section or key (known: {})", TOP.join(", ")),
            );
            continue;
        }
        let Some(known) = section_keys(name) else {
            continue;
        };
        match value.get_ref() {
            DeValue::Table(table) => check_table(name, table, known, problems),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(table) = item.get_ref() {
                        check_table(&format!("{name}[{i}]"), table, known, problems);
                    }
                }
            }
            _ => {}
        }
    }
}

fn check_table(prefix: &str, table: &DeTable<'_>, known: &[&str], problems: &mut Problems) {
    for (key, _) in table.iter() {
        let k: &str = key.get_ref();
        if !known.contains(&k) {
            problems.error(
                format!("{prefix}.{k}"),
                Some(key.span()),
                format!("unknown key (known: {})", known.join(", ")),
            );
        }
    }
}
