//! Opaque access tokens: asking the issuer (RFC 7662 token introspection), the gateway
//! authenticating as a client with `client_secret_basic` or `private_key_jwt` (RFC 7523: an
//! assertion signed with the key file, new for every call). Files are read for every call, so
//! a rotated secret or key is used at once. A 401 is retried once with freshly read
//! credentials; a second 401 fails with a log line that says what to fix.
//!
//! [`active_token`] is the pure part: an active answer held to the issuer (`iss`, `aud`, `exp`
//! and `nbf` with the skew, when present), as a JWT's claims are.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::claims::scopes_of;
use super::fetch::{FetchError, Fetcher};
use super::rejection::TokenRejection;
use super::validate::VerifiedToken;
use crate::config::{ClientAuth, Introspection, OAuthIssuer};
use crate::crypto::jws;

/// How long a client assertion is valid.
const ASSERTION_LIFETIME_SECONDS: i64 = 60;

/// Why the introspection endpoint could not answer.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectionError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(
        "the introspection endpoint {endpoint} refused the gateway's client credentials twice (401) for client_id {client_id:?} ({method}): check that the client is registered with the issuer, and its secret file or key (the public key registered, the key file the gateway reads)"
    )]
    Unauthorized {
        endpoint: String,
        client_id: String,
        method: &'static str,
    },
    #[error("the introspection endpoint {endpoint} answered {status}: {body}")]
    Status {
        endpoint: String,
        status: u16,
        /// The start of the answer (an OAuth error and its description, usually).
        body: String,
    },
    #[error(
        "the introspection answer of {endpoint} is not a JSON object with \"active\": {detail}"
    )]
    Answer { endpoint: String, detail: String },
    #[error("cannot make the client credentials: {0}")]
    Credentials(String),
}

/// What the issuer said about a token.
#[derive(Debug)]
pub enum Answer {
    Active(Map<String, Value>),
    Inactive,
}

/// Ask `settings.endpoint` about `token`.
pub async fn introspect(
    fetcher: &Fetcher,
    issuer: &OAuthIssuer,
    settings: &Introspection,
    token: &str,
    now: OffsetDateTime,
) -> Result<Answer, IntrospectionError> {
    let endpoint = settings.endpoint.to_string();
    for attempt in 0..2 {
        let (status, body) = call(fetcher, issuer, settings, token, now).await?;
        match status {
            200 => return answer(&endpoint, &body),
            401 if attempt == 0 => {
                tracing::warn!(
                    issuer = issuer.name,
                    "introspection endpoint {endpoint} answered 401: retrying once with freshly read client credentials"
                );
            }
            401 => {
                return Err(IntrospectionError::Unauthorized {
                    endpoint,
                    client_id: settings.client_id.clone(),
                    method: method(&settings.auth),
                });
            }
            status => {
                let text = String::from_utf8_lossy(&body);
                let body: String = text.chars().take(300).collect();
                return Err(IntrospectionError::Status {
                    endpoint,
                    status,
                    body,
                });
            }
        }
    }
    Err(IntrospectionError::Unauthorized {
        endpoint,
        client_id: settings.client_id.clone(),
        method: method(&settings.auth),
    })
}

fn method(auth: &ClientAuth) -> &'static str {
    match auth {
        ClientAuth::SecretBasic { .. } => "client_secret_basic",
        ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
        ClientAuth::TlsClientAuth { .. } => "tls_client_auth",
    }
}

async fn call(
    fetcher: &Fetcher,
    issuer: &OAuthIssuer,
    settings: &Introspection,
    token: &str,
    now: OffsetDateTime,
) -> Result<(u16, Vec<u8>), IntrospectionError> {
    let credentials = |e: std::io::Error, path: &std::path::Path| {
        IntrospectionError::Credentials(format!("cannot read {}: {e}", path.display()))
    };
    let mut form = vec![("token", token), ("token_type_hint", "access_token")];
    // A CA of its own, or a client certificate: a client made for this call from the files.
    let ca = match &settings.ca_file {
        Some(path) => Some(
            tokio::fs::read(path)
                .await
                .map_err(|e| credentials(e, path))?,
        ),
        None => None,
    };
    let identity = match &settings.auth {
        ClientAuth::TlsClientAuth {
            cert_file,
            key_file,
        } => {
            let mut pem = tokio::fs::read(cert_file)
                .await
                .map_err(|e| credentials(e, cert_file))?;
            pem.push(b'\n');
            pem.extend(
                tokio::fs::read(key_file)
                    .await
                    .map_err(|e| credentials(e, key_file))?,
            );
            Some(pem)
        }
        _ => None,
    };
    let own;
    let fetcher = if ca.is_some() || identity.is_some() {
        own = Fetcher::with_tls(ca.as_deref(), identity.as_deref())?;
        &own
    } else {
        fetcher
    };
    match &settings.auth {
        ClientAuth::TlsClientAuth { .. } => {
            form.push(("client_id", &settings.client_id));
            Ok(fetcher.post_form(&settings.endpoint, &form, None).await?)
        }
        ClientAuth::SecretBasic { secret_file } => {
            let secret = tokio::fs::read_to_string(secret_file)
                .await
                .map_err(|e| credentials(e, secret_file))?;
            // RFC 6749 section 2.3.1: both form-encoded before the Basic encoding.
            let pair = format!(
                "{}:{}",
                form_encode(&settings.client_id),
                form_encode(secret.trim_end_matches(['\r', '\n']))
            );
            let basic = STANDARD.encode(pair);
            Ok(fetcher
                .post_form(&settings.endpoint, &form, Some(&basic))
                .await?)
        }
        ClientAuth::PrivateKeyJwt { key_file, alg, kid } => {
            let pem = tokio::fs::read(key_file)
                .await
                .map_err(|e| credentials(e, key_file))?;
            let key = openssl::pkey::PKey::private_key_from_pem(&pem)
                .map_err(|e| IntrospectionError::Credentials(e.to_string()))?;
            let mut header = serde_json::json!({"alg": alg.name(), "typ": "JWT"});
            if let Some(kid) = kid {
                header["kid"] = Value::String(kid.clone());
            }
            let now_s = now.unix_timestamp();
            let jti: [u8; 16] = rand::random();
            let claims = serde_json::json!({
                "iss": settings.client_id,
                "sub": settings.client_id,
                "aud": issuer.issuer,
                "jti": URL_SAFE_NO_PAD.encode(jti),
                "iat": now_s,
                "exp": now_s.saturating_add(ASSERTION_LIFETIME_SECONDS),
            });
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature = jws::sign(*alg, &key, input.as_bytes())
                .map_err(|e| IntrospectionError::Credentials(e.to_string()))?;
            let assertion = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
            form.push(("client_id", &settings.client_id));
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
            form.push(("client_assertion", &assertion));
            Ok(fetcher.post_form(&settings.endpoint, &form, None).await?)
        }
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn answer(endpoint: &str, body: &[u8]) -> Result<Answer, IntrospectionError> {
    let fail = |detail: String| IntrospectionError::Answer {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let doc: Value = serde_json::from_slice(body).map_err(|e| fail(e.to_string()))?;
    let Value::Object(map) = doc else {
        return Err(fail("not an object".into()));
    };
    match map.get("active") {
        Some(Value::Bool(true)) => Ok(Answer::Active(map)),
        Some(Value::Bool(false)) => Ok(Answer::Inactive),
        _ => Err(fail("no boolean \"active\"".into())),
    }
}

/// An active answer held to the issuer, as a verified token: `iss` (when present) exactly the
/// issuer, `aud` (when present) containing ours, `exp`/`nbf` (when present) with the skew; the
/// subject is `sub`, or for a client's own token without one, its `client_id`.
pub fn active_token(
    claims: Map<String, Value>,
    issuer: &OAuthIssuer,
    now: OffsetDateTime,
) -> Result<VerifiedToken, TokenRejection> {
    if let Some(iss) = claims.get("iss")
        && iss.as_str() != Some(issuer.issuer.as_str())
    {
        return Err(TokenRejection::UnknownIssuer {
            iss: iss.to_string(),
            known: vec![issuer.issuer.clone()],
        });
    }
    if let Some(aud) = claims.get("aud") {
        let have: Vec<String> = match aud {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if !have.iter().any(|a| issuer.audiences.contains(a)) {
            return Err(TokenRejection::Audience {
                have,
                want: issuer.audiences.clone(),
            });
        }
    }
    let now_s = now.unix_timestamp();
    let skew = issuer.clock_skew.whole_seconds();
    let exp = claims.get("exp").and_then(Value::as_i64);
    if let Some(exp) = exp
        && now_s >= exp.saturating_add(skew)
    {
        return Err(TokenRejection::Inactive);
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
        && now_s.saturating_add(skew) < nbf
    {
        return Err(TokenRejection::Inactive);
    }
    let subject = claims
        .get("sub")
        .or_else(|| claims.get("client_id"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or(TokenRejection::MissingClaim { claim: "sub" })?
        .to_owned();
    Ok(VerifiedToken {
        issuer_name: issuer.name.clone(),
        issuer: issuer.issuer.clone(),
        subject,
        scopes: scopes_of(&claims),
        expires_at: exp.unwrap_or(i64::MAX),
        claims,
    })
}
