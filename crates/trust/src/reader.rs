//! `Reader`: a bounds-checked cursor over untrusted bytes (signature data, key blobs).
//!
//! Every read checks the remaining length first, so a length or count read from the input can
//! never index past its end or size an allocation larger than the input itself. Errors carry the
//! offset where decoding failed, relative to the start of the outermost input.

use crate::Error;

/// A cursor over `data`, whose first byte is at offset `base` of the outermost input.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the whole of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            base: 0,
        }
    }

    /// The offset of the next byte in the outermost input.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error at the current offset.
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        Error::Malformed {
            message: message.into(),
            offset: self.offset(),
        }
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, Error> {
        match self.data.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => Err(self.error(format!("unexpected end of data reading {what}"))),
        }
    }

    /// Reads a LEB128 `varuint32` (at most 5 bytes, no bits beyond 32).
    pub(crate) fn varuint32(&mut self, what: &str) -> Result<u32, Error> {
        let start = self.offset();
        let mut result: u32 = 0;
        for i in 0..5 {
            let byte = self.u8(what)?;
            if i == 4 && byte & 0x80 != 0 {
                break;
            }
            if i == 4 && byte & 0x70 != 0 {
                return Err(Error::Malformed {
                    message: format!("{what} does not fit in 32 bits"),
                    offset: start,
                });
            }
            result |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(result);
            }
        }
        Err(Error::Malformed {
            message: format!("{what} is longer than 5 bytes"),
            offset: start,
        })
    }

    /// Reads a `varuint7`: one byte below 0x80.
    pub(crate) fn varuint7(&mut self, what: &str) -> Result<u8, Error> {
        let start = self.offset();
        let byte = self.u8(what)?;
        if byte & 0x80 != 0 {
            return Err(Error::Malformed {
                message: format!("{what} does not fit in 7 bits"),
                offset: start,
            });
        }
        Ok(byte)
    }

    /// Reads `len` bytes, checking first that there are that many.
    pub(crate) fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8], Error> {
        if len > self.remaining() {
            return Err(self.error(format!(
                "{what} needs {len} bytes but only {} remain",
                self.remaining()
            )));
        }
        let out = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// Reads a `varuint32` length and returns a reader over that many following bytes.
    pub(crate) fn length_prefixed(&mut self, what: &str) -> Result<Reader<'a>, Error> {
        let len = self.varuint32(&format!("length of {what}"))? as usize;
        let base = self.offset();
        let data = self.bytes(len, what)?;
        Ok(Reader { data, pos: 0, base })
    }

    /// The unread bytes, consuming them.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    /// Fails if any byte is left.
    pub(crate) fn finish(&self, what: &str) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("{} trailing bytes after {what}", self.remaining())))
        }
    }
}

/// Appends `value` as an unsigned LEB128 of minimal length.
pub(crate) fn write_varuint32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends `bytes` preceded by their length as a `varuint32`.
pub(crate) fn write_length_prefixed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| Error::Signing(format!("{} bytes do not fit a length", bytes.len())))?;
    write_varuint32(out, len);
    out.extend_from_slice(bytes);
    Ok(())
}
