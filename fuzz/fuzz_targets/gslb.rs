//! GSLB definition text through the strict TOML walker: no panic; errors carry a message.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use meridian::config::gslb;
use meridian::zone::{Name, Zone, ZoneSet};

fn zones() -> &'static ZoneSet {
    static Z: OnceLock<ZoneSet> = OnceLock::new();
    Z.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let origin = Name::parse("gslb.test.", None).unwrap();
        let (zone, _) = Zone::load(&root.join("tests/data/gslb/gslb.test.zone"), &origin).expect("zone loads");
        ZoneSet::new(vec![zone])
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut errors = Vec::new();
    let files = vec![(PathBuf::from("/nonexistent/gslb.test.toml"), text.to_string())];
    let g = gslb::from_texts(&files, zones(), &mut errors);
    for e in &errors {
        assert!(!e.message.is_empty());
    }
    for pool in &g.pools {
        assert!(!pool.members.is_empty());
    }
});
