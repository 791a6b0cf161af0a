//! Owns Markdown → sanitised HTML for content files.
//! It must not emit scripts, event handlers or unsafe link schemes.
//!
//! Markdown → HTML that is safe to insert into a page as is.
//!
//! The site operator's content files are Markdown, but their text often comes from the people on
//! the site, so the renderer trusts nothing in it: raw HTML (blocks and inline tags) is shown as
//! text, never passed through; links keep only `http`, `https` and `mailto` URLs (and relative
//! ones), images only `http` and `https` (and relative): anything else (`javascript:`, `data:`,
//! `vbscript:`, ...) loses its link and keeps its text. URLs are judged the way a browser parses
//! them (WHATWG rules via the `url` crate), so `java\tscript:` or `JAVASCRIPT:` fool nothing.

use pulldown_cmark::{html, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Renders `text`, pushing every heading down by `heading_offset` levels (at most `h6`) so a
/// `# Title` in a profile does not compete with the page's own `<h1>`.
pub(crate) fn to_html(text: &str, heading_offset: usize) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    let mut open_links = Vec::new();
    let mut open_images = Vec::new();
    let events = Parser::new_ext(text, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        // Raw HTML blocks become ordinary paragraphs of (escaped) text.
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let keep = is_safe_link(&dest_url);
            open_links.push(keep);
            keep.then_some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        Event::End(TagEnd::Link) => open_links
            .pop()
            .unwrap_or(false)
            .then_some(Event::End(TagEnd::Link)),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let keep = is_safe_image(&dest_url);
            open_images.push(keep);
            keep.then_some(Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        Event::End(TagEnd::Image) => open_images
            .pop()
            .unwrap_or(false)
            .then_some(Event::End(TagEnd::Image)),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Some(Event::Start(Tag::Heading {
            level: shift(level, heading_offset),
            id,
            classes,
            attrs,
        })),
        Event::End(TagEnd::Heading(level)) => {
            Some(Event::End(TagEnd::Heading(shift(level, heading_offset))))
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The text of the first paragraph, whitespace collapsed, at most `max_chars` characters (cut at
/// a word, with an ellipsis): a page description.
pub(crate) fn first_paragraph_text(text: &str, max_chars: usize) -> Option<String> {
    let mut words = String::new();
    let mut in_paragraph = false;
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Paragraph) => in_paragraph = true,
            Event::End(TagEnd::Paragraph) if !words.trim().is_empty() => break,
            Event::End(TagEnd::Paragraph) => in_paragraph = false,
            Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) if in_paragraph => {
                words.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak if in_paragraph => words.push(' '),
            _ => {}
        }
    }
    let words: Vec<&str> = words.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut out = String::new();
    for word in words {
        let needed = out.chars().count() + word.chars().count() + usize::from(!out.is_empty());
        if needed > max_chars {
            out.push('…');
            return Some(out);
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Some(out)
}

fn shift(level: HeadingLevel, by: usize) -> HeadingLevel {
    let shifted = (level as usize + by).min(6);
    HeadingLevel::try_from(shifted).unwrap_or(HeadingLevel::H6)
}

/// `http`, `https`, `mailto`, or a relative URL (no scheme at all).
pub(crate) fn is_safe_link(url: &CowStr) -> bool {
    scheme_allowed(url, &["http", "https", "mailto"])
}

/// `http`, `https`, or a relative URL.
fn is_safe_image(url: &CowStr) -> bool {
    scheme_allowed(url, &["http", "https"])
}

fn scheme_allowed(url: &str, schemes: &[&str]) -> bool {
    match url::Url::parse(url) {
        Ok(parsed) => schemes.contains(&parsed.scheme()),
        // No scheme: a path, `#anchor` or `//host/...` (which takes the page's own scheme).
        Err(url::ParseError::RelativeUrlWithoutBase) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_markdown() {
        assert_eq!(
            to_html("Hello *world*, [site](https://a.example/x?y=1&z=2).", 0),
            "<p>Hello <em>world</em>, <a href=\"https://a.example/x?y=1&amp;z=2\">site</a>.</p>\n"
        );
        assert_eq!(
            to_html("# Title\n\n#### Deep", 2),
            "<h3>Title</h3>\n<h6>Deep</h6>\n"
        );
    }

    #[test]
    fn raw_html_is_text() {
        let html = to_html(
            "<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)> <b>bold</b>",
            0,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
    }

    #[test]
    fn unsafe_links_lose_the_link_and_keep_the_text() {
        for url in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            " javascript:alert(1)",
        ] {
            let html = to_html(&format!("[click me]({url}) and <{url}>"), 0);
            assert!(!html.contains("href"), "{url}: {html}");
            assert!(html.contains("click me"), "{url}: {html}");
        }
        // A tab inside the scheme is removed by browsers, and by the URL parser.
        let html = to_html("[x](<java\tscript:alert(1)>)", 0);
        assert!(!html.contains("href"), "{html}");

        let html = to_html(
            "[m](mailto:a@b.example) [r](/u/1/) [h](#top) [s](http://x.example)",
            0,
        );
        assert_eq!(html.matches("href=").count(), 4, "{html}");
    }

    #[test]
    fn unsafe_images_become_their_alt_text() {
        let html = to_html(
            "![cat](javascript:alert(1)) ![dog](https://img.example/d.png)",
            0,
        );
        assert!(html.contains("cat"), "{html}");
        assert_eq!(html.matches("<img").count(), 1, "{html}");
        assert!(
            html.contains("src=\"https://img.example/d.png\" alt=\"dog\""),
            "{html}"
        );
        let html = to_html("[![x](data:image/png;base64,AAAA)](javascript:alert(1))", 0);
        assert!(!html.contains("<img") && !html.contains("href"), "{html}");
    }

    #[test]
    fn description_is_the_first_paragraph() {
        let text = "# Heading\n\nFirst *para*\ngoes on.\n\nSecond.";
        assert_eq!(
            first_paragraph_text(text, 100).as_deref(),
            Some("First para goes on.")
        );
        assert_eq!(
            first_paragraph_text("one two three four", 10).as_deref(),
            Some("one two…")
        );
        assert_eq!(first_paragraph_text("# only a heading", 10), None);
    }
}
