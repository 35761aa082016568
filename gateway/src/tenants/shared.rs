//! Limits shared by replicas through Redis: one Lua script admits a request atomically,
//! another records what it used. Every call is bounded; failures are reported to the caller,
//! which falls back to the local limiter, and Redis rests for [`BACKOFF`] afterwards.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use super::limiter::Denial;
use super::window::Windows;
use super::VirtualKey;

/// The longest one Redis call (connecting included) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(50);
/// How long Redis is left alone after a failure.
pub const BACKOFF: Duration = Duration::from_secs(1);

/// KEYS: rpm, tpm, day, month counters. ARGV: their limits (0 = none), the rpm key's TTL.
/// Returns 0 when admitted, else 1 rpm, 2 tpm, 3 day budget, 4 month budget.
const ADMIT: &str = r"
local function over(key, limit)
  local l = tonumber(limit)
  return l > 0 and tonumber(redis.call('GET', key) or '0') >= l
end
if over(KEYS[3], ARGV[3]) then return 3 end
if over(KEYS[4], ARGV[4]) then return 4 end
if over(KEYS[2], ARGV[2]) then return 2 end
local rpm = tonumber(ARGV[1])
if rpm > 0 then
  if tonumber(redis.call('GET', KEYS[1]) or '0') >= rpm then return 1 end
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], 120)
end
return 0
";

/// KEYS: tpm, day, month counters. ARGV: tokens, cost in USD.
const RECORD: &str = r"
if tonumber(ARGV[1]) > 0 then
  redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], 120)
end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBYFLOAT', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], 172800)
  redis.call('INCRBYFLOAT', KEYS[3], ARGV[2])
  redis.call('EXPIRE', KEYS[3], 2764800)
end
return 0
";

pub struct SharedLimiter {
    pub url: String,
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    resting_until: Mutex<Option<Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("redis is resting after a failure")]
    Resting,
    #[error("redis call timed out")]
    Timeout,
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl SharedLimiter {
    pub fn new(url: &str) -> Result<SharedLimiter, redis::RedisError> {
        Ok(SharedLimiter {
            url: url.to_owned(),
            client: redis::Client::open(url)?,
            conn: tokio::sync::Mutex::new(None),
            resting_until: Mutex::new(None),
        })
    }

    pub async fn admit(
        &self,
        key: &VirtualKey,
        w: &Windows,
    ) -> Result<Result<(), Denial>, SharedError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(ADMIT)
            .arg(4)
            .arg(counter(key, "rpm", w.minute))
            .arg(counter(key, "tpm", w.minute))
            .arg(counter(key, "day", w.day))
            .arg(counter(key, "month", w.month))
            .arg(key.rpm.unwrap_or(0))
            .arg(key.tpm.unwrap_or(0))
            .arg(key.budget_usd_per_day.unwrap_or(0.0))
            .arg(key.budget_usd_per_month.unwrap_or(0.0));
        let code: i64 = self.query(&cmd).await?;
        Ok(match code {
            1 => Err(Denial::rate("rpm", w.minute_left)),
            2 => Err(Denial::rate("tpm", w.minute_left)),
            3 => Err(Denial::budget("budget_day", w.day_left)),
            4 => Err(Denial::budget("budget_month", w.month_left)),
            _ => Ok(()),
        })
    }

    pub async fn record(
        &self,
        key: &VirtualKey,
        w: &Windows,
        tokens: u64,
        cost_usd: f64,
    ) -> Result<(), SharedError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RECORD)
            .arg(3)
            .arg(counter(key, "tpm", w.minute))
            .arg(counter(key, "day", w.day))
            .arg(counter(key, "month", w.month))
            .arg(tokens)
            .arg(cost_usd);
        let _: i64 = self.query(&cmd).await?;
        Ok(())
    }

    /// Runs one command within [`CALL_TIMEOUT`], connecting first if needed.
    async fn query(&self, cmd: &redis::Cmd) -> Result<i64, SharedError> {
        if self.resting() {
            return Err(SharedError::Resting);
        }
        let result = tokio::time::timeout(CALL_TIMEOUT, async {
            let mut conn = self.connection().await?;
            cmd.query_async::<i64>(&mut conn).await
        })
        .await;
        let err = match result {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => SharedError::Redis(e),
            Err(_) => SharedError::Timeout,
        };
        *self.resting_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + BACKOFF);
        *self.conn.lock().await = None;
        Err(err)
    }

    fn resting(&self) -> bool {
        let until = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }

    async fn connection(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.client.get_multiplexed_async_connection().await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

/// `promptgate:<name>:<kind>:<window>`.
fn counter(key: &VirtualKey, kind: &str, window: u64) -> String {
    format!("promptgate:{}:{kind}:{window}", key.name)
}
