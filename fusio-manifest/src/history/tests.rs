//! Reading histories back: the fast path gives exactly what `serde_json::from_str::<Event>`
//! gives (the same event, or the same error), and files are read in order with every error
//! naming its file and line, across batches.

use std::path::{Path, PathBuf};

use super::parse::{parse_lines, Parsed, ParsedLines};
use super::*;
use crate::checker::{check_file, synthetic_history};

/// Parses `text` as the lines of a file: its events, or the index (0-based) of the first bad
/// line and serde's message.
fn parse_text(text: &str) -> Result<Vec<Event>, (u64, String)> {
    let mut out = ParsedLines::default();
    parse_lines(text, &mut out).map_err(|e| (e.index, e.error.to_string()))?;
    let reads = &out.reads;
    Ok(out
        .events
        .into_iter()
        .map(|event| event.into_event(text, reads))
        .collect())
}

/// Whether `line` takes the fast path (is parsed without serde).
fn is_fast(line: &str) -> bool {
    let mut out = ParsedLines::default();
    parse_lines(line, &mut out).is_ok()
        && matches!(out.events.as_slice(), [event] if !matches!(event, Parsed::Event(_)))
}

/// Asserts that `line` parses to exactly what serde parses it to: the same event or the same
/// error message.
fn assert_as_serde(line: &str) {
    let expected = serde_json::from_str::<Event>(line.trim()).map_err(|e| e.to_string());
    let got = match parse_text(&format!("{line}\n")) {
        Ok(events) => match <[Event; 1]>::try_from(events) {
            Ok([event]) => Ok(event),
            Err(events) => panic!("{line}: {} events", events.len()),
        },
        Err((index, message)) => {
            assert_eq!(index, 0, "{line}");
            Err(message)
        }
    };
    assert_eq!(got, expected, "{line}");
}

/// A unique path in the temp dir.
fn temp_path(name: &str) -> PathBuf {
    crate::utils::temp_jsonl("history", name)
}

/// The JSON line of `event`, as the recorder writes it.
fn line_of(event: &Event) -> String {
    serde_json::to_string(event).expect("serializable")
}

#[test]
fn synthetic_history_takes_the_fast_path_and_round_trips() {
    let events: Vec<Event> = synthetic_history(20_000, 7).collect();
    let text: String = events.iter().map(|e| line_of(e) + "\n").collect();
    assert_eq!(parse_text(&text), Ok(events.clone()));
    for event in &events {
        let line = line_of(event);
        assert_as_serde(&line);
        assert_eq!(
            is_fast(&line),
            !matches!(event, Event::Final { .. }),
            "{line}"
        );
    }
}

/// Lines of every kind with each optional field present, absent and `null`; `true` for the
/// lines the fast path takes.
const VALID_LINES: &[(&str, bool)] = &[
    (r#"{"type":"invoke","client":"w0","op":1,"attempt":0,"kind":"write","t_us":5,"key":"k1"}"#, true),
    (r#"{"type":"invoke","client":"r0","op":1,"attempt":0,"kind":"read","t_us":5}"#, true),
    (r#"{"type":"invoke","client":"r0","op":1,"attempt":0,"kind":"read","t_us":5,"key":null}"#, false),
    (r#"{"type":"write","client":"w0","op":1,"attempt":2,"t_us":9,"outcome":"ok","key":"k1","snapshot_txn":6,"read_done":true,"read":"w3:4:0","wrote":"w0:1:2","txn_id":7,"error":"e"}"#, true),
    (r#"{"type":"write","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"info","key":"k1","read_done":false,"wrote":"w0:1:0"}"#, true),
    (r#"{"type":"write","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"fail","key":"k1","wrote":"w0:1:0"}"#, false),
    (r#"{"type":"write","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"info","key":"k1","snapshot_txn":null,"read_done":true,"read":null,"wrote":"w0:1:0","txn_id":null,"error":null}"#, false),
    (r#"{"type":"read","client":"r0","op":3,"t_us":12000,"outcome":"ok","snapshot_txn":7,"scan":false,"reads":[["k00042","w0:1:0"],["k00007",null]]}"#, true),
    (r#"{"type":"read","client":"r0","op":3,"t_us":1,"outcome":"fail","scan":true,"reads":[],"error":"read failed"}"#, true),
    (r#"{"type":"read","client":"r0","op":3,"t_us":1,"outcome":"info"}"#, false),
    (r#"{"type":"read","client":"r0","op":3,"t_us":1,"outcome":"ok","snapshot_txn":7,"scan":true,"reads":[["k2","w0:1:0"]],"range":["k1","k3"]}"#, false),
    (r#"{"type":"txn","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"ok","snapshot_txn":6,"reads":[["k1","w3:4:0"],["k2",null]],"puts":["k1"],"deletes":["k2"],"wrote":"w0:1:0","txn_id":7}"#, false),
    (r#"{"type":"txn","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"info","wrote":"w0:1:0","error":"timeout"}"#, false),
    (r#"{"type":"read","client":"r0","op":3,"t_us":1,"outcome":"info","snapshot_txn":null,"scan":false,"reads":[],"error":null}"#, false),
    (r#"{"type":"compact","client":"c0","started_us":1,"t_us":2,"outcome":"ok","checkpoint":"run-7"}"#, false),
    (r#"{"type":"compact","client":"c0","started_us":1,"t_us":2,"outcome":"info","error":"timeout"}"#, false),
    (r#"{"type":"compact","client":"c0","started_us":1,"t_us":2,"outcome":"ok","checkpoint":null,"error":null}"#, false),
    (r#"{"type":"fault","t_us":5,"point":"condput:HEAD.json#1=answer_lost"}"#, false),
    (r#"{"type":"final","t_us":9,"head_txn":7,"state":[["k1","w0:1:0"],["k2","w1:1:0"]]}"#, false),
    (r#"{"type":"final","t_us":9,"head_txn":0,"state":[]}"#, false),
    // Forms the recorder does not write, which serde accepts.
    (r#"{ "type": "invoke", "client": "w0", "op": 1, "attempt": 0, "kind": "write", "t_us": 5 }"#, false),
    (r#"{"client":"w0","type":"invoke","op":1,"attempt":0,"kind":"write","t_us":5}"#, false),
    (r#"{"type":"invoke","op":1,"client":"w0","attempt":0,"kind":"write","t_us":5}"#, false),
    (r#"{"type":"invoke","client":"w0","op":1,"attempt":0,"kind":"write","t_us":5,"extra":[1,{"a":null}]}"#, false),
    (r#"{"type":"invoke","client":"w\u0030","op":1,"attempt":0,"kind":"write","t_us":5,"key":"k\"1"}"#, false),
    (r#"{"type":"invoke","client":"wé","op":1,"attempt":0,"kind":"write","t_us":5,"key":"ключ"}"#, true),
    (r#"{"type":"invoke","client":"w0","op":18446744073709551615,"attempt":4294967295,"kind":"write","t_us":0}"#, true),
    (r#"{"type":"read","client":"r0","op":3,"t_us":1,"outcome":"ok","snapshot_txn":7,"scan":false,"reads":[["k1","w0:1:0"]]}   "#, false),
    ("{\"type\":\"invoke\",\"client\":\"w0\",\"op\":1,\"attempt\":0,\"kind\":\"read\",\"t_us\":5}\r", true),
    (r#"["invoke","w0",1,0,"write",5]"#, false),
];

#[test]
fn every_kind_with_optional_fields_present_absent_or_null_parses_as_serde() {
    for &(line, fast) in VALID_LINES {
        assert!(serde_json::from_str::<Event>(line.trim()).is_ok(), "{line}");
        assert_as_serde(line);
        assert_eq!(is_fast(line), fast, "{line}");
    }
}

/// Lines that are not valid events, some of them close to the fast path's form.
const INVALID_LINES: &[&str] = &[
    r#"{"type":"invoke","client":"w0""#,
    r#"{"type":"delete","client":"w0","op":1}"#,
    r#"{"type":"invoke","client":"w0","op":1,"attempt":0,"kind":"write"}"#,
    r#"{"type":"write","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"ok","read_done":false,"wrote":"w0:1:0"}"#,
    r#"{"type":"invoke","client":"w0","op":"1","attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":1,"attempt":4294967296,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":-1,"attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":1.5,"attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":1e3,"attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":01,"attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":18446744073709551616,"attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":1,"attempt":0,"kind":"scan","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":1,"op":2,"attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":null,"op":1,"attempt":0,"kind":"write","t_us":5}"#,
    r#"{"type":"invoke","client":"w0","op":1,"attempt":0,"kind":"write","t_us":5} x"#,
    r#"{"type":"invoke","client":"w0","op":1,"attempt":0,"kind":"write","t_us":5}}"#,
    "{\"type\":\"invoke\",\"client\":\"w\t0\",\"op\":1,\"attempt\":0,\"kind\":\"write\",\"t_us\":5}",
    r#"{"type":"write","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"maybe","key":"k1","read_done":false,"wrote":"w0:1:0"}"#,
    r#"{"type":"write","client":"w0","op":1,"attempt":0,"t_us":9,"outcome":"ok","key":"k1","read_done":null,"wrote":"w0:1:0"}"#,
    r#"{"type":"read","client":"r0","op":3,"t_us":1,"outcome":"ok","scan":false,"reads":[["k1","v",3]]}"#,
    r#"{"type":"read","client":"r0","op":3,"t_us":1,"outcome":"ok","scan":false,"reads":null}"#,
    r#"{"type":"final","t_us":9,"head_txn":7,"state":[["k1",null]]}"#,
    "null",
];

#[test]
fn invalid_lines_fail_as_serde_fails() {
    for &line in INVALID_LINES {
        assert!(serde_json::from_str::<Event>(line).is_err(), "{line}");
        assert_as_serde(line);
    }
}

/// Writes `text` to a new temp file.
fn temp_file(name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

/// Asserts that reading the file at `path` yields `good` events, then an error at `line`
/// whose message starts with `message`, and that checking it fails there too.
fn assert_error_at(path: &Path, good: usize, line: u64, message: &str) {
    let items: Vec<_> = read_history(path).collect();
    assert_eq!(items.len(), good + 1, "{message}");
    assert!(items[..good].iter().all(Result::is_ok), "{message}");
    let err = items[good]
        .as_ref()
        .expect_err("the last item is the error");
    assert_eq!((err.path.as_path(), err.line), (path, Some(line)));
    assert!(err.message.starts_with(message), "{err}");
    assert!(err.to_string().contains(&format!("line {line}: ")), "{err}");
    let err = check_file(path).expect_err("the file is bad");
    assert_eq!(err.line, Some(line));
    assert!(err.message.starts_with(message), "{err}");
}

#[test]
fn a_bad_line_is_named_by_file_and_line() {
    let good = line_of(&synthetic_history(10, 1).next().expect("an event"));
    let cases = [
        (r#"{"type":"invoke","client":"w0""#, "EOF while parsing"),
        (
            r#"{"type":"delete","client":"w0"}"#,
            "unknown variant `delete`",
        ),
        (
            r#"{"type":"read","client":"r0","op":3,"t_us":1}"#,
            "missing field `outcome`",
        ),
        (
            r#"{"type":"read","client":"r0","op":"3","t_us":1,"outcome":"ok"}"#,
            "invalid type: string \"3\", expected u64",
        ),
    ];
    for (bad, why) in cases {
        let path = temp_file("bad", format!("{good}\n\n  \n{good}\n{bad}\n{good}\n"));
        assert_error_at(&path, 2, 5, "malformed event: ");
        let err = read_history(&path).find_map(Result::err).expect("an error");
        assert!(err.message.contains(why), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn a_line_that_is_not_utf8_is_named() {
    let good = line_of(&synthetic_history(10, 1).next().expect("an event"));
    let mut text = format!("{good}\n{good}\n").into_bytes();
    text.extend_from_slice(b"{\"type\":\"invoke\",\"client\":\"w\xff\"}\n");
    text.extend_from_slice(format!("{good}\n").as_bytes());
    let path = temp_file("utf8", text);
    assert_error_at(
        &path,
        2,
        3,
        "cannot read: stream did not contain valid UTF-8",
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn blank_lines_and_a_missing_last_newline_are_fine() {
    let events: Vec<Event> = synthetic_history(10, 1).take(3).collect();
    let [a, b, c] = [0, 1, 2].map(|i| line_of(&events[i]));
    let path = temp_file("blank", format!("\n{a}\n \t\n\n{b}\r\n{c}"));
    let back: Vec<Event> = read_history(&path)
        .collect::<Result<_, _>>()
        .expect("a valid file");
    assert_eq!(back, events);
    let _ = std::fs::remove_file(&path);
    let path = temp_file("empty", "");
    assert_eq!(read_history(&path).count(), 0);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn many_batches_are_read_in_order_and_a_late_error_names_its_line() {
    let events: Vec<Event> = synthetic_history(20_000, 3).collect();
    let lines: Vec<String> = events.iter().map(line_of).collect();
    assert!(lines.iter().map(|l| l.len() + 1).sum::<usize>() > 4 << 20);
    let path = temp_file("batches", lines.join("\n") + "\n");
    let back: Vec<Event> = read_history(&path)
        .collect::<Result<_, _>>()
        .expect("a valid file");
    assert_eq!(back, events);
    let _ = std::fs::remove_file(&path);

    let bad = lines.len() - 1000;
    let mut broken = lines.clone();
    let half = broken[bad].len() / 2;
    broken[bad].truncate(half);
    let path = temp_file("late-error", broken.join("\n") + "\n");
    assert_error_at(&path, bad, bad as u64 + 1, "malformed event: ");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_line_longer_than_a_batch_is_read_whole() {
    let reads: Vec<(String, Option<String>)> = (0..100_000)
        .map(|i| {
            (
                format!("k{i:05}"),
                (i % 3 != 0).then(|| format!("w0:{i}:0")),
            )
        })
        .collect();
    let event = Event::Read {
        client: "r0".to_string(),
        op: 1,
        t_us: 10,
        outcome: Outcome::Ok,
        snapshot_txn: Some(0),
        scan: true,
        reads,
        error: None,
        range: None,
    };
    let invoke = Event::Invoke {
        client: "r0".to_string(),
        op: 1,
        attempt: 0,
        kind: OpKind::Read,
        t_us: 1,
        key: None,
    };
    let line = line_of(&event);
    assert!(line.len() > 2 << 20);
    let path = temp_file(
        "long",
        format!("{}\n{line}\n{}\n", line_of(&invoke), line_of(&invoke)),
    );
    let back: Vec<Event> = read_history(&path)
        .collect::<Result<_, _>>()
        .expect("a valid file");
    assert_eq!(back, [invoke.clone(), event, invoke]);
    assert!(check_file(&path).is_ok());
    let _ = std::fs::remove_file(&path);
}
