//! A `WHERE` clause over the `traces` table built from query parameters, with `$N`
//! placeholders numbered in order so it runs unchanged on SQLite and PostgreSQL.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use super::rfc3339;
use crate::error::ApiError;

enum Value {
    Text(String),
    Int(i64),
}

/// Conditions joined with `AND`; always scoped to one project.
pub struct Filter {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Filter {
    pub fn project(project_id: i64) -> Filter {
        let mut f = Filter {
            clauses: Vec::new(),
            values: Vec::new(),
        };
        let p = f.int(project_id);
        f.clauses.push(format!("project_id = {p}"));
        f
    }

    fn int(&mut self, v: i64) -> String {
        self.values.push(Value::Int(v));
        format!("${}", self.values.len())
    }

    fn text(&mut self, v: String) -> String {
        self.values.push(Value::Text(v));
        format!("${}", self.values.len())
    }

    /// `column = value` when a value is given.
    pub fn text_eq(&mut self, column: &str, value: Option<&str>) {
        if let Some(v) = value {
            let p = self.text(v.to_owned());
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    pub fn int_eq(&mut self, column: &str, value: Option<i64>) {
        if let Some(v) = value {
            let p = self.int(v);
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    /// `started_at >= since` and `started_at < until` (RFC 3339; 422 naming the parameter
    /// otherwise).
    pub fn time_window(
        &mut self,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<(), ApiError> {
        for (param, value, op) in [("since", since, ">="), ("until", until, "<")] {
            if let Some(v) = value {
                let at = rfc3339::normalize(v).ok_or_else(|| {
                    ApiError::unprocessable(
                        format!("{param} must be an RFC 3339 time"),
                        Some(param),
                    )
                })?;
                let p = self.text(at);
                self.clauses.push(format!("started_at {op} {p}"));
            }
        }
        Ok(())
    }

    /// Rows strictly older than the cursor `(started_at, id)` in newest-first order.
    pub fn before(&mut self, started_at: &str, id: i64) {
        let (a, b) = (
            self.text(started_at.to_owned()),
            self.text(started_at.to_owned()),
        );
        let i = self.int(id);
        self.clauses.push(format!(
            "(started_at < {a} OR (started_at = {b} AND id < {i}))"
        ));
    }

    /// Appends a value for a placeholder the caller writes after the clause (e.g. `LIMIT`).
    pub fn extra_int(&mut self, v: i64) -> String {
        self.int(v)
    }

    pub fn where_sql(&self) -> String {
        format!("WHERE {}", self.clauses.join(" AND "))
    }

    pub fn bind<'q>(&'q self, sql: &'q str) -> Query<'q, Any, AnyArguments<'q>> {
        self.values.iter().fold(sqlx::query(sql), |q, v| match v {
            Value::Text(s) => q.bind(s.as_str()),
            Value::Int(i) => q.bind(*i),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_order() {
        let mut f = Filter::project(7);
        f.text_eq("route", Some("chat"));
        f.text_eq("prompt", None);
        f.int_eq("prompt_version", Some(2));
        assert!(f.time_window(Some("2026-01-01T00:00:00Z"), None).is_ok());
        f.before("2026-01-02T00:00:00.000Z", 9);
        let limit = f.extra_int(50);
        assert_eq!(
            f.where_sql(),
            "WHERE project_id = $1 AND route = $2 AND prompt_version = $3 AND started_at >= $4 \
             AND (started_at < $5 OR (started_at = $6 AND id < $7))"
        );
        assert_eq!(limit, "$8");
        assert!(f.time_window(None, Some("soon")).is_err());
    }
}
