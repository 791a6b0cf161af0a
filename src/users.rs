//! Owns the text table of `users list`.
//! It must not print tokens or anything secret.
//!
//! `strife-gen users list`: the users table as text.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::store::UserRecord;

/// One line per user: id, name, status, last refresh (UTC), whether edits wait for approval
/// (`pending`, see `users approve`) and last error.
pub(crate) fn table(users: &[UserRecord]) -> String {
    let mut rows = vec![[
        "ID".to_owned(),
        "USERNAME".to_owned(),
        "STATUS".to_owned(),
        "LAST REFRESH".to_owned(),
        "EDITS".to_owned(),
        "LAST ERROR".to_owned(),
    ]];
    for user in users {
        rows.push([
            user.id.to_string(),
            user.username.clone(),
            user.status.to_string(),
            user.last_refresh_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
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
    let widths: Vec<usize> = (0..LAST)
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
        out.push_str(&row[LAST]);
        out.push('\n');
    }
    if users.is_empty() {
        out.push_str("(no users yet)\n");
    }
    out
}

/// The last column: not padded.
const LAST: usize = 5;

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
    use crate::store::UserStatus;

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
        let text = table(&[
            record(1, "ada", None),
            record(22222, "grace", Some("bad\ngrant")),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1], "1      ada       needs_reconsent  2023-11-14T22:13:20Z  -        -",
            "{text}"
        );
        assert!(lines[2].ends_with("pending  bad grant"), "{text}");
    }

    #[test]
    fn says_when_there_are_no_users() {
        assert!(table(&[]).contains("no users yet"));
    }
}
