//! The shard's room count follows rooms as they are created and closed.
#![allow(clippy::disallowed_methods)] // virtual time starts at a real instant
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::time::Instant;

use relais_media::{DtlsCertificate, RoomId, Shard, ShardConfig};

#[test]
fn the_room_count_follows_create_and_close() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut shard = Shard::new(ShardConfig::new(
        vec![server],
        [3; 32],
        DtlsCertificate::generate().unwrap(),
    ))
    .unwrap();
    assert_eq!(shard.stats().rooms, 0);
    shard.create_room(RoomId(1)).unwrap();
    shard.create_room(RoomId(2)).unwrap();
    assert_eq!(shard.stats().rooms, 2);
    shard.close_room(Instant::now(), RoomId(1)).unwrap();
    assert_eq!(shard.stats().rooms, 1, "a closed room is still counted");
    shard.close_room(Instant::now(), RoomId(2)).unwrap();
    assert_eq!(shard.stats().rooms, 0);
    assert!(shard.close_room(Instant::now(), RoomId(2)).is_err());
    assert_eq!(shard.stats().rooms, 0);
}
