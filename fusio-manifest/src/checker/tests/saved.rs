//! Anomaly files: written by a report, read back, printed again; malformed files.

use super::*;

/// A synthetic history with an injected lost write, garbage read and duplicate key.
fn injected_report() -> CheckReport {
    let mut events: Vec<Event> = synthetic_history(3_000, 11).collect();
    for inject in [inject_lost_write, inject_garbage_read, inject_duplicate_key] {
        inject(&mut events);
    }
    check(&events)
}

/// The saved and printed form of `r`, by way of a file.
fn save_and_print(r: &CheckReport, name: &str) -> (Vec<AnomalyLine>, String) {
    let path = temp_path(name);
    r.write_anomalies(&path).expect("write anomalies file");
    let lines = read_anomalies(&path).expect("read back");
    let has_anomaly = !print_anomaly_files(&[&path]).expect("readable");
    assert_eq!(has_anomaly, r.total_anomalies() > 0);
    let _ = std::fs::remove_file(&path);
    let mut out = Vec::new();
    write_saved_anomalies(&mut out, "saved", &lines).expect("writing to a Vec");
    (lines, String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn anomalies_file_round_trip() {
    let r = injected_report();
    for class in [
        AnomalyClass::LostWrite,
        AnomalyClass::GarbageRead,
        AnomalyClass::DuplicateKey,
    ] {
        assert!(r.count(class) > 0, "{class} not flagged:\n{}", console(&r));
    }
    let (lines, text) = save_and_print(&r, "anomalies");
    let expected: Vec<AnomalyLine> = r
        .anomalies()
        .iter()
        .cloned()
        .map(AnomalyLine::Anomaly)
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(lines.len() as u64, r.total_anomalies());
    for a in r.anomalies() {
        let shown = format!("    - [{}] {}", a.class, a.explanation);
        assert!(text.contains(&shown), "{shown} missing from\n{text}");
    }
    let jsonl = String::from_utf8(r.anomalies_jsonl()).expect("UTF-8");
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        let fields = ["class", "explanation"].map(|f| v[f].is_string());
        assert!(fields == [true, true] && v["ops"].is_array(), "{line}");
    }
}

#[test]
fn anomalies_file_notes_what_was_not_kept() {
    let r = fifty_garbage_reads().check();
    let jsonl = String::from_utf8(r.anomalies_jsonl()).expect("UTF-8");
    assert_eq!(jsonl.lines().count(), MAX_EXAMPLES + 1);
    assert_eq!(jsonl.lines().last(), Some(r#"{"truncated":30}"#));
    let (lines, text) = save_and_print(&r, "truncated");
    assert_eq!(lines.last(), Some(&AnomalyLine::Truncated(30)));
    assert!(text.contains("== saved anomalies [saved]: 20 =="), "{text}");
    assert!(
        text.contains("        op: r0 op 0 (read ok, snapshot 1)"),
        "{text}"
    );
    assert!(
        text.contains("... and 30 more found but not saved"),
        "{text}"
    );
}

#[test]
fn clean_history_has_an_empty_anomalies_file() {
    let r = clean_history().check();
    assert!(r.anomalies_jsonl().is_empty());
    let (lines, text) = save_and_print(&r, "clean");
    assert!(lines.is_empty());
    assert_eq!(text, "== saved anomalies [saved]: 0 ==\n");
}

/// Reading a file of `text` fails at `line` with a message containing `message`.
fn assert_malformed(text: &str, line: u64, message: &str) {
    let path = temp_path("bad-anomalies");
    std::fs::write(&path, text).expect("write temp file");
    let err = read_anomalies(&path).expect_err("malformed");
    assert_eq!(err.line, Some(line), "{err}");
    let shown = err.to_string();
    let place = format!("anomalies file {}, line {line}: ", path.display());
    assert!(
        shown.starts_with(&place) && shown.contains(message),
        "{shown}"
    );
    assert!(print_anomaly_files(&[&path]).is_err());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn malformed_anomalies_file_names_the_line() {
    let r = fifty_garbage_reads().check();
    let good = serde_json::to_string(&r.anomalies()[0]).expect("serializable");
    let partial = r#"{"class":"lost_write","ops":[]}"#;
    assert_malformed(
        &format!("{good}\n\n{partial}\n"),
        3,
        "missing field `explanation`",
    );
    assert_malformed("not json\n", 1, "not a JSON value");
    let bogus = good.replace("garbage_read", "bogus_class");
    assert_malformed(&format!("{good}\n{bogus}\n"), 2, "malformed anomaly");
    assert_malformed(
        &format!("{{\"truncated\":3}}\n{good}\n"),
        1,
        "a truncated line must be the last line",
    );
    assert_malformed("{\"truncated\":-1}\n", 1, "malformed truncated line");

    let missing = temp_path("missing-anomalies");
    let err = read_anomalies(&missing).expect_err("missing file");
    assert_eq!(err.line, None);
    assert!(err.to_string().contains("cannot open"), "{err}");
}
