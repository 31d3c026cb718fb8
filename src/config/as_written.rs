//! The file as written: every field optional and spanned, so validation can name the line of a
//! bad value and report every missing key at once. Unknown keys are caught before this by
//! [`super::schema`], which knows the same names.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Option<Spanned<T>>;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    pub server: Option<Spanned<RawServer>>,
    pub sp: Option<Spanned<RawSp>>,
    #[serde(default)]
    pub idp: Vec<Spanned<RawIdp>>,
    pub session: Option<Spanned<RawSession>>,
    pub backend: Option<Spanned<RawBackend>>,
    pub headers: Option<Spanned<RawHeaders>>,
    #[serde(default)]
    pub route: Vec<Spanned<RawRoute>>,
    pub forward_auth: Option<Spanned<RawForwardAuth>>,
    pub identity_token: Option<Spanned<RawIdentityToken>>,
    #[serde(default)]
    pub oauth: Vec<Spanned<RawOAuth>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawServer {
    pub listen: S<String>,
    pub public_url: S<String>,
    pub api_prefixes: S<Vec<String>>,
    pub max_acs_body: S<u64>,
    pub log_format: S<String>,
    pub metrics_listen: S<String>,
    pub workers: S<i64>,
    pub header_read_timeout: S<String>,
    pub saml_body_timeout: S<String>,
    pub keepalive_timeout: S<String>,
    pub max_connections: S<i64>,
    pub acs_concurrency: S<i64>,
    pub session_page: S<bool>,
    pub access_log: S<bool>,
    pub tls_cert: S<String>,
    pub tls_key: S<String>,
    pub redirect_http_listen: S<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSp {
    pub entity_id: S<String>,
    pub key: S<String>,
    pub cert: S<String>,
    pub next_cert: S<String>,
    pub old_keys: S<Vec<String>>,
    pub sign_authn_requests: S<bool>,
    pub sign_metadata: S<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawIdp {
    pub name: S<String>,
    pub metadata: S<String>,
    pub metadata_url: S<String>,
    pub metadata_signing_cert: S<OneOrMany>,
    pub metadata_refresh: S<String>,
    pub metadata_cache_dir: S<String>,
    pub mdq_url: S<String>,
    pub entity_id: S<String>,
    pub mapping: S<String>,
    pub clock_skew: S<String>,
    pub allow_idp_initiated: S<bool>,
    pub allow_sha1: S<bool>,
    pub require_signed_assertion: S<bool>,
    pub require_signed_response: S<bool>,
    pub force_authn: S<bool>,
    pub is_passive: S<bool>,
    pub name_id_policy: S<String>,
    pub authn_context: S<Vec<String>>,
    pub allow_cbc: S<bool>,
    pub allow_3des: S<bool>,
    pub slo: S<bool>,
    pub sign_logout_requests: S<bool>,
    pub encrypt_logout_name_id: S<bool>,
}

/// A key that takes one value or a list of them (`metadata_signing_cert`, `audience`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(one) => vec![one.as_str()],
            OneOrMany::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.items().into_iter().map(str::to_owned).collect()
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSession {
    pub store: S<String>,
    pub url: S<String>,
    /// The URL read from this file (see `validate::secrets`).
    pub url_file: S<String>,
    /// The URL read from this environment variable.
    pub url_env: S<String>,
    pub key_prefix: S<String>,
    pub pool_size: S<i64>,
    pub connect_timeout: S<String>,
    pub command_timeout: S<String>,
    pub idle_timeout: S<String>,
    pub absolute_timeout: S<String>,
    pub cookie_name: S<String>,
    pub secure_cookies: S<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawBackend {
    pub url: S<String>,
    pub connect_timeout: S<String>,
    pub request_timeout: S<String>,
    pub body_timeout: S<String>,
    pub websocket_idle_timeout: S<String>,
    pub ca: S<String>,
    pub client_cert: S<String>,
    pub client_key: S<String>,
}

/// The header contract's section, in the format `identity::contract::HeaderContractConfig` reads.
#[derive(Debug, Default, Deserialize)]
pub struct RawHeaders {
    pub names: S<std::collections::BTreeMap<String, String>>,
    pub extra: S<Vec<String>>,
    pub also_strip: S<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRoute {
    pub path: S<String>,
    pub public: S<bool>,
    pub require_access_group: S<Vec<String>>,
    pub require_any_group: S<Vec<String>>,
    pub require_scope: S<Vec<String>>,
    pub auth: S<Vec<String>>,
    pub pass_authorization: S<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawForwardAuth {
    pub uri_header: S<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawIdentityToken {
    pub enabled: S<bool>,
    pub key: S<String>,
    pub next_key: S<String>,
    pub algorithm: S<String>,
    pub audience: S<String>,
    pub issuer: S<String>,
    pub lifetime: S<String>,
    pub header: S<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawOAuth {
    pub name: S<String>,
    pub issuer: S<String>,
    pub audience: S<OneOrMany>,
    pub jwks_uri: S<String>,
    pub discovery: S<String>,
    pub algorithms: S<Vec<String>>,
    pub require_typ: S<String>,
    pub clock_skew: S<String>,
    pub jwks_refresh: S<String>,
    pub mapping: S<String>,
    pub introspection_endpoint: S<String>,
    pub client_id: S<String>,
    pub client_auth: S<String>,
    pub client_secret_file: S<String>,
    pub client_key: S<String>,
    pub client_key_id: S<String>,
    pub client_cert: S<String>,
    pub introspection_ca: S<String>,
    pub introspection_cache: S<String>,
}
