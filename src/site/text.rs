//! Owns making user text safe where HTML escaping does not reach (bidi controls).
//! It must not change text beyond what safety needs.
//!
//! Making user-chosen text safe for the places HTML escaping does not cover: bidirectional
//! controls where `<bdi>` cannot isolate them, and CSS class names.

/// Whether `c` is a bidirectional formatting character: the embeddings and overrides
/// (U+202A–U+202E), the isolates (U+2066–U+2069) and the marks (U+200E, U+200F, U+061C).
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// `text` without bidirectional controls, for `<title>`, `<meta>` and attribute values, where
/// `<bdi>` cannot isolate them and an override would reorder the text around the value (a tab
/// title or link preview reading `exe.txt` for `txt.exe`).
///
/// They are removed rather than replaced with U+FFFD: they have no glyph of their own, so what is
/// left is the text in its true logical order, which is exactly what an override tries to hide;
/// and people with right-to-left names use the marks legitimately, where a `�` in every title and
/// link preview would look broken. Body text keeps them, isolated in `<bdi>`.
pub(crate) fn strip_bidi(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(is_bidi_control) {
        text.chars()
            .filter(|&c| !is_bidi_control(c))
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// The first letters (upper-cased) of the first `count` words of `name` that start with a
/// letter or digit: what stands in for a missing avatar or server icon. `?` when there is none.
pub(crate) fn initials(name: &str, count: usize) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(count)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "?".to_owned()
    } else {
        letters
    }
}

/// What a CSS class name made from data falls back to when nothing usable is left.
pub(crate) const CLASS_FALLBACK: &str = "other";

/// `text` reduced to `[a-z0-9-]` (ASCII letters lower-cased, everything else dropped), or
/// [`CLASS_FALLBACK`] when nothing is left: safe inside `class="…"` and in a CSS selector,
/// whatever a theme does with it.
pub(crate) fn css_class(text: &str) -> String {
    let class: String = text
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    if class.is_empty() {
        CLASS_FALLBACK.to_owned()
    } else {
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bidi_control_is_removed_and_nothing_else() {
        let controls: Vec<char> = ('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200E}', '\u{200F}', '\u{061C}'])
            .collect();
        assert_eq!(controls.len(), 12);
        for c in &controls {
            assert_eq!(strip_bidi(&format!("a{c}b")), "ab", "U+{:04X}", *c as u32);
        }
        // Neighbours of the ranges, right-to-left letters and joiners stay.
        let kept = "\u{2029}\u{202F}\u{2065}\u{206A}\u{200D}\u{200C}\u{061B}שלום مرحبا 😀";
        assert_eq!(strip_bidi(kept), kept);
        assert!(matches!(strip_bidi("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(strip_bidi("evil\u{202E}gpj.exe\u{202C}"), "evilgpj.exe");
    }

    #[test]
    fn initials_of_names() {
        assert_eq!(initials("Rust Programming Language", 2), "RP");
        assert_eq!(initials("  nelly ", 1), "N");
        assert_eq!(initials("🎮 gamers", 2), "G");
        assert_eq!(initials("ßig", 1), "SS");
        assert_eq!(initials("!!! ???", 2), "?");
        assert_eq!(initials("", 1), "?");
    }

    #[test]
    fn class_names_are_reduced_to_lower_case_letters_digits_and_hyphens() {
        assert_eq!(css_class("github"), "github");
        assert_eq!(css_class("amazon-music"), "amazon-music");
        assert_eq!(css_class("GitHub Ünïcode"), "githubncode");
        assert_eq!(css_class("github\" onmouseover=\"x"), "githubonmouseoverx");
        assert_eq!(css_class("x<y>z;{}/*_9"), "xyz9");
        for empty in ["", "  ", "Ü", "\u{202E}", "\"'<>"] {
            assert_eq!(css_class(empty), CLASS_FALLBACK, "{empty:?}");
        }
    }
}
