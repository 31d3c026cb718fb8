//! The shared stores of several nodes, in Redis (through `fred`, the client
//! tower-sessions-redis-store uses).
//!
//! - replay cache, Assertion IDs and AuthnRequest IDs (each its own key space): `SET key 1 PX ttl
//!   NX` (one atomic command: exactly one node sees "first");
//! - session index: a sorted set per key, scored by expiry; taken in one MULTI/EXEC;
//! - sessions: a tower-sessions [`SessionStore`], keyed under the deployment's prefix.
//!
//! Every failure is a [`StoreError::Unavailable`] and the callers fail closed (503). The pool
//! reconnects by itself, so the node recovers without a restart when Redis comes back.

use std::fmt;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use fred::clients::Pool;
use fred::interfaces::{ClientLike, KeysInterface, SortedSetsInterface, TransactionInterface};
use fred::types::config::{
    Config as FredConfig, ConnectionConfig, PerformanceConfig, ReconnectPolicy, TcpConfig,
};
use fred::types::{Expiration, ExpireOptions, SetOptions, Value};
use time::OffsetDateTime;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use super::keys::{KeySpace, Kind};
use super::replay::{ReplayCache, Seen};
use super::session_index::{SessionIndex, SessionIndexKey};
use super::{BoxFuture, StoreError};

/// How to reach Redis, as validated by `config` (`[session] store = "redis"`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS).
    pub url: String,
    /// Start of every key; separates deployments sharing one Redis.
    pub key_prefix: String,
    /// Connections per node.
    pub pool_size: usize,
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: StdDuration,
    /// Longest wait for any command, queueing during a reconnect included; then 503.
    pub command_timeout: StdDuration,
}

impl RedisSettings {
    pub const DEFAULT_PREFIX: &str = "samlgate:";
    pub const DEFAULT_POOL_SIZE: usize = 8;
    pub const DEFAULT_CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(2);
    pub const DEFAULT_COMMAND_TIMEOUT: StdDuration = StdDuration::from_secs(1);

    /// Settings with defaults for everything but the URL.
    pub fn new(url: &str) -> Self {
        RedisSettings {
            url: url.to_string(),
            key_prefix: Self::DEFAULT_PREFIX.to_string(),
            pool_size: Self::DEFAULT_POOL_SIZE,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            command_timeout: Self::DEFAULT_COMMAND_TIMEOUT,
        }
    }

    /// The URL with any password replaced, for logs and messages.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// `url` with its password (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparsable URL>".to_string(),
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.redacted_url())
            .field("key_prefix", &self.key_prefix)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

fn unavailable(what: &str, e: fred::error::Error) -> StoreError {
    StoreError::Unavailable(format!("redis {what}: {e}"))
}

/// Milliseconds from `now` to `until`, at least 1 (Redis refuses a zero expiry).
fn ttl_ms(until: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let ms = (until - now).whole_milliseconds();
    i64::try_from(ms).unwrap_or(i64::MAX).max(1)
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The client settings every connection of a node uses: URL, timeouts, reconnect policy.
pub(crate) struct FredParts {
    pub config: FredConfig,
    pub perf: PerformanceConfig,
    pub connection: ConnectionConfig,
    pub policy: ReconnectPolicy,
}

impl FredParts {
    pub fn new(settings: &RedisSettings) -> Result<Self, StoreError> {
        let mut config = FredConfig::from_url(&settings.url).map_err(|e| {
            StoreError::Unavailable(format!(
                "redis URL {} not usable: {e}",
                settings.redacted_url()
            ))
        })?;
        // Keep retrying the first connection too, so a node can start before Redis.
        config.fail_fast = false;
        let perf = PerformanceConfig {
            default_command_timeout: settings.command_timeout,
            ..PerformanceConfig::default()
        };
        let connection = ConnectionConfig {
            connection_timeout: settings.connect_timeout,
            internal_command_timeout: settings.command_timeout.max(settings.connect_timeout),
            max_command_attempts: 2,
            // One small command per request: send it now rather than wait for Nagle.
            tcp: TcpConfig {
                nodelay: Some(true),
                ..TcpConfig::default()
            },
            ..ConnectionConfig::default()
        };
        // Forever, 100 ms doubling to 1 s: recovery within a second of Redis coming back.
        let policy = ReconnectPolicy::new_exponential(0, 100, 1000, 2);
        Ok(FredParts {
            config,
            perf,
            connection,
            policy,
        })
    }
}

/// The Redis-backed stores of one node: a connection pool and the key namespace.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    keys: KeySpace,
    settings: RedisSettings,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("settings", &self.settings)
            .finish()
    }
}

impl RedisStore {
    /// Build the pool and start connecting in the background. Must run inside a Tokio runtime.
    /// Redis being down now is not an error: requests answer 503 until it is reachable, and
    /// the pool keeps reconnecting (at most a second apart).
    pub fn connect(settings: &RedisSettings) -> Result<Self, StoreError> {
        let FredParts {
            config,
            perf,
            connection,
            policy,
        } = FredParts::new(settings)?;
        let pool = Pool::new(
            config,
            Some(perf),
            Some(connection),
            Some(policy),
            settings.pool_size.max(1),
        )
        .map_err(|e| unavailable("pool", e))?;
        // The connection tasks run by themselves; their handle is not needed.
        drop(pool.connect());
        Ok(RedisStore {
            pool,
            keys: KeySpace::new(&settings.key_prefix),
            settings: settings.clone(),
        })
    }

    /// Wait until every pooled connection is up (tests; startup logging).
    pub async fn wait_connected(&self) -> Result<(), StoreError> {
        self.pool
            .wait_for_connect()
            .await
            .map_err(|e| unavailable("connect", e))
    }

    /// One round trip: is Redis answering?
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: Value = self
            .pool
            .ping(None)
            .await
            .map_err(|e| unavailable("PING", e))?;
        Ok(())
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// The tower-sessions store over the same pool and prefix.
    pub fn session_store(&self) -> RedisSessionStore {
        RedisSessionStore {
            pool: self.pool.clone(),
            keys: self.keys.clone(),
        }
    }

    /// Close the pool's connections (tests that drop a node).
    pub async fn quit(&self) {
        let _ = self.pool.quit().await;
    }

    /// Remove every key under this store's prefix (tests sharing one Redis).
    pub async fn delete_all_keys(&self) -> Result<usize, StoreError> {
        let pattern = format!("{}*", glob_escape(self.keys.prefix()));
        let found: Vec<String> = self
            .pool
            .next()
            .custom(fred::cmd!("KEYS"), vec![Value::from(pattern.as_str())])
            .await
            .map_err(|e| unavailable("KEYS", e))?;
        if !found.is_empty() {
            let _: i64 = self
                .pool
                .del(found.clone())
                .await
                .map_err(|e| unavailable("DEL", e))?;
        }
        Ok(found.len())
    }

    /// The raw value under `key` (tests inspecting what is stored).
    pub async fn raw_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.pool.get(key).await.map_err(|e| unavailable("GET", e))
    }
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisStore {
    /// `SET key 1 PX ttl NX`: only the first SET of a key answers OK; every later one nil.
    async fn set_once(
        &self,
        key: String,
        until: OffsetDateTime,
        now: OffsetDateTime,
        what: &str,
    ) -> Result<Seen, StoreError> {
        let reply: Value = self
            .pool
            .set(
                key,
                "1",
                Some(Expiration::PX(ttl_ms(until, now))),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(|e| unavailable(what, e))?;
        Ok(if reply.is_null() {
            Seen::Again
        } else {
            Seen::First
        })
    }
}

impl ReplayCache for RedisStore {
    fn insert<'a>(
        &'a self,
        idp: &'a str,
        assertion_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Seen, StoreError>> {
        let key = self
            .keys
            .key(Kind::Replay, &[Some(idp), Some(assertion_id)]);
        Box::pin(self.set_once(key, until, now, "SET NX (replay cache)"))
    }

    fn insert_request<'a>(
        &'a self,
        request_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Seen, StoreError>> {
        let key = self.keys.key(Kind::Request, &[Some(request_id)]);
        Box::pin(self.set_once(key, until, now, "SET NX (answered AuthnRequest)"))
    }
}

impl SessionIndex for RedisStore {
    fn add<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        session_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let until_ms = unix_ms(until);
            let now_ms = unix_ms(now);
            let trx = self.pool.multi();
            for k in key.index_keys() {
                let k = k.store_key(&self.keys);
                // Members carry their own expiry as score; the key lives as long as its
                // longest member (NX sets the first expiry, GT only ever extends it).
                let _: Value = trx
                    .zadd(&k, None, None, false, false, (until_ms as f64, session_id))
                    .await
                    .map_err(|e| unavailable("ZADD (session index)", e))?;
                let _: Value = trx
                    .zremrangebyscore(&k, f64::NEG_INFINITY, now_ms as f64)
                    .await
                    .map_err(|e| unavailable("ZREMRANGEBYSCORE (session index)", e))?;
                let _: Value = trx
                    .pexpire_at(&k, until_ms, Some(ExpireOptions::NX))
                    .await
                    .map_err(|e| unavailable("PEXPIREAT (session index)", e))?;
                let _: Value = trx
                    .pexpire_at(&k, until_ms, Some(ExpireOptions::GT))
                    .await
                    .map_err(|e| unavailable("PEXPIREAT (session index)", e))?;
            }
            let _: Value = trx
                .exec(true)
                .await
                .map_err(|e| unavailable("EXEC (session index)", e))?;
            Ok(())
        })
    }

    fn take<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let k = key.store_key(&self.keys);
            let trx = self.pool.multi();
            let _: Value = trx
                .zrangebyscore(
                    &k,
                    format!("({}", unix_ms(now)),
                    "+inf".to_string(),
                    false,
                    None,
                )
                .await
                .map_err(|e| unavailable("ZRANGEBYSCORE (session index)", e))?;
            let _: Value = trx
                .del(&k)
                .await
                .map_err(|e| unavailable("DEL (session index)", e))?;
            let (mut ids, _deleted): (Vec<String>, i64) = trx
                .exec(true)
                .await
                .map_err(|e| unavailable("EXEC (session index)", e))?;
            ids.sort();
            Ok(ids)
        })
    }
}

/// Sessions for tower-sessions, in Redis under `<prefix>session:<id>`.
///
/// tower-sessions-redis-store 0.16 does the same over the same client and encoding, but keys
/// sessions by the bare session ID with no prefix: two deployments sharing a Redis would then
/// accept each other's session cookies. This store differs only in the key.
#[derive(Clone)]
pub struct RedisSessionStore {
    pool: Pool,
    keys: KeySpace,
}

impl fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.keys.prefix())
            .finish()
    }
}

/// Bound on fresh IDs tried when a new session ID is taken (128 random bits: never in practice).
const MAX_CREATE_ATTEMPTS: usize = 8;

impl RedisSessionStore {
    pub fn key(&self, id: &Id) -> String {
        self.keys.key(Kind::Session, &[Some(&id.to_string())])
    }

    async fn save_with(&self, record: &Record, option: SetOptions) -> session_store::Result<bool> {
        let bytes =
            rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let reply: Value = self
            .pool
            .set(
                self.key(&record.id),
                bytes.as_slice(),
                Some(Expiration::EXAT(record.expiry_date.unix_timestamp())),
                Some(option),
                false,
            )
            .await
            .map_err(|e| session_store::Error::Backend(format!("redis SET (session): {e}")))?;
        Ok(!reply.is_null())
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        for _ in 0..MAX_CREATE_ATTEMPTS {
            if self.save_with(record, SetOptions::NX).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "no free session ID after several random tries".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // XX: never resurrect a session deleted meanwhile (a logout on another node).
        self.save_with(record, SetOptions::XX).await?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> = self
            .pool
            .get(self.key(session_id))
            .await
            .map_err(|e| session_store::Error::Backend(format!("redis GET (session): {e}")))?;
        match data {
            Some(bytes) => rmp_serde::from_slice(&bytes)
                .map(Some)
                .map_err(|e| session_store::Error::Decode(e.to_string())),
            None => Ok(None),
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let _: i64 = self
            .pool
            .del(self.key(session_id))
            .await
            .map_err(|e| session_store::Error::Backend(format!("redis DEL (session): {e}")))?;
        Ok(())
    }
}
