//! `strife-gen serve`: open the service online, load the theme for the service's own pages,
//! listen, and serve until a stop signal. The routes are in [`crate::server`].
//! It must not hold workflow logic: that is in the service and the routes.

use std::path::Path;
use std::sync::Arc;

use crate::build_pool::{BuildPool, Priority};
use crate::community::Community;
use crate::config::{Config, Secrets};
use crate::fault::{Doing, Report};
use crate::server::{self, App};
use crate::service::Service;
use crate::site::render::Renderer;

/// Runs the consent service `config_path` describes.
pub(crate) async fn run(config_path: &Path) -> Result<(), Report> {
    let config = Arc::new(Config::load_for_command(config_path)?);
    let secrets = Secrets::from_env(&config)?;
    config.check_theme()?;
    // Before anything is opened or written: a server that cannot be joined is fixed now, not
    // found by the first person who ticks the box.
    let community = Community::check(&config, &secrets).await?;
    if let Some(community) = &community {
        tracing::info!(guild = %community.guild.id, name = %community.guild.name, welcome = community.welcome.is_some(), "community: joining the server is offered");
    }
    // Builds run behind the requests (see crate::build_pool).
    let pool = BuildPool::per_core(Priority::Background).doing(|| "starting the build threads")?;
    let service = Service::open_from_async(config.clone(), Some(secrets.clone()))
        .await?
        .with_build_pool(pool)
        .with_community(community);
    let service = Arc::new(service);
    let renderer = Renderer::new(&config.theme_dir(), crate::build::site_info(&config))
        .doing(|| "loading the theme")?;
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .doing(|| format!("cannot listen on {} (server.bind)", config.server.bind))?;
    let app = App::new(service, Arc::new(renderer))
        .with_webhook_secret(secrets.webhook_secret().map(str::to_owned));
    server::serve(Arc::new(app), listener).await?;
    Ok(())
}
