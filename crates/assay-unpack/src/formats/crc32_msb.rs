//! CRC-32 with the polynomial 0x04C11DB7 fed most significant bit first (no bit reflection):
//! the form of POSIX `cksum` and bzip2, which vendor headers use too (AVM's file signature,
//! Broadcom ProgramStore). `crc32fast` computes only zlib's reflected form.

/// The byte-at-a-time table.
static TABLE: [u32; 256] = table();

const fn table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// Feed `data` into a running CRC (no initial value or final xor applied: callers pick their
/// variant's).
pub fn update(crc: u32, data: &[u8]) -> u32 {
    data.iter().fold(crc, |c, &b| {
        (c << 8) ^ TABLE[usize::from((c >> 24) as u8 ^ b)]
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn bzip2_check_value() {
        // CRC-32/BZIP2 of "123456789" (init and final xor all ones).
        assert_eq!(!super::update(!0, b"123456789"), 0xFC89_1918);
    }
}
