//! Lenient decoding of Discord's JSON: one unusable field or list entry loses only that detail,
//! never the whole profile.
//!
//! A document is read in two steps. First into *wire* structs ([`super::models`]) whose fields are
//! [`Field`]s: a value that does not parse is kept as [`Field::Unusable`] (with the kind of JSON
//! value found, never the value itself, which may be personal) instead of failing the object
//! around it. Then a [`Fields`] collector turns each wire struct into its model and applies the
//! rules: an optional field that is unusable becomes absent, a list entry whose identity (id, or
//! the name that is shown) is unusable is left out while the rest of the list stays, and a user
//! without a usable id or username is not a profile at all ([`DecodeError::NotAProfile`]).
//! Everything left out is reported as a [`Dropped`], so callers can warn about the user and the
//! field. Unknown fields are ignored.
//!
//! [`decode`] is the one way strife-gen reads JSON holding Discord data: API answers, stored
//! snapshots and sample users all go through it.

use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::models::Snowflake;

/// A document decoded leniently, with what had to be left out of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded<T> {
    pub(crate) value: T,
    /// Every detail left out, in document order; empty for a clean document.
    pub(crate) dropped: Vec<Dropped>,
}

impl<T> Decoded<T> {
    /// The value, moving what was left out of it to `dropped` (to report several documents as
    /// one).
    pub(crate) fn into_value(self, dropped: &mut Vec<Dropped>) -> T {
        dropped.extend(self.dropped);
        self.value
    }

    /// Logs one warning per detail left out, naming the user and the field; `source` says where
    /// the data came from (`Discord`, `the stored snapshot`, a sample file).
    pub(crate) fn warn(&self, user: Snowflake, source: &str) {
        for dropped in &self.dropped {
            tracing::warn!(
                user = %user,
                field = %dropped.path(),
                "odd data from {source}: {dropped}; the rest is published"
            );
        }
    }
}

/// One detail left out because Discord sent something unusable for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// The part of the snapshot: `user`, `connections` or `guilds`.
    pub(crate) part: &'static str,
    /// For `connections` and `guilds`: the entry's position in the list as Discord sent it.
    pub(crate) entry: Option<usize>,
    /// The unusable field inside the user or entry (`accent_color`,
    /// `avatar_decoration_data.asset`); empty when the entry or part itself was unusable.
    pub(crate) field: String,
    /// What was there instead: `null`, `a string`, `a number out of range`, ... (never the value).
    pub(crate) found: &'static str,
    /// Whether the whole entry was left out (its identity was unusable), not just this field.
    pub(crate) entry_left_out: bool,
}

impl Dropped {
    /// Where the unusable value was, e.g. `user.accent_color` or `connections[3].name`.
    pub(crate) fn path(&self) -> String {
        let mut path = self.part.to_owned();
        if let Some(index) = self.entry {
            path.push_str(&format!("[{index}]"));
        }
        if !self.field.is_empty() {
            path.push('.');
            path.push_str(&self.field);
        }
        path
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left_out = if self.entry_left_out && !self.field.is_empty() {
            "the whole entry is left out"
        } else {
            "left out"
        };
        write!(f, "`{}` is {}: {left_out}", self.path(), self.found)
    }
}

/// Why a document could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// Not JSON, or not the shape of the document (e.g. a string where a list belongs).
    #[error("{0}")]
    Shape(String),
    /// A user without a usable id or username: there is no profile to publish.
    #[error("`{path}` is {found}: not a usable Discord profile")]
    NotAProfile { path: String, found: &'static str },
}

/// Reads one document leniently: `T` is a [`super::models::User`], a list of connections or
/// guilds, or a [`super::models::Snapshot`].
pub(crate) fn decode<T: Document>(json: &[u8]) -> Result<Decoded<T>, DecodeError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let wire: T::Wire = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| DecodeError::Shape(describe_json_error(&e.path().to_string(), e.inner())))?;
    deserializer
        .end()
        .map_err(|e| DecodeError::Shape(describe_json_error(".", &e)))?;
    let mut dropped = Vec::new();
    let value = T::from_wire(wire, &mut dropped).map_err(|unusable| DecodeError::NotAProfile {
        path: unusable.path,
        found: unusable.found,
    })?;
    Ok(Decoded { value, dropped })
}

/// [`Deserialize`] for the models that are whole documents: the same rules as [`decode`], but
/// what was left out is forgotten. Shipped code uses [`decode`], which reports it.
pub(crate) fn deserialize<'de, T: Document, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    let wire = T::Wire::deserialize(deserializer)?;
    T::from_wire(wire, &mut Vec::new()).map_err(|unusable| {
        D::Error::custom(DecodeError::NotAProfile {
            path: unusable.path,
            found: unusable.found,
        })
    })
}

/// Which field of a JSON document was wrong and where, without echoing values: serde's messages
/// quote them (`invalid type: string "…"`), and answers hold tokens and personal data.
/// "missing field" messages only name the field, so they are kept.
pub(crate) fn describe_json_error(path: &str, error: &serde_json::Error) -> String {
    let message = error.to_string();
    if message.starts_with("missing field") {
        return message;
    }
    format!(
        "bad value at `{path}` ({:?} error at line {} column {})",
        error.classify(),
        error.line(),
        error.column()
    )
}

/// A document [`decode`] can read: its wire form, and how that becomes the model.
pub(crate) trait Document: Sized {
    type Wire: DeserializeOwned;
    /// Builds the model, adding what it leaves out to `dropped`; `Err` when the document is
    /// unusable as a whole.
    fn from_wire(wire: Self::Wire, dropped: &mut Vec<Dropped>) -> Result<Self, Unusable>;
}

/// A wire object (the user, one entry, a nested object) that becomes a model value.
pub(crate) trait FromWire: DeserializeOwned + Expected {
    type Model;
    /// Builds the model through `fields`; `Err` names a field the object cannot do without.
    fn into_model(self, fields: &mut Fields<'_>) -> Result<Self::Model, Unusable>;
}

/// A field an object cannot do without was unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unusable {
    /// The field's path (relative to the object for [`FromWire`], absolute for [`Document`]).
    pub(crate) path: String,
    pub(crate) found: &'static str,
}

/// One field of a wire struct, as it came.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Field<T> {
    #[default]
    Missing,
    Usable(T),
    /// Present, but not usable as a `T`: what kind of value was there instead.
    Unusable(&'static str),
}

impl<'de, T: DeserializeOwned + Expected> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Buffered as a `Value`: a `T` that fails must not leave the surrounding object half-read.
        let value = Value::deserialize(deserializer)?;
        Ok(match T::deserialize(&value) {
            Ok(parsed) => Field::Usable(parsed),
            Err(_) => Field::Unusable(misfit::<T>(&value)),
        })
    }
}

/// What a [`Field`] holds, as JSON: lets a message say "a number out of range" rather than just
/// "a number" when the kind was right but the value was not.
pub(crate) trait Expected {
    /// The JSON kind of a usable value (as [`json_kind`] names it).
    const KIND: &'static str = "an object";
    /// What a value of that kind that still does not fit is called.
    const MISFIT: &'static str = "an object of the wrong shape";
}

impl Expected for String {
    const KIND: &'static str = "a string";
}

impl Expected for bool {
    const KIND: &'static str = "a boolean";
}

impl Expected for u8 {
    const KIND: &'static str = "a number";
    const MISFIT: &'static str = "a number out of range";
}

impl Expected for u32 {
    const KIND: &'static str = "a number";
    const MISFIT: &'static str = "a number out of range";
}

impl Expected for u64 {
    const KIND: &'static str = "a number";
    const MISFIT: &'static str = "a number out of range";
}

impl Expected for Snowflake {
    const KIND: &'static str = "a string";
    const MISFIT: &'static str = "a string that is not a decimal id";
}

impl<T: Expected> Expected for Option<T> {
    const KIND: &'static str = T::KIND;
    const MISFIT: &'static str = T::MISFIT;
}

impl<T> Expected for Vec<T> {
    const KIND: &'static str = "an array";
}

/// How to describe `value`, which did not parse as a `T`, without quoting it.
fn misfit<T: Expected>(value: &Value) -> &'static str {
    let kind = json_kind(value);
    if kind != T::KIND {
        return kind;
    }
    match value.as_f64() {
        Some(number) if number.fract() != 0.0 => "a fractional number",
        _ => T::MISFIT,
    }
}

impl<T> Field<T> {
    /// Keeps a parsed value only if `usable` accepts it; otherwise it counts as `found`.
    pub(crate) fn check(self, usable: impl FnOnce(&T) -> bool, found: &'static str) -> Field<T> {
        match self {
            Field::Usable(value) if !usable(&value) => Field::Unusable(found),
            other => other,
        }
    }
}

/// The kind of a JSON value, for messages that must not quote it.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Turns the fields of one wire object into model values, recording what it leaves out.
pub(crate) struct Fields<'a> {
    part: &'static str,
    entry: Option<usize>,
    /// `name.` inside a nested object, else empty.
    prefix: String,
    dropped: &'a mut Vec<Dropped>,
}

impl<'a> Fields<'a> {
    /// The fields of the user object, or of entry `entry` of a list.
    pub(crate) fn new(
        part: &'static str,
        entry: Option<usize>,
        dropped: &'a mut Vec<Dropped>,
    ) -> Fields<'a> {
        Fields {
            part,
            entry,
            prefix: String::new(),
            dropped,
        }
    }

    /// An optional field: unusable means absent.
    pub(crate) fn optional<T>(&mut self, name: &str, field: Field<Option<T>>) -> Option<T> {
        self.or(name, field, None)
    }

    /// A field with a default: missing or unusable means `default`.
    pub(crate) fn or<T>(&mut self, name: &str, field: Field<T>, default: T) -> T {
        match field {
            Field::Missing => default,
            Field::Usable(value) => value,
            Field::Unusable(found) => {
                self.record(name, found, false);
                default
            }
        }
    }

    /// [`Fields::or`] with `T::default()`.
    pub(crate) fn or_default<T: Default>(&mut self, name: &str, field: Field<T>) -> T {
        self.or(name, field, T::default())
    }

    /// A field the object cannot do without.
    pub(crate) fn required<T>(&mut self, name: &str, field: Field<T>) -> Result<T, Unusable> {
        match field {
            Field::Usable(value) => Ok(value),
            Field::Missing => Err(self.unusable(name, "missing")),
            Field::Unusable(found) => Err(self.unusable(name, found)),
        }
    }

    /// A field that may be missing (then `default`), but when present must be usable: for facts
    /// nothing may be guessed about, like whether a connection may be published.
    pub(crate) fn required_if_present<T>(
        &mut self,
        name: &str,
        field: Field<T>,
        default: T,
    ) -> Result<T, Unusable> {
        match field {
            Field::Missing => Ok(default),
            other => self.required(name, other),
        }
    }

    /// An optional nested object: absent when it, or a field it cannot do without, is unusable.
    pub(crate) fn nested<W: FromWire>(
        &mut self,
        name: &str,
        field: Field<Option<W>>,
    ) -> Option<W::Model> {
        let wire = self.optional(name, field)?;
        let mut inner = Fields {
            part: self.part,
            entry: self.entry,
            prefix: format!("{}{name}.", self.prefix),
            dropped: &mut *self.dropped,
        };
        match wire.into_model(&mut inner) {
            Ok(model) => Some(model),
            Err(unusable) => {
                self.record_path(unusable.path, unusable.found, false);
                None
            }
        }
    }

    fn unusable(&self, name: &str, found: &'static str) -> Unusable {
        Unusable {
            path: format!("{}{name}", self.prefix),
            found,
        }
    }

    fn record(&mut self, name: &str, found: &'static str, entry_left_out: bool) {
        let path = format!("{}{name}", self.prefix);
        self.record_path(path, found, entry_left_out);
    }

    fn record_path(&mut self, field: String, found: &'static str, entry_left_out: bool) {
        self.dropped.push(Dropped {
            part: self.part,
            entry: self.entry,
            field,
            found,
            entry_left_out,
        });
    }
}

/// The entries of a list (`connections`, `guilds`): entries that are unusable, or whose identity
/// is, are left out; the others keep their place in order.
pub(crate) fn entries<W: FromWire>(
    part: &'static str,
    list: Vec<Field<W>>,
    dropped: &mut Vec<Dropped>,
) -> Vec<W::Model> {
    let mut models = Vec::with_capacity(list.len());
    for (index, entry) in list.into_iter().enumerate() {
        let mut fields = Fields::new(part, Some(index), dropped);
        let wire = match entry {
            Field::Usable(wire) => wire,
            Field::Unusable(found) => {
                fields.record_path(String::new(), found, true);
                continue;
            }
            // A list holds no missing entries.
            Field::Missing => continue,
        };
        match wire.into_model(&mut fields) {
            Ok(model) => models.push(model),
            Err(unusable) => fields.record_path(unusable.path, unusable.found, true),
        }
    }
    models
}

/// A list that is itself optional (a snapshot's `connections`, `guilds`): absent when missing,
/// `null` or not a list at all.
pub(crate) fn optional_list<W: FromWire>(
    part: &'static str,
    field: Field<Option<Vec<Field<W>>>>,
    dropped: &mut Vec<Dropped>,
) -> Option<Vec<W::Model>> {
    let list = Fields::new(part, None, dropped).optional("", field)?;
    Some(entries(part, list, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct WireThing {
        id: Field<Snowflake>,
        size: Field<Option<u8>>,
        inner: Field<Option<WireInner>>,
    }

    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct WireInner {
        name: Field<String>,
        note: Field<Option<String>>,
    }

    impl Expected for WireThing {}
    impl Expected for WireInner {}

    #[derive(Debug, PartialEq)]
    struct Thing {
        id: Snowflake,
        size: Option<u8>,
        inner: Option<String>,
    }

    impl FromWire for WireThing {
        type Model = Thing;
        fn into_model(self, fields: &mut Fields<'_>) -> Result<Thing, Unusable> {
            Ok(Thing {
                id: fields.required("id", self.id)?,
                size: fields.optional("size", self.size),
                inner: fields.nested("inner", self.inner),
            })
        }
    }

    impl FromWire for WireInner {
        type Model = String;
        fn into_model(self, fields: &mut Fields<'_>) -> Result<String, Unusable> {
            fields.optional("note", self.note);
            fields.required("name", self.name)
        }
    }

    impl Document for Vec<Thing> {
        type Wire = Vec<Field<WireThing>>;
        fn from_wire(wire: Self::Wire, dropped: &mut Vec<Dropped>) -> Result<Self, Unusable> {
            Ok(entries("things", wire, dropped))
        }
    }

    fn paths(dropped: &[Dropped]) -> Vec<String> {
        dropped.iter().map(Dropped::path).collect()
    }

    #[test]
    fn one_bad_field_loses_only_that_field() {
        let json =
            br#"[{"id": "1", "size": 300, "inner": {"name": "a", "note": 5}, "extra": [1]}]"#;
        let decoded = decode::<Vec<Thing>>(json).unwrap();
        assert_eq!(
            decoded.value,
            [Thing {
                id: Snowflake(1),
                size: None,
                inner: Some("a".into())
            }]
        );
        assert_eq!(
            paths(&decoded.dropped),
            ["things[0].size", "things[0].inner.note"]
        );
        assert_eq!(decoded.dropped[0].found, "a number out of range");
        assert!(!decoded.dropped[0].entry_left_out);
        assert_eq!(
            decoded.dropped[0].to_string(),
            "`things[0].size` is a number out of range: left out"
        );
    }

    #[test]
    fn an_entry_without_its_identity_is_left_out_and_the_rest_kept() {
        let json =
            br#"[{"id": "x1"}, 7, {"size": 1}, {"id": "2", "inner": {"name": null}}, {"id": "3"}]"#;
        let decoded = decode::<Vec<Thing>>(json).unwrap();
        let ids: Vec<u64> = decoded.value.iter().map(|t| t.id.0).collect();
        assert_eq!(ids, [2, 3]);
        assert_eq!(
            decoded.value[0].inner, None,
            "a nested object without its name"
        );
        assert_eq!(
            paths(&decoded.dropped),
            [
                "things[0].id",
                "things[1]",
                "things[2].id",
                "things[3].inner.name"
            ]
        );
        let found: Vec<&str> = decoded.dropped.iter().map(|d| d.found).collect();
        assert_eq!(
            found,
            [
                "a string that is not a decimal id",
                "a number",
                "missing",
                "null"
            ]
        );
        let left_out: Vec<bool> = decoded.dropped.iter().map(|d| d.entry_left_out).collect();
        assert_eq!(left_out, [true, true, true, false]);
        assert_eq!(
            decoded.dropped[0].to_string(),
            "`things[0].id` is a string that is not a decimal id: the whole entry is left out"
        );
        assert_eq!(
            decoded.dropped[1].to_string(),
            "`things[1]` is a number: left out"
        );
    }

    #[test]
    fn a_document_of_the_wrong_shape_is_an_error_that_quotes_nothing() {
        for json in [
            &br#""SECRET""#[..],
            br#"{"id": "SECRET"}"#,
            br#"[{"id": "1"}"#,
            br#"[] SECRET"#,
        ] {
            let error = decode::<Vec<Thing>>(json).unwrap_err();
            assert!(matches!(error, DecodeError::Shape(_)), "{error:?}");
            assert!(!error.to_string().contains("SECRET"), "{error}");
        }
    }

    #[test]
    fn check_turns_a_parsed_but_unusable_value_into_unusable() {
        let field = Field::Usable(300u32).check(|v| *v < 256, "a number out of range");
        assert_eq!(field, Field::Unusable("a number out of range"));
        let field = Field::Usable(3u32).check(|v| *v < 256, "a number out of range");
        assert_eq!(field, Field::Usable(3));
        let field = Field::<u32>::Missing.check(|_| false, "never");
        assert_eq!(field, Field::Missing);
    }
}

#[cfg(test)]
mod proptests;
