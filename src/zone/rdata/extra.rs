//! Text parsers for the record types beyond RFC 1035: CAA, NAPTR, SSHFP, TLSA, DS, DNSKEY,
//! LOC, URI, SVCB and HTTPS.

use super::{Fields, RdataError};

/// Parses `rtype` into `out`; `None` when the type has no text parser here.
pub(super) fn parse(
    _rtype: u16,
    _f: &mut Fields<'_>,
    _out: &mut Vec<u8>,
) -> Option<Result<(), RdataError>> {
    None
}
