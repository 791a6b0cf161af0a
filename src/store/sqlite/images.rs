//! The SQLite statements of the image cache (see `store::images`).

use rusqlite::{params, OptionalExtension};

use super::{Sqlite, PUBLISHED};
use crate::discord::lenient::decode;
use crate::discord::models::{Snapshot, Snowflake};
use crate::publish::Publish;
use crate::store::{ImagesPending, StoreError, PUBLISHED_STATUSES};

impl Sqlite {
    /// The file name (`<hash>.<ext>`) of the cached copy of `url`, if there is one.
    pub(crate) fn image_file(&self, url: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        let file = conn
            .prepare_cached("SELECT file FROM images WHERE url = ?1")?
            .query_row(params![url], |row| row.get(0))
            .optional()?;
        Ok(file)
    }

    /// The bytes of the cached file `file` (any URL it was fetched from: the name is its hash).
    pub(crate) fn image_bytes(&self, file: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.conn();
        let bytes = conn
            .prepare_cached("SELECT bytes FROM images WHERE file = ?1 LIMIT 1")?
            .query_row(params![file], |row| row.get(0))
            .optional()?;
        Ok(bytes)
    }

    /// Caches the image fetched from `url`.
    pub(crate) fn save_image(
        &self,
        url: &str,
        file: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO images (url, file, bytes, fetched_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (url) DO UPDATE SET file = excluded.file, bytes = excluded.bytes,
                                             fetched_at = excluded.fetched_at",
        )?
        .execute(params![url, file, bytes, now])?;
        Ok(())
    }

    /// Published users (as [`Store::for_each_published`] counts them) whose current snapshot's
    /// images have not all been fetched (`only`: of that user alone). Users whose snapshot cannot
    /// be read are left out with a warning: the build leaves them out too.
    pub(crate) fn images_pending(
        &self,
        reconsent_cutoff: i64,
        only: Option<Snowflake>,
    ) -> Result<Vec<ImagesPending>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT u.id, u.publish_connections, u.publish_guilds, s.data, s.content_hash
             FROM users u JOIN snapshots s ON s.user_id = u.id
                  LEFT JOIN user_images i ON i.user_id = u.id
             WHERE {PUBLISHED} AND i.mirrored_hash IS NOT s.content_hash
                   AND (?4 IS NULL OR u.id = ?4)
             ORDER BY u.id"
        ))?;
        let [active, waiting] = PUBLISHED_STATUSES;
        let only = only.map(|id| id.to_string());
        let params = params![reconsent_cutoff, active, waiting, only];
        let rows = statement.query_map(params, |row| {
            Ok((
                row.get::<_, String>(0)?,
                Publish {
                    connections: row.get(1)?,
                    guilds: row.get(2)?,
                },
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut pending = Vec::new();
        for row in rows {
            let (id, publish, data, content_hash) = row?;
            let Some(id) = Snowflake::parse(&id) else {
                continue;
            };
            match decode::<Snapshot>(data.as_bytes()) {
                Ok(decoded) => pending.push(ImagesPending {
                    id,
                    publish,
                    snapshot: decoded.value,
                    content_hash,
                }),
                Err(error) => tracing::warn!(user = %id, "images not fetched: {error}"),
            }
        }
        Ok(pending)
    }

    /// Records which files the page of `id` uses (`images_key`, a digest of them) and, when
    /// every image was settled, that the snapshot `content_hash` needs no more fetching.
    pub(crate) fn record_images(
        &self,
        id: Snowflake,
        content_hash: Option<&str>,
        images_key: &str,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO user_images (user_id, mirrored_hash, images_key) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET mirrored_hash = excluded.mirrored_hash,
                                                 images_key = excluded.images_key",
        )?
        .execute(params![id.to_string(), content_hash, images_key])?;
        Ok(())
    }
}
