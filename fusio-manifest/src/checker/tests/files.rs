//! Value helpers, the recorder round trip, malformed history files, and the
//! `check-history` logic (checking files as checking events in memory).

use super::*;

#[test]
fn value_helpers() {
    let v = make_value("w3:17:0", Some("w1:2:1"), 64);
    assert!(v.starts_with("w3:17:0|prev=w1:2:1|"));
    assert_eq!(v.len(), 64);
    assert_eq!(value_id(&v), "w3:17:0");
    let short = make_value("w0:1:0", None, 4);
    assert_eq!(short, "w0:1:0|prev=-|");
    assert_eq!(value_id(&short), "w0:1:0");
    assert_eq!(value_id("w0:1:0"), "w0:1:0");
    assert_eq!(value_id("bogus|prev=-|"), "bogus|prev=-|");
    assert_eq!(value_id("w0:x:0|prev=-|"), "w0:x:0|prev=-|");
    let long = "é".repeat(40);
    assert_eq!(value_id(&long).len(), 64);
    let odd = format!("a{}", "é".repeat(40));
    assert_eq!(value_id(&odd).len(), 63);
}

#[test]
fn recorder_round_trip() {
    let events = clean_history().events;
    let path = temp_path("roundtrip");
    let (recorder, writer) = HistoryRecorder::create(&path).expect("create history");
    let threads: Vec<_> = (0..2)
        .map(|half| {
            let recorder = recorder.clone();
            let mine: Vec<Event> = events.iter().skip(half).step_by(2).cloned().collect();
            std::thread::spawn(move || mine.into_iter().for_each(|e| recorder.record(e)))
        })
        .collect();
    for t in threads {
        t.join().expect("recording thread");
    }
    drop(recorder);
    assert_eq!(writer.finish().expect("finish"), events.len() as u64);
    let mut back: Vec<Event> = read_history(&path)
        .collect::<Result<_, _>>()
        .expect("read back");
    let key = |e: &Event| serde_json::to_string(e).unwrap_or_default();
    let mut expected = events.clone();
    back.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(back, expected);
    assert!(check_files(&[&path]).expect("valid file"));
    let _ = std::fs::remove_file(&path);

    let (memory, history) = HistoryRecorder::in_memory();
    events.iter().cloned().for_each(|e| memory.record(e));
    assert_eq!(history.take(), events);
    assert!(history.take().is_empty());
}

#[test]
fn recorder_and_errors_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<HistoryRecorder>();
    assert_send_sync::<crate::history::HistoryWriter>();
    assert_send_sync::<crate::history::HistoryError>();
    assert_send_sync::<CheckReport>();
}

#[test]
fn malformed_line_names_the_line() {
    let path = temp_path("malformed");
    let good = serde_json::to_string(&clean_history().events[0]).expect("serializable");
    std::fs::write(
        &path,
        format!("{good}\n\n{{\"type\":\"invoke\",\"client\":\"w0\"\n"),
    )
    .expect("write temp file");
    let items: Vec<_> = read_history(&path).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let err = items[1].as_ref().expect_err("line 3 is malformed");
    assert_eq!(err.line, Some(3));
    let text = err.to_string();
    assert!(
        text.contains("line 3") && text.contains("malformed event"),
        "{text}"
    );

    let err = check_files(&[&path]).expect_err("bad file");
    assert_eq!(err.line, Some(3));
    let _ = std::fs::remove_file(&path);

    let missing = temp_path("missing");
    let err = check_files(&[&missing]).expect_err("missing file");
    assert_eq!(err.line, None);
    assert!(err.to_string().contains("cannot open"));
}

#[test]
fn check_files_reports_anomalies() {
    let path = temp_path("anomalous");
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None).fin(1, &[]);
    let text: String = h
        .events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
        .collect();
    std::fs::write(&path, text).expect("write temp file");
    assert!(!check_files(&[&path]).expect("readable"));
    let _ = std::fs::remove_file(&path);
}

/// Checking a file (read and parsed on a helper thread, fed as borrowed views) reports
/// exactly what checking its events in memory reports.
#[test]
fn check_file_reports_what_check_reports() {
    let mut inconsistent = clean_history();
    inconsistent.fin(4, &[]);
    let histories = [
        clean_history().events,
        fifty_garbage_reads().events,
        sole_occupant("w0:1:0").events,
        sole_occupant("w1:1:0").events,
        inconsistent.events,
        synthetic_history(30_000, 11).collect(),
    ];
    for events in histories {
        let path = temp_path("same-report");
        let text: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
            .collect();
        std::fs::write(&path, text).expect("write temp file");
        let from_file = check_file(&path).expect("readable");
        assert_eq!(console(&from_file), console(&check(&events)));
        let _ = std::fs::remove_file(&path);
    }
}
