//! `strife-gen watch`: rebuild from snapshots on every change, with a live preview. It only wires
//! the command line to [`crate::watch`].

use std::path::Path;

use crate::fault::Report;
use crate::watch::WatchOptions;

/// Watches the site `config_path` describes until a stop signal.
pub(crate) async fn run(config_path: &Path, port: u16, open_browser: bool) -> Result<(), Report> {
    let options = WatchOptions { port, open_browser };
    crate::watch::run(config_path, options, crate::server::shutdown_signal()).await?;
    Ok(())
}
