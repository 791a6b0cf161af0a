//! `strife-gen init`: a new site in an empty folder, from the files shipped inside the binary
//! (see [`crate::init`]).
//! It must not write anything itself: `crate::init` does, into an empty folder only.

use std::path::Path;

use crate::fault::Report;

/// Writes a new site into `dir` and says what to do next.
pub(crate) fn run(dir: &Path) -> Result<(), Report> {
    crate::init::init(dir)?;
    println!(
        "created a new site in {}\nnext: set discord.client_id and discord.redirect_uri in strife.toml, export {}, and run `strife-gen serve`",
        dir.display(),
        crate::config::CLIENT_SECRET_VAR
    );
    Ok(())
}
