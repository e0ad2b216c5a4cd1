//! The XDP path's frame reader and reply writer (`server::xdp::frame`) on any octets: reading
//! never panics, and a frame it accepts, turned into a reply with the same payload, reads back
//! as a datagram from the address it was sent to, to the client, with that payload (a frame
//! is accepted only when both ends are addresses and ports a datagram can come from).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian::server::xdp::frame;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = frame::read(data) else { return };
    let payload = data[query.payload.clone()].to_vec();
    let mut reply = data[..query.headers].to_vec();
    reply.extend_from_slice(&payload);
    let len = frame::reply(&mut reply, query.headers, payload.len());
    assert_eq!(len, reply.len());
    let back = frame::read(&reply).expect("a reply reads back");
    assert_eq!(&reply[back.payload.clone()], &payload[..]);
    assert_eq!(back.peer.port(), u16::from_be_bytes([data[query.headers - 6], data[query.headers - 5]]));
    assert_eq!(back.headers, query.headers);
});
