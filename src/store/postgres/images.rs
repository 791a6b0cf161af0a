//! The PostgreSQL statements of the image cache (see `store::images`).

use super::{Postgres, PUBLISHED};
use crate::discord::lenient::decode;
use crate::discord::models::{Snapshot, Snowflake};
use crate::publish::Publish;
use crate::store::{ImagesPending, StoreError, UserStatus, PUBLISHED_STATUSES};

impl Postgres {
    /// See `Store::image_file`.
    pub(crate) fn image_file(&self, url: &str) -> Result<Option<String>, StoreError> {
        let row = self.query_opt("SELECT file FROM images WHERE url = $1", &[&url])?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// See `Store::image_bytes`.
    pub(crate) fn image_bytes(&self, file: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.query_opt("SELECT bytes FROM images WHERE file = $1 LIMIT 1", &[&file])?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// See `Store::save_image`.
    pub(crate) fn save_image(
        &self,
        url: &str,
        file: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO images (url, file, bytes, fetched_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (url) DO UPDATE SET file = excluded.file, bytes = excluded.bytes,
                                             fetched_at = excluded.fetched_at",
            &[&url, &file, &bytes, &now],
        )?;
        Ok(())
    }

    /// See `Store::images_pending`.
    pub(crate) fn images_pending(
        &self,
        reconsent_cutoff: i64,
        only: Option<Snowflake>,
    ) -> Result<Vec<ImagesPending>, StoreError> {
        let [active, waiting] = PUBLISHED_STATUSES.map(UserStatus::as_str);
        let only = only.map(|id| id.to_string());
        let rows = self.query(
            &format!(
                "SELECT u.id, u.publish_connections, u.publish_guilds, s.data, s.content_hash
                 FROM users u JOIN snapshots s ON s.user_id = u.id
                      LEFT JOIN user_images i ON i.user_id = u.id
                 WHERE {PUBLISHED} AND i.mirrored_hash IS DISTINCT FROM s.content_hash
                       AND ($4::text IS NULL OR u.id = $4)
                 ORDER BY u.id"
            ),
            &[&reconsent_cutoff, &active, &waiting, &only],
        )?;
        let mut pending = Vec::new();
        for row in rows {
            let Some(id) = Snowflake::parse(row.try_get(0)?) else {
                continue;
            };
            let publish = Publish {
                connections: row.try_get(1)?,
                guilds: row.try_get(2)?,
            };
            let data: &str = row.try_get(3)?;
            match decode::<Snapshot>(data.as_bytes()) {
                Ok(decoded) => pending.push(ImagesPending {
                    id,
                    publish,
                    snapshot: decoded.value,
                    content_hash: row.try_get(4)?,
                }),
                Err(error) => tracing::warn!(user = %id, "images not fetched: {error}"),
            }
        }
        Ok(pending)
    }

    /// See `Store::record_images`.
    pub(crate) fn record_images(
        &self,
        id: Snowflake,
        content_hash: Option<&str>,
        images_key: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO user_images (user_id, mirrored_hash, images_key) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET mirrored_hash = excluded.mirrored_hash,
                                                 images_key = excluded.images_key",
            &[&id.to_string(), &content_hash, &images_key],
        )?;
        Ok(())
    }
}
