//! `cargo bench --bench site`: criterion benchmarks of what a build spends its time on.
//!
//! - `profile_page`: rendering one profile page with the default theme;
//! - `site_build`: an offline build of a small site, cold (an empty output folder) and no-op
//!   (nothing changed since the last build);
//! - `cdn`: the avatar and banner URLs every page links to;
//! - `markdown`: a `content/users/*.md` body turned into sanitised HTML.
//!
//! Inputs are small so that the whole run takes about a minute; `cargo bench --bench site --
//! cdn` runs one group, `-- --quick` gives rougher numbers sooner. Timings are reported, never
//! asserted: they depend on the machine, so they belong here, not in the tests. The synthetic
//! users are the ones `examples/bench.rs` builds (`strife_gen::bench_support`).

mod cdn;
mod markdown;
mod profile_page;
mod site_build;
mod temp_site;

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup};

criterion_group!(
    benches,
    profile_page::bench,
    site_build::bench,
    cdn::bench,
    markdown::bench
);
criterion_main!(benches);

/// Shorter warm-up and measurement than criterion's defaults (3 s and 5 s) for groups whose
/// every iteration takes microseconds: a second or two already gives millions of samples.
fn short(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
}
