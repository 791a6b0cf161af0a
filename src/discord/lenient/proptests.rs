//! Property tests for the lenient decoder: whatever Discord (or a stored snapshot, or a sample
//! file) sends, decoding never panics, never invents entries, and a well-formed user comes back
//! exactly as sent with nothing dropped.

use super::*;
use crate::discord::models::{Connection, Guild, User};
use proptest::prelude::*;

/// Any JSON value, with a bias towards the odd values Discord has been seen to send.
fn odd_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(1u64 << 40)),
        Just(serde_json::json!(1.5)),
        "[0-9]{1,22}".prop_map(Value::String),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// An object with some of `keys`, each holding any value.
fn object_with(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(keys), odd_value(), 0..=keys.len())
        .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

const USER_KEYS: &[&str] = &[
    "id",
    "username",
    "discriminator",
    "global_name",
    "avatar",
    "banner",
    "accent_color",
    "public_flags",
    "flags",
    "avatar_decoration_data",
    "premium_type",
];
const CONNECTION_KEYS: &[&str] = &["id", "name", "type", "verified", "visibility", "revoked"];
const GUILD_KEYS: &[&str] = &["id", "name", "icon", "banner", "owner", "permissions"];

proptest! {
    #[test]
    fn any_user_decodes_or_is_refused_without_panicking(mut user in object_with(USER_KEYS), valid_identity in any::<bool>()) {
        if valid_identity {
            user["id"] = Value::from("81384788765712384");
            user["username"] = Value::from("ada");
        }
        match decode::<User>(user.to_string().as_bytes()) {
            Ok(decoded) => {
                prop_assert!(!decoded.value.username.trim().is_empty());
                prop_assert!(decoded.value.accent_color.is_none_or(|c| c <= 0xFF_FFFF));
                for dropped in &decoded.dropped {
                    prop_assert_eq!(dropped.part, "user");
                    prop_assert!(!dropped.path().is_empty());
                }
            }
            Err(error) => prop_assert!(!valid_identity, "a user with an id and a username is a profile: {error}"),
        }
    }

    #[test]
    fn lists_keep_their_good_entries_and_never_grow(
        connections in prop::collection::vec(object_with(CONNECTION_KEYS), 0..6),
        guilds in prop::collection::vec(object_with(GUILD_KEYS), 0..6),
    ) {
        let decoded = decode::<Vec<Connection>>(Value::Array(connections.clone()).to_string().as_bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(decoded.value.len() <= connections.len());
        for dropped in &decoded.dropped {
            prop_assert!(dropped.entry.is_some_and(|at| at < connections.len()), "{dropped:?}");
        }
        for connection in &decoded.value {
            prop_assert!(!connection.name.trim().is_empty() && !connection.kind.trim().is_empty());
        }
        let decoded = decode::<Vec<Guild>>(Value::Array(guilds.clone()).to_string().as_bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(decoded.value.len() <= guilds.len());
        for dropped in &decoded.dropped {
            prop_assert!(dropped.entry.is_some_and(|at| at < guilds.len()), "{dropped:?}");
        }
    }

    #[test]
    fn any_bytes_are_a_document_or_a_shape_error(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = decode::<User>(&bytes);
        let _ = decode::<Vec<Connection>>(&bytes);
        let _ = decode::<Vec<Guild>>(&bytes);
    }

    #[test]
    fn a_well_formed_user_comes_back_as_sent(
        id in 1u64..u64::MAX,
        username in "[a-z0-9_.]{2,32}",
        global_name in prop::option::of("\\PC{1,32}"),
        avatar in prop::option::of("(a_)?[0-9a-f]{32}"),
        accent_color in prop::option::of(0u32..=0xFF_FFFF),
        public_flags in any::<u64>(),
    ) {
        let json = serde_json::json!({
            "id": id.to_string(), "username": username, "discriminator": "0",
            "global_name": global_name, "avatar": avatar, "banner": null,
            "accent_color": accent_color, "public_flags": public_flags,
            "avatar_decoration_data": null, "unknown_new_field": {"x": 1},
        });
        let decoded = decode::<User>(json.to_string().as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded.dropped, vec![]);
        let user = decoded.value;
        prop_assert_eq!(user.id, Snowflake(id));
        prop_assert_eq!(user.username, username);
        prop_assert_eq!(user.global_name, global_name);
        prop_assert_eq!(user.avatar, avatar);
        prop_assert_eq!(user.accent_color, accent_color);
        prop_assert_eq!(user.public_flags, public_flags);
    }
}
