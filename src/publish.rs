//! Owns the opt-ins (what a user agreed to publish) and the scopes they need.
//! It must not fetch or render: it only says what is allowed.
//!
//! What a user opted in to publish, and the OAuth scopes that choice needs.

use serde::{Deserialize, Serialize};

use crate::discord::scope::Scope;

/// The opt-ins a user ticked on the consent page. Their identity (name, avatar, banner, badges) is
/// always published: that is what a profile page is. Everything else is off unless ticked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// Publish their public connected accounts.
    pub connections: bool,
    /// Publish the servers they are in.
    pub guilds: bool,
}

impl Publish {
    /// The scopes to request from Discord for these opt-ins: never more than the page needs.
    pub(crate) fn scopes(self) -> Vec<Scope> {
        let mut scopes = vec![Scope::Identify];
        if self.connections {
            scopes.push(Scope::Connections);
        }
        if self.guilds {
            scopes.push(Scope::Guilds);
        }
        scopes
    }

    /// Narrows the opt-ins to what the granted scopes allow (a user may untick a scope on
    /// Discord's consent screen).
    pub(crate) fn limited_to(self, granted: &[Scope]) -> Publish {
        Publish {
            connections: self.connections && granted.contains(&Scope::Connections),
            guilds: self.guilds && granted.contains(&Scope::Guilds),
        }
    }
}

/// Everything a person ticked on the landing page: what to publish, and whether to join the
/// community's server. It travels through the OAuth round trip in the sealed sign-in cookie.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Choices {
    pub(crate) publish: Publish,
    /// Ticked "Join <server>" (only offered with `community.join = "offer"`).
    pub(crate) join: bool,
}

impl Choices {
    /// The scopes to request: the opt-ins', plus `guilds.join` only for someone who ticked it.
    pub(crate) fn scopes(self) -> Vec<Scope> {
        let mut scopes = self.publish.scopes();
        if self.join {
            scopes.push(Scope::GuildsJoin);
        }
        scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_opt_ins() {
        assert_eq!(Publish::default().scopes(), [Scope::Identify]);
        let both = Publish {
            connections: true,
            guilds: true,
        };
        assert_eq!(
            both.scopes(),
            [Scope::Identify, Scope::Connections, Scope::Guilds]
        );
    }

    #[test]
    fn joining_asks_for_guilds_join_only_when_ticked() {
        let publish = Publish {
            connections: true,
            guilds: false,
        };
        let plain = Choices {
            publish,
            join: false,
        };
        assert_eq!(plain.scopes(), [Scope::Identify, Scope::Connections]);
        let join = Choices {
            publish,
            join: true,
        };
        assert_eq!(
            join.scopes(),
            [Scope::Identify, Scope::Connections, Scope::GuildsJoin]
        );
    }

    #[test]
    fn opt_ins_are_limited_by_granted_scopes() {
        let both = Publish {
            connections: true,
            guilds: true,
        };
        let granted = [Scope::Identify, Scope::Guilds];
        assert_eq!(
            both.limited_to(&granted),
            Publish {
                connections: false,
                guilds: true
            }
        );
    }
}
