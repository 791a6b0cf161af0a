//! Drawing an SVG as a PNG (the link previews, `og.png`) with resvg. It must not render templates
//! nor decide which pictures a site has.
//!
//! Only the theme's own fonts are loaded, never the system's, and an `<image>` may only be a
//! `data:` URI (never a file): so the same SVG gives the same PNG on every machine, and a theme
//! cannot draw a file of the machine that builds it into a published picture.

use std::sync::Arc;

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, fontdb, ImageHrefResolver};

use super::theme::ThemeFont;

/// The size of a link preview: what Open Graph and Twitter cards show best (1.91:1).
pub(crate) const PREVIEW_SIZE: (u32, u32) = (1200, 630);

/// Why a font or an SVG could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// A file of the theme's `fonts/` folder is not a font.
    #[error("{} is not a font file resvg can read", .0.display())]
    NotAFont(std::path::PathBuf),
    /// The SVG does not parse.
    #[error("not a valid SVG: {0}")]
    Svg(#[from] usvg::Error),
    /// The SVG parsed but drew nothing (no size).
    #[error("the SVG has no size to draw")]
    Empty,
    /// The picture could not be encoded.
    #[error("cannot encode the PNG: {0}")]
    Encode(String),
}

/// The theme's fonts, ready to draw with.
pub(crate) struct Raster {
    fonts: Arc<fontdb::Database>,
    /// The family of the first font: what text without a font the theme has is drawn in.
    family: Option<String>,
}

impl std::fmt::Debug for Raster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Raster")
            .field("faces", &self.fonts.len())
            .field("family", &self.family)
            .finish()
    }
}

impl Raster {
    /// Loads `fonts` (and nothing else). The first font's family also stands for the generic
    /// families (`sans-serif`, ...), so a theme's `font-family` list always ends on its own font.
    pub(crate) fn new(fonts: &[ThemeFont]) -> Result<Raster, RasterError> {
        let mut db = fontdb::Database::new();
        for font in fonts {
            let before = db.len();
            db.load_font_data(font.bytes.clone());
            if db.len() == before {
                return Err(RasterError::NotAFont(font.path.clone()));
            }
        }
        let family = db
            .faces()
            .next()
            .and_then(|face| face.families.first())
            .map(|(name, _)| name.clone());
        if let Some(family) = &family {
            db.set_sans_serif_family(family.clone());
            db.set_serif_family(family.clone());
            db.set_monospace_family(family.clone());
            db.set_cursive_family(family.clone());
            db.set_fantasy_family(family.clone());
        }
        Ok(Raster {
            fonts: Arc::new(db),
            family,
        })
    }

    /// Whether any font was loaded (without one, text is not drawn at all).
    pub(crate) fn has_fonts(&self) -> bool {
        !self.fonts.is_empty()
    }

    /// `svg` drawn as a `width`×`height` PNG, scaled to fill it.
    pub(crate) fn png(
        &self,
        svg: &str,
        (width, height): (u32, u32),
    ) -> Result<Vec<u8>, RasterError> {
        let tree = usvg::Tree::from_str(svg, &self.options())?;
        let size = tree.size();
        let mut pixmap = Pixmap::new(width, height).ok_or(RasterError::Empty)?;
        let scale =
            Transform::from_scale(width as f32 / size.width(), height as f32 / size.height());
        resvg::render(&tree, scale, &mut pixmap.as_mut());
        encode(pixmap).map_err(|e| RasterError::Encode(e.to_string()))
    }

    /// usvg's options with the theme's fonts, no resources folder and no file images.
    fn options(&self) -> usvg::Options<'static> {
        let mut options = usvg::Options {
            fontdb: self.fonts.clone(),
            resources_dir: None,
            image_href_resolver: ImageHrefResolver {
                resolve_data: ImageHrefResolver::default_data_resolver(),
                resolve_string: Box::new(|href, _| {
                    tracing::warn!(href, "link preview: only data: images are drawn");
                    None
                }),
            },
            ..usvg::Options::default()
        };
        if let Some(family) = &self.family {
            options.font_family = family.clone();
        }
        options
    }
}

/// `pixmap` as a PNG, encoded for speed: a link preview is drawn for every profile, and with
/// the encoder's default (zlib's balanced level) compressing took half of a cold build. The
/// `fdeflate` level the `png` crate calls fast is about ten times quicker and, on pictures of
/// flat colours and text, nearly as small. An opaque picture (every preview a theme draws on a
/// background) is written as RGB: a quarter fewer bytes to filter and compress, the same
/// picture.
fn encode(pixmap: Pixmap) -> Result<Vec<u8>, png::EncodingError> {
    let (width, height) = (pixmap.width(), pixmap.height());
    let (color, data) = match opaque_rgb(pixmap.data()) {
        Some(rgb) => (png::ColorType::Rgb, rgb),
        None => (png::ColorType::Rgba, pixmap.take_demultiplied()),
    };
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(FILTER);
    encoder.write_header()?.write_image_data(&data)?;
    Ok(out)
}

/// PNG's row filter for previews: one fixed filter, where the adaptive default tries all five
/// on every row (a sixth of the drawing's time). Paeth's files are 8% larger than adaptive's on
/// the default theme's previews (Sub's and Up's 40%, no filter's 40 times).
const FILTER: png::Filter = png::Filter::Paeth;

/// The RGB bytes of premultiplied RGBA `data` when every pixel is opaque (premultiplied and
/// straight colours are the same there); none at the first pixel that is not.
fn opaque_rgb(data: &[u8]) -> Option<Vec<u8>> {
    let mut rgb = Vec::with_capacity(data.len() / 4 * 3);
    for pixel in data.chunks_exact(4) {
        if pixel[3] != u8::MAX {
            return None;
        }
        rgb.extend_from_slice(&pixel[..3]);
    }
    Some(rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inter, the default theme's font.
    fn inter() -> Vec<ThemeFont> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("themes/default/fonts/Inter-Regular.otf");
        let bytes = std::fs::read(&path).unwrap();
        vec![ThemeFont { path, bytes }]
    }

    fn pixel(png: &[u8], x: u32, y: u32) -> [u8; 4] {
        let pixmap = Pixmap::decode_png(png).unwrap();
        let p = pixmap.pixel(x, y).unwrap();
        [p.red(), p.green(), p.blue(), p.alpha()]
    }

    #[test]
    fn draws_at_the_size_asked_with_the_themes_font_only() {
        let raster = Raster::new(&inter()).unwrap();
        assert_eq!(raster.family.as_deref(), Some("Inter"));
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="63">
            <rect width="60" height="63" fill="#ff0000"/>
            <text x="70" y="40" font-family="No Such Font, sans-serif" font-size="30">Hi</text>
            </svg>"##;
        let png = raster.png(svg, (1200, 630)).unwrap();
        let pixmap = Pixmap::decode_png(&png).unwrap();
        assert_eq!((pixmap.width(), pixmap.height()), (1200, 630));
        // Scaled to fill: the red half is the left half.
        assert_eq!(pixel(&png, 590, 300), [255, 0, 0, 255]);
        // The text fell back on the theme's font: something is drawn right of the rectangle.
        assert!(pixmap.pixels()[..]
            .iter()
            .enumerate()
            .any(|(at, p)| { at as u32 % 1200 > 700 && p.alpha() > 0 }));
        // The same SVG, the same bytes.
        assert_eq!(raster.png(svg, (1200, 630)).unwrap(), png);
    }

    #[test]
    fn no_fonts_draw_no_text_and_files_are_not_images() {
        let raster = Raster::new(&[]).unwrap();
        assert!(!raster.has_fonts());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret.png");
        std::fs::write(&file, Raster::new(&inter()).unwrap().png(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><rect width="2" height="2" fill="#00f"/></svg>"##,
            (2, 2),
        ).unwrap()).unwrap();
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="{}" width="10" height="10"/><text y="9">x</text></svg>"#,
            file.display()
        );
        let png = raster.png(&svg, (10, 10)).unwrap();
        assert_eq!(pixel(&png, 5, 5), [0, 0, 0, 0]);
    }

    /// The colour type byte of a PNG's header (2: RGB, 6: RGBA).
    fn colour_type(png: &[u8]) -> u8 {
        png[25]
    }

    #[test]
    fn opaque_pictures_are_rgb_and_translucent_ones_keep_their_alpha() {
        let raster = Raster::new(&[]).unwrap();
        let opaque = raster
            .png(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="#336699"/></svg>"##,
                (4, 4),
            )
            .unwrap();
        assert_eq!(colour_type(&opaque), 2);
        assert_eq!(pixel(&opaque, 1, 1), [0x33, 0x66, 0x99, 255]);
        let translucent = raster
            .png(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="#ff0000" fill-opacity="0.5"/></svg>"##,
                (4, 4),
            )
            .unwrap();
        assert_eq!(colour_type(&translucent), 6);
        // Written straight (not premultiplied): full red at half alpha, read back the same way.
        let straight = image_straight(&translucent, 1, 1);
        assert_eq!(straight[0], 255, "{straight:?}");
        assert!((127..=128).contains(&straight[3]), "{straight:?}");
    }

    /// The straight (not premultiplied) RGBA of a pixel, as the file holds it.
    fn image_straight(png: &[u8], x: u32, y: u32) -> [u8; 4] {
        let p = Pixmap::decode_png(png)
            .unwrap()
            .pixel(x, y)
            .unwrap()
            .demultiply();
        [p.red(), p.green(), p.blue(), p.alpha()]
    }

    #[test]
    fn bad_input_is_named() {
        let raster = Raster::new(&[]).unwrap();
        let error = raster.png("<svg", (10, 10)).unwrap_err();
        assert!(error.to_string().starts_with("not a valid SVG"), "{error}");
        let not_a_font = ThemeFont {
            path: "fonts/readme.ttf".into(),
            bytes: b"not a font".to_vec(),
        };
        let error = Raster::new(&[not_a_font]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "fonts/readme.ttf is not a font file resvg can read"
        );
    }
}
