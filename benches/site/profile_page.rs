//! Rendering one profile page: the default theme's `profile.html` for a user with four
//! connections and forty servers. The theme is compiled and the page model built beforehand, as
//! in a build, so this is the template's own cost, paid once per changed user.

use criterion::Criterion;
use strife_gen::bench_support::{synthetic_snapshot, ProfilePage};

use crate::temp_site::TempSite;

pub(crate) fn bench(c: &mut Criterion) {
    let site = TempSite::new();
    let page = ProfilePage::new(site.config(), &synthetic_snapshot(1, "User 1")).expect("theme");
    let mut group = c.benchmark_group("profile_page");
    crate::short(&mut group);
    group.bench_function("render", |b| b.iter(|| page.render().expect("render")));
    group.finish();
}
