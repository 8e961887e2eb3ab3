//! Session ids and passwords generated exactly as Apache ZooKeeper generates them, so that a
//! session created on one server (Java or ours) is accepted on reconnect by any other.

/// First session id of a server: `(sid << 56) | ((now_ms << 24) >>> 8)`; later ids add one.
pub fn initial_session_id(server_id: u8, now_ms: i64) -> i64 {
    let time_part = ((now_ms << 24) as u64 >> 8) as i64;
    ((server_id as i64) << 56) | time_part
}

/// The 16-byte password of a session: `java.util.Random(session_id ^ 0xB3415C00).nextBytes(16)`.
pub fn password(session_id: i64) -> [u8; 16] {
    const MULT: u64 = 0x5DEECE66D;
    const MASK: u64 = (1 << 48) - 1;
    let mut seed = ((session_id ^ 0xB341_5C00) as u64 ^ MULT) & MASK;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(4) {
        seed = (seed.wrapping_mul(MULT).wrapping_add(0xB)) & MASK;
        let mut v = (seed >> 16) as u32;
        for b in chunk.iter_mut() {
            *b = v as u8;
            v >>= 8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handshake captured from Apache 3.8.0 (reference, §2.2): session 0x01000003e1cd0000 got
    /// password 290fe0d3027c66d8af64e5ec1b61171f.
    #[test]
    fn password_matches_apache_capture() {
        let pw = password(0x0100_0003_e1cd_0000);
        let hex: String = pw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "290fe0d3027c66d8af64e5ec1b61171f");
    }

    #[test]
    fn initial_id_puts_server_id_in_top_byte() {
        let id = initial_session_id(1, 0x0000_0193_0000_0000);
        assert_eq!((id >> 56) as u8, 1);
    }
}
