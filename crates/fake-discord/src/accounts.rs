//! The accounts a test puts into the fake Discord: user objects, connections and guilds in the
//! shapes Discord sends. Test data only: no HTTP and no server state here.

use serde_json::{json, Value};

/// A Discord account known to the fake: the `/users/@me` object plus what the other routes return.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// A Discord user object; must contain `"id"`.
    pub user: Value,
    /// What `/users/@me/connections` returns.
    pub connections: Vec<Value>,
    /// What `/users/@me/guilds` pages through (sorted by id when served).
    pub guilds: Vec<Value>,
}

impl FakeUser {
    /// A migrated account (discriminator `"0"`), display name = the username with a capital
    /// first letter, no avatar, no connections, no guilds.
    pub fn new(id: &str, username: &str) -> Self {
        let mut chars = username.chars();
        let global_name: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        FakeUser {
            user: json!({
                "id": id,
                "username": username,
                "discriminator": "0",
                "global_name": global_name,
                "avatar": null,
                "banner": null,
                "accent_color": null,
                "public_flags": 0,
                "flags": 0,
                "avatar_decoration_data": null,
                "primary_guild": null,
                "collectibles": null,
                "mfa_enabled": false,
                "locale": "en-US",
                "premium_type": 0,
            }),
            connections: Vec::new(),
            guilds: Vec::new(),
        }
    }

    /// Adds a guild (see [`guild`]).
    pub fn with_guild(mut self, guild: Value) -> Self {
        self.guilds.push(guild);
        self
    }

    /// Adds a connection (see [`connection`]).
    pub fn with_connection(mut self, connection: Value) -> Self {
        self.connections.push(connection);
        self
    }

    /// The user object's `id`, as the string Discord sends.
    pub(crate) fn id(&self) -> String {
        match &self.user["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// A partial guild as `/users/@me/guilds` returns it (not owner, no permissions, no icon).
pub fn guild(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "icon": null,
        "banner": null,
        "owner": false,
        "permissions": "0",
        "features": [],
    })
}

/// A verified, public (visibility 1), not revoked connection of type `kind` (`github`, ...).
pub fn connection(kind: &str, name: &str) -> Value {
    json!({
        "id": format!("{kind}-{name}"),
        "name": name,
        "type": kind,
        "verified": true,
        "visibility": 1,
        "friend_sync": false,
        "show_activity": true,
        "two_way_link": false,
        "metadata_visibility": 1,
    })
}
