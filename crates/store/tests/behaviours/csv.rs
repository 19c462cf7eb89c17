//! CSV export of call records.

use relais_store::calls_to_csv;

use crate::support::{abandoned_call, answered_call};

#[test]
fn an_empty_export_is_just_the_header() {
    assert_eq!(
        calls_to_csv(&[]),
        "call_id,queue,kiosk,site,agent,outcome,enqueued_at_ms,offered_at_ms,answered_at_ms,\
         ended_at_ms,wait_ms,talk_ms,wrap_up_ms,attempts,disposition,ended_by,end_reason,callback\r\n"
    );
}

#[test]
fn csv_writes_one_line_per_call_with_empty_fields_for_none() {
    let mut answered = answered_call(1, "agent-ana", 200_000);
    answered.wrap_up_ms = Some(30_000);
    answered.disposition = Some("renseignement".to_owned());

    let csv = calls_to_csv(&[answered, abandoned_call(2, 50_000)]);

    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[1],
        "1,etat-civil,kiosk-12,mairie-annexe-nord,agent-ana,answered,100000,105000,110000,\
         200000,10000,90000,30000,1,renseignement,agent,hangup,false"
    );
    assert_eq!(
        lines[2],
        "2,etat-civil,kiosk-3,mairie-centre,,abandoned,10000,,,50000,40000,,,0,,,,false"
    );
}

#[test]
fn csv_quotes_and_neutralises_formulas() {
    let mut call = abandoned_call(3, 1_000);
    call.enqueued_at_ms = -2;
    call.queue = "=HYPERLINK(\"http://evil\",\"x\")".to_owned();
    call.kiosk = "Hall, porte \"B\"".to_owned();
    call.site = "+33 1 23".to_owned();
    call.agent = Some("@agent".to_owned());
    call.disposition = Some("ligne 1\nligne 2".to_owned());

    let csv = calls_to_csv(&[call]);

    let record = csv.strip_prefix(csv.lines().next().unwrap()).unwrap();
    assert_eq!(
        record,
        "\r\n3,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",\"Hall, porte \"\"B\"\"\",'+33 1 23,\
         '@agent,abandoned,-2,,,1000,40000,,,0,\"ligne 1\nligne 2\",,,false\r\n"
    );
}

#[test]
fn csv_neutralises_every_formula_prefix() {
    for prefix in ['=', '+', '-', '@', '\t', '\r'] {
        let mut call = abandoned_call(1, 1_000);
        call.site = format!("{prefix}cmd");
        let csv = calls_to_csv(&[call]);
        let quoted = prefix == '\r';
        let expected = if quoted {
            format!(",\"'{prefix}cmd\",")
        } else {
            format!(",'{prefix}cmd,")
        };
        assert!(csv.contains(&expected), "{prefix:?}: {csv:?}");
    }
}
