//! Jute primitive encoding (big-endian, length-prefixed strings, buffers and vectors) and the
//! [`Jute`] trait every record implements.
//!
//! Reads are bounds-checked: a length that points past the end of the input is
//! [`DecodeError::Truncated`], a length that can never be valid is [`DecodeError::Invalid`].

use thiserror::Error;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did. For a frame that has fully arrived this means the
    /// frame is malformed; for a stream it means "wait for more bytes".
    #[error("input ended after {have} bytes, needed {need} more")]
    Truncated { have: usize, need: usize },
    /// The bytes can never form a valid record.
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

impl DecodeError {
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        DecodeError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over an input slice. Never reads past its end.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unconsumed tail, without consuming it.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                have: self.remaining(),
                need: n - self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub fn bool(&mut self) -> Result<bool> {
        // Apache's reader treats any non-zero byte as true.
        Ok(self.u8()? != 0)
    }

    /// A length prefix: -1 is null (`None`); other negatives are invalid; a positive length must
    /// fit in what is left (checked by the caller's `take`).
    fn len_prefix(&mut self, what: &'static str) -> Result<Option<usize>> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::invalid(what, format!("negative length {n}"))),
            n => Ok(Some(n as usize)),
        }
    }

    pub fn buffer_opt(&mut self) -> Result<Option<Vec<u8>>> {
        match self.len_prefix("buffer")? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }

    pub fn string_opt(&mut self) -> Result<Option<String>> {
        match self.len_prefix("ustring")? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n)?;
                String::from_utf8(b.to_vec())
                    .map(Some)
                    .map_err(|e| DecodeError::invalid("ustring", e.to_string()))
            }
        }
    }

    /// A vector's element count. Each element takes at least one byte, so a count larger than
    /// the bytes left is rejected before anything is allocated.
    pub fn vec_len(&mut self) -> Result<Option<usize>> {
        match self.len_prefix("vector")? {
            None => Ok(None),
            Some(n) if n > self.remaining() => Err(DecodeError::Truncated {
                have: self.remaining(),
                need: n - self.remaining(),
            }),
            Some(n) => Ok(Some(n)),
        }
    }
}

/// Append-only big-endian writer helpers over a `Vec<u8>`.
pub trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_i32(&mut self, v: i32);
    fn put_i64(&mut self, v: i64);
    fn put_bool(&mut self, v: bool);
    fn put_bytes(&mut self, v: &[u8]);
    fn put_buffer(&mut self, v: Option<&[u8]>);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bool(&mut self, v: bool) {
        self.push(v as u8);
    }
    fn put_bytes(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
    fn put_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.put_i32(-1),
            Some(b) => {
                self.put_i32(b.len() as i32);
                self.put_bytes(b);
            }
        }
    }
}

/// A value with a jute encoding.
pub trait Jute: Sized {
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(r: &mut Reader<'_>) -> Result<Self>;
    fn encoded_len(&self) -> usize;

    /// Encodes into a fresh vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v);
        v
    }

    /// Decodes a whole slice; bytes left over are an error.
    fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b);
        let v = Self::decode(&mut r)?;
        if !r.is_empty() {
            return Err(DecodeError::invalid(
                "record",
                format!("{} trailing bytes", r.remaining()),
            ));
        }
        Ok(v)
    }
}

impl Jute for i32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_i32(*self)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.i32()
    }
    fn encoded_len(&self) -> usize {
        4
    }
}

impl Jute for i64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_i64(*self)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.i64()
    }
    fn encoded_len(&self) -> usize {
        8
    }
}

impl Jute for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_bool(*self)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.bool()
    }
    fn encoded_len(&self) -> usize {
        1
    }
}

/// A `ustring` whose null and empty forms mean the same. Null (-1) decodes as the empty string:
/// kazoo writes every empty string as null, e.g. the empty id of the `auth` scheme in
/// `CREATOR_ALL_ACL`, and Apache accepts it. We always write the empty string as length 0, as
/// the Java client does. Fields where null means something else are `Option<String>`.
impl Jute for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_buffer(Some(self.as_bytes()))
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(r.string_opt()?.unwrap_or_default())
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// A nullable `ustring`.
impl Jute for Option<String> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_buffer(self.as_ref().map(|s| s.as_bytes()))
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.string_opt()
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, |s| s.len())
    }
}

/// A nullable `buffer` (null and empty are different values on the wire and in a znode).
impl Jute for Option<Vec<u8>> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_buffer(self.as_deref())
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.buffer_opt()
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, |b| b.len())
    }
}

/// A `buffer` that must not be null.
impl Jute for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_buffer(Some(self))
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.buffer_opt()?
            .ok_or_else(|| DecodeError::invalid("buffer", "null where a buffer is required"))
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// A jute `vector<T>`. Null is decoded as an empty vector only by [`decode_vec_nullable`];
/// here it is an error so that decode → encode is the identity.
pub fn encode_vec<T: Jute>(v: &[T], out: &mut Vec<u8>) {
    out.put_i32(v.len() as i32);
    for e in v {
        e.encode(out);
    }
}

pub fn decode_vec<T: Jute>(r: &mut Reader<'_>) -> Result<Vec<T>> {
    let n = r
        .vec_len()?
        .ok_or_else(|| DecodeError::invalid("vector", "null where a vector is required"))?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(T::decode(r)?);
    }
    Ok(v)
}

pub fn vec_len<T: Jute>(v: &[T]) -> usize {
    4 + v.iter().map(Jute::encoded_len).sum::<usize>()
}

impl<T: Jute> Jute for Vec<T>
where
    T: JuteElem,
{
    fn encode(&self, out: &mut Vec<u8>) {
        encode_vec(self, out)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        decode_vec(r)
    }
    fn encoded_len(&self) -> usize {
        vec_len(self)
    }
}

/// A nullable `vector<T>`: `None` is the null vector (count -1), distinct from an empty one.
/// `QuorumPacket.authinfo` is null on every packet but REQUEST.
impl<T: Jute + JuteElem> Jute for Option<Vec<T>> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.put_i32(-1),
            Some(v) => encode_vec(v, out),
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let Some(n) = r.vec_len()? else {
            return Ok(None);
        };
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::decode(r)?);
        }
        Ok(Some(v))
    }
    fn encoded_len(&self) -> usize {
        self.as_deref().map_or(4, vec_len)
    }
}

/// Marker for types that may be vector elements (everything but `u8`, whose `Vec` is a buffer).
pub trait JuteElem {}
impl JuteElem for String {}
impl JuteElem for i64 {}
impl JuteElem for i32 {}

/// Declares a jute record: a struct whose fields are encoded in declaration order.
#[macro_export]
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }

        impl $crate::jute::Jute for $name {
            #[allow(unused_variables)]
            fn encode(&self, out: &mut Vec<u8>) {
                $($crate::jute::Jute::encode(&self.$f, out);)*
            }
            #[allow(unused_variables)]
            fn decode(r: &mut $crate::jute::Reader<'_>) -> $crate::jute::Result<Self> {
                Ok($name { $($f: $crate::jute::Jute::decode(r)?),* })
            }
            fn encoded_len(&self) -> usize {
                0 $(+ $crate::jute::Jute::encoded_len(&self.$f))*
            }
        }
        impl $crate::jute::JuteElem for $name {}
    };
}
