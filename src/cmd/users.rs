//! `strife-gen users`: list the users, approve the edits one made to their page (review
//! mode), or remove one through [`Service::delete`] — the same deletion (and order) as a user's
//! own `/delete`.
//! It must not delete or revoke by itself: the service does both, in its one order.

use std::path::Path;
use std::sync::Arc;

use crate::cli::UsersCommand;
use crate::config::{Config, Secrets};
use crate::discord::models::Snowflake;
use crate::fault::Report;
use crate::service::Service;
use crate::store::Approval;

/// Runs a `users` subcommand on the site `config_path` describes.
pub(crate) async fn run(config_path: &Path, command: UsersCommand) -> Result<(), Report> {
    let config = Arc::new(Config::load_for_command(config_path)?);
    match command {
        UsersCommand::List => {
            let service = Service::open_from_async(config, None).await?;
            let (users, community) = service
                .store()
                .run(|store| Ok((store.list_users()?, store.memberships()?)))
                .await?;
            print!("{}", crate::users::table(&users, &community));
            Ok(())
        }
        UsersCommand::Remove { id } => remove(config, id).await,
        UsersCommand::Approve { id } => approve(config, id).await,
    }
}

/// Publishes the edits user `id` has waiting for review.
async fn approve(config: Arc<Config>, id: Snowflake) -> Result<(), Report> {
    let service = Service::open_from_async(config, None).await?;
    let store = service.layout().store.display().to_string();
    if !is_known(&service, id).await? {
        return Err(Report::from(NoSuchUser { id, store }));
    }
    match service.approve_edits(id).await? {
        Approval::Approved => {
            println!("approved the edits of user {id}; their page shows them from the next build");
            Ok(())
        }
        Approval::NothingPending => Err(Report::from(NothingPending { id })),
    }
}

/// Whether the store knows user `id` (off the async threads, as every store call here).
async fn is_known(service: &Service, id: Snowflake) -> Result<bool, Report> {
    let user = service.store().run(move |store| store.user(id)).await?;
    Ok(user.is_some())
}

/// `users approve` of a user without edits waiting.
#[derive(Debug, thiserror::Error)]
#[error("user {id} has no edits waiting for approval (`users list` shows who has)")]
struct NothingPending {
    id: Snowflake,
}

impl crate::fault::Blame for NothingPending {
    fn is_users_fault(&self) -> bool {
        false
    }
}

/// Deletes user `id`, revoking our access at Discord when the credentials are there.
async fn remove(config: Arc<Config>, id: Snowflake) -> Result<(), Report> {
    let service = open_for_revoking(config).await?;
    if !is_known(&service, id).await? {
        return Err(Report::from(NoSuchUser {
            id,
            store: service.layout().store.display().to_string(),
        }));
    }
    service.delete(id, Vec::new()).await?;
    println!("removed user {id}; their page disappears with the next build");
    Ok(())
}

/// The service with its Discord side when the environment has the credentials; without them
/// the user is still removed, and the warning says they were not revoked at Discord.
async fn open_for_revoking(config: Arc<Config>) -> Result<Service, Report> {
    let online = match Secrets::from_env(&config) {
        Ok(secrets) => Service::open_from_async(config.clone(), Some(secrets)).await,
        Err(error) => Err(crate::service::ServiceError::from(error)),
    };
    match online {
        Ok(service) => Ok(service),
        Err(error) => {
            tracing::warn!(
                "cannot reach Discord to revoke ({error}); removing from the store only"
            );
            Ok(Service::open_from_async(config, None).await?)
        }
    }
}

/// `users remove` of an id the store does not know.
#[derive(Debug, thiserror::Error)]
#[error("there is no user {id} in {store}")]
struct NoSuchUser {
    id: Snowflake,
    store: String,
}

impl crate::fault::Blame for NoSuchUser {
    fn is_users_fault(&self) -> bool {
        // As before this command had typed errors: a failed run, exit code 1.
        false
    }
}
