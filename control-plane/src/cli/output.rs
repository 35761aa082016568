//! Human-readable output: aligned tables and `field  value` listings; `--json` bypasses both
//! and prints the server's JSON.

use serde_json::Value;

use super::CliError;

/// Widest a table cell gets before it is cut with `…`.
const MAX_CELL: usize = 60;

/// Columns named by header, each read from a JSON field of every row.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_uppercase()).collect(),
            rows: Vec::new(),
        }
    }

    /// A table of `items` with one column per `(header, field)`.
    pub fn of(items: &[Value], columns: &[(&str, &str)]) -> Table {
        let mut table = Table::new(&columns.iter().map(|(h, _)| *h).collect::<Vec<_>>());
        for item in items {
            table.push(columns.iter().map(|(_, f)| cell(&item[*f])).collect());
        }
        table
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let mut out = line(&self.headers);
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// One JSON value as a single-line cell: strings bare, null as `-`, long text cut.
pub fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            items.iter().map(cell).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    };
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > MAX_CELL {
        let cut: String = flat.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// `field  value` lines for the scalar fields of an object, in the server's order.
pub fn fields(object: &Value, skip: &[&str]) -> String {
    let Some(map) = object.as_object() else {
        return format!("{}\n", cell(object));
    };
    let mut table = Table::new(&["field", "value"]);
    for (k, v) in map {
        if !skip.contains(&k.as_str()) {
            table.push(vec![k.clone(), cell(v)]);
        }
    }
    // The header row is noise in a listing of one object.
    table
        .render()
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The items of a list answer: a bare array or `{"data": [...]}`.
pub fn items(answer: &Value) -> Result<&[Value], CliError> {
    answer
        .as_array()
        .or_else(|| answer["data"].as_array())
        .map(Vec::as_slice)
        .ok_or_else(|| CliError::Local("the control plane answered a list with no items".into()))
}

/// Writes `text` to stdout. A closed pipe (`promptctl traces list | head -1`) ends the
/// output quietly instead of panicking as `print!` would.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

pub fn json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let rows = vec![
            json!({"id": 1, "name": "support-bot", "status": null}),
            json!({"id": 12, "name": "x", "status": "approved"}),
        ];
        let out = Table::of(
            &rows,
            &[("id", "id"), ("name", "name"), ("status", "status")],
        )
        .render();
        assert_eq!(
            out,
            "ID  NAME         STATUS\n1   support-bot  -\n12  x            approved\n"
        );
    }

    #[test]
    fn cells_stay_on_one_line_and_short() {
        assert_eq!(cell(&json!("a\nb")), "a b");
        assert_eq!(cell(&json!(["x", 2])), "x,2");
        let long = cell(&json!("y".repeat(100)));
        assert_eq!(long.chars().count(), MAX_CELL);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn lists_come_bare_or_wrapped() {
        assert_eq!(items(&json!([1])).unwrap().len(), 1);
        assert_eq!(items(&json!({"data": [1, 2]})).unwrap().len(), 2);
        assert!(items(&json!({"error": {}})).is_err());
    }
}
