//! Files an agent keeps with a call: read back from the agent's history until the call's
//! record is purged at the retention date.

use rusqlite::{OptionalExtension, Row};

use crate::Store;
use crate::error::Result;

/// A kept file's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentMeta {
    pub doc_id: String,
    pub call_id: u64,
    /// The agent who kept it (the only one who reads it back).
    pub agent: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub snapshot: bool,
    /// `kiosk` or `agent`.
    pub from_role: String,
    pub attached_at_ms: i64,
}

const META: &str = "doc_id, call_id, agent, name, media_type, size, width, height, snapshot, \
                    from_role, attached_at_ms";

fn meta_from_row(row: &Row<'_>) -> rusqlite::Result<DocumentMeta> {
    Ok(DocumentMeta {
        doc_id: row.get(0)?,
        call_id: row.get::<_, i64>(1)? as u64,
        agent: row.get(2)?,
        name: row.get(3)?,
        media_type: row.get(4)?,
        size: row.get::<_, i64>(5)? as u64,
        width: row.get(6)?,
        height: row.get(7)?,
        snapshot: row.get(8)?,
        from_role: row.get(9)?,
        attached_at_ms: row.get(10)?,
    })
}

impl Store {
    /// Keeps `content` with its call; committed when this returns. Keeping a file twice keeps
    /// the first.
    pub fn attach_document(&self, meta: &DocumentMeta, content: &[u8]) -> Result<()> {
        self.connection()
            .prepare_cached(&format!(
                "INSERT OR IGNORE INTO call_documents ({META}, content) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(rusqlite::params![
                meta.doc_id,
                meta.call_id as i64,
                meta.agent,
                meta.name,
                meta.media_type,
                meta.size as i64,
                meta.width,
                meta.height,
                meta.snapshot,
                meta.from_role,
                meta.attached_at_ms,
                content,
            ])?;
        Ok(())
    }

    /// A kept file with its content.
    pub fn document(&self, doc_id: &str) -> Result<Option<(DocumentMeta, Vec<u8>)>> {
        Ok(self
            .connection()
            .prepare_cached(&format!(
                "SELECT {META}, content FROM call_documents WHERE doc_id = ?1"
            ))?
            .query_row([doc_id], |row| Ok((meta_from_row(row)?, row.get(11)?)))
            .optional()?)
    }

    /// The files `agent` kept with each of `calls`, by call then time kept.
    pub fn documents_of(&self, agent: &str, calls: &[u64]) -> Result<Vec<DocumentMeta>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {META} FROM call_documents WHERE call_id = ?1 AND agent = ?2 \
             ORDER BY attached_at_ms, doc_id"
        ))?;
        let mut out = Vec::new();
        for &call in calls {
            let rows = statement.query_map((call as i64, agent), meta_from_row)?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }
}
