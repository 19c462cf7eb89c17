//! Relais store: durable call records, agent state changes and the supervision audit log, in a
//! SQLite file by default. A call's record is committed before its end is reported to anyone.
