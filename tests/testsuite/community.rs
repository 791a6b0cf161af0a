//! `[community]`: the start-up check of `serve` with `join = "offer"` (the bot token, and the bot
//! in the server) through the real binary, and that the bot token reaches no output.

use std::path::Path;

use crate::support::fixtures::{
    discord_table, site_table, stderr, themes_dir, walk, SERVE_ON_ANY_PORT,
};
use crate::support::service::{strife, Service};
use fake_discord::{FakeDiscord, BOT_TOKEN};

const GUILD: &str = "400000000000000001";

fn write_config(root: &Path, fake: &FakeDiscord) {
    let text = format!(
        "{site}\n{discord}\n{SERVE_ON_ANY_PORT}\n[community]\nguild_id = \"{GUILD}\"\njoin = \"offer\"\nroles = [\"500\"]\n",
        site = site_table(
            "Community test",
            "https://profiles.example.org/",
            &[("themes_dir", &themes_dir())],
        ),
        discord = discord_table(fake, "https://profiles.example.org/callback", None),
    );
    std::fs::write(root.join("strife.toml"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_does_not_start_until_the_bot_can_add_members() {
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD, "Synth Club");
    fake.remove_bot(GUILD);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &fake);

    let missing = strife(dir.path(), &["serve"]).output().unwrap();
    let log = stderr(&missing);
    assert_eq!(missing.status.code(), Some(2), "{log}");
    assert!(log.contains("STRIFE_DISCORD_BOT_TOKEN"), "{log}");

    let refused = strife(dir.path(), &["serve"])
        .env("STRIFE_DISCORD_BOT_TOKEN", "an-old-bot-token")
        .output()
        .unwrap();
    let log = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{log}");
    assert!(log.contains("Discord refused the bot token"), "{log}");
    assert!(!log.contains("an-old-bot-token"), "{log}");

    let absent = strife(dir.path(), &["serve"])
        .env("STRIFE_DISCORD_BOT_TOKEN", BOT_TOKEN)
        .output()
        .unwrap();
    let log = stderr(&absent);
    assert_eq!(absent.status.code(), Some(2), "{log}");
    for part in [
        "the bot is not in server 400000000000000001",
        "Create Instant Invite and Manage Roles",
        "scope=bot",
    ] {
        assert!(log.contains(part), "{part}: {log}");
    }
    assert!(!log.contains(BOT_TOKEN), "{log}");
    assert!(
        !dir.path().join("strife.db").exists(),
        "nothing is written before the check"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_checks_the_server_with_the_bot_token_from_dot_env() {
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD, "Synth Club");
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &fake);
    std::fs::write(
        dir.path().join(".env"),
        format!("STRIFE_DISCORD_BOT_TOKEN={BOT_TOKEN}\n"),
    )
    .unwrap();

    let service = Service::start(dir.path());
    let landing = reqwest::get(service.url("/")).await.unwrap();
    assert_eq!(landing.status(), 200);
    let log = service.stop();
    assert!(log.contains("joining the server is offered"), "{log}");
    assert!(log.contains("Synth Club"), "{log}");
    assert_eq!(fake.count(&format!("/guilds/{GUILD}")), 1);
    // The bot token is in no log line and in no file strife-gen wrote.
    assert!(!log.contains(BOT_TOKEN), "{log}");
    for entry in walk(dir.path()) {
        if entry.ends_with(".env") {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap_or_default();
        let needle = BOT_TOKEN.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "bot token in {}",
            entry.display()
        );
    }
}
