//! Offline builds of a site of [`USERS`] synthetic users, through the public [`Service`] as
//! `strife-gen build --offline` runs them: a cold build (an empty output folder, every page
//! rendered and written) and a no-op build (nothing changed since the last one, nothing written).

use std::cell::OnceCell;
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use strife_gen::bench_support::store_synthetic_users;
use strife_gen::build::{BuildOptions, BuildSummary};
use strife_gen::service::Service;
use tokio::runtime::Runtime;

use crate::temp_site::TempSite;

/// Few enough that a cold build takes about a second at most, and a whole run about a minute.
const USERS: u64 = 500;

/// A site with its users stored, ready to build.
struct Stored {
    service: Service,
    runtime: Runtime,
    /// Last, so the folder is deleted after the store in it is closed.
    site: TempSite,
}

impl Stored {
    fn new() -> Stored {
        let site = TempSite::new();
        let service = Service::open_offline(site.config().clone()).expect("store");
        store_synthetic_users(&service, USERS);
        let runtime = Runtime::new().expect("runtime");
        Stored {
            service,
            runtime,
            site,
        }
    }

    /// One offline build that does not deploy.
    fn build(&self) -> BuildSummary {
        let options = BuildOptions {
            deploy: false,
            ..BuildOptions::default()
        };
        self.runtime
            .block_on(self.service.build(options))
            .expect("build")
    }
}

pub(crate) fn bench(c: &mut Criterion) {
    // Stored on first use: running only other groups (`-- cdn`) does not pay for it.
    let cell = OnceCell::new();
    let stored = || cell.get_or_init(Stored::new);
    let mut group = c.benchmark_group(format!("site_build_{USERS}"));
    // Whole builds are slow to time: criterion's smallest sample count, and a warm-up of a build
    // or two, are enough to tell a change from noise.
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    // A cold build writes every page and can take a second on a busy machine: room for ten.
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("cold", |b| {
        let stored = stored();
        b.iter_batched(
            || stored.site.empty_output(),
            |()| stored.build(),
            BatchSize::PerIteration,
        )
    });
    // A no-op build only compares: a few seconds hold many of them.
    group.measurement_time(Duration::from_secs(3));
    let built = OnceCell::new();
    group.bench_function("no_op", |b| {
        let stored = stored();
        // A site to leave unchanged, when the cold benchmark did not leave one (`-- no_op`).
        built.get_or_init(|| stored.build());
        b.iter(|| stored.build())
    });
    group.finish();
}
