//! OpenAI message content (a string or typed parts) → Gemini parts.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::super::wire::{Blob, FileData, Part};

/// A string or an array of parts (by hand rather than `untagged`, so that a bad part is
/// reported as such).
pub(super) enum MessageContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<ContentPart<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for MessageContent<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor<'a>(PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for ContentVisitor<'a> {
            type Value = MessageContent<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(Cow::Owned(v)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(MessageContent::Parts)
            }
        }

        deserializer.deserialize_any(ContentVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentPart<'a> {
    Text {
        #[serde(borrow)]
        text: Cow<'a, str>,
    },
    Refusal {
        #[serde(borrow)]
        refusal: Cow<'a, str>,
    },
    ImageUrl {
        #[serde(borrow)]
        image_url: ImageUrl<'a>,
    },
    InputAudio {
        #[serde(borrow)]
        input_audio: InputAudio<'a>,
    },
    File {
        #[serde(borrow)]
        file: FileRef<'a>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum ImageUrl<'a> {
    Url(#[serde(borrow)] Cow<'a, str>),
    Object {
        #[serde(borrow)]
        url: Cow<'a, str>,
    },
}

#[derive(Deserialize)]
pub(super) struct InputAudio<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(default, borrow)]
    format: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct FileRef<'a> {
    #[serde(default, borrow)]
    file_data: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    filename: Option<Cow<'a, str>>,
}

fn text_part(text: &str) -> Option<Part<'_>> {
    (!text.is_empty()).then_some(Part {
        text: Some(text),
        ..Part::default()
    })
}

/// Content that may only hold text (system, assistant and tool messages).
pub(super) fn text_parts<'r>(
    content: Option<&'r MessageContent>,
    i: usize,
) -> Result<Vec<Part<'r>>, String> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(text)) => Ok(text_part(text).into_iter().collect()),
        Some(MessageContent::Parts(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for part in parts {
                match part {
                    ContentPart::Text { text } => out.extend(text_part(text)),
                    ContentPart::Refusal { refusal } => out.extend(text_part(refusal)),
                    _ => return Err(format!("messages[{i}].content may only have text parts.")),
                }
            }
            Ok(out)
        }
    }
}

pub(super) fn user_parts<'r>(
    content: Option<&'r MessageContent>,
    i: usize,
) -> Result<Vec<Part<'r>>, String> {
    let Some(MessageContent::Parts(parts)) = content else {
        return text_parts(content, i);
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let converted = match part {
            ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
                Ok(text_part(text))
            }
            ContentPart::ImageUrl { image_url } => {
                let (ImageUrl::Url(url) | ImageUrl::Object { url }) = image_url;
                url_part(url).map(Some)
            }
            ContentPart::InputAudio { input_audio } => Ok(Some(Part {
                inline_data: Some(Blob {
                    mime_type: Cow::Owned(format!(
                        "audio/{}",
                        input_audio.format.as_deref().unwrap_or("wav")
                    )),
                    data: &input_audio.data,
                }),
                ..Part::default()
            })),
            ContentPart::File { file } => file_part(file).map(Some),
        };
        let converted = converted.map_err(|e| format!("messages[{i}].content[{j}]: {e}"))?;
        out.extend(converted);
    }
    Ok(out)
}

/// `data:` URLs → `inlineData`, other URLs → `fileData`.
fn url_part(url: &str) -> Result<Part<'_>, String> {
    if let Some(parsed) = parse_data_url(url) {
        let (mime_type, data) = parsed?;
        return Ok(Part {
            inline_data: Some(Blob {
                mime_type: Cow::Borrowed(mime_type),
                data,
            }),
            ..Part::default()
        });
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    Ok(Part {
        file_data: Some(FileData {
            mime_type: mime_from_name(path),
            file_uri: url,
        }),
        ..Part::default()
    })
}

fn file_part<'r>(file: &'r FileRef) -> Result<Part<'r>, String> {
    let data = file.file_data.as_deref().ok_or(
        "file parts need `file.file_data`; uploaded files (`file_id`) are not available on Gemini",
    )?;
    let (mime_type, data) = match parse_data_url(data) {
        Some(parsed) => parsed?,
        None => {
            let name = file.filename.as_deref().unwrap_or("");
            (mime_from_name(name).unwrap_or("application/pdf"), data)
        }
    };
    Ok(Part {
        inline_data: Some(Blob {
            mime_type: Cow::Borrowed(mime_type),
            data,
        }),
        ..Part::default()
    })
}

/// `Some` for a `data:` URL: its media type and base64 data.
fn parse_data_url(url: &str) -> Option<Result<(&str, &str), String>> {
    let rest = url.strip_prefix("data:")?;
    let Some((meta, data)) = rest.split_once(',') else {
        return Some(Err("a data URL needs a `,` before its data".into()));
    };
    let Some(mime) = meta.strip_suffix(";base64") else {
        return Some(Err(
            "only base64 data URLs (`data:<type>;base64,...`) are supported".into(),
        ));
    };
    let mime = mime.split(';').next().unwrap_or("");
    Some(Ok((
        if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime
        },
        data,
    )))
}

fn mime_from_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => return None,
    })
}
