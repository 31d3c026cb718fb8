//! The validated configuration. Once [`super::load`] returns one, the running code trusts it:
//! keys are loaded, IdP metadata is parsed, durations are in range, nothing is left to check.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use openssl::x509::X509;
use time::Duration;
use url::Url;

use super::backend_url::BackendUrl;
use crate::crypto::keys::{DecryptionKey, VerificationKey};
use crate::identity::contract::HeaderContract;
use crate::mapping::MappingTable;
pub use crate::routes::Route;
use crate::saml::metadata::{Binding, Endpoint};
use crate::saml::metadata_trust::{SignatureStatus, TrustedMetadata};
use crate::saml::policy::IdpPolicy;

#[derive(Clone, Debug)]
pub struct Config {
    /// The file this came from; relative paths in it were resolved against its folder.
    pub file: PathBuf,
    pub server: Server,
    pub sp: Sp,
    pub idps: Vec<Idp>,
    pub session: SessionConfig,
    pub backend: Backend,
    /// Which identity headers are stripped from requests and set from the session.
    pub headers: HeaderContract,
    pub routes: Vec<Route>,
    pub forward_auth: ForwardAuth,
    /// `[identity_token]`: the identity as a signed JWT to the backend. `None`: not sent.
    pub identity_token: Option<crate::identity::token::TokenSigner>,
    /// `[[oauth]]`: issuers whose bearer access tokens API clients may present.
    pub oauth: Vec<OAuthIssuer>,
}

#[derive(Clone, Debug)]
pub struct Server {
    pub listen: SocketAddr,
    /// Scheme, host and port the browser sees, without a trailing slash in its path.
    pub public_url: Url,
    /// Requests under these path prefixes are API calls: 401 JSON instead of a login redirect.
    pub api_prefixes: Vec<String>,
    /// Largest accepted POST body on `/saml/acs`.
    pub max_acs_body: usize,
    pub log_json: bool,
    /// Where `/metrics` is served. `None`: on the public listener, beside everything else.
    pub metrics_listen: Option<SocketAddr>,
    /// Event loops (threads serving requests). `None`: one per core.
    pub workers: Option<NonZeroUsize>,
    /// Header-read and keep-alive timeouts, the connection cap.
    pub connections: ConnectionLimits,
    /// ACS validations that may run at once (off the event loops). `None`: one per event loop.
    pub acs_concurrency: Option<NonZeroUsize>,
    /// `/saml/session` shows the signed-in user their session (off: the path goes to the backend).
    pub session_page: bool,
    /// One log line per request: method, path, status, user, duration, request ID.
    pub access_log: bool,
    /// `tls_cert` and `tls_key`: TLS terminated on `listen`. `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// A plain-HTTP listener that only redirects to `public_url` (with `tls`).
    pub redirect_http_listen: Option<SocketAddr>,
}

/// The certificate chain and key TLS is served with (re-read when they change), and what `check`
/// says about the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server's certificate first, then its intermediates.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// The certificate's DNS and IP names (subjectAltName), or its CN when it has none.
    pub names: Vec<String>,
    /// The certificate's notAfter, as OpenSSL writes it.
    pub not_after: String,
}

/// How long a client may take to send a request head or a SAML message's body, how long an idle
/// connection is kept, how many connections may be open at once (`[server]` header_read_timeout,
/// saml_body_timeout, keepalive_timeout, max_connections).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The whole request head must arrive within this: counted from the connection's start
    /// for its first request, from the first byte of the head for later ones.
    pub header_read_timeout: std::time::Duration,
    /// The whole body of a SAML message posted to the gateway (ACS, Single Logout) must arrive
    /// within this, counted from the end of its head: these messages are small, so a slow one
    /// only holds a connection.
    pub saml_body_timeout: std::time::Duration,
    /// A connection with no request in flight for this long is closed.
    pub keepalive_timeout: std::time::Duration,
    /// Open client connections, across every event loop. `None`: not configured, so
    /// [`ConnectionLimits::DEFAULT_MAX_CONNECTIONS`], lowered at start to what the process's
    /// file descriptors allow.
    pub max_connections: Option<NonZeroUsize>,
}

impl ConnectionLimits {
    pub const DEFAULT_HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
    pub const DEFAULT_SAML_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
    /// Longer than the idle timeout of the load balancers usually in front (60 s), so that they
    /// close an idle connection first: the gateway closing it as the balancer reuses it is a 502.
    pub const DEFAULT_KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(75);
    pub const DEFAULT_MAX_CONNECTIONS: NonZeroUsize = match NonZeroUsize::new(10_000) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    };

    /// The cap in force: the configured one or the default.
    pub fn max_connections_or_default(&self) -> NonZeroUsize {
        self.max_connections
            .unwrap_or(Self::DEFAULT_MAX_CONNECTIONS)
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            saml_body_timeout: Self::DEFAULT_SAML_BODY_TIMEOUT,
            keepalive_timeout: Self::DEFAULT_KEEPALIVE_TIMEOUT,
            max_connections: None,
        }
    }
}

impl Server {
    /// `public_url` + `path` (path starts with `/`).
    pub fn url_for(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    pub fn acs_url(&self) -> String {
        self.url_for("/saml/acs")
    }

    /// How many event loops `serve` runs: `workers`, or one per core this process may use.
    pub fn event_loop_count(&self) -> NonZeroUsize {
        self.workers.unwrap_or_else(default_event_loop_count)
    }

    /// How many ACS validations may run at once: `acs_concurrency`, or one per event loop.
    pub fn acs_validations(&self) -> NonZeroUsize {
        self.acs_concurrency
            .unwrap_or_else(|| self.event_loop_count())
    }

    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// One event loop per core: the cores this process may use (cgroup CPU limits included), at
/// least 1. What `[server] workers` is when left out.
pub fn default_event_loop_count() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

#[derive(Clone, Debug)]
pub struct Sp {
    pub entity_id: String,
    /// Signs AuthnRequests and is the first decryption key.
    pub key: DecryptionKey,
    pub cert: X509,
    /// Published in metadata before a rollover, so IdPs learn it ahead of time.
    pub next_cert: Option<X509>,
    /// Still tried for decryption during a rollover.
    pub old_keys: Vec<DecryptionKey>,
    pub sign_authn_requests: bool,
    /// Sign the published SP metadata (on by default).
    pub sign_metadata: bool,
}

/// How an IdP accepts AuthnRequests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsoBinding {
    Redirect,
    Post,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoEndpoint {
    pub binding: SsoBinding,
    pub location: String,
}

#[derive(Clone, Debug)]
pub struct Idp {
    /// The admin's short name (`?idp=corp`, metrics labels, logs).
    pub name: String,
    /// `metadata`: the file, or for a URL source the last-known-good copy in the cache folder.
    pub metadata_file: PathBuf,
    /// Where the metadata comes from, and how it is followed (`gateway::idp_sources`).
    pub source: MetadataSource,
    /// The metadata in hand when the configuration was read. `None`: a URL source with no usable
    /// copy yet (no cache): the IdP is not ready until a fetch succeeds. The running gateway reads
    /// the current copy from `gateway::idp_sources`, never from here.
    pub metadata: Option<std::sync::Arc<IdpMetadataInUse>>,
    /// Settings (skew, algorithms, signing requirements). Its `entity_id` and `signing_keys` are
    /// those of `metadata` (empty without it); the gateway builds the policy of each login from
    /// the current metadata.
    pub policy: IdpPolicy,
    /// The mapping table: verified assertion -> operator and access group.
    pub mapping: MappingTable,
    pub allow_idp_initiated: bool,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_policy: Option<String>,
    pub authn_context: Vec<String>,
    /// Single Logout with this IdP, as the metadata in hand at load offers it: its
    /// SingleLogoutService endpoints with a binding samlgate speaks (HTTP-Redirect, HTTP-POST);
    /// empty when that metadata has none or `slo = false`. The running gateway takes them from
    /// the metadata in use now (`AppState::slo_endpoints`), so that a refresh applies.
    pub slo: Vec<Endpoint>,
    /// `slo = false`: no Single Logout with this IdP, whatever its metadata offers.
    pub slo_off: bool,
    /// Sign the LogoutRequests sent to this IdP (on by default).
    pub sign_logout_requests: bool,
    /// `encrypt_logout_name_id = true`: send the NameID of our LogoutRequests as an EncryptedID,
    /// to the IdP's encryption certificate in its metadata in use now.
    pub encrypt_logout_name_id: bool,
    /// With `encrypt_logout_name_id`: that certificate in the metadata in hand at load.
    pub logout_name_id_encryption: Option<X509>,
}

/// Where an IdP's metadata comes from.
#[derive(Clone, Debug)]
pub enum MetadataSource {
    /// `metadata = "file"`: read when the configuration is read.
    File,
    /// `metadata_url`: fetched, verified, refreshed and cached.
    Url(MetadataUrl),
}

/// `metadata_url` and its settings.
#[derive(Clone, Debug)]
pub struct MetadataUrl {
    pub url: Url,
    /// `metadata_refresh`: the longest wait between fetches.
    pub refresh: std::time::Duration,
    /// The last-known-good copy (`metadata_cache_dir`/NAME.xml).
    pub cache_file: PathBuf,
    /// `entity_id`: the IdP to pick out of an aggregate.
    pub entity_id: Option<String>,
    /// `metadata_signing_cert`: when any, every document must be signed by one of them.
    pub signing_certs: Vec<VerificationKey>,
}

/// What the gateway uses of one IdP's metadata: replaced as a whole when its source refreshes.
#[derive(Clone, Debug)]
pub struct IdpMetadataInUse {
    pub entity_id: String,
    pub signing_keys: Vec<VerificationKey>,
    /// The SSO endpoint we send AuthnRequests to: Redirect preferred, else POST.
    pub sso: SsoEndpoint,
    pub want_authn_requests_signed: bool,
    /// Its SingleLogoutService endpoints, every binding (`[[idp]] slo` keeps those samlgate speaks).
    pub slo: Vec<Endpoint>,
    /// Its encryption certificates (for `encrypt_logout_name_id`).
    pub encryption_certificates: Vec<X509>,
    pub valid_until: Option<time::OffsetDateTime>,
    pub cache_duration: Option<Duration>,
    pub signature: SignatureStatus,
    /// Where this copy was read (file, URL or cache file), for logs and `check`.
    pub origin: String,
}

impl IdpMetadataInUse {
    /// From a document that passed `saml::metadata_trust`; `Err` when the IdP offers no SSO
    /// endpoint samlgate can use.
    pub fn from_trusted(trusted: TrustedMetadata, origin: &str) -> Result<Self, String> {
        let pick = |wanted: &Binding| trusted.idp.sso_endpoint(wanted).map(|e| e.location.clone());
        let sso = match (pick(&Binding::HttpRedirect), pick(&Binding::HttpPost)) {
            (Some(location), _) => SsoEndpoint {
                binding: SsoBinding::Redirect,
                location,
            },
            (None, Some(location)) => SsoEndpoint {
                binding: SsoBinding::Post,
                location,
            },
            (None, None) => {
                return Err(format!(
                    "IdP {} offers no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding",
                    trusted.idp.entity_id
                ));
            }
        };
        Ok(IdpMetadataInUse {
            entity_id: trusted.idp.entity_id,
            signing_keys: trusted.idp.signing_keys,
            sso,
            want_authn_requests_signed: trusted.idp.want_authn_requests_signed,
            slo: trusted.idp.slo_endpoints,
            encryption_certificates: trusted.idp.encryption_certificates,
            valid_until: trusted.valid_until,
            cache_duration: trusted.cache_duration,
            signature: trusted.signature,
            origin: origin.to_string(),
        })
    }

    /// The policy of a login: `settings` with this metadata's entityID and signing keys.
    pub fn policy(&self, settings: &IdpPolicy) -> IdpPolicy {
        IdpPolicy {
            entity_id: self.entity_id.clone(),
            signing_keys: self.signing_keys.clone(),
            ..settings.clone()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionStoreKind {
    /// One node: everything in this process.
    Memory,
    /// Several nodes: sessions, pending logins, replay cache and session index in Redis.
    Redis(crate::store::RedisSettings),
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub store: SessionStoreKind,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// Final cookie name, `__Host-` prefixed when served over HTTPS.
    pub cookie_name: String,
    pub secure_cookies: bool,
}

#[derive(Clone, Debug)]
pub struct Backend {
    pub url: BackendUrl,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// The longest the client may go without sending a byte of a request body it has started.
    pub body_timeout: Duration,
    /// The longest a WebSocket tunnel may go without a byte either way.
    pub websocket_idle_timeout: Duration,
    /// `ca`: PEM CA certificates an `https://` backend's certificate must chain to. `None`: the
    /// system's roots.
    pub ca: Option<PathBuf>,
    /// `client_cert`, `client_key`: the certificate (chain) and key presented to an `https://`
    /// backend (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// The header nginx's `auth_request` snippet puts the original request URI in: the default of
/// `[forward_auth] uri_header`.
pub const X_ORIGINAL_URI: axum::http::HeaderName =
    axum::http::HeaderName::from_static("x-original-uri");

/// `/saml/auth`: where the proxy in front puts the original request URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardAuth {
    /// The one header read (`X-Original-URI` for nginx, `X-Forwarded-Uri` for Traefik).
    pub uri_header: axum::http::HeaderName,
}

impl Default for ForwardAuth {
    fn default() -> Self {
        ForwardAuth {
            uri_header: X_ORIGINAL_URI,
        }
    }
}

/// Where an issuer's signing keys (its JWKS) are fetched from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// `jwks_uri`, as configured.
    Uri(Url),
    /// The discovery document at this URL names the `jwks_uri`.
    Discovery(Url),
}

impl JwksSource {
    pub fn url(&self) -> &Url {
        match self {
            JwksSource::Uri(u) | JwksSource::Discovery(u) => u,
        }
    }
}

/// `[[oauth]]`: an OAuth 2.0 authorization server whose JWT access tokens are accepted.
#[derive(Clone, Debug)]
pub struct OAuthIssuer {
    /// The admin's short name (logs, metric labels); the issuer URL when not given.
    pub name: String,
    /// Compared exactly with the token's `iss`.
    pub issuer: String,
    /// The token's `aud` must contain one of these.
    pub audiences: Vec<String>,
    pub keys: JwksSource,
    /// The signature algorithms accepted (asymmetric only).
    pub algorithms: Vec<crate::crypto::jws::JwsAlgorithm>,
    /// Require the header `typ` to be `at+jwt` (RFC 9068).
    pub require_at_jwt: bool,
    pub clock_skew: Duration,
    /// Keys older than this are fetched again on the next token.
    pub jwks_refresh: Duration,
    /// Claims are the attributes; `sub` is the NameID.
    pub mapping: MappingTable,
    /// Opaque tokens are asked about here (RFC 7662), when configured.
    pub introspection: Option<Introspection>,
}

/// Token introspection (RFC 7662): where, and how the gateway authenticates as a client.
#[derive(Clone, Debug)]
pub struct Introspection {
    pub endpoint: Url,
    pub client_id: String,
    pub auth: ClientAuth,
    /// An active answer is kept at most this long (and never past the token's `exp`).
    pub cache_max: Duration,
    /// CA certificates (PEM) trusted for the endpoint besides the system's roots.
    pub ca_file: Option<PathBuf>,
}

/// How the gateway authenticates to the introspection endpoint. Files are read again for each
/// call, so a rotated secret or key is used without a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: the secret in a file.
    SecretBasic { secret_file: PathBuf },
    /// `private_key_jwt` (RFC 7523): an assertion signed with the key in a PEM file.
    PrivateKeyJwt {
        key_file: PathBuf,
        alg: crate::crypto::jws::JwsAlgorithm,
        kid: Option<String>,
    },
    /// `tls_client_auth` (RFC 8705): mutual TLS with this certificate and key, no secret.
    TlsClientAuth {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
}
