//! Checks a picture against Teams' rules before sending it: PNG, JPEG or GIF (by its bytes, not its name), at
//! most 1 MB, at most 1024x1024 pixels, and not animated.
//!
//! Dimensions are read from the file itself: PNG's `IHDR`, JPEG's first `SOFn` frame header, GIF's logical
//! screen. A GIF with more than one image (frame) is animated, and so is a PNG with an `acTL` chunk (APNG).
//! Any input, however malformed, gives a typed answer; nothing here panics.

/// The most bytes a picture may have (1 MB).
pub const MAX_IMAGE_BYTES: usize = 1_048_576;
/// The widest and tallest a picture may be, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 1024;

/// A picture format Teams shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
}

impl ImageFormat {
    /// The MIME type (`image/png`, `image/jpeg`, `image/gif`), for an attachment's `contentType`.
    #[must_use]
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
        }
    }

    /// The format whose signature `bytes` start with.
    #[must_use]
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(PNG_SIGNATURE) {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else {
            None
        }
    }
}

/// What [`check_image`] found in an acceptable picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// The file's size in bytes.
    pub bytes: usize,
}

/// Why a picture cannot be sent to Teams.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The bytes are not a PNG, JPEG or GIF.
    #[error("not a PNG, JPEG or GIF image")]
    NotAnImage,
    /// Over [`MAX_IMAGE_BYTES`].
    #[error("image is {bytes} bytes, over the limit of {MAX_IMAGE_BYTES}")]
    TooLarge { bytes: usize },
    /// Wider or taller than [`MAX_IMAGE_SIDE`].
    #[error("image is {width}x{height} pixels, over the limit of {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}")]
    TooBig { width: u32, height: u32 },
    /// An animated GIF (or APNG).
    #[error("animated images are not supported")]
    Animated,
    /// The file ends before its header (or, for a GIF, its trailer) is complete.
    #[error("image data is truncated")]
    Truncated,
    /// The signature is right but the structure is not (no frame header, a zero dimension, a bad chunk).
    #[error("malformed {format:?} image: {reason}")]
    Malformed { format: ImageFormat, reason: &'static str },
}

/// Checks that `bytes` are a picture Teams accepts, and reads its format and dimensions.
///
/// # Errors
/// [`ImageError`] saying which rule the picture breaks; the format is checked first, then the file size, then
/// the structure and dimensions, then animation.
pub fn check_image(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let format = ImageFormat::sniff(bytes).ok_or(ImageError::NotAnImage)?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge { bytes: bytes.len() });
    }
    let (width, height, animated) = match format {
        ImageFormat::Png => png(bytes)?,
        ImageFormat::Jpeg => jpeg(bytes).map(|(w, h)| (w, h, false))?,
        ImageFormat::Gif => gif(bytes)?,
    };
    if width == 0 || height == 0 {
        return Err(ImageError::Malformed {
            format,
            reason: "zero width or height",
        });
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(ImageError::TooBig { width, height });
    }
    if animated {
        return Err(ImageError::Animated);
    }
    Ok(ImageInfo {
        format,
        width,
        height,
        bytes: bytes.len(),
    })
}

impl crate::attachment::Attachment {
    /// A picture attachment sent inline (`data:` URL), after [`check_image`]; its `contentType` comes from the
    /// bytes, not from `name`.
    ///
    /// # Errors
    /// [`ImageError`] when the picture breaks one of Teams' rules.
    pub fn checked_inline_image(bytes: &[u8], name: Option<String>) -> Result<(Self, ImageInfo), ImageError> {
        let info = check_image(bytes)?;
        Ok((Self::inline_image(bytes, info.format.mime_type(), name), info))
    }
}

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// A bounds-checked reader: every read past the end is [`ImageError::Truncated`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], pos: usize) -> Self {
        Self { bytes, pos }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ImageError> {
        let end = self.pos.checked_add(n).ok_or(ImageError::Truncated)?;
        let slice = self.bytes.get(self.pos..end).ok_or(ImageError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn skip(&mut self, n: usize) -> Result<(), ImageError> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Result<u8, ImageError> {
        Ok(self.take(1)?[0])
    }

    fn u16_be(&mut self) -> Result<u16, ImageError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u16_le(&mut self) -> Result<u16, ImageError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32_be(&mut self) -> Result<u32, ImageError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// PNG: the first chunk must be `IHDR` (width, height); an `acTL` chunk before the first `IDAT` marks an APNG.
fn png(bytes: &[u8]) -> Result<(u32, u32, bool), ImageError> {
    let malformed = |reason| ImageError::Malformed {
        format: ImageFormat::Png,
        reason,
    };
    let mut r = Reader::new(bytes, PNG_SIGNATURE.len());
    let length = r.u32_be()?;
    if r.take(4)? != b"IHDR" || length != 13 {
        return Err(malformed("first chunk is not IHDR"));
    }
    let width = r.u32_be()?;
    let height = r.u32_be()?;
    r.skip(5 + 4)?; // rest of IHDR, CRC
    loop {
        let length = usize::try_from(r.u32_be()?).map_err(|_| ImageError::Truncated)?;
        let kind = r.take(4)?;
        match kind {
            b"acTL" => return Ok((width, height, true)),
            b"IDAT" | b"IEND" => return Ok((width, height, false)),
            _ => r.skip(length.checked_add(4).ok_or(ImageError::Truncated)?)?,
        }
    }
}

/// JPEG: walk the marker segments to the first `SOFn` frame header (height, then width).
fn jpeg(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let malformed = |reason| ImageError::Malformed {
        format: ImageFormat::Jpeg,
        reason,
    };
    let mut r = Reader::new(bytes, 2);
    loop {
        if r.u8()? != 0xFF {
            return Err(malformed("expected a marker"));
        }
        let mut marker = r.u8()?;
        while marker == 0xFF {
            marker = r.u8()?; // fill bytes
        }
        match marker {
            // Markers without a length: TEM, RSTn, SOI.
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 => return Err(malformed("end of image before a frame header")),
            0xDA => return Err(malformed("scan before a frame header")),
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let length = r.u16_be()?;
                if length < 8 {
                    return Err(malformed("frame header too short"));
                }
                r.skip(1)?; // sample precision
                let height = r.u16_be()?;
                let width = r.u16_be()?;
                return Ok((u32::from(width), u32::from(height)));
            }
            _ => {
                let length = r.u16_be()?;
                if length < 2 {
                    return Err(malformed("segment length below 2"));
                }
                r.skip(usize::from(length) - 2)?;
            }
        }
    }
}

/// GIF: the logical screen gives the dimensions; count the image descriptors up to the trailer.
fn gif(bytes: &[u8]) -> Result<(u32, u32, bool), ImageError> {
    let malformed = |reason| ImageError::Malformed {
        format: ImageFormat::Gif,
        reason,
    };
    let mut r = Reader::new(bytes, 6);
    let width = u32::from(r.u16_le()?);
    let height = u32::from(r.u16_le()?);
    let flags = r.u8()?;
    r.skip(2)?; // background colour, aspect ratio
    if flags & 0x80 != 0 {
        r.skip(3 << ((flags & 0x07) + 1))?;
    }
    let mut frames = 0u32;
    loop {
        match r.u8()? {
            0x3B => break,
            0x21 => {
                r.skip(1)?; // label
                skip_sub_blocks(&mut r)?;
            }
            0x2C => {
                frames += 1;
                if frames > 1 {
                    // Animated: no need to read further, but the dimensions are known and checked first.
                    return Ok((width, height, true));
                }
                r.skip(8)?; // left, top, width, height
                let local = r.u8()?;
                if local & 0x80 != 0 {
                    r.skip(3 << ((local & 0x07) + 1))?;
                }
                r.skip(1)?; // LZW minimum code size
                skip_sub_blocks(&mut r)?;
            }
            _ => return Err(malformed("unknown block")),
        }
    }
    if frames == 0 {
        return Err(malformed("no image"));
    }
    Ok((width, height, false))
}

fn skip_sub_blocks(r: &mut Reader<'_>) -> Result<(), ImageError> {
    loop {
        let size = r.u8()?;
        if size == 0 {
            return Ok(());
        }
        r.skip(usize::from(size))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(width: u32, height: u32, extra_chunk: Option<&[u8; 4]>) -> Vec<u8> {
        let mut v = PNG_SIGNATURE.to_vec();
        v.extend(13u32.to_be_bytes());
        v.extend(b"IHDR");
        v.extend(width.to_be_bytes());
        v.extend(height.to_be_bytes());
        v.extend([8, 6, 0, 0, 0]);
        v.extend([0; 4]);
        if let Some(kind) = extra_chunk {
            v.extend(8u32.to_be_bytes());
            v.extend(kind);
            v.extend([0; 8 + 4]);
        }
        v.extend(0u32.to_be_bytes());
        v.extend(b"IDAT");
        v.extend([0; 4]);
        v
    }

    fn jpeg_bytes(width: u16, height: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        // APP0 (JFIF), 16 bytes.
        v.extend([0xFF, 0xE0, 0x00, 0x10]);
        v.extend(b"JFIF\0");
        v.extend([1, 1, 0, 0, 1, 0, 1, 0, 0]);
        // SOF2 (progressive).
        v.extend([0xFF, 0xFF, 0xC2, 0x00, 0x11, 0x08]);
        v.extend(height.to_be_bytes());
        v.extend(width.to_be_bytes());
        v.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v.extend([0xFF, 0xD9]);
        v
    }

    fn gif_bytes(width: u16, height: u16, frames: usize) -> Vec<u8> {
        let mut v = b"GIF89a".to_vec();
        v.extend(width.to_le_bytes());
        v.extend(height.to_le_bytes());
        v.extend([0x80, 0, 0]); // global colour table of 2 entries
        v.extend([0, 0, 0, 255, 255, 255]);
        // NETSCAPE2.0 loop extension.
        v.extend([0x21, 0xFF, 0x0B]);
        v.extend(b"NETSCAPE2.0");
        v.extend([3, 1, 0, 0, 0]);
        for _ in 0..frames {
            v.extend([0x21, 0xF9, 4, 0, 10, 0, 0, 0]); // graphic control
            v.extend([0x2C, 0, 0, 0, 0]);
            v.extend(width.to_le_bytes());
            v.extend(height.to_le_bytes());
            v.extend([0, 2, 2, 0x4C, 0x01, 0]);
        }
        v.push(0x3B);
        v
    }

    #[test]
    fn png_dimensions_and_limits() {
        let info = check_image(&png_bytes(1024, 768, None)).unwrap();
        assert_eq!((info.format, info.width, info.height), (ImageFormat::Png, 1024, 768));
        assert_eq!(info.format.mime_type(), "image/png");
        assert_eq!(
            check_image(&png_bytes(1025, 10, None)),
            Err(ImageError::TooBig {
                width: 1025,
                height: 10
            })
        );
        assert_eq!(
            check_image(&png_bytes(10, 10, Some(b"acTL"))),
            Err(ImageError::Animated)
        );
        assert!(check_image(&png_bytes(10, 10, Some(b"tEXt"))).is_ok());
        assert!(matches!(
            check_image(&png_bytes(0, 10, None)),
            Err(ImageError::Malformed { .. })
        ));
    }

    #[test]
    fn jpeg_dimensions_from_sof() {
        let info = check_image(&jpeg_bytes(640, 1024)).unwrap();
        assert_eq!((info.format, info.width, info.height), (ImageFormat::Jpeg, 640, 1024));
        assert_eq!(
            check_image(&jpeg_bytes(2000, 100)),
            Err(ImageError::TooBig {
                width: 2000,
                height: 100
            })
        );
        let mut no_frame = vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02];
        assert!(matches!(check_image(&no_frame), Err(ImageError::Malformed { .. })));
        no_frame.truncate(3);
        assert_eq!(check_image(&no_frame), Err(ImageError::Truncated));
    }

    #[test]
    fn gif_frames_decide_animation() {
        let info = check_image(&gif_bytes(320, 200, 1)).unwrap();
        assert_eq!((info.format, info.width, info.height), (ImageFormat::Gif, 320, 200));
        assert_eq!(check_image(&gif_bytes(320, 200, 2)), Err(ImageError::Animated));
        assert_eq!(
            check_image(&gif_bytes(4000, 200, 2)),
            Err(ImageError::TooBig {
                width: 4000,
                height: 200
            })
        );
        let mut cut = gif_bytes(320, 200, 1);
        cut.pop();
        assert_eq!(check_image(&cut), Err(ImageError::Truncated));
        assert!(matches!(
            check_image(&gif_bytes(1, 1, 0)),
            Err(ImageError::Malformed { .. })
        ));
    }

    #[test]
    fn checked_inline_image_takes_type_from_bytes() {
        let (attachment, info) =
            crate::Attachment::checked_inline_image(&gif_bytes(2, 3, 1), Some("x.png".to_owned())).unwrap();
        assert_eq!(attachment.content_type, "image/gif");
        assert!(
            attachment
                .content_url
                .unwrap()
                .starts_with("data:image/gif;base64,R0lGODlh")
        );
        assert_eq!((info.width, info.height), (2, 3));
        assert_eq!(
            crate::Attachment::checked_inline_image(&gif_bytes(2, 3, 2), None).unwrap_err(),
            ImageError::Animated
        );
    }

    #[test]
    fn size_and_magic() {
        assert_eq!(check_image(b"hello.png"), Err(ImageError::NotAnImage));
        assert_eq!(check_image(&[]), Err(ImageError::NotAnImage));
        let mut big = png_bytes(10, 10, None);
        big.resize(MAX_IMAGE_BYTES + 1, 0);
        assert_eq!(
            check_image(&big),
            Err(ImageError::TooLarge {
                bytes: MAX_IMAGE_BYTES + 1
            })
        );
        let mut exact = png_bytes(10, 10, None);
        exact.resize(MAX_IMAGE_BYTES, 0);
        assert!(check_image(&exact).is_ok());
    }

    #[test]
    fn every_prefix_is_an_answer_not_a_panic() {
        for sample in [png_bytes(5, 5, Some(b"acTL")), jpeg_bytes(5, 5), gif_bytes(5, 5, 2)] {
            for end in 0..sample.len() {
                let _ = check_image(&sample[..end]);
            }
        }
        assert_eq!(check_image(&png_bytes(5, 5, None)[..20]), Err(ImageError::Truncated));
    }
}
