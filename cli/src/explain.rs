//! `verdict explain`: the daemon's explanation of named files, printed.

use std::io::Write;

use serde_json::Value;

/// Prints an `explain` reply for people: per file, whether a check of the
/// project reaches it, its marks, and per validator what it makes of it.
pub fn print(v: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    for (i, file) in v["files"].as_array().into_iter().flatten().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let name = match file["file_bytes"].as_str() {
            Some(b64) => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default();
                crate::report::shown_name(&bytes).into_owned()
            }
            None => crate::report::shown_name(file["file"].as_str().unwrap_or_default().as_bytes()).into_owned(),
        };
        if let Some(error) = file["error"].as_str() {
            writeln!(out, "{name}: {}", crate::report::visible(error))?;
            continue;
        }
        let size = file["size"].as_u64().unwrap_or(0);
        let what = match (file["unreadable"].as_str(), file["binary"].as_bool()) {
            (Some(why), _) => crate::report::visible(why).into_owned(),
            (None, Some(true)) => "binary".to_owned(),
            (None, _) => "text".to_owned(),
        };
        let exec = if file["executable"].as_bool() == Some(true) { ", executable" } else { "" };
        writeln!(out, "{name}: {size} bytes, {what}{exec}")?;
        // Named on its own, a file is checked whatever keeps a walk from
        // it, but `check.exclude`.
        let named = match file["excluded_because"].is_string() {
            true => "named, it is not checked either",
            false => "named, it is checked",
        };
        match (file["reached"].as_bool(), file["unreached_because"].as_str()) {
            (Some(false), Some(why)) => {
                writeln!(out, "  a check of the project does not reach it: {} ({named})", crate::report::visible(why))?
            }
            _ => writeln!(out, "  a check of the project reaches it")?,
        }
        if let Some(note) = file["reach_note"].as_str() {
            writeln!(out, "    ({})", crate::report::visible(note))?;
        }
        let marks = file["marks"].as_array().map(Vec::as_slice).unwrap_or_default();
        if marks.is_empty() {
            writeln!(out, "  marks: none")?;
        } else {
            writeln!(out, "  marks:")?;
            for m in marks {
                writeln!(out, "    {}", text(m))?;
            }
        }
        let rules = file["rules"].as_array().map(Vec::as_slice).unwrap_or_default();
        if !rules.is_empty() {
            writeln!(out, "  set by:")?;
            for r in rules {
                writeln!(out, "    {}", text(r))?;
            }
        }
        let validators = file["validators"].as_array().map(Vec::as_slice).unwrap_or_default();
        let width = validators.iter().filter_map(|e| e["validator"].as_str()).map(str::len).max().unwrap_or(0);
        let (selected, unselected): (Vec<&Value>, Vec<&Value>) =
            validators.iter().partition(|e| e["selected"].as_bool() == Some(true));
        if !selected.is_empty() {
            writeln!(out, "  checked by:")?;
        }
        for e in selected {
            let name = text(&e["validator"]);
            let result = e["result"].as_str().unwrap_or("?");
            let why = e["why"].as_str().map(|w| format!(": {}", crate::report::visible(w))).unwrap_or_default();
            writeln!(out, "    {name:width$}  {result}{why}")?;
            print_findings(out, &e["findings"], width, "")?;
            let would = e["would_find"].as_array().map_or(0, Vec::len);
            if would > 0 {
                writeln!(out, "    {:width$}  it would report otherwise:", "")?;
                print_findings(out, &e["would_find"], width, "  ")?;
            }
        }
        if !unselected.is_empty() {
            writeln!(out, "  not checked by:")?;
        }
        for e in unselected {
            let name = text(&e["validator"]);
            writeln!(out, "    {name:width$}  {}", text(&e["why"]))?;
        }
    }
    for note in v["notes"].as_array().into_iter().flatten() {
        writeln!(out, "note: {}", text(note))?;
    }
    Ok(())
}

/// A string of the reply, as it may be shown on a terminal.
fn text(v: &Value) -> std::borrow::Cow<'_, str> {
    v.as_str().map(crate::report::visible).unwrap_or_default()
}

fn print_findings(out: &mut dyn Write, findings: &Value, width: usize, indent: &str) -> std::io::Result<()> {
    for f in findings.as_array().into_iter().flatten() {
        let at = match (f["line"].as_u64(), f["column"].as_u64()) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            (Some(l), None) => l.to_string(),
            _ => "-".to_owned(),
        };
        let message = f["message"].as_str().map(crate::report::visible).unwrap_or_default();
        writeln!(out, "    {:width$}  {indent}{at}  {message}", "")?;
    }
    Ok(())
}
