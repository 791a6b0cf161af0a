//! `strife-gen build`: refresh everyone (unless `--offline`), render, deploy. It only wires the
//! command line to [`Service::build`]; the steps are in [`crate::build`].

use std::path::Path;
use std::sync::Arc;

use crate::build::BuildOptions;
use crate::config::{Config, Secrets, CLIENT_SECRET_VAR};
use crate::fault::{Doing, Report};
use crate::progress::Progress;
use crate::refresh::Targets;
use crate::service::Service;

/// Builds the site `config_path` describes.
pub(crate) async fn run(config_path: &Path, offline: bool, no_deploy: bool) -> Result<(), Report> {
    let config = Arc::new(Config::load_for_command(config_path)?);
    // Everything that can be checked is checked before anything is created on disk.
    config.check_theme()?;
    let secrets = match offline {
        true => None,
        false => Some(Secrets::from_env(&config)?),
    };
    let service = Service::open_from_async(config.clone(), secrets).await?;
    let options = BuildOptions {
        refresh: (!offline).then(Targets::everyone),
        deploy: !no_deploy,
        progress: Arc::new(Progress::for_stderr()),
    };
    let summary = service.build(options).await.doing(|| {
        format!(
            "building the site into {}",
            service.layout().output_dir.display()
        )
    })?;
    tracing::info!("done: {summary}");
    if summary.profiles == 0 {
        tracing::info!(
            "no profiles yet: run `strife-gen serve` (with discord.client_id, discord.redirect_uri and {CLIENT_SECRET_VAR} set) and sign in at {}",
            config.server.bind
        );
    }
    Ok(())
}
