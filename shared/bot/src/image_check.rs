//! Teams' limits for a picture sent as an attachment: PNG, JPEG or GIF (by magic bytes), at most 1 MB, at most
//! 1024x1024, not animated.
//!
//! TODO: switch to `models::image::check_image` once models has it, and delete this module.

/// Largest picture Teams accepts, in bytes.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Largest width and height Teams accepts, in pixels.
pub const MAX_SIDE: u32 = 1024;

/// A picture's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
}

impl ImageFormat {
    /// The MIME type for the attachment's `contentType`.
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
        }
    }
}

/// What a checked picture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// Why a picture cannot be sent to Teams.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("not a PNG, JPEG or GIF")]
    UnknownFormat,
    #[error("the picture is {0} bytes, over the 1 MB limit")]
    TooLarge(usize),
    #[error("the picture is {width}x{height}, over the 1024x1024 limit")]
    TooManyPixels { width: u32, height: u32 },
    #[error("animated pictures are not allowed")]
    Animated,
    #[error("the picture is truncated or malformed")]
    Malformed,
}

/// Checks `bytes` against Teams' picture limits.
///
/// # Errors
/// [`ImageError`] naming the first limit broken.
pub fn check_image(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    if bytes.len() > MAX_BYTES {
        return Err(ImageError::TooLarge(bytes.len()));
    }
    let info = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)?
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes)?
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        gif(bytes)?
    } else {
        return Err(ImageError::UnknownFormat);
    };
    if info.width == 0 || info.height == 0 {
        return Err(ImageError::Malformed);
    }
    if info.width > MAX_SIDE || info.height > MAX_SIDE {
        return Err(ImageError::TooManyPixels {
            width: info.width,
            height: info.height,
        });
    }
    Ok(info)
}

fn be32(b: &[u8], at: usize) -> Result<u32, ImageError> {
    let s = b.get(at..at + 4).ok_or(ImageError::Malformed)?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be16(b: &[u8], at: usize) -> Result<u32, ImageError> {
    let s = b.get(at..at + 2).ok_or(ImageError::Malformed)?;
    Ok(u32::from(u16::from_be_bytes([s[0], s[1]])))
}

fn le16(b: &[u8], at: usize) -> Result<u32, ImageError> {
    let s = b.get(at..at + 2).ok_or(ImageError::Malformed)?;
    Ok(u32::from(u16::from_le_bytes([s[0], s[1]])))
}

fn byte(b: &[u8], at: usize) -> Result<u8, ImageError> {
    b.get(at).copied().ok_or(ImageError::Malformed)
}

/// PNG: IHDR first; an `acTL` chunk before the image data makes it an animated PNG.
fn png(b: &[u8]) -> Result<ImageInfo, ImageError> {
    if b.get(12..16) != Some(b"IHDR") {
        return Err(ImageError::Malformed);
    }
    let (width, height) = (be32(b, 16)?, be32(b, 20)?);
    let mut at = 8;
    loop {
        let len = be32(b, at)? as usize;
        let kind = b.get(at + 4..at + 8).ok_or(ImageError::Malformed)?;
        match kind {
            b"acTL" => return Err(ImageError::Animated),
            b"IDAT" | b"IEND" => break,
            _ => at = at.checked_add(12 + len).ok_or(ImageError::Malformed)?,
        }
    }
    Ok(ImageInfo {
        format: ImageFormat::Png,
        width,
        height,
    })
}

/// JPEG: walk the segments to the first start-of-frame marker.
fn jpeg(b: &[u8]) -> Result<ImageInfo, ImageError> {
    let mut at = 2;
    loop {
        if byte(b, at)? != 0xFF {
            return Err(ImageError::Malformed);
        }
        let marker = byte(b, at + 1)?;
        match marker {
            0xFF => at += 1,
            0xD8 | 0x01 | 0xD0..=0xD7 => at += 2,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Ok(ImageInfo {
                    format: ImageFormat::Jpeg,
                    height: be16(b, at + 5)?,
                    width: be16(b, at + 7)?,
                });
            }
            0xD9 | 0xDA => return Err(ImageError::Malformed),
            _ => at += 2 + be16(b, at + 2)? as usize,
        }
    }
}

/// GIF: the logical screen size, and more than one image descriptor means animated.
fn gif(b: &[u8]) -> Result<ImageInfo, ImageError> {
    let (width, height) = (le16(b, 6)?, le16(b, 8)?);
    let flags = byte(b, 10)?;
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 << ((flags & 0x07) + 1);
    }
    let skip_sub_blocks = |mut at: usize| -> Result<usize, ImageError> {
        loop {
            let len = byte(b, at)? as usize;
            at += 1 + len;
            if len == 0 {
                return Ok(at);
            }
        }
    };
    let mut frames = 0;
    loop {
        match byte(b, at)? {
            0x21 => at = skip_sub_blocks(at + 2)?,
            0x2C => {
                frames += 1;
                if frames > 1 {
                    return Err(ImageError::Animated);
                }
                let local = byte(b, at + 9)?;
                at += 10;
                if local & 0x80 != 0 {
                    at += 3 << ((local & 0x07) + 1);
                }
                at = skip_sub_blocks(at + 1)?;
            }
            0x3B => break,
            _ => return Err(ImageError::Malformed),
        }
    }
    if frames == 0 {
        return Err(ImageError::Malformed);
    }
    Ok(ImageInfo {
        format: ImageFormat::Gif,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0, 0, 0]); // CRC is not checked
        v
    }

    fn png_of(width: u32, height: u32, animated: bool) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        v.extend(chunk(b"IHDR", &ihdr));
        if animated {
            v.extend(chunk(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]));
        }
        v.extend(chunk(b"IDAT", &[0]));
        v.extend(chunk(b"IEND", &[]));
        v
    }

    fn gif_of(frames: usize) -> Vec<u8> {
        let mut v = b"GIF89a".to_vec();
        v.extend_from_slice(&[10, 0, 20, 0, 0x80, 0, 0]); // 10x20, global table of 2 colours
        v.extend_from_slice(&[0; 6]);
        for _ in 0..frames {
            v.extend_from_slice(&[0x21, 0xF9, 4, 0, 0, 0, 0, 0]); // graphic control extension
            v.extend_from_slice(&[0x2C, 0, 0, 0, 0, 10, 0, 20, 0, 0]); // descriptor, no local table
            v.extend_from_slice(&[2, 2, 0x4C, 0x01, 0]); // LZW min size, one sub-block, terminator
        }
        v.push(0x3B);
        v
    }

    #[test]
    fn the_shipped_picture_passes() {
        let info = check_image(include_bytes!("../assets/picture.png")).unwrap();
        assert_eq!(info, ImageInfo { format: ImageFormat::Png, width: 32, height: 32 });
    }

    #[test]
    fn png_limits() {
        assert_eq!(check_image(&png_of(1024, 1024, false)).unwrap().width, 1024);
        assert_eq!(
            check_image(&png_of(1025, 10, false)),
            Err(ImageError::TooManyPixels { width: 1025, height: 10 })
        );
        assert_eq!(check_image(&png_of(10, 10, true)), Err(ImageError::Animated));
        assert_eq!(check_image(&png_of(10, 10, false)[..20]), Err(ImageError::Malformed));
    }

    #[test]
    fn size_and_format_limits() {
        let mut big = png_of(10, 10, false);
        big.resize(MAX_BYTES + 1, 0);
        assert_eq!(check_image(&big), Err(ImageError::TooLarge(MAX_BYTES + 1)));
        assert_eq!(check_image(b"BM not a bitmap we take"), Err(ImageError::UnknownFormat));
        assert_eq!(check_image(b""), Err(ImageError::UnknownFormat));
    }

    #[test]
    fn gif_single_frame_passes_and_animated_fails() {
        let info = check_image(&gif_of(1)).unwrap();
        assert_eq!((info.format, info.width, info.height), (ImageFormat::Gif, 10, 20));
        assert_eq!(check_image(&gif_of(2)), Err(ImageError::Animated));
        assert_eq!(check_image(&gif_of(0)), Err(ImageError::Malformed));
    }

    #[test]
    fn jpeg_reads_the_frame_size() {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0]; // SOI, APP0 of length 4
        v.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0x02, 0x00, 0x05, 0x00, 3, 0, 0, 0]); // SOF0 512 high, 1280 wide
        assert_eq!(check_image(&v), Err(ImageError::TooManyPixels { width: 1280, height: 512 }));
        v[15] = 0x01; // width 256
        let info = check_image(&v).unwrap();
        assert_eq!((info.format, info.width, info.height), (ImageFormat::Jpeg, 256, 512));
        assert_eq!(check_image(&[0xFF, 0xD8, 0xFF]), Err(ImageError::Malformed));
    }
}
