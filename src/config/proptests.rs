//! Property tests for `strife.toml`: any text is either a config or an error naming what is
//! wrong (never a panic), and a valid config reads back the values that were written.

use super::*;
use proptest::prelude::*;

/// The shipped `strife.toml`, the text most people start from and then edit.
const SHIPPED: &str = include_str!("../../strife.toml");

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("/srv/site/strife.toml"))
}

proptest! {
    #[test]
    fn any_text_is_a_config_or_an_error(text in "\\PC{0,300}") {
        let _ = parse(&text);
    }

    #[test]
    fn an_edited_shipped_config_is_a_config_or_an_error_with_a_place(
        cut_at in 0usize..SHIPPED.len(),
        cut_len in 0usize..40,
        insert in prop_oneof![
            Just(String::new()),
            Just("=".to_owned()),
            Just("[site]\n".to_owned()),
            Just("\"".to_owned()),
            Just("interval = \"-5s\"\n".to_owned()),
            Just("concurrency = 0\n".to_owned()),
            Just("base_url = \"javascript:alert(1)\"\n".to_owned()),
            "\\PC{0,12}",
        ],
    ) {
        let start = floor_char_boundary(SHIPPED, cut_at);
        let end = floor_char_boundary(SHIPPED, (start + cut_len).min(SHIPPED.len()));
        let text = format!("{}{insert}{}", &SHIPPED[..start], &SHIPPED[end..]);
        if let Err(error) = parse(&text) {
            let message = error.to_string();
            prop_assert!(message.contains("/srv/site/strife.toml"), "names the file: {message}");
            if let ConfigError::Parse { message, .. } = &error {
                prop_assert!(message.contains("line"), "names the line: {message}");
            }
        }
    }

    #[test]
    fn written_values_read_back(
        title in "[A-Za-z]\\PC{0,39}",
        // At most one hyphen, so never "xn--" (a punycode label that must decode, which a
        // random one does not: the URL is then rightly refused).
        host in "[a-z][a-z0-9]{0,20}(-[a-z0-9]{1,8})?",
        path in "(/[a-z0-9]{1,8}){0,3}/",
        hours in 1u64..1000,
        concurrency in 1usize..64,
        theme in "[a-z][a-z0-9_-]{0,15}",
    ) {
        let mut site = toml::Table::new();
        site.insert("title".into(), title.clone().into());
        site.insert("base_url".into(), format!("https://{host}.example{path}").into());
        site.insert("theme".into(), theme.clone().into());
        let mut refresh = toml::Table::new();
        refresh.insert("interval".into(), format!("{hours}h").into());
        refresh.insert("concurrency".into(), i64::try_from(concurrency).expect("small").into());
        let mut root = toml::Table::new();
        root.insert("site".into(), site.into());
        root.insert("refresh".into(), refresh.into());
        let text = toml::to_string(&root).expect("serialisable");

        let config = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&config.site.title, &title);
        let expected_host = format!("{host}.example");
        prop_assert_eq!(config.site.base_url.url().host_str(), Some(expected_host.as_str()));
        prop_assert_eq!(config.site.base_url.url().path(), path.as_str());
        prop_assert_eq!(&config.site.theme, &theme);
        prop_assert_eq!(config.refresh.interval, Duration::from_secs(hours * 3600));
        prop_assert_eq!(config.refresh.concurrency.get(), concurrency);
    }
}

/// The largest char boundary of `text` at or below `at` (`str::floor_char_boundary` is unstable).
fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
