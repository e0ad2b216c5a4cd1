//! Zone file text through the parser and the zone checks: no panic, and every error has a line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meridian::zone::{Checked, Name, Zone, parser};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let origin = Name::parse("fuzz.test.", None).unwrap();
    let parsed = parser::parse_text(Path::new("/nonexistent/fuzz.test.zone"), text, &origin);
    let mut checked = Checked {
        errors: parsed.errors,
        warnings: parsed.warnings,
    };
    if let Some(zone) = Zone::build(&origin, Path::new("fuzz.zone"), parsed.records, &mut checked) {
        // Resolve a few names against whatever was built.
        let set = meridian::zone::ZoneSet::new(vec![zone]);
        for name in ["fuzz.test.", "www.fuzz.test.", "a.b.c.fuzz.test.", "*.fuzz.test."] {
            let n = Name::parse(name, None).unwrap();
            for qtype in [1u16, 5, 6, 15, 28, 255] {
                let _ = set.resolve(&n, qtype);
            }
        }
    }
    for e in &checked.errors {
        assert!(!e.message.is_empty());
    }
});
