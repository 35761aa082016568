//! Append-only audit log, chained by sha256: `hash = sha256(prev_hash || canonical record)`.
//!
//! The canonical record is the JSON array `[seq, actor, project_id, action, entity,
//! before_digest, after_digest, created_at]`; the digests are sha256 of the entity's JSON
//! before and after the change (never secrets: callers pass only non-secret fields).
//! Changing, deleting or inserting any row breaks the chain, and `verify` says where.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::store::now_rfc3339;

/// The hash the first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One mutating action to record.
pub struct Entry<'a> {
    pub actor: &'a str,
    pub project_id: Option<i64>,
    pub action: &'a str,
    pub entity: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A stored record, as `GET /api/v1/audit` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Record {
    pub seq: i64,
    pub actor: String,
    pub project_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub before_digest: Option<String>,
    pub after_digest: Option<String>,
    pub created_at: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Record {
    pub fn from_row(row: &AnyRow) -> Result<Record, sqlx::Error> {
        Ok(Record {
            seq: row.try_get("seq")?,
            actor: row.try_get("actor")?,
            project_id: row.try_get("project_id")?,
            action: row.try_get("action")?,
            entity: row.try_get("entity")?,
            before_digest: row.try_get("before_digest")?,
            after_digest: row.try_get("after_digest")?,
            created_at: row.try_get("created_at")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }

    /// The hash this record must carry given its content and `prev_hash`.
    pub fn expected_hash(&self) -> String {
        let canonical = serde_json::json!([
            self.seq,
            self.actor,
            self.project_id,
            self.action,
            self.entity,
            self.before_digest,
            self.after_digest,
            self.created_at
        ])
        .to_string();
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(canonical.as_bytes());
        hex::encode(h.finalize())
    }
}

fn digest(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

pub const COLUMNS: &str =
    "seq, actor, project_id, action, entity, before_digest, after_digest, created_at, prev_hash, hash";

/// Appends `entry` inside the caller's transaction (so the record commits with the change).
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    entry: &Entry<'_>,
) -> Result<Record, sqlx::Error> {
    let conn: &mut AnyConnection = tx;
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (seq, prev_hash) = match last {
        Some(row) => (
            row.try_get::<i64, _>("seq")? + 1,
            row.try_get::<String, _>("hash")?,
        ),
        None => (1, GENESIS.to_owned()),
    };
    let mut record = Record {
        seq,
        actor: entry.actor.to_owned(),
        project_id: entry.project_id,
        action: entry.action.to_owned(),
        entity: entry.entity.clone(),
        before_digest: entry.before.as_ref().map(digest),
        after_digest: entry.after.as_ref().map(digest),
        created_at: now_rfc3339(),
        prev_hash,
        hash: String::new(),
    };
    record.hash = record.expected_hash();
    sqlx::query(
        "INSERT INTO audit_log (seq, actor, project_id, action, entity, before_digest, \
         after_digest, created_at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(record.seq)
    .bind(&record.actor)
    .bind(record.project_id)
    .bind(&record.action)
    .bind(&record.entity)
    .bind(&record.before_digest)
    .bind(&record.after_digest)
    .bind(&record.created_at)
    .bind(&record.prev_hash)
    .bind(&record.hash)
    .execute(&mut *conn)
    .await?;
    Ok(record)
}

/// Why the chain does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("audit record {seq}: {reason}")]
    Broken { seq: i64, reason: &'static str },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// The chain's last link: record it somewhere else (a ticket, a log sink) and pass it to
/// `verify_with_anchor` later to detect a truncated or wholesale-rewritten log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Head {
    pub records: u64,
    pub seq: i64,
    pub hash: String,
}

/// Walks the whole chain; returns its head when every link holds.
pub async fn verify(pool: &sqlx::AnyPool) -> Result<Head, VerifyError> {
    verify_with_anchor(pool, None).await
}

/// Like `verify`, and also checks that record `anchor.0` still carries hash `anchor.1`.
pub async fn verify_with_anchor(
    pool: &sqlx::AnyPool,
    anchor: Option<(i64, &str)>,
) -> Result<Head, VerifyError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))
        .fetch_all(pool)
        .await?;
    let records = rows
        .iter()
        .map(Record::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    verify_records(&records, anchor)
}

/// The chain check itself, over the whole log in `seq` order (read from the database, or
/// through `GET /api/v1/audit` by `promptctl audit verify`).
pub fn verify_records(
    records: &[Record],
    anchor: Option<(i64, &str)>,
) -> Result<Head, VerifyError> {
    let mut prev = GENESIS.to_owned();
    let mut anchored = anchor.is_none();
    let mut head_seq = 0;
    for (expected_seq, record) in (1_i64..).zip(records.iter()) {
        if record.seq != expected_seq {
            return Err(VerifyError::Broken {
                seq: record.seq,
                reason: "sequence gap (a record was deleted or inserted)",
            });
        }
        if record.prev_hash != prev {
            return Err(VerifyError::Broken {
                seq: record.seq,
                reason: "prev_hash does not match the previous record",
            });
        }
        if record.expected_hash() != record.hash {
            return Err(VerifyError::Broken {
                seq: record.seq,
                reason: "content does not match its hash (record altered)",
            });
        }
        if let Some((seq, hash)) = anchor {
            if seq == record.seq {
                if hash != record.hash {
                    return Err(VerifyError::Broken {
                        seq,
                        reason: "anchor hash differs (log rewritten)",
                    });
                }
                anchored = true;
            }
        }
        head_seq = record.seq;
        prev.clone_from(&record.hash);
    }
    if !anchored {
        let seq = anchor.map(|(seq, _)| seq).unwrap_or_default();
        return Err(VerifyError::Broken {
            seq,
            reason: "anchor record missing (log truncated)",
        });
    }
    Ok(Head {
        records: records.len() as u64,
        seq: head_seq,
        hash: if head_seq == 0 {
            GENESIS.to_owned()
        } else {
            prev
        },
    })
}
