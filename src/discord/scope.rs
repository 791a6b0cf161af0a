//! Owns the OAuth2 scopes strife-gen knows, by name.
//! It must not decide which scopes a user is asked for: that is `crate::publish`.
//!
//! A scope is a closed set: parsing refuses a name strife-gen does not handle, so a typo in
//! `strife.toml` or an odd value in the store is an error, never a silently ignored string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// An OAuth2 scope strife-gen may ask for. `identify` is the profile itself; `connections` and
/// `guilds` are what a user may opt in to publishing; `guilds.join` is asked for only when they
/// tick "Join <server>" (`community.join = "offer"`). Anything else (`email`, ...) is refused on
/// purpose: a page never needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `identify`: `GET /users/@me`.
    Identify,
    /// `connections`: `GET /users/@me/connections`.
    Connections,
    /// `guilds`: `GET /users/@me/guilds`.
    Guilds,
    /// `guilds.join`: the bot may add them to the community's server
    /// (`PUT /guilds/{id}/members/{user}`).
    GuildsJoin,
}

impl Scope {
    /// Every scope a site offers by default (`discord.scopes`), in the order the consent page
    /// lists them. `guilds.join` is not among them: `[community]` offers it.
    pub const ALL: [Scope; 3] = [Scope::Identify, Scope::Connections, Scope::Guilds];
    /// Every scope strife-gen knows by name.
    const KNOWN: [Scope; 4] = [
        Scope::Identify,
        Scope::Connections,
        Scope::Guilds,
        Scope::GuildsJoin,
    ];

    /// Discord's name of the scope.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scope::Identify => "identify",
            Scope::Connections => "connections",
            Scope::Guilds => "guilds",
            Scope::GuildsJoin => "guilds.join",
        }
    }

    /// The scopes of a token response (`scope`, space-separated). Discord answers with every scope
    /// the user granted the application, which may include ones another flow asked for
    /// (`applications.commands`, ...): those are not ours to use, so they are left out here.
    pub(crate) fn granted(text: &str) -> Vec<Scope> {
        text.split_whitespace()
            .filter_map(|name| match name.parse() {
                Ok(scope) => Some(scope),
                Err(UnknownScope(name)) => {
                    tracing::debug!(scope = %name, "granted scope not used by strife-gen");
                    None
                }
            })
            .collect()
    }

    /// Space-separated names, as OAuth2 and the store write a list of scopes.
    pub(crate) fn join(scopes: &[Scope]) -> String {
        let names: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
        names.join(" ")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name strife-gen does not handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported scope {0:?}: expected one of \"identify\", \"connections\", \"guilds\", \"guilds.join\"")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::KNOWN
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| UnknownScope(text.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for scope in Scope::KNOWN {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert_eq!(
            "email".parse::<Scope>(),
            Err(UnknownScope("email".to_owned()))
        );
        assert!("Identify".parse::<Scope>().is_err());
    }

    #[test]
    fn granted_scopes_keep_ours_in_order() {
        assert_eq!(
            Scope::granted("guilds applications.commands identify"),
            [Scope::Guilds, Scope::Identify]
        );
        assert_eq!(
            Scope::join(&[Scope::Identify, Scope::Guilds]),
            "identify guilds"
        );
        assert!(Scope::granted("").is_empty());
    }
}
