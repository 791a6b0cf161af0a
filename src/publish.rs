//! What a user opted in to publish, and the OAuth scopes that choice needs.

use serde::{Deserialize, Serialize};

/// The opt-ins a user ticked on the consent page. Their identity (name, avatar, banner, badges) is
/// always published: that is what a profile page is. Everything else is off unless ticked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    pub connections: bool,
    pub guilds: bool,
}

impl Publish {
    /// The scopes to request from Discord for these opt-ins: never more than the page needs.
    pub fn scopes(self) -> Vec<&'static str> {
        let mut scopes = vec!["identify"];
        if self.connections {
            scopes.push("connections");
        }
        if self.guilds {
            scopes.push("guilds");
        }
        scopes
    }

    /// Narrows the opt-ins to what the granted scopes allow (a user may untick a scope on
    /// Discord's consent screen).
    pub fn limited_to(self, granted: &[String]) -> Publish {
        let has = |scope: &str| granted.iter().any(|g| g == scope);
        Publish {
            connections: self.connections && has("connections"),
            guilds: self.guilds && has("guilds"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_opt_ins() {
        assert_eq!(Publish::default().scopes(), ["identify"]);
        let both = Publish { connections: true, guilds: true };
        assert_eq!(both.scopes(), ["identify", "connections", "guilds"]);
    }

    #[test]
    fn opt_ins_are_limited_by_granted_scopes() {
        let both = Publish { connections: true, guilds: true };
        let granted = vec!["identify".to_owned(), "guilds".to_owned()];
        assert_eq!(both.limited_to(&granted), Publish { connections: false, guilds: true });
    }
}
