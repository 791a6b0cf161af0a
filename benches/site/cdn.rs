//! The CDN URLs of a user's images, at the sizes a profile page asks for: a still avatar, an
//! animated one (another file type and query) and a banner. Every page and index line has them.

use std::hint::black_box;

use criterion::Criterion;
use strife_gen::bench_support::{synthetic_snapshot, with_images, CdnUrls};

/// The avatar on a profile page, in pixels.
const AVATAR_SIZE: u16 = 256;
/// The banner's width on a profile page, in pixels.
const BANNER_SIZE: u16 = 1024;

pub(crate) fn bench(c: &mut Criterion) {
    let cdn = CdnUrls::discord();
    let still = synthetic_snapshot(1, "User 1");
    let animated = with_images(
        still.clone(),
        "a_1269e74af4df7417b13759eae50c83dc",
        "8342729096ea3675442027381ff50dfe",
    );
    let mut group = c.benchmark_group("cdn");
    crate::short(&mut group);
    group.bench_function("avatar", |b| {
        b.iter(|| cdn.avatar(black_box(&still), AVATAR_SIZE))
    });
    group.bench_function("animated_avatar", |b| {
        b.iter(|| cdn.avatar(black_box(&animated), AVATAR_SIZE))
    });
    group.bench_function("banner", |b| {
        b.iter(|| cdn.banner(black_box(&animated), BANNER_SIZE))
    });
    group.finish();
}
