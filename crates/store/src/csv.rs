//! Call records as RFC 4180 CSV for export, with spreadsheet formula injection neutralised.

use crate::calls::CallRecord;

const HEADER: [&str; 18] = [
    "call_id",
    "queue",
    "kiosk",
    "site",
    "agent",
    "outcome",
    "enqueued_at_ms",
    "offered_at_ms",
    "answered_at_ms",
    "ended_at_ms",
    "wait_ms",
    "talk_ms",
    "wrap_up_ms",
    "attempts",
    "disposition",
    "ended_by",
    "end_reason",
    "callback",
];

/// Renders `records` as CSV: a header line, then one line per record, CRLF line ends. A field
/// is quoted (quotes doubled) when it holds a comma, quote, CR or LF; `None` is empty. A text
/// field that a spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`, tab or
/// CR, after any leading whitespace) gets a leading `'`.
pub fn calls_to_csv(records: &[CallRecord]) -> String {
    let mut out = String::new();
    push_line(&mut out, HEADER.iter().map(|name| (*name).to_owned()));
    for record in records {
        push_line(
            &mut out,
            [
                record.call_id.to_string(),
                text(&record.queue),
                text(&record.kiosk),
                text(&record.site),
                optional_text(record.agent.as_deref()),
                record.outcome.as_str().to_owned(),
                record.enqueued_at_ms.to_string(),
                optional_number(record.offered_at_ms),
                optional_number(record.answered_at_ms),
                record.ended_at_ms.to_string(),
                record.wait_ms.to_string(),
                optional_number(record.talk_ms),
                optional_number(record.wrap_up_ms),
                record.attempts.to_string(),
                optional_text(record.disposition.as_deref()),
                optional_text(record.ended_by.map(|by| by.as_str())),
                optional_text(record.end_reason.map(|reason| reason.as_str())),
                record.callback.to_string(),
            ],
        );
    }
    out
}

fn push_line(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_field(out, &field);
    }
    out.push_str("\r\n");
}

fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// A free-text field, with a leading `'` if a spreadsheet would evaluate it. Spreadsheets skip
/// leading spaces (and other whitespace) before a formula, so the check looks past them.
fn text(value: &str) -> String {
    let first = value.trim_start_matches(|c: char| c.is_whitespace() && c != '\t' && c != '\r');
    if value.starts_with(['\t', '\r']) || first.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn optional_text(value: Option<&str>) -> String {
    value.map(text).unwrap_or_default()
}

fn optional_number(value: Option<i64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_looks_like_a_formula_is_prefixed() {
        for dangerous in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text(dangerous), format!("'{dangerous}"));
        }
        for hidden in [" =1+1", "  @SUM(A1)", "\u{a0}-1", "\n=cmd"] {
            assert_eq!(text(hidden), format!("'{hidden}"), "{hidden:?}");
        }
        assert_eq!(text("Mairie de Lyon"), "Mairie de Lyon");
        assert_eq!(text(" Mairie"), " Mairie");
        assert_eq!(text(""), "");
    }

    #[test]
    fn a_field_is_quoted_only_when_it_must_be() {
        let mut out = String::new();
        push_field(&mut out, "plain");
        out.push('|');
        push_field(&mut out, "a,b");
        out.push('|');
        push_field(&mut out, "say \"hi\"");
        out.push('|');
        push_field(&mut out, "two\nlines");
        assert_eq!(out, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
    }
}
