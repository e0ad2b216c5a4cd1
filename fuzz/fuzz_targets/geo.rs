//! Geo database bytes through loading and verification: no panic; a database that loads can be
//! queried for any address without panicking.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meridian::geo::GeoDb;

fuzz_target!(|data: &[u8]| {
    if let Ok(db) = GeoDb::from_bytes(data.to_vec(), Path::new("fuzz.mmdb")) {
        for ip in ["81.0.1.2", "8.8.8.8", "1.0.16.1", "2001:200::1", "127.0.0.1", "::1", "200.1.2.3"] {
            let _ = db.locate(ip.parse().unwrap());
        }
    }
});
