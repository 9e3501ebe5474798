//! The discovery cache: metadata documents by issuer, with the time they were fetched, in the
//! `discovery_cache` table of the store. The issuers' JWK Sets are kept there too, under the key
//! `jwks <jwks_uri>` (an issuer URL never contains a space). The store only keeps the text; deciding when a document
//! is stale, and parsing it, belongs to the login command and the provider module.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, sql_err};
use crate::error::Result;

impl SqliteStore {
    /// The cached metadata document of `issuer` and its fetch time (Unix seconds).
    ///
    /// # Errors
    /// Exit 5 on store failures.
    pub fn cached_discovery(&self, issuer: &str) -> Result<Option<(String, i64)>> {
        self.conn
            .query_row("SELECT document, fetched_at FROM discovery_cache WHERE issuer = ?1", [issuer], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| sql_err(&e))
    }

    /// Stores (or replaces) the metadata document of `issuer`, fetched at `fetched_at`.
    ///
    /// # Errors
    /// Exit 5 on store failures.
    pub fn put_discovery(&self, issuer: &str, document: &str, fetched_at: i64) -> Result<()> {
        self.immediate(|tx| {
            tx.execute(
                "INSERT INTO discovery_cache(issuer, document, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(issuer) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at",
                params![issuer, document, fetched_at],
            )
        })?;
        Ok(())
    }

    /// Drops the cached document of `issuer`, so the next login fetches it again.
    ///
    /// # Errors
    /// Exit 5 on store failures.
    pub fn forget_discovery(&self, issuer: &str) -> Result<()> {
        self.immediate(|tx| tx.execute("DELETE FROM discovery_cache WHERE issuer = ?1", [issuer]))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::keys::KeySource;
    use crate::store::{OpenOptions, Paths, SqliteStore};

    #[test]
    fn put_get_replace_forget() {
        let dir = tempfile::tempdir().unwrap();
        let o = OpenOptions { key_source: Some(KeySource::File(dir.path().join("key"))), fix_permissions: false };
        let s = SqliteStore::open_or_create(&Paths::new(dir.path().join("home")), &o).unwrap();
        assert_eq!(s.cached_discovery("https://i").unwrap(), None);
        s.put_discovery("https://i", "{\"issuer\":\"https://i\"}", 10).unwrap();
        s.put_discovery("https://i", "{\"issuer\":\"https://i\",\"x\":1}", 20).unwrap();
        assert_eq!(s.cached_discovery("https://i").unwrap(), Some(("{\"issuer\":\"https://i\",\"x\":1}".into(), 20)));
        assert_eq!(s.cached_discovery("https://j").unwrap(), None);
        s.forget_discovery("https://i").unwrap();
        assert_eq!(s.cached_discovery("https://i").unwrap(), None);
    }
}
