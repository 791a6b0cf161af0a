//! The fixtures of the integration tests: the repository's files, the `strife.toml` tables test
//! sites are made of, the test users and secrets, and the real binary with a clean environment.
//! File-based fixtures stay under `tests/fixtures/`; nothing here starts a server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fake_discord::{FakeDiscord, FakeUser, CLIENT_SECRET};
use serde_json::json;

/// Ada's Discord id: the user most tests sign in as.
pub(crate) const ADA: &str = "81384788765712384";
/// The token key (`STRIFE_TOKEN_KEY`) of every test store.
pub(crate) const TOKEN_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// `[server]` for a service that listens on a free port of `127.0.0.1` (it logs which).
pub(crate) const SERVE_ON_ANY_PORT: &str = "[server]\nbind = \"127.0.0.1:0\"\n";

/// The repository's root (the shipped themes, examples and `strife.toml` are under it).
pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's themes.
pub(crate) fn themes_dir() -> PathBuf {
    repo().join("themes")
}

/// The repository's example (sample) users.
pub(crate) fn sample_users_dir() -> PathBuf {
    repo().join("examples/users")
}

/// Copies the folder `from` to `to`, recursively.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The `[site]` table: `title`, `base_url`, then each of `paths` as `key = "path"`.
pub(crate) fn site_table(title: &str, base_url: &str, paths: &[(&str, &Path)]) -> String {
    let mut table = format!("[site]\ntitle = \"{title}\"\nbase_url = \"{base_url}\"\n");
    for (key, path) in paths {
        table.push_str(&format!("{key} = \"{}\"\n", path.display()));
    }
    table
}

/// The `[discord]` table of an application at `fake`, sending people back to `redirect_uri`,
/// with images from `cdn_base` (Discord's own CDN when `None`).
pub(crate) fn discord_table(
    fake: &FakeDiscord,
    redirect_uri: &str,
    cdn_base: Option<&str>,
) -> String {
    let mut table = format!(
        "[discord]\nclient_id = \"{id}\"\nredirect_uri = \"{redirect_uri}\"\napi_base = \"{api}\"\nauthorize_url = \"{authorize}\"\n",
        id = fake_discord::CLIENT_ID,
        api = fake.api_base(),
        authorize = fake.authorize_url(),
    );
    if let Some(cdn) = cdn_base {
        table.push_str(&format!("cdn_base = \"{cdn}\"\n"));
    }
    table
}

/// Ada Lovelace at the fake Discord: a public GitHub connection, a private Reddit one, and one
/// server she owns.
pub(crate) fn ada() -> FakeUser {
    let mut user = FakeUser::new(ADA, "ada");
    user.user["global_name"] = json!("Ada Lovelace");
    user.connections = vec![
        json!({"id": "ada-gh", "name": "ada-gh", "type": "github", "verified": true, "visibility": 1}),
        json!({"id": "secret", "name": "ada-private", "type": "reddit", "verified": true, "visibility": 0}),
    ];
    user.guilds = vec![
        json!({"id": "300000000000000001", "name": "Analytical Engines", "icon": null, "owner": true, "permissions": "0", "features": []}),
    ];
    user
}

/// The real binary, `strife-gen <args>`, run [`in_site`] `root`.
pub(crate) fn binary(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strife-gen"));
    command.args(args);
    in_site(&mut command, root);
    command
}

/// `command` run in `root`, logging at `info`, with none of strife-gen's own variables inherited
/// from the environment the tests run in.
pub(crate) fn in_site<'a>(command: &'a mut Command, root: &Path) -> &'a mut Command {
    command
        .current_dir(root)
        .env_remove("STRIFE_DISCORD_CLIENT_SECRET")
        .env_remove("STRIFE_TOKEN_KEY")
        .env_remove("STRIFE_DISCORD_BOT_TOKEN")
        .env_remove("STRIFE_CONFIG")
        .env("STRIFE_LOG", "info")
}

/// `command` with the secrets the fake Discord and the test stores expect.
pub(crate) fn with_secrets(command: &mut Command) -> &mut Command {
    command
        .env("STRIFE_DISCORD_CLIENT_SECRET", CLIENT_SECRET)
        .env("STRIFE_TOKEN_KEY", TOKEN_KEY)
}

/// What a run of the binary wrote to its standard error (its log), as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file below `dir`, in no particular order.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
