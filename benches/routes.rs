//! The route decision's cost per proxied request: reading the request path and matching it
//! against a deployment's rules (the rules of `examples/gateway_session.rs`), for paths that
//! are already normal (the common request) and for ones that must be decoded.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use samlgate::config::Route;
use samlgate::identity::Operator;
use samlgate::routes::path_reading::PathReading;
use samlgate::routes::{Access, decide};

fn routes() -> Vec<Route> {
    let route = |path: &str, public: bool, access: &[&str], any: &[&str]| Route {
        path: path.into(),
        public,
        require_access_group: access.iter().map(|s| s.to_string()).collect(),
        require_any_group: any.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    vec![
        route("/admin", false, &["MyOrg:Administrators"], &[]),
        route("/reports", false, &[], &["staff", "auditors"]),
        route("/healthcheck", true, &[], &[]),
    ]
}

/// One request's decision, from the raw path.
fn decide_raw(routes: &[Route], path: &str, identity: &Operator) -> Option<Access> {
    let reading = PathReading::new(path).ok()?;
    Some(decide(routes, &reading, Some(identity)))
}

fn bench(c: &mut Criterion) {
    let routes = routes();
    let identity = Operator {
        user: "jmuller".into(),
        access_group: "MyOrg:Administrators".into(),
        groups: vec!["staff".to_string()].into(),
        ..Operator::default()
    };
    for (name, path) in [
        ("normal_short", "/json"),
        ("normal_long", "/app/reports/2026/q3/summary.html"),
        ("normal_protected", "/admin/users/42"),
        ("encoded", "/app/%C3%A9t%C3%A9/summary"),
    ] {
        c.bench_function(&format!("route_decision/{name}"), |b| {
            b.iter(|| decide_raw(black_box(&routes), black_box(path), black_box(&identity)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
