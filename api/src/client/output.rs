//! What `sweep` prints: kubectl-style tables, describe cards, durations, colours (only on a
//! terminal, and never with `NO_COLOR`), and the JSON documents of `-o json`.

use std::io::{IsTerminal, Write};

use serde::Serialize;

/// ANSI styling for one stream, on or off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    /// Styling for stdout.
    pub fn stdout() -> Self {
        Self { on: std::io::stdout().is_terminal() && colours_allowed() }
    }

    /// Styling for stderr.
    pub fn stderr() -> Self {
        Self { on: std::io::stderr().is_terminal() && colours_allowed() }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.on { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    /// Bold.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Green.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Red.
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Yellow.
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// A batch state in its colour.
    pub fn state(self, state: &str) -> String {
        match state {
            "completed" => self.green(state),
            "failed" | "cancelled" => self.red(state),
            "suspended" => self.yellow(state),
            _ => state.to_owned(),
        }
    }
}

/// Whether colours may be used at all (`NO_COLOR` unset or empty, `TERM` not `dumb`).
pub fn colours_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// `error: …` on stderr.
pub fn error(message: &str) {
    let style = Style::stderr();
    eprintln!("{} {message}", style.red(&style.bold("error:")));
}

/// Aligned columns without borders, headers in capitals, as kubectl prints them.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(visible_width(cell));
            }
        }
    }
    let mut out = String::new();
    let header_cells: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    for row in std::iter::once(&header_cells).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(visible_width(cell)) + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Width of `text` on screen, ANSI colour codes left out.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// `label: value` lines with the values aligned.
pub fn card(style: Style, fields: &[(&str, String)]) -> String {
    let width = fields.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (label, value) in fields {
        let label = format!("{label}:");
        out.push_str(&style.bold(&format!("{label:<width$}")));
        out.push_str("  ");
        out.push_str(value);
        out.push('\n');
    }
    out
}

/// A duration in seconds as people read it: `45s`, `3m 05s`, `2h 07m`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".into();
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A rate: `1234/s`, `12.5/s`, `-` when unknown.
pub fn rate(per_second: Option<f64>) -> String {
    match per_second {
        Some(r) if r.is_finite() && r >= 100.0 => format!("{r:.0}/s"),
        Some(r) if r.is_finite() && r > 0.0 => format!("{r:.1}/s"),
        Some(0.0) => "0/s".into(),
        _ => "-".into(),
    }
}

/// How long ago a Camunda date was (`4m 10s ago`), `-` when absent.
pub fn ago(date: Option<&str>) -> String {
    match date.and_then(shared::camunda::parse_date) {
        Some(at) => {
            let seconds = (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0;
            format!("{} ago", duration(seconds.max(0.0)))
        }
        None => "-".into(),
    }
}

/// A percentage of `part` in `total` (`100%` for an empty total).
pub fn percent(part: i64, total: i64) -> String {
    if total <= 0 { "100%".into() } else { format!("{}%", part * 100 / total) }
}

/// Writes `value` as pretty JSON to stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Writes `value` as one line of JSON to stdout (and flushes: scripts read it as it comes).
pub fn json_line<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_without_borders() {
        let rows = vec![vec!["a".to_owned(), "running".to_owned()], vec!["bbbb".to_owned(), "x".to_owned()]];
        assert_eq!(table(&["id", "state"], &rows), "ID     STATE\na      running\nbbbb   x\n");
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(duration(4.4), "4s");
        assert_eq!(duration(185.0), "3m 05s");
        assert_eq!(duration(7620.0), "2h 07m");
        assert_eq!(rate(Some(1234.4)), "1234/s");
        assert_eq!(rate(Some(2.25)), "2.2/s");
        assert_eq!(rate(None), "-");
    }
}
