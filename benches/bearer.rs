//! What a bearer access token costs the gateway per request (`oauth::Bearer`): a token seen
//! before (the verified-token cache: SHA-256 of the token and a map lookup), a first-seen JWT
//! (parse, header policy, key lookup, signature, claims; RS256 and ES256), and, as the floor, one
//! bare signature verification with the same key (`crypto::jws::verify`).
//!
//! ```text
//! cargo bench --bench bearer
//! ```
//!
//! The issuer's key set is served once by a loopback HTTP server the bench starts; every
//! measured call finds it cached.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use criterion::{Criterion, criterion_group, criterion_main};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use samlgate::config::{JwksSource, OAuthIssuer};
use samlgate::crypto::jws::{self, ALL_JWS_ALGORITHMS, JwsAlgorithm};
use samlgate::identity::headers::HeaderContract;
use samlgate::mapping::MappingTable;
use samlgate::oauth::Bearer;
use samlgate::ops::Metrics;
use serde_json::json;

const ISSUER: &str = "https://as.example.com";

fn token(alg: JwsAlgorithm, kid: &str, key: &PKey<Private>, sub: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = json!({"alg": alg.name(), "typ": "at+jwt", "kid": kid});
    let claims = json!({"iss": ISSUER, "aud": "https://api.example.com", "sub": sub,
        "client_id": "svc", "scope": "orders.read", "groups": ["Admins", "Staff"],
        "iat": now, "exp": now + 3600, "jti": sub});
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    let sig = jws::sign(alg, key, input.as_bytes()).unwrap();
    format!("{input}.{}", B64URL.encode(sig))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    ec.ec_key()
        .unwrap()
        .public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut BigNumContext::new().unwrap())
        .unwrap();
    let r = rsa.rsa().unwrap();
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "r", "n": B64URL.encode(r.n().to_vec()), "e": B64URL.encode(r.e().to_vec())},
        {"kty": "EC", "kid": "e", "crv": "P-256",
         "x": B64URL.encode(x.to_vec_padded(32).unwrap()), "y": B64URL.encode(y.to_vec_padded(32).unwrap())},
    ]})
    .to_string();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = jwks.clone();
                async move { body }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let issuer = OAuthIssuer {
        name: "as".into(),
        issuer: ISSUER.into(),
        audiences: vec!["https://api.example.com".into()],
        keys: JwksSource::Uri(format!("http://{addr}/jwks").parse().unwrap()),
        algorithms: ALL_JWS_ALGORITHMS.to_vec(),
        require_at_jwt: true,
        clock_skew: time::Duration::seconds(180),
        jwks_refresh: time::Duration::hours(1),
        mapping: MappingTable::from_toml(
            "[access]\ngroups = [\"groups\"]\ndefault = \"users\"\n\n[[access.rule]]\ngroup = \"Admins\"\naccess_group = \"admins\"\n",
            "bench.toml",
        )
        .unwrap(),
        introspection: None,
    };
    let bearer = Bearer::new(
        &[issuer],
        HeaderContract::default(),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let rs = token(JwsAlgorithm::Rs256, "r", &rsa, "alice");
    let es = token(JwsAlgorithm::Es256, "e", &ec, "bob");
    let now = time::OffsetDateTime::now_utc();
    // Fetch the keys and fill the cache once.
    runtime.block_on(bearer.authenticate(&rs, now)).unwrap();
    runtime.block_on(bearer.authenticate(&es, now)).unwrap();

    let mut g = c.benchmark_group("bearer");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("cached_token", |b| {
        b.iter(|| {
            runtime
                .block_on(bearer.authenticate(black_box(&rs), now))
                .unwrap()
        })
    });
    g.bench_function("first_seen_rs256", |b| {
        b.iter(|| {
            runtime
                .block_on(bearer.verify(black_box(&rs), now))
                .unwrap()
        })
    });
    g.bench_function("first_seen_es256", |b| {
        b.iter(|| {
            runtime
                .block_on(bearer.verify(black_box(&es), now))
                .unwrap()
        })
    });
    let public =
        |k: &PKey<Private>| PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap();
    let (rs_pub, es_pub) = (public(&rsa), public(&ec));
    let split = |t: &str| {
        let (input, sig) = t.rsplit_once('.').unwrap();
        (input.to_owned(), B64URL.decode(sig).unwrap())
    };
    let (rs_input, rs_sig) = split(&rs);
    let (es_input, es_sig) = split(&es);
    g.bench_function("bare_verify_rs256", |b| {
        b.iter(|| {
            jws::verify(
                JwsAlgorithm::Rs256,
                &rs_pub,
                black_box(rs_input.as_bytes()),
                &rs_sig,
            )
            .unwrap()
        })
    });
    g.bench_function("bare_verify_es256", |b| {
        b.iter(|| {
            jws::verify(
                JwsAlgorithm::Es256,
                &es_pub,
                black_box(es_input.as_bytes()),
                &es_sig,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
