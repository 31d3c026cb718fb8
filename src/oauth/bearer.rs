//! The bearer-token authenticator the gateway holds: a token in, the one `identity::Operator`
//! (through the issuer's mapping table) and its encoded identity headers out, or a typed
//! refusal. Verified tokens are cached under the SHA-256 of the whole token, never under any
//! claim: two tokens share an entry only if they are the same token, so one subject can never
//! be handed another's identity (a cache keyed by client ID, scope or tenant would).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use openssl::sha::sha256;
use time::OffsetDateTime;

use super::claims::to_mapping_claims;
use super::compact;
use super::fetch::{FetchError, Fetcher};
use super::introspect::{Answer, IntrospectionError, active_token, introspect};
use super::key_cache::{KeyCache, Refetch};
use super::rejection::TokenRejection;
use super::validate::{VerifiedToken, check, check_header, issuer_of, key_in};
use crate::config::OAuthIssuer;
use crate::identity::Operator;
use crate::identity::headers::{HeaderContract, IdentityHeaders};
use crate::mapping::{MappingRefusal, evaluate};
use crate::ops::Metrics;

/// Verified tokens kept at most (entries past their `exp` are dropped first).
pub const MAX_CACHED_TOKENS: usize = 10_000;

/// A token that passed every check, mapped.
#[derive(Debug)]
pub struct Authenticated {
    pub token: VerifiedToken,
    pub identity: Operator,
    pub headers: IdentityHeaders,
    /// The identity token (`[identity_token]`) for this access token, signed once and kept
    /// while the entry is, as a session keeps its own.
    pub identity_token: crate::identity::token_cache::TokenCache,
    /// The instant after which the cached entry is no longer used (`exp` plus skew).
    valid_until: i64,
}

impl Authenticated {
    /// The instant (Unix seconds) until which the token is accepted without being checked again:
    /// a JWT's `exp` plus the issuer's clock skew; for an introspected token, its `exp` or the
    /// end of its introspection answer's caching, whichever comes first.
    pub fn valid_until(&self) -> i64 {
        self.valid_until
    }
}

/// Why a bearer request is not let in.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("access token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("access token of {issuer} refused by its mapping table: {refusal}")]
    Mapping {
        issuer: String,
        subject: String,
        refusal: MappingRefusal,
    },
    #[error("cannot fetch the keys of issuer {issuer}: {source}")]
    Keys {
        issuer: String,
        #[source]
        source: FetchError,
    },
    #[error("cannot introspect the token at issuer {issuer}: {source}")]
    Introspection {
        issuer: String,
        #[source]
        source: IntrospectionError,
    },
}

/// An active introspection answer is kept until the token's `exp` or `introspection_cache`,
/// whichever comes first, less this margin.
pub const INTROSPECTION_SAFETY_MARGIN_SECONDS: i64 = 5;
/// An inactive answer is kept this long: a burst of requests with a revoked or made-up token
/// costs one call, and a token the issuer just issued is not refused for long.
pub const INACTIVE_CACHE_SECONDS: i64 = 10;

/// The gateway's bearer-token authenticator.
pub struct Bearer {
    issuers: Vec<OAuthIssuer>,
    keys: Vec<KeyCache>,
    fetcher: Fetcher,
    contract: HeaderContract,
    metrics: Arc<Metrics>,
    verified: Mutex<HashMap<[u8; 32], Arc<Authenticated>>>,
    /// Opaque tokens the issuer said were inactive, until when (Unix seconds).
    inactive: Mutex<HashMap<[u8; 32], i64>>,
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bearer")
            .field("issuers", &self.issuers.len())
            .finish_non_exhaustive()
    }
}

impl Bearer {
    pub fn new(
        issuers: &[OAuthIssuer],
        contract: HeaderContract,
        metrics: Arc<Metrics>,
    ) -> Result<Self, FetchError> {
        Ok(Self {
            keys: issuers.iter().map(|_| KeyCache::default()).collect(),
            issuers: issuers.to_vec(),
            fetcher: Fetcher::new()?,
            contract,
            metrics,
            verified: Mutex::new(HashMap::new()),
            inactive: Mutex::new(HashMap::new()),
        })
    }

    /// Are any issuers configured? (Without, `Authorization` is left alone.)
    pub fn is_enabled(&self) -> bool {
        !self.issuers.is_empty()
    }

    /// Authenticate `token` at `now`: from the cache when this very token verified before and
    /// has not expired, else every check, the mapping, and into the cache.
    pub async fn authenticate(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Arc<Authenticated>, BearerError> {
        let digest = sha256(token.as_bytes());
        let now_s = now.unix_timestamp();
        if let Some(hit) = self.cached(&digest, now_s) {
            self.metrics.inc(
                "samlgate_oauth_tokens_accepted_total",
                &[
                    ("issuer", hit.token.issuer_name.as_str()),
                    ("cached", "yes"),
                ],
            );
            return Ok(hit);
        }
        let outcome = match self.introspecting(token) {
            Some(issuer) => self.opaque(token, issuer, digest, now).await,
            None => self.verify(token, now).await.map(|(t, issuer)| {
                let until = t
                    .expires_at
                    .saturating_add(issuer.clock_skew.whole_seconds());
                (t, issuer, until)
            }),
        };
        match outcome {
            Ok((token, issuer, valid_until)) => {
                let claims = to_mapping_claims(&token.issuer, &token.subject, &token.claims);
                let mapped = match evaluate(&issuer.mapping, &claims) {
                    Ok(m) => m,
                    Err(refusal) => {
                        self.count_refused(&issuer.name, "mapping");
                        return Err(BearerError::Mapping {
                            issuer: issuer.name.clone(),
                            subject: token.subject,
                            refusal,
                        });
                    }
                };
                let identity = mapped.into_identity();
                let headers = IdentityHeaders::encode(&self.contract, &identity);
                let entry = Arc::new(Authenticated {
                    token,
                    identity,
                    headers,
                    identity_token: Default::default(),
                    valid_until,
                });
                self.remember(digest, Arc::clone(&entry), now_s);
                self.metrics.inc(
                    "samlgate_oauth_tokens_accepted_total",
                    &[("issuer", issuer.name.as_str()), ("cached", "no")],
                );
                Ok(entry)
            }
            Err((e, issuer)) => {
                let kind = match &e {
                    BearerError::Token(r) => r.kind(),
                    BearerError::Mapping { .. } => "mapping",
                    BearerError::Keys { .. } => "keys_unavailable",
                    BearerError::Introspection { .. } => "introspection_failed",
                };
                self.count_refused(issuer.unwrap_or("unknown"), kind);
                Err(e)
            }
        }
    }

    /// The issuer that introspects, when `token` is not a JWT (not three dot-separated parts)
    /// and one is configured.
    fn introspecting(&self, token: &str) -> Option<&OAuthIssuer> {
        if token.split('.').count() == 3 {
            return None;
        }
        self.issuers.iter().find(|i| i.introspection.is_some())
    }

    /// An opaque token: a recent inactive answer, or the issuer asked.
    async fn opaque<'s>(
        &'s self,
        token: &str,
        issuer: &'s OAuthIssuer,
        digest: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<(VerifiedToken, &'s OAuthIssuer, i64), (BearerError, Option<&'s str>)> {
        let name = Some(issuer.name.as_str());
        let now_s = now.unix_timestamp();
        let Some(settings) = &issuer.introspection else {
            return Err((TokenRejection::Inactive.into(), name));
        };
        let known_inactive = self
            .inactive
            .lock()
            .ok()
            .and_then(|m| m.get(&digest).copied())
            .is_some_and(|until| now_s < until);
        if known_inactive {
            self.metrics.inc(
                "samlgate_oauth_introspection_cache_hits_total",
                &[("issuer", issuer.name.as_str()), ("answer", "inactive")],
            );
            return Err((TokenRejection::Inactive.into(), name));
        }
        let answer = introspect(&self.fetcher, issuer, settings, token, now).await;
        let outcome = match &answer {
            Ok(Answer::Active(_)) => "active",
            Ok(Answer::Inactive) => "inactive",
            Err(_) => "error",
        };
        self.metrics.inc(
            "samlgate_oauth_introspection_calls_total",
            &[("issuer", issuer.name.as_str()), ("answer", outcome)],
        );
        let claims = match answer {
            Ok(Answer::Active(claims)) => claims,
            Ok(Answer::Inactive) => {
                if let Ok(mut map) = self.inactive.lock() {
                    if map.len() >= MAX_CACHED_TOKENS {
                        map.retain(|_, until| now_s < *until);
                        if map.len() >= MAX_CACHED_TOKENS {
                            map.clear();
                        }
                    }
                    map.insert(digest, now_s.saturating_add(INACTIVE_CACHE_SECONDS));
                }
                return Err((TokenRejection::Inactive.into(), name));
            }
            Err(source) => {
                return Err((
                    BearerError::Introspection {
                        issuer: issuer.name.clone(),
                        source,
                    },
                    name,
                ));
            }
        };
        let token = active_token(claims, issuer, now).map_err(|e| (e.into(), name))?;
        let until = token
            .expires_at
            .min(now_s.saturating_add(settings.cache_max.whole_seconds()))
            .saturating_sub(INTROSPECTION_SAFETY_MARGIN_SECONDS);
        Ok((token, issuer, until))
    }

    fn count_refused(&self, issuer: &str, kind: &str) {
        self.metrics.inc(
            "samlgate_oauth_tokens_refused_total",
            &[("issuer", issuer), ("reason", kind)],
        );
    }

    fn cached(&self, digest: &[u8; 32], now_s: i64) -> Option<Arc<Authenticated>> {
        let map = self.verified.lock().ok()?;
        map.get(digest)
            .filter(|a| now_s < a.valid_until)
            .map(Arc::clone)
    }

    fn remember(&self, digest: [u8; 32], entry: Arc<Authenticated>, now_s: i64) {
        let Ok(mut map) = self.verified.lock() else {
            return;
        };
        if map.len() >= MAX_CACHED_TOKENS {
            map.retain(|_, a| now_s < a.valid_until);
            if map.len() >= MAX_CACHED_TOKENS {
                map.clear();
            }
        }
        map.insert(digest, entry);
    }

    /// Forget every verified token of issuer `index` (its keys changed).
    fn forget_issuer(&self, name: &str) {
        if let Ok(mut map) = self.verified.lock() {
            map.retain(|_, a| a.token.issuer_name != name);
        }
    }

    /// Every check (no cache): the verified token and its issuer, or the refusal and the issuer
    /// it claimed (when known, for the metric label).
    pub async fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<(VerifiedToken, &OAuthIssuer), (BearerError, Option<&str>)> {
        let parsed = compact::parse(token).map_err(|e| (TokenRejection::from(e).into(), None))?;
        let issuer = issuer_of(&parsed, &self.issuers).map_err(|e| (e.into(), None))?;
        let index = self
            .issuers
            .iter()
            .position(|i| std::ptr::eq(i, issuer))
            .unwrap_or_default();
        let name = Some(issuer.name.as_str());
        let fail = |e: BearerError| (e, name);
        let keys_err = |source| BearerError::Keys {
            issuer: issuer.name.clone(),
            source,
        };
        let (alg, kid) = check_header(&parsed, issuer).map_err(|e| fail(e.into()))?;
        let Some(cache) = self.keys.get(index) else {
            return Err(fail(TokenRejection::NoKid.into()));
        };
        let (mut jwks, fetched) = cache
            .current(issuer, &self.fetcher, now)
            .await
            .map_err(|e| fail(keys_err(e)))?;
        if fetched {
            self.jwks_fetched(issuer, "scheduled");
        }
        if jwks.get(kid).is_none() {
            match cache
                .refetch_for(kid, issuer, &self.fetcher, now)
                .await
                .map_err(|e| fail(keys_err(e)))?
            {
                Refetch::Fetched(fresh) => {
                    self.jwks_fetched(issuer, "unknown_kid");
                    jwks = fresh;
                }
                Refetch::TooSoon => {}
            }
        }
        let key = key_in(&jwks, kid, issuer).map_err(|e| fail(e.into()))?;
        let verified = check(&parsed, issuer, alg, key, now).map_err(|e| fail(e.into()))?;
        Ok((verified, issuer))
    }

    fn jwks_fetched(&self, issuer: &OAuthIssuer, why: &str) {
        self.forget_issuer(&issuer.name);
        self.metrics.inc(
            "samlgate_oauth_jwks_fetches_total",
            &[("issuer", issuer.name.as_str()), ("trigger", why)],
        );
    }
}
