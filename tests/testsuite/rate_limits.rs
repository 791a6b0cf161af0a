//! Discord's global limit, enforced by the fake as the real API does (a sliding second): a refresh
//! of everyone is paced so that it never collects a global 429, which would count towards the ban
//! for invalid requests.

use fake_discord::FakeUser;
use strife_gen::discord::client::{ClientOptions, DiscordClient};

use crate::support::site::Site;

/// Requests per second, for both the fake's limit and the client's pacing: low, so the test
/// sends a few seconds' worth of requests quickly.
const LIMIT: u32 = 20;
const USERS: usize = 45;

#[tokio::test]
async fn a_refresh_of_everyone_stays_under_the_global_limit() {
    let site = Site::with_service(
        |config| config,
        |service| {
            let base = service.config().discord.api_base.url().clone();
            let mut options = ClientOptions::new(base);
            options.global_per_second = LIMIT;
            service.with_discord_client(DiscordClient::new(options).unwrap())
        },
        |app| app,
    )
    .await;
    for n in 0..USERS {
        let id = format!("{}", 400_000_000_000_000_000u64 + n as u64);
        site.fake.add_user(FakeUser::new(&id, &format!("user{n}")));
        site.fake.login_as(&id);
        let (status, body) = site.sign_in("/login").await;
        assert!(status.is_success(), "{status} {body}");
    }
    // Enforced from here on: the refresh below is the whole load.
    site.fake.set_global_limit(LIMIT);
    let before = site.fake.requests().len();

    let summary = site.build().await;

    let refresh = summary.refresh.unwrap();
    assert_eq!(refresh.refreshed, USERS, "{refresh:?}");
    let sent: Vec<_> = site.fake.requests().into_iter().skip(before).collect();
    let api = sent.iter().filter(|r| r.path.contains("/users/")).count();
    assert!(api >= USERS, "one GET /users/@me per user at least: {api}");
    let limited: Vec<_> = sent.iter().filter(|r| r.status == 429).collect();
    assert!(
        limited.is_empty(),
        "{} global 429s: {limited:?}",
        limited.len()
    );
}
