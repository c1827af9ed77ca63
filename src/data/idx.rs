//! IDX headers (the MNIST file format), checked before any file reaches the `mnist` crate,
//! which panics on bad input instead of returning an error.

use anyhow::{Result, bail};

/// Pixels per row and per column of an MNIST image.
const SIDE: usize = 28;

/// What a file must hold: images or labels, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxSpec {
    pub images: bool,
    pub count: usize,
}

impl IdxSpec {
    pub fn images(count: usize) -> Self {
        Self {
            images: true,
            count,
        }
    }

    pub fn labels(count: usize) -> Self {
        Self {
            images: false,
            count,
        }
    }

    /// Magic number: two zero bytes, the element type (0x08 = u8), the number of dimensions.
    pub fn magic(&self) -> u32 {
        if self.images { 0x0803 } else { 0x0801 }
    }

    pub fn header_len(&self) -> usize {
        if self.images { 16 } else { 8 }
    }

    /// Exact byte length of a well-formed file.
    pub fn file_len(&self) -> usize {
        let item = if self.images { SIDE * SIDE } else { 1 };
        self.header_len() + self.count * item
    }

    fn noun(&self) -> &'static str {
        if self.images { "images" } else { "labels" }
    }

    /// Checks the header bytes (at least the first `header_len()` bytes of the file, fewer if
    /// the file is that short) and the file's total length. `what` names the file in errors.
    pub fn check(&self, header: &[u8], file_len: u64, what: &str) -> Result<()> {
        if header.len() < 4 {
            bail!(
                "{what}: not an IDX file (only {} bytes); use the standard MNIST files",
                header.len()
            );
        }
        let magic = be_u32(header, 0);
        if magic != self.magic() {
            bail!(
                "{what}: not an IDX {} file (magic number 0x{magic:08x}, expected 0x{:08x}); \
                 use the standard MNIST files",
                self.noun(),
                self.magic()
            );
        }
        if header.len() < self.header_len() {
            bail!(
                "{what}: truncated: expected {} bytes, found {file_len}",
                self.file_len()
            );
        }
        let count = be_u32(header, 4) as usize;
        if count != self.count {
            bail!(
                "{what}: holds {count} {}, expected {} (standard MNIST has 60,000 training and \
                 10,000 test items)",
                self.noun(),
                self.count
            );
        }
        if self.images {
            let (rows, cols) = (be_u32(header, 8) as usize, be_u32(header, 12) as usize);
            if (rows, cols) != (SIDE, SIDE) {
                bail!("{what}: images are {rows}×{cols}, expected {SIDE}×{SIDE}");
            }
        }
        let expected = self.file_len() as u64;
        if file_len < expected {
            bail!("{what}: truncated: expected {expected} bytes, found {file_len}");
        }
        if file_len > expected {
            bail!(
                "{what}: {file_len} bytes, expected {expected}: trailing data after the last \
                 item, not a standard MNIST file"
            );
        }
        Ok(())
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, count: u32, dims: &[u32]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        out.extend(count.to_be_bytes());
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn accepts_a_well_formed_header() {
        let spec = IdxSpec::images(3);
        let h = header(0x803, 3, &[28, 28]);
        spec.check(&h, 16 + 3 * 784, "f").unwrap();
        IdxSpec::labels(5)
            .check(&header(0x801, 5, &[]), 13, "f")
            .unwrap();
    }

    #[test]
    fn names_each_defect() {
        let spec = IdxSpec::images(3);
        let err = |h: &[u8], len: u64| spec.check(h, len, "F").unwrap_err().to_string();
        assert!(err(b"PK", 2).contains("F: not an IDX file"));
        let labels = header(0x801, 3, &[]);
        assert!(err(&labels, 11).contains("not an IDX images file (magic number 0x00000801"));
        assert!(err(&header(0x803, 3, &[28]), 12).contains("truncated: expected 2368 bytes"));
        assert!(err(&header(0x803, 4, &[28, 28]), 2368).contains("holds 4 images, expected 3"));
        assert!(err(&header(0x803, 3, &[32, 32]), 2368).contains("32×32, expected 28×28"));
        let h = header(0x803, 3, &[28, 28]);
        assert_eq!(err(&h, 100), "F: truncated: expected 2368 bytes, found 100");
        assert!(err(&h, 2369).contains("trailing data"));
    }
}
