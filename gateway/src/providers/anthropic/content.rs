//! Message content: OpenAI content (a string or parts) → Anthropic content blocks.
//!
//! Text parts become text blocks (empty text is dropped: Anthropic rejects it); `image_url`
//! parts become image blocks (`data:` URLs as base64 sources, http(s) URLs as `url` sources);
//! `file` parts with inline PDF data become document blocks; audio is refused.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A string or an array of parts (a hand-written visitor, so that a bad part is reported
/// as such rather than as "no variant matched").
pub(super) enum ChatContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<ContentPart<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for ChatContent<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> serde::de::Visitor<'de> for ContentVisitor {
            type Value = ChatContent<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of content parts")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ChatContent::Text(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ChatContent::Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(ChatContent::Text(Cow::Owned(v)))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(part) = seq.next_element()? {
                    parts.push(part);
                }
                Ok(ChatContent::Parts(parts))
            }
        }
        deserializer.deserialize_any(ContentVisitor)
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentPart<'a> {
    Text {
        #[serde(borrow)]
        text: Cow<'a, str>,
    },
    ImageUrl {
        #[serde(borrow)]
        image_url: ImageUrl<'a>,
    },
    InputAudio {},
    File {
        #[serde(borrow)]
        file: FileRef<'a>,
    },
    Refusal {
        #[serde(borrow)]
        refusal: Cow<'a, str>,
    },
}

#[derive(Deserialize)]
pub(super) struct ImageUrl<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
}

#[derive(Deserialize)]
pub(super) struct FileRef<'a> {
    #[serde(default, borrow)]
    file_data: Option<Cow<'a, str>>,
}

/// An Anthropic content block.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block<'a> {
    Text {
        text: Cow<'a, str>,
    },
    Image {
        source: Source<'a>,
    },
    Document {
        source: Source<'a>,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: Cow<'a, str>,
        content: ToolResultContent<'a>,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Source<'a> {
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    Url {
        url: Cow<'a, str>,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum ToolResultContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

/// Content that may only hold text (system, assistant and tool messages).
pub(super) fn text_blocks(content: Option<ChatContent<'_>>) -> Result<Vec<Block<'_>>, String> {
    let mut blocks = Vec::new();
    match content {
        None => {}
        Some(ChatContent::Text(text)) => blocks.extend(text_block(text)),
        Some(ChatContent::Parts(parts)) => {
            for part in parts {
                match part {
                    ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
                        blocks.extend(text_block(text));
                    }
                    _ => return Err("only text content is supported in this message".into()),
                }
            }
        }
    }
    Ok(blocks)
}

pub(super) fn user_blocks(content: Option<ChatContent<'_>>) -> Result<Vec<Block<'_>>, String> {
    let parts = match content {
        Some(ChatContent::Parts(parts)) => parts,
        other => return text_blocks(other),
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
                blocks.extend(text_block(text));
            }
            ContentPart::ImageUrl { image_url } => blocks.push(Block::Image {
                source: image_source(image_url.url)?,
            }),
            ContentPart::File { file } => blocks.push(document(file)?),
            ContentPart::InputAudio {} => {
                return Err("Anthropic models do not accept audio input (`input_audio`)".into())
            }
        }
    }
    Ok(blocks)
}

fn text_block(text: Cow<'_, str>) -> Option<Block<'_>> {
    (!text.is_empty()).then_some(Block::Text { text })
}

/// `data:` URLs become base64 sources, http(s) URLs `url` sources.
fn image_source(url: Cow<'_, str>) -> Result<Source<'_>, String> {
    if url.starts_with("data:") {
        let (media_type, data) = data_url(url)?;
        return Ok(Source::Base64 { media_type, data });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Source::Url { url });
    }
    Err("an image URL must be an http(s) URL or a base64 `data:` URL".into())
}

/// A PDF `file` part with inline `file_data` becomes a document block.
fn document(file: FileRef<'_>) -> Result<Block<'_>, String> {
    let Some(file_data) = file.file_data else {
        return Err(
            "`file` parts need inline `file_data` (uploaded `file_id`s are OpenAI's)".into(),
        );
    };
    let (media_type, data) = data_url(file_data)?;
    if media_type != "application/pdf" {
        return Err(format!(
            "only PDF files are supported in `file` parts, not `{media_type}`"
        ));
    }
    Ok(Block::Document {
        source: Source::Base64 { media_type, data },
    })
}

/// Splits `data:<media type>;base64,<data>` into its media type and data.
fn data_url(url: Cow<'_, str>) -> Result<(Cow<'_, str>, Cow<'_, str>), String> {
    let invalid = || "a `data:` URL must look like `data:<media type>;base64,<data>`".to_owned();
    let rest = url.strip_prefix("data:").ok_or_else(invalid)?;
    let (header, _) = rest.split_once(',').ok_or_else(invalid)?;
    let media_type = header.strip_suffix(";base64").ok_or_else(invalid)?;
    if media_type.is_empty() {
        return Err(invalid());
    }
    let media_start = "data:".len();
    let media_end = media_start + media_type.len();
    let data_start = media_start + header.len() + 1;
    Ok(match url {
        Cow::Borrowed(s) => (
            Cow::Borrowed(&s[media_start..media_end]),
            Cow::Borrowed(&s[data_start..]),
        ),
        Cow::Owned(s) => (
            Cow::Owned(s[media_start..media_end].to_owned()),
            Cow::Owned(s[data_start..].to_owned()),
        ),
    })
}
