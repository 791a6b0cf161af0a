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
