//! Owns the text table of `users list`.
//! It must not print tokens or anything secret.
//!
//! `strife-gen users list`: the users table as text.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use std::collections::HashMap;

use crate::discord::models::Snowflake;
use crate::store::{JoinState, Membership, UserRecord, WelcomeState};

/// Columns of the table; the last one is not padded.
const COLUMNS: usize = 8;

/// One line per user: id, name, status, last refresh (UTC), whether they joined the community's
/// server and were welcomed (`community`: the store's rows, by user), whether edits wait for
/// approval (`pending`, see `users approve`) and last error.
pub(crate) fn table(users: &[UserRecord], community: &HashMap<Snowflake, Membership>) -> String {
    let mut rows = vec![[
        "ID".to_owned(),
        "USERNAME".to_owned(),
        "STATUS".to_owned(),
        "LAST REFRESH".to_owned(),
        "JOINED".to_owned(),
        "WELCOMED".to_owned(),
        "EDITS".to_owned(),
        "LAST ERROR".to_owned(),
    ]];
    for user in users {
        let membership = community.get(&user.id).cloned().unwrap_or_default();
        rows.push([
            user.id.to_string(),
            user.username.clone(),
            user.status.to_string(),
            user.last_refresh_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
            joined(&membership),
            welcomed(&membership),
            match user.edits_pending {
                true => "pending".into(),
                false => "-".into(),
            },
            user.last_error
                .as_deref()
                .map(one_line)
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..COLUMNS - 1)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        for (column, width) in widths.iter().enumerate() {
            let cell = &row[column];
            out.push_str(cell);
            out.push_str(&" ".repeat(width - cell.chars().count() + 2));
        }
        out.push_str(&row[COLUMNS - 1]);
        out.push('\n');
    }
    if users.is_empty() {
        out.push_str("(no users yet)\n");
    }
    out
}

/// `joined`, `already` (a member before), `failed: <why>`, `retrying: <why>`, or `-`.
fn joined(membership: &Membership) -> String {
    let reason = || one_line(membership.reason.as_deref().unwrap_or("unknown"));
    match membership.join {
        None => "-".to_owned(),
        Some(JoinState::Joined) => "joined".to_owned(),
        Some(JoinState::Already) => "already".to_owned(),
        Some(JoinState::Failed) => format!("failed: {}", reason()),
        Some(JoinState::Pending) => format!("retrying: {}", reason()),
    }
}

/// `sent`, `closed DMs`, `retrying: <why>`, `failed: <why>` (given up until their next
/// consent), or `-`.
fn welcomed(membership: &Membership) -> String {
    let retry = &membership.welcome_retry;
    let reason = || retry.reason.as_deref().unwrap_or("unknown").to_owned();
    match membership.welcome {
        Some(WelcomeState::Sent) => "sent".to_owned(),
        Some(WelcomeState::ClosedDms) => "closed DMs".to_owned(),
        None if retry.next_at.is_some() => format!("retrying: {}", reason()),
        None if retry.attempts > 0 => format!("failed: {}", reason()),
        None => "-".to_owned(),
    }
}

fn format_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Usernames and errors come from outside: keep each user on one terminal line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::models::Snowflake;
    use crate::publish::Publish;
    use crate::store::{UserStatus, WelcomeRetry};

    fn record(id: u64, name: &str, error: Option<&str>) -> UserRecord {
        UserRecord {
            id: Snowflake(id),
            username: name.into(),
            scopes: vec![crate::discord::scope::Scope::Identify],
            publish: Publish::default(),
            status: UserStatus::NeedsReconsent,
            status_since: 0,
            created_at: 0,
            updated_at: 0,
            last_refresh_at: Some(1_700_000_000),
            last_error: error.map(str::to_owned),
            edits_pending: id == 22222,
        }
    }

    #[test]
    fn lists_every_user_with_aligned_columns() {
        let community = HashMap::from([(
            Snowflake(22222),
            Membership {
                join: Some(JoinState::Failed),
                reason: Some("banned from the server".into()),
                welcome: Some(WelcomeState::ClosedDms),
                ..Membership::default()
            },
        )]);
        let text = table(
            &[
                record(1, "ada", None),
                record(22222, "grace", Some("bad\ngrant")),
            ],
            &community,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "1      ada       needs_reconsent  2023-11-14T22:13:20Z  -                               -           -        -",
            "{text}"
        );
        assert!(
            lines[2].contains("failed: banned from the server  closed DMs  pending  bad grant"),
            "{text}"
        );
    }

    #[test]
    fn the_community_columns_say_how_joining_went() {
        let with = |join, welcome| Membership {
            join: Some(join),
            reason: Some("Discord is not answering".into()),
            welcome,
            ..Membership::default()
        };
        assert_eq!(joined(&with(JoinState::Joined, None)), "joined");
        assert_eq!(joined(&with(JoinState::Already, None)), "already");
        assert_eq!(
            joined(&with(JoinState::Pending, None)),
            "retrying: Discord is not answering"
        );
        assert_eq!(joined(&Membership::default()), "-");
        assert_eq!(
            welcomed(&with(JoinState::Joined, Some(WelcomeState::Sent))),
            "sent"
        );
        assert_eq!(welcomed(&Membership::default()), "-");
        let retry = |next_at| Membership {
            join: Some(JoinState::Joined),
            welcome_retry: WelcomeRetry {
                attempts: 2,
                reason: Some("Discord is not answering".into()),
                next_at,
            },
            ..Membership::default()
        };
        assert_eq!(
            welcomed(&retry(Some(100))),
            "retrying: Discord is not answering"
        );
        assert_eq!(
            welcomed(&retry(None)),
            "failed: Discord is not answering",
            "given up"
        );
    }

    #[test]
    fn says_when_there_are_no_users() {
        assert!(table(&[], &HashMap::new()).contains("no users yet"));
    }
}
