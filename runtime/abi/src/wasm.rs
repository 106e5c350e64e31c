//! Just enough of the wasm binary format to find a custom section: magic, version, then sections of
//! `id: u8`, `size: LEB128 u32`, payload; a custom section (id 0) starts with its name.

use crate::AbiError;

const MAGIC: &[u8; 4] = b"\0asm";
const VERSION: &[u8; 4] = &[1, 0, 0, 0];
const CUSTOM: u8 = 0;

/// The payload of the custom section `name`, or `None` if the module has none. Two sections with
/// the same name are refused: which one the node would read must not be a matter of taste.
pub fn custom_section<'a>(code: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, AbiError> {
    if code.len() < 8 || &code[..4] != MAGIC {
        return Err(AbiError::Wasm("missing the `\\0asm` magic".into()));
    }
    if &code[4..8] != VERSION {
        return Err(AbiError::Wasm(format!("unsupported version {:?}", &code[4..8])));
    }
    let mut reader = Reader { bytes: code, pos: 8 };
    let mut found = None;
    while reader.pos < code.len() {
        let start = reader.pos;
        let id = reader.byte()?;
        let size = reader.leb_u32()? as usize;
        let payload = reader
            .take(size)
            .map_err(|_| AbiError::Wasm(format!("section at offset {start} runs past the end")))?;
        if id != CUSTOM {
            continue;
        }
        let mut section = Reader { bytes: payload, pos: 0 };
        let name_len = section.leb_u32()? as usize;
        let section_name = section.take(name_len).map_err(|_| {
            AbiError::Wasm(format!("custom section at offset {start}: name runs past the section"))
        })?;
        if section_name == name.as_bytes() {
            if found.is_some() {
                return Err(AbiError::Wasm(format!("more than one `{name}` custom section")));
            }
            found = Some(&payload[section.pos..]);
        }
    }
    Ok(found)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, AbiError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| AbiError::Wasm(format!("unexpected end at offset {}", self.pos)))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], AbiError> {
        if len > self.bytes.len() - self.pos {
            return Err(AbiError::Wasm(format!("unexpected end at offset {}", self.pos)));
        }
        let slice = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    /// Unsigned LEB128 of at most 5 bytes whose value fits in 32 bits, as the spec requires.
    fn leb_u32(&mut self) -> Result<u32, AbiError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| {
                    AbiError::Wasm(format!("LEB128 at offset {start} exceeds 32 bits"))
                });
            }
        }
        Err(AbiError::Wasm(format!("LEB128 at offset {start} is longer than 5 bytes")))
    }
}
