//! What the theme's fonts can draw, and how wide: the `drawable` and `fit` filters of `og.svg`.
//! It must not draw (that is [`super::raster`]) nor know which template uses it.
//!
//! A link preview is a picture: SVG text there neither wraps nor falls back on the viewer's
//! fonts. A display name in a script the theme's fonts lack would be drawn as empty boxes, and a
//! long site title would run off the picture's edge. These filters let `og.svg` drop what cannot
//! be drawn (falling back on the always-ASCII handle) and cut text to the width it has.

use std::sync::Arc;

use skrifa::instance::{LocationRef, Size};
use skrifa::raw::FileRef;
use skrifa::{FontRef, MetadataProvider};

use super::theme::ThemeFont;

/// What a cut text ends with.
const ELLIPSIS: char = '…';
/// Weights from this up count as bold (CSS `font-weight: bold` is 700; 600 is "semi-bold").
const BOLD_FROM: f32 = 600.0;

/// The faces of the theme's fonts, in the order the theme's files are read.
#[derive(Default)]
pub(crate) struct Glyphs {
    faces: Vec<Face>,
}

/// One face: the file's bytes, its index in the file, and whether it is bold.
struct Face {
    bytes: Arc<[u8]>,
    index: u32,
    bold: bool,
}

impl std::fmt::Debug for Glyphs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Glyphs")
            .field("faces", &self.faces.len())
            .finish()
    }
}

impl Glyphs {
    /// The faces of `fonts`. A file that is no font adds none (the raster reports it).
    pub(crate) fn new(fonts: &[ThemeFont]) -> Glyphs {
        let mut faces = Vec::new();
        for font in fonts {
            let bytes: Arc<[u8]> = Arc::from(font.bytes.as_slice());
            let Ok(file) = FileRef::new(&bytes) else {
                continue;
            };
            for (index, face) in file.fonts().enumerate() {
                let Ok(face) = face else { continue };
                faces.push(Face {
                    bytes: bytes.clone(),
                    index: index as u32,
                    bold: face.attributes().weight.value() >= BOLD_FROM,
                });
            }
        }
        Glyphs { faces }
    }

    /// `text` without the characters no face can draw, its runs of white space made one space
    /// and trimmed; `fallback` when nothing is left (a name only of emoji, say).
    pub(crate) fn drawable(&self, text: &str, fallback: &str) -> String {
        let kept: String = text
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .filter(|&c| c == ' ' || self.advance(c, 1.0, false).is_some())
            .collect();
        let kept = kept
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>();
        if kept.is_empty() {
            fallback.to_owned()
        } else {
            kept.join(" ")
        }
    }

    /// The width of `text` at `size` pixels: the sum of its characters' advances in the first
    /// face (of the weight asked, else any) that has each. Kerning is left out, which errs on
    /// the wide side, so a text that fits by this measure fits when drawn.
    pub(crate) fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        text.chars()
            .map(|c| self.advance(c, size, bold).unwrap_or(0.0))
            .sum()
    }

    /// `text` as it is when it is at most `width` pixels wide at `size`, else cut at a
    /// character with `…` so that it is.
    pub(crate) fn fit(&self, text: &str, width: f32, size: f32, bold: bool) -> String {
        if self.width(text, size, bold) <= width {
            return text.to_owned();
        }
        let room = width - self.width(&ELLIPSIS.to_string(), size, bold);
        let mut used = 0.0;
        let mut cut = String::new();
        for c in text.chars() {
            used += self.advance(c, size, bold).unwrap_or(0.0);
            if used > room {
                break;
            }
            cut.push(c);
        }
        let mut cut = cut.trim_end().to_owned();
        cut.push(ELLIPSIS);
        cut
    }

    /// How far `c` moves the pen at `size`, in the first face that has it, preferring faces of
    /// the weight asked; none when no face has it.
    fn advance(&self, c: char, size: f32, bold: bool) -> Option<f32> {
        let preferred = self.faces.iter().filter(|f| f.bold == bold);
        let others = self.faces.iter().filter(|f| f.bold != bold);
        preferred.chain(others).find_map(|face| {
            let font = FontRef::from_index(&face.bytes, face.index).ok()?;
            let glyph = font.charmap().map(c)?;
            font.glyph_metrics(Size::new(size), LocationRef::default())
                .advance_width(glyph)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default theme's fonts: Inter regular and bold.
    fn inter() -> Glyphs {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/fonts");
        let fonts = ["Inter-Regular.otf", "Inter-Bold.otf"].map(|name| ThemeFont {
            path: dir.join(name),
            bytes: std::fs::read(dir.join(name)).unwrap(),
        });
        Glyphs::new(&fonts)
    }

    #[test]
    fn drops_what_no_font_draws_and_falls_back_when_nothing_is_left() {
        let glyphs = inter();
        assert_eq!(glyphs.faces.len(), 2);
        assert_eq!(glyphs.faces.iter().filter(|f| f.bold).count(), 1);
        // Inter has Latin, Greek and Cyrillic, but neither emoji nor CJK.
        assert_eq!(glyphs.drawable("Nelly ✨🦊 Ωмега", "nelly"), "Nelly Ωмега");
        assert_eq!(glyphs.drawable("  Ann\t\n  Lee  ", "ann"), "Ann Lee");
        assert_eq!(glyphs.drawable("山田 太郎", "yamada"), "yamada");
        assert_eq!(glyphs.drawable("🦊", ""), "");
        // No font at all: nothing can be drawn.
        assert_eq!(Glyphs::default().drawable("Nelly", "nelly"), "nelly");
    }

    #[test]
    fn cuts_text_to_the_width_it_has() {
        let glyphs = inter();
        let short = "Mason's profiles";
        assert_eq!(glyphs.fit(short, 1040.0, 84.0, true), short);
        let long = "The very long name of a community that runs a profile site for its members";
        let cut = glyphs.fit(long, 1040.0, 84.0, true);
        assert!(cut.ends_with('…') && cut.len() < long.len(), "{cut}");
        assert!(glyphs.width(&cut, 84.0, true) <= 1040.0, "{cut}");
        // Not cut shorter than it had to be: less than two wide letters of room are left.
        let slack = 1040.0 - glyphs.width(&cut, 84.0, true);
        assert!(
            slack < 2.0 * glyphs.width("M", 84.0, true),
            "{cut}: {slack}"
        );
        // Bold is wider than regular, and size scales the width.
        assert!(glyphs.width(short, 84.0, true) > glyphs.width(short, 84.0, false));
        let (at_10, at_20) = (
            glyphs.width(short, 10.0, false),
            glyphs.width(short, 20.0, false),
        );
        assert!((at_20 - 2.0 * at_10).abs() < 0.01, "{at_10} {at_20}");
    }
}
