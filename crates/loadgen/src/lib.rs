//! Relais load generator: drives synthetic calls (a kiosk and an agent each) through the real
//! signalling and media of a server, or through Janus for comparison, and reports delay, loss and
//! server CPU per forwarded packet.
