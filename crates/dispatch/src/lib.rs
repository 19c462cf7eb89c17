//! Relais dispatcher core (ACD): a sans-IO state machine that owns service queues, agents and
//! their states, routing strategies, offers with deadlines and live KPIs. Time and randomness
//! are inputs; it never reads the clock or does IO.
