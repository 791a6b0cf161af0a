//! Property tests for the parsers that read content files: whatever bytes an operator (or a
//! member who sent them their text) puts in `content/`, parsing never panics, the front-matter
//! split round-trips, and the rendered Markdown holds only the tags and URL schemes the sanitiser
//! allows.

use super::markdown::{first_paragraph_text, to_html};
use super::*;
use proptest::prelude::*;

/// Markdown made of pieces that try to smuggle markup or script through, mixed with plain text.
fn hostile_markdown() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<script>alert(1)</script>".to_owned()),
        Just("<img src=x onerror=alert(1)>".to_owned()),
        Just("[x](javascript:alert(1))".to_owned()),
        Just("[x](java\tscript:alert(1))".to_owned()),
        Just("[x](JAVASCRIPT:alert(1))".to_owned()),
        Just("![i](data:text/html,<b>x</b>)".to_owned()),
        Just("[ref]\n\n[ref]: vbscript:msgbox".to_owned()),
        Just("<a href=\"javascript:x\">a</a>".to_owned()),
        Just("<iframe src=//evil.example></iframe>".to_owned()),
        Just("[ok](https://example.org/\"onmouseover=\"x)".to_owned()),
        Just("# heading\n".to_owned()),
        Just("> quote\n".to_owned()),
        Just("* item\n".to_owned()),
        Just("`code` ".to_owned()),
        Just("| a | b |\n|---|---|\n| 1 | 2 |\n".to_owned()),
        Just("[^1]\n\n[^1]: <b>note</b>\n".to_owned()),
        Just("\n\n".to_owned()),
        "\\PC{0,30}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// The tags `to_html` may emit (pulldown-cmark's, with raw HTML disabled by escaping).
const ALLOWED_TAGS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "em",
    "strong",
    "del",
    "a",
    "img",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "sup",
    "div",
    "input",
    "section",
];

/// Every tag name opened or closed in `html`.
fn tag_names(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .map(|rest| {
            rest.trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect()
}

/// The values of every `href="..."` and `src="..."` attribute of a real tag in `html`, unescaped.
/// Text never holds a raw `<` (it is escaped to `&lt;`), so each `<` opens a tag.
fn urls(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        for attribute in ["href=\"", "src=\""] {
            for (at, _) in tag.match_indices(attribute) {
                let value = &tag[at + attribute.len()..];
                let end = value.find('"').unwrap_or(value.len());
                found.push(value[..end].replace("&amp;", "&"));
            }
        }
    }
    found
}

proptest! {
    #[test]
    fn rendered_markdown_has_only_allowed_tags_and_schemes(text in hostile_markdown(), offset in 0usize..6) {
        let html = to_html(&text, offset);
        for tag in tag_names(&html) {
            prop_assert!(ALLOWED_TAGS.contains(&tag.as_str()), "tag <{tag}> in {html:?}");
        }
        for url in urls(&html) {
            let scheme = url::Url::parse(&url).ok().map(|u| u.scheme().to_owned());
            prop_assert!(
                matches!(scheme.as_deref(), None | Some("http" | "https" | "mailto")),
                "URL {url:?} in {html:?}"
            );
        }
        // No attribute value is broken out of (which is how an `onerror=` would get in).
        for tag in html.split('<').skip(1) {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            prop_assert!(tag.matches('"').count() % 2 == 0, "<{tag}> in {html:?}");
        }
    }

    #[test]
    fn headings_never_outrank_the_page(text in hostile_markdown(), offset in 1usize..6) {
        // `# x` becomes `<h{1 + offset}>`: nothing at or above the page's own levels.
        let html = to_html(&text, offset);
        for level in 1..=offset {
            for tag in [format!("<h{level}>"), format!("<h{level} ")] {
                prop_assert!(!html.contains(&tag), "{tag} in {html:?}");
            }
        }
    }

    #[test]
    fn a_description_is_short_and_single_line(text in hostile_markdown(), max in 1usize..300) {
        if let Some(description) = first_paragraph_text(&text, max) {
            prop_assert!(description.chars().count() <= max + 1, "{description:?}");
            prop_assert!(!description.contains('\n'));
            prop_assert!(!description.trim().is_empty());
        }
    }

    #[test]
    fn front_matter_split_round_trips(
        lines in prop::collection::vec("[^\n]{0,40}", 0..6),
        body in "\\PC{0,80}",
    ) {
        let lines: Vec<String> = lines.into_iter().filter(|line| line.trim_end() != "+++").collect();
        let front: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let text = format!("+++\n{front}+++\n{body}");
        let split = split_front_matter(&text).expect("the fence is closed");
        prop_assert_eq!(split.front, Some(front.as_str()));
        prop_assert_eq!(split.body, body.as_str());
    }

    #[test]
    fn any_user_file_parses_or_warns_without_panicking(text in "\\PC{0,200}", fenced in any::<bool>()) {
        let text = if fenced { format!("+++\n{text}") } else { text };
        let mut warnings = Vec::new();
        let path = Path::new("content/users/1.md");
        if parse_user(path, &text, &mut warnings).is_none() {
            prop_assert!(!warnings.is_empty(), "a file left out says why");
        }
        for warning in &warnings {
            prop_assert_eq!(&warning.path, path);
            if let Some(line) = warning.line {
                prop_assert!(line >= 1 && line <= text.lines().count() + 2, "line {line} of {text:?}");
            }
        }
    }

    #[test]
    fn front_matter_values_come_back_as_written(
        bio in "\\PC{1,60}",
        pronouns in "[a-z/]{1,12}",
        host in "[a-z]{1,10}",
        hide in prop::sample::subsequence(Hide::ALL.to_vec(), 0..=Hide::ALL.len()),
    ) {
        let mut front = toml::Table::new();
        front.insert("bio".into(), bio.clone().into());
        front.insert("pronouns".into(), pronouns.clone().into());
        let mut link = toml::Table::new();
        link.insert("title".into(), "Site".into());
        link.insert("url".into(), format!("https://{host}.example/").into());
        front.insert("links".into(), toml::Value::Array(vec![link.into()]));
        front.insert("hide".into(), toml::Value::Array(hide.iter().map(|h| h.as_str().into()).collect()));
        let text = format!("+++\n{}+++\nBody\n", toml::to_string(&front).expect("serialisable"));
        let mut warnings = Vec::new();
        let user = parse_user(Path::new("u.md"), &text, &mut warnings).expect("a valid file");
        prop_assert!(warnings.is_empty(), "{warnings:?}");
        let trimmed = bio.trim();
        prop_assert_eq!(user.bio.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
        prop_assert_eq!(user.pronouns.as_deref(), Some(pronouns.as_str()));
        prop_assert_eq!(user.links.len(), 1);
        prop_assert_eq!(user.links[0].url.clone(), format!("https://{host}.example/"));
        prop_assert_eq!(user.hide, hide);
    }
}
