//! The chunked transfer coding of a backend's response (RFC 9112 section 7.1), decoded from the
//! connection's read buffer. Strict: each chunk's data must end in CRLF, a size line or a trailer
//! field line longer than the limits ends the response with an error, and the end of the body is
//! the last-chunk followed by the empty line. Chunk extensions are skipped (as `httparse`
//! reads them); trailer fields are read and dropped, as hyper drops them.

use axum::body::Bytes;
use bytes::BytesMut;

/// Longest chunk-size line (with its extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// Most bytes of trailer fields accepted after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

/// Where the decoder is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At a chunk-size line.
    Size,
    /// In a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer fields until the empty line; this many bytes read so far.
    Trailers(usize),
    /// The body has ended.
    Done,
}

/// What one step of decoding gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// The buffer holds no whole step: read more.
    NeedMore,
    /// The body has ended (the bytes after it are not the body's).
    Done,
}

/// Why a chunked body was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkedError {
    #[error("invalid chunk size line")]
    Size,
    #[error("chunk size line longer than {MAX_SIZE_LINE} bytes")]
    SizeLineTooLong,
    #[error("chunk data not followed by CRLF")]
    DataEnd,
    #[error("trailer fields longer than {MAX_TRAILERS} bytes")]
    TrailersTooLong,
    #[error("trailer line not ended by CRLF")]
    TrailerLine,
}

/// A chunked body's decoder.
#[derive(Debug)]
pub(super) struct ChunkedDecoder {
    state: State,
}

impl ChunkedDecoder {
    pub(super) fn new() -> Self {
        Self { state: State::Size }
    }

    pub(super) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode from the front of `buf`, consuming what it uses, until it has body bytes to give,
    /// needs more input, or the body has ended.
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkedError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::Done),
                State::Size => {
                    let Some(lf) = buf.iter().take(MAX_SIZE_LINE).position(|&b| b == b'\n') else {
                        if buf.len() >= MAX_SIZE_LINE {
                            return Err(ChunkedError::SizeLineTooLong);
                        }
                        return Ok(Decoded::NeedMore);
                    };
                    let size = size_line(buf.get(..=lf).unwrap_or_default())?;
                    let _ = buf.split_to(lf + 1);
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = left.saturating_sub(take as u64);
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                State::DataEnd => match buf.get(..2) {
                    None if buf.first().is_none_or(|&b| b == b'\r') => {
                        return Ok(Decoded::NeedMore);
                    }
                    Some(b"\r\n") => {
                        let _ = buf.split_to(2);
                        self.state = State::Size;
                    }
                    _ => return Err(ChunkedError::DataEnd),
                },
                State::Trailers(read) => {
                    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
                        if read.saturating_add(buf.len()) > MAX_TRAILERS {
                            return Err(ChunkedError::TrailersTooLong);
                        }
                        return Ok(Decoded::NeedMore);
                    };
                    let read = read.saturating_add(lf + 1);
                    if read > MAX_TRAILERS {
                        return Err(ChunkedError::TrailersTooLong);
                    }
                    if lf == 0 || buf.get(lf - 1) != Some(&b'\r') {
                        return Err(ChunkedError::TrailerLine);
                    }
                    let line = buf.split_to(lf + 1);
                    self.state = if line.len() == 2 {
                        State::Done
                    } else {
                        State::Trailers(read)
                    };
                }
            }
        }
    }
}

/// The size of a whole chunk-size line (ending in its LF). `httparse` reads the number and skips
/// the extensions; before it, the line must start with a hex digit (`httparse` reads an empty
/// line as 0) and hold no control character but HTAB (it would skip a lone LF in an extension,
/// which another reader could take as the line's end).
fn size_line(line: &[u8]) -> Result<u64, ChunkedError> {
    let Some((b'\n', rest)) = line.split_last() else {
        return Err(ChunkedError::Size);
    };
    let Some((b'\r', text)) = rest.split_last() else {
        return Err(ChunkedError::Size);
    };
    let starts_with_digit = text.first().is_some_and(u8::is_ascii_hexdigit);
    let clean = text
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80);
    if !starts_with_digit || !clean {
        return Err(ChunkedError::Size);
    }
    match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete((used, size))) if used == line.len() => Ok(size),
        _ => Err(ChunkedError::Size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `input` fed in pieces of `step` bytes: the body, and what was left after its end.
    fn decode_in_steps(input: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), ChunkedError> {
        let mut decoder = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match decoder.decode(&mut buf)? {
                Decoded::Data(data) => body.extend_from_slice(&data),
                Decoded::Done => return Ok((body, buf.to_vec())),
                Decoded::NeedMore => {
                    assert!(fed < input.len(), "needs more after all input: {input:?}");
                    let end = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers_however_the_input_is_split() {
        let input = b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, input.len()] {
            let (body, rest) = decode_in_steps(input, step).unwrap();
            assert_eq!(body, b"hello world", "step {step}");
            assert!(
                b"NEXT".starts_with(&rest),
                "step {step}: the rest is not the body's"
            );
        }
        let (body, _) = decode_in_steps(b"A\r\n0123456789\r\n0\r\n\r\n", 4).unwrap();
        assert_eq!(body, b"0123456789", "hex sizes");
    }

    #[test]
    fn refuses_what_would_put_the_end_of_the_body_in_doubt() {
        let refused: [&[u8]; 9] = [
            b"\r\n0\r\n\r\n",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"z\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"fffffffffffffffffffff\r\n",
            b"0\r\nX-Trailer: 1\n\r\n",
        ];
        for input in refused {
            assert!(decode_in_steps(input, 1).is_err(), "{input:?} was accepted");
        }
        let mut long_line = b"5;".to_vec();
        long_line.resize(MAX_SIZE_LINE + 2, b'a');
        assert_eq!(
            decode_in_steps(&long_line, 64).unwrap_err(),
            ChunkedError::SizeLineTooLong
        );
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..2000 {
            trailers.extend_from_slice(b"X-T: 1234567890\r\n");
        }
        trailers.extend_from_slice(b"\r\n");
        assert_eq!(
            decode_in_steps(&trailers, 512).unwrap_err(),
            ChunkedError::TrailersTooLong
        );
    }
}
