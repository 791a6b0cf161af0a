//! `cargo bench --bench build`: how long rendering a large site takes, cold and incremental.
//!
//! Builds a store of synthetic users (`STRIFE_BENCH_USERS`, default 5,000), then times a first
//! render (every page written) and a second one (nothing changed, nothing rewritten). Timings are
//! printed, never asserted: they belong here, not in the tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use strife_gen::build::BuildOptions;
use strife_gen::config::Config;
use strife_gen::crypto::TokenCipher;
use strife_gen::discord::models::Snapshot;
use strife_gen::publish::Publish;
use strife_gen::service::Service;
use strife_gen::store::{Consent, Store, Tokens};

fn main() {
    let users: u64 = std::env::var("STRIFE_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let themes = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
    let text = format!(
        "[site]\ntitle = \"Bench\"\nbase_url = \"https://bench.example/\"\nthemes_dir = \"{}\"\n",
        themes.display()
    );
    let config = Config::from_toml(&text, &dir.path().join("strife.toml")).expect("config");
    let service = Service::open_offline(Arc::new(config)).expect("store");
    let store = service.store();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let started = Instant::now();
    fill(store, users);
    println!("stored {users} users in {:.2?}", started.elapsed());

    for round in ["cold", "incremental"] {
        let started = Instant::now();
        let options = BuildOptions {
            deploy: false,
            ..BuildOptions::default()
        };
        let summary = runtime.block_on(service.build(options)).expect("render");
        println!(
            "{round:>11} render: {:.2?} ({} profiles, {} written, {} unchanged)",
            started.elapsed(),
            summary.profiles,
            summary.site.pages_written,
            summary.site.pages_unchanged
        );
    }
}

/// Users with a realistic amount of data: a few connections and a few dozen servers each.
fn fill(store: &Store, users: u64) {
    let cipher = TokenCipher::random();
    for n in 0..users {
        let id = 100_000_000_000_000_000 + n * 4_194_304;
        let connections: Vec<_> = (0..4)
            .map(|c| serde_json::json!({"id": format!("c{c}"), "name": format!("user{n}-{c}"), "type": "github", "verified": true, "visibility": 1}))
            .collect();
        let guilds: Vec<_> = (0..40u64)
            .map(|g| serde_json::json!({"id": (200_000_000_000_000_000 + g).to_string(), "name": format!("Server {g}"), "icon": null}))
            .collect();
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "user": {"id": id.to_string(), "username": format!("user{n}"), "global_name": format!("User {n}"),
                     "avatar": "a1b2c3d4e5f6", "discriminator": "0", "public_flags": 64},
            "connections": connections,
            "guilds": guilds,
        }))
        .expect("snapshot");
        let consent = Consent {
            scopes: strife_gen::discord::scope::Scope::ALL.to_vec(),
            publish: Publish {
                connections: true,
                guilds: true,
            },
            tokens: Tokens {
                access_token: "bench-access".into(),
                access_expires_at: i64::MAX / 2,
                refresh_token: "bench-refresh".into(),
            },
            snapshot,
        };
        store.record_consent(&consent, &cipher, 0).expect("consent");
    }
}
