//! A request body as an ordered list of top-level fields whose values stay raw JSON.
//!
//! The gateway reads only the few fields it needs (`model`, `stream`, ...) and forwards the
//! rest byte for byte, so unknown and future fields of the OpenAI API survive unchanged and
//! no time is spent parsing message arrays on the hot path.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::GatewayError;

/// A parsed JSON object body: top-level keys in their original order, values unparsed.
#[derive(Debug)]
pub struct RequestDoc<'a> {
    fields: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
    changed: bool,
}

impl<'a> RequestDoc<'a> {
    /// Parses a request body; anything but a JSON object is a 400.
    pub fn parse(body: &'a [u8]) -> Result<Self, GatewayError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let fields = de
            .deserialize_map(FieldsVisitor)
            .and_then(|fields| de.end().map(|()| fields))
            .map_err(|e| {
                GatewayError::invalid(format!(
                    "We could not parse the JSON body of your request: {e}"
                ))
            })?;
        Ok(RequestDoc {
            fields,
            changed: false,
        })
    }

    pub fn raw(&self, key: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// A field parsed into `T`; a wrongly typed field is a 400 naming the parameter.
    pub fn get<'s, T: Deserialize<'s>>(&'s self, key: &str) -> Result<Option<T>, GatewayError> {
        match self.raw(key) {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => serde_json::from_str(raw.get()).map(Some).map_err(|e| {
                GatewayError::invalid_param(format!("Invalid value for '{key}': {e}"), key)
            }),
        }
    }

    /// The required `model` string.
    pub fn model(&self) -> Result<Cow<'_, str>, GatewayError> {
        match self.get::<Cow<'_, str>>("model")? {
            Some(model) if !model.is_empty() => Ok(model),
            _ => Err(GatewayError::invalid_param(
                "you must provide a model parameter",
                "model",
            )),
        }
    }

    /// Whether the client asked for a server-sent-event stream.
    pub fn stream(&self) -> Result<bool, GatewayError> {
        Ok(self.get::<bool>("stream")?.unwrap_or(false))
    }

    /// Whether `stream_options.include_usage` is true.
    pub fn include_usage(&self) -> Result<bool, GatewayError> {
        #[derive(Deserialize)]
        struct StreamOptions {
            #[serde(default)]
            include_usage: Option<bool>,
        }
        Ok(self
            .get::<StreamOptions>("stream_options")?
            .and_then(|o| o.include_usage)
            .unwrap_or(false))
    }

    /// Sets a field to a JSON value, replacing it in place or appending it.
    pub fn set_raw(&mut self, key: &'a str, value: Box<RawValue>) {
        self.changed = true;
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Cow::Owned(value),
            None => self.fields.push((Cow::Borrowed(key), Cow::Owned(value))),
        }
    }

    pub fn set_str(&mut self, key: &'a str, value: &str) {
        if let Ok(raw) = serde_json::value::to_raw_value(value) {
            self.set_raw(key, raw);
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Cow<'a, RawValue>> {
        let index = self.fields.iter().position(|(k, _)| k == key)?;
        self.changed = true;
        Some(self.fields.remove(index).1)
    }

    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// Serialises the document; unchanged values are copied as they came.
    pub fn to_bytes(&self, size_hint: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size_hint + 64);
        out.push(b'{');
        for (i, (key, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Keys are written through serde_json so escapes round-trip.
            if serde_json::to_writer(&mut out, key.as_ref()).is_err() {
                out.extend_from_slice(b"\"\"");
            }
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        }
        out.push(b'}');
        out
    }
}

struct FieldsVisitor;

type Fields<'a> = Vec<(Cow<'a, str>, Cow<'a, RawValue>)>;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut fields: Fields<'de> = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate field `{key}`")));
            }
            fields.push((key, Cow::Borrowed(value)));
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_fields_and_keeps_order() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"x_future":{"a":1}}"#;
        let doc = RequestDoc::parse(body).unwrap();
        assert_eq!(doc.model().unwrap(), "m");
        assert!(doc.stream().unwrap());
        assert!(!doc.include_usage().unwrap());
        assert_eq!(doc.to_bytes(body.len()), body.to_vec());
        assert!(!doc.is_changed());
    }

    #[test]
    fn set_replaces_in_place_and_appends_new_fields() {
        let body = br#"{"model":"alias","stream":true}"#;
        let mut doc = RequestDoc::parse(body).unwrap();
        doc.set_str("model", "real-model");
        doc.set_raw(
            "stream_options",
            RawValue::from_string(r#"{"include_usage":true}"#.into()).unwrap(),
        );
        let out: serde_json::Value = serde_json::from_slice(&doc.to_bytes(0)).unwrap();
        assert_eq!(out["model"], "real-model");
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(
            String::from_utf8(doc.to_bytes(0)).unwrap(),
            r#"{"model":"real-model","stream":true,"stream_options":{"include_usage":true}}"#
        );
    }

    #[test]
    fn escaped_keys_round_trip() {
        let body = br#"{"mo\u0064el":"m","a\"b":1}"#;
        let doc = RequestDoc::parse(body).unwrap();
        assert_eq!(doc.model().unwrap(), "m");
        let out: serde_json::Value = serde_json::from_slice(&doc.to_bytes(0)).unwrap();
        assert_eq!(out["a\"b"], 1);
    }

    #[test]
    fn rejects_non_objects_duplicates_and_trailing_garbage() {
        for bad in [
            &b"[]"[..],
            b"\"x\"",
            b"{",
            b"{}x",
            b"{\"model\":1,\"model\":2}",
            b"",
            b"null",
        ] {
            let err = RequestDoc::parse(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn wrong_types_name_the_parameter() {
        let doc = RequestDoc::parse(br#"{"model":5,"stream":"yes"}"#).unwrap();
        let err = doc.model().unwrap_err();
        assert!(
            matches!(err, GatewayError::InvalidRequest { ref param, .. } if param.as_deref() == Some("model"))
        );
        assert!(doc.stream().is_err());
        let doc = RequestDoc::parse(br#"{"model":""}"#).unwrap();
        assert!(doc.model().is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(doc) = RequestDoc::parse(&bytes) {
                let _ = doc.model();
                let _ = doc.stream();
                let _ = doc.include_usage();
                let again = doc.to_bytes(bytes.len());
                prop_assert!(serde_json::from_slice::<serde_json::Value>(&again).is_ok());
            }
        }

        #[test]
        fn any_json_object_round_trips(value in arb_object()) {
            let body = serde_json::to_vec(&value).unwrap();
            let doc = RequestDoc::parse(&body).unwrap();
            let back: serde_json::Value = serde_json::from_slice(&doc.to_bytes(body.len())).unwrap();
            prop_assert_eq!(back, value);
        }
    }

    fn arb_object() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,8}".prop_map(serde_json::Value::from),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(".{0,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::btree_map(".{0,6}", value, 0..6)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
    }
}
