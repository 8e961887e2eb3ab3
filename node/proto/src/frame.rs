//! Length-prefixed frames: `int32 length` then `length` bytes, in both directions on the client
//! port.

use crate::jute::Writer;
use thiserror::Error;

/// Apache's default `jute.maxbuffer`: the largest inbound frame accepted.
pub const FRAME_LEN_MAX_DEFAULT: usize = 0xfffff;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame length {len} is negative")]
    Negative { len: i32 },
    #[error("frame length {len} exceeds jute.maxbuffer ({max})")]
    TooLarge { len: usize, max: usize },
}

/// Looks for one complete frame at the start of `buf`.
/// `Ok(None)`: more bytes are needed. `Ok(Some((payload_range_end, payload)))`: the payload and
/// the total bytes the frame occupies.
pub fn parse(buf: &[u8], len_max: usize) -> Result<Option<(usize, &[u8])>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 {
        return Err(FrameError::Negative { len });
    }
    let len = len as usize;
    if len > len_max {
        return Err(FrameError::TooLarge { len, max: len_max });
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some((4 + len, &buf[4..4 + len])))
}

/// Builds a frame: reserves the length prefix, lets `fill` write the payload, then patches the
/// prefix.
pub fn build(fill: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.put_i32(0);
    fill(&mut out);
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}
