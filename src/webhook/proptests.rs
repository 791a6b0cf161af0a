//! Property tests for what the webhook routes read from the network: signatures, timestamps and
//! bodies. Whatever arrives, checking it never panics; a signature made for one exact timestamp
//! and body verifies, and changing any byte of either makes it fail.

use super::*;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;

const WINDOW: Duration = Duration::from_secs(300);
const NOW: i64 = 1_700_000_000;

/// JSON values of any shape, a few levels deep: what a hostile or buggy sender might post.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("APPLICATION_AUTHORIZED"),
            Just("APPLICATION_DEAUTHORIZED"),
            Just("2024-10-18T14:42:53.064834")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
        Just(Value::String("81384788765712384".to_owned())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("version"),
            Just("application_id"),
            Just("type"),
            Just("event"),
            Just("timestamp"),
            Just("data"),
            Just("user"),
            Just("id"),
            Just("integration_type"),
            Just("other"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_body_parses_or_fails_without_panicking(value in any_json(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(hook) = serde_json::from_slice::<DiscordWebhook>(value.to_string().as_bytes()) {
            if let Some(event) = hook.event {
                let _ = event.action();
            }
        }
        let _ = serde_json::from_slice::<DiscordWebhook>(&raw);
    }

    #[test]
    fn an_event_names_the_user_it_was_sent_for(id in any::<u64>(), install in 0u8..3, deauthorized in any::<bool>()) {
        let kind = if deauthorized { "APPLICATION_DEAUTHORIZED" } else { "APPLICATION_AUTHORIZED" };
        let body = serde_json::json!({
            "version": 1, "application_id": "1", "type": 1,
            "event": {"type": kind, "timestamp": "2024-10-18T14:42:53.064834",
                      "data": {"integration_type": install, "user": {"id": id.to_string()}}},
        });
        let hook: DiscordWebhook = serde_json::from_value(body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let action = hook.event.expect("an event").action().map_err(TestCaseError::fail)?;
        let user = Snowflake(id);
        match action {
            EventAction::Deauthorized { user: got, at } => {
                prop_assert!(deauthorized);
                prop_assert_eq!(got, user);
                prop_assert_eq!(at, Some(1_729_262_573));
            }
            EventAction::Authorized { user: got } => {
                prop_assert!(!deauthorized && install == 1);
                prop_assert_eq!(got, user);
            }
            EventAction::Ignored(_) => prop_assert!(!deauthorized && install != 1),
        }
    }

    #[test]
    fn event_times_round_trip(secs in 0i64..4_102_444_800, offset_form in any::<bool>()) {
        use time::format_description::well_known::Rfc3339;
        let at = time::OffsetDateTime::from_unix_timestamp(secs).expect("in range");
        let text = at.format(&Rfc3339).expect("formattable");
        let text = if offset_form { text } else { text.trim_end_matches('Z').to_owned() };
        prop_assert_eq!(parse_event_time(&text), Some(secs));
    }

    #[test]
    fn any_event_time_text_is_a_time_or_nothing(text in "\\PC{0,40}") {
        let _ = parse_event_time(&text);
    }

    #[test]
    fn a_refresh_hook_signature_covers_every_byte(
        secret in "\\PC{1,40}",
        body in prop::collection::vec(any::<u8>(), 0..200),
        skew in -300i64..=300,
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let verifier = HmacVerifier::new(&secret, WINDOW).expect("a non-empty secret");
        let timestamp = (NOW + skew).to_string();
        let signature = verifier.sign(&timestamp, &body);
        let signed = verifier.verify(Some(&signature), Some(&timestamp), &body, NOW);
        prop_assert_eq!(signed.map(|s| s.signed_at), Ok(NOW + skew));

        // One flipped bit anywhere in `timestamp "." body` breaks it.
        let mut message = format!("{timestamp}.").into_bytes();
        message.extend_from_slice(&body);
        let at = flip.index(message.len());
        message[at] ^= 1 << bit;
        let dot = timestamp.len();
        if at == dot || !message[..dot].is_ascii() || message[dot] != b'.' {
            return Ok(()); // the split point moved: no longer a well-formed pair
        }
        let (stamp, rest) = message.split_at(dot);
        let stamp = std::str::from_utf8(stamp).expect("ascii");
        prop_assert!(verifier.verify(Some(&signature), Some(stamp), &rest[1..], NOW).is_err());
    }

    #[test]
    fn any_refresh_hook_headers_are_checked_without_panicking(
        signature in prop::option::of("\\PC{0,80}"),
        timestamp in prop::option::of("\\PC{0,20}"),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let verifier = HmacVerifier::new("secret", WINDOW).expect("a secret");
        prop_assert!(verifier.verify(signature.as_deref(), timestamp.as_deref(), &body, NOW).is_err());
    }
}

proptest! {
    // Ed25519 is slow in debug builds: fewer cases keep `cargo test` quick.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_discord_signature_covers_every_byte(
        seed in any::<[u8; 32]>(),
        body in prop::collection::vec(any::<u8>(), 0..200),
        skew in -300i64..=300,
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        upper in any::<bool>(),
    ) {
        let key = SigningKey::from_bytes(&seed);
        let verifier = DiscordVerifier::new(key.verifying_key(), WINDOW);
        let timestamp = (NOW + skew).to_string();
        let mut message = timestamp.clone().into_bytes();
        message.extend_from_slice(&body);
        let hex_signature = hex::encode(key.sign(&message).to_bytes());
        let hex_signature = if upper { hex_signature.to_uppercase() } else { hex_signature };
        let signed = verifier.verify(Some(&hex_signature), Some(&timestamp), &body, NOW);
        prop_assert_eq!(signed.map(|s| s.signed_at), Ok(NOW + skew));

        let at = flip.index(body.len().max(1));
        if let Some(byte) = body.get(at) {
            let mut tampered = body.clone();
            tampered[at] = byte ^ (1 << bit);
            prop_assert_eq!(
                verifier.verify(Some(&hex_signature), Some(&timestamp), &tampered, NOW),
                Err(SignatureError::Mismatch)
            );
        }
        let other = (NOW + skew + 1).to_string();
        prop_assert!(verifier.verify(Some(&hex_signature), Some(&other), &body, NOW).is_err());
    }

    #[test]
    fn any_discord_headers_are_checked_without_panicking(
        signature in prop::option::of("[0-9a-fA-F]{0,130}|\\PC{0,40}"),
        timestamp in prop::option::of("\\PC{0,20}"),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let verifier = DiscordVerifier::new(key.verifying_key(), WINDOW);
        prop_assert!(verifier.verify(signature.as_deref(), timestamp.as_deref(), &body, NOW).is_err());
    }
}
