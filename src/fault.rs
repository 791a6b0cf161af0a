//! Whose fault a failure is, decided by the error type that describes it: the user's (exit code 2:
//! fix strife.toml, the environment or the site's folders) or the run's (exit code 1). It must
//! not print or exit; `main.rs` asks a [`Report`] for its exit code.

use std::fmt;

/// An error that knows whether the person running strife-gen can fix it in their configuration,
/// environment or site folders. Every library error type implements it, next to its variants.
pub trait Blame {
    /// `true` when the fix is in the user's hands (exit code 2), `false` when the run failed.
    fn is_users_fault(&self) -> bool;
}

/// A failed command: the error with its context, and whose fault it is.
pub struct Report {
    error: anyhow::Error,
    users_fault: bool,
}

impl Report {
    /// The command line's exit code: 2 for the user's fault, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self.users_fault {
            true => 2,
            false => 1,
        }
    }

    /// The same failure, explained by what was being done (`building the site into output`).
    pub(crate) fn context(self, doing: impl fmt::Display + Send + Sync + 'static) -> Report {
        Report {
            error: self.error.context(doing),
            users_fault: self.users_fault,
        }
    }

    /// The error and its causes on one line. Many of our errors already quote their cause in
    /// their own message, so a cause whose text is already there is not repeated.
    pub fn describe(&self) -> String {
        let mut message = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
        }
        message
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (exit code {})", self.error, self.exit_code())
    }
}

impl<E> From<E> for Report
where
    E: Blame + std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Report {
        Report {
            users_fault: error.is_users_fault(),
            error: error.into(),
        }
    }
}

/// Adds what was being done to a failure, keeping whose fault it is.
pub(crate) trait Doing<T> {
    /// The error of `self`, if any, with the context `doing()` says.
    fn doing<D>(self, doing: impl FnOnce() -> D) -> Result<T, Report>
    where
        D: fmt::Display + Send + Sync + 'static;
}

impl<T, E: Into<Report>> Doing<T> for Result<T, E> {
    fn doing<D>(self, doing: impl FnOnce() -> D) -> Result<T, Report>
    where
        D: fmt::Display + Send + Sync + 'static,
    {
        self.map_err(|error| error.into().context(doing()))
    }
}

/// Reading and writing files or sockets fails for reasons outside the configuration.
impl Blame for std::io::Error {
    fn is_users_fault(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("bad key {0}")]
    struct Bad(&'static str);

    impl Blame for Bad {
        fn is_users_fault(&self) -> bool {
            self.0 == "user"
        }
    }

    #[test]
    fn the_error_type_decides_the_exit_code_and_context_keeps_it() {
        let users: Result<(), Bad> = Err(Bad("user"));
        let report = users.doing(|| "loading strife.toml").unwrap_err();
        assert_eq!(report.exit_code(), 2);
        assert_eq!(report.describe(), "loading strife.toml: bad key user");
        assert_eq!(Report::from(Bad("run")).exit_code(), 1);
        let io = std::io::Error::other("disk full");
        assert_eq!(Report::from(io).context("writing").exit_code(), 1);
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let report = Report::from(Bad("run")).context("failed: bad key run");
        assert_eq!(report.describe(), "failed: bad key run");
    }
}
