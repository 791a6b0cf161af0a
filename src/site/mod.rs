//! The static site: page models, theme loading, rendering, and the plan of which files a site
//! has. It must not write to disk itself: the plan hands every file to [`crate::staging`].
//!
//! The pieces, in the order data flows through them:
//!
//! - [`profile`] and [`model`]: what pages show (a profile page, index lines, the service's pages);
//!   [`card`]: the embeddable card of a profile;
//! - [`theme`]: a theme's template sources and static files ([`theme::assets`]), read from disk;
//! - [`render`]: the compiled templates turning models into HTML, and [`raster`] drawing the
//!   link previews (`og.svg`) as PNGs;
//! - [`conventions`] and [`vanity`]: what static hosts expect beside the pages, and vanity URLs;
//! - [`plan`]: which files a built site has and where they go ([`build_site`]).

pub(crate) mod card;
pub(crate) mod conventions;
pub(crate) mod glyphs;
pub(crate) mod model;
pub(crate) mod plan;
pub mod profile;
pub(crate) mod raster;
pub mod render;
pub(crate) mod text;
pub mod theme;
pub mod vanity;

pub use plan::{
    build_site, ImageSource, KeptProfile, ProfileEntry, ProfileInput, Published, SiteBuild,
    SiteError, SiteReport, SiteSettings, MARKER,
};

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod page_tests;
