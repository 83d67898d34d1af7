//! Reading one YAML document into a values tree, with the line of every key and sequence item.
//!
//! Built on the event parser of `granit-parser`, whose events carry source positions. Scalars
//! follow the YAML 1.2 core schema ([`crate::scalar`]); `!!str` forces a string and other tags
//! are ignored. A plain `yes`, `off`... (a YAML 1.1 boolean) is a string here, and marked so
//! that [`crate::yaml11`] can read it as Helm does where a boolean is expected. Anchors and aliases are expanded (an alias's values take the alias's line), and
//! `<<` merge keys copy the keys of a mapping (or of a list of mappings) that the mapping does
//! not set itself, as Helm's YAML reader does. A scalar key is taken as its text (`1: x` has the
//! key `"1"`, as Helm does); a mapping or a sequence as a key, an empty key and a repeated key
//! are errors.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span, StrInput};
use serde_json::{Map, Value};

use crate::origin::{Origin, Origins};
use crate::scalar::resolve_plain;
use crate::{Error, Result, ValuePath};

/// How many values one file may make, aliases counting every value they copy: to refuse
/// "billion laughs", and files that take long to read (a values file has hundreds).
const MAX_NODES: usize = 100_000;

/// The values in `text` (named `path` in messages) and the origin of each key and item.
///
/// An empty document is an empty mapping; any other top level than a mapping is an error.
pub(crate) fn load(text: &str, path: &str) -> Result<(Value, Origins)> {
    let mut loader = Loader {
        parser: Parser::new_from_str(text),
        path,
        anchors: HashMap::new(),
        origins: Origins::default(),
        recording: true,
        nodes: 0,
        depth: 0,
    };
    let value = loader.document()?;
    Ok((value, loader.origins))
}

struct Loader<'a> {
    parser: Parser<'a, StrInput<'a>>,
    path: &'a str,
    /// The value of each anchor, by the parser's anchor id.
    anchors: HashMap<usize, Value>,
    origins: Origins,
    /// Whether to record origins (not inside a `<<` value: its keys take the `<<` line).
    recording: bool,
    /// Values made so far, counting those copied by aliases.
    nodes: usize,
    /// How many mappings and sequences the node being read is in.
    depth: usize,
}

impl<'a> Loader<'a> {
    fn document(&mut self) -> Result<Value> {
        let (event, span) = self.next()?;
        if event != Event::StreamStart {
            return Err(self.content(&span, "expected the start of the YAML stream"));
        }
        let (event, span) = self.next()?;
        let (value, top) = match event {
            Event::StreamEnd => return Ok(Value::Object(Map::new())),
            Event::DocumentStart(..) => {
                let (event, span) = self.next()?;
                (self.node(event, span, &ValuePath::root())?, span)
            }
            _ => return Err(self.content(&span, "expected a YAML document")),
        };
        let (event, span) = self.next()?;
        if event != Event::DocumentEnd {
            return Err(self.content(&span, "expected the end of the YAML document"));
        }
        let (event, span) = self.next()?;
        if event != Event::StreamEnd {
            return Err(self.content(
                &span,
                "a values file holds one YAML document; move the others to files of their own",
            ));
        }
        match value {
            Value::Object(_) => Ok(value),
            Value::Null => Ok(Value::Object(Map::new())),
            other => Err(self.content(
                &top,
                &format!(
                    "the top level must be a mapping of sections such as `server:`, found {}",
                    crate::describe::found(&other)
                ),
            )),
        }
    }

    /// The value of the node that starts with `event`, recording origins under `path`.
    fn node(&mut self, event: Event<'a>, span: Span, path: &ValuePath) -> Result<Value> {
        self.count(1, &span)?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string = tag.is_some_and(|tag| tag.is_yaml_core_schema_tag("str"));
                let value = if style == ScalarStyle::Plain && !forced_string {
                    let value =
                        resolve_plain(&text).map_err(|message| self.content(&span, &message))?;
                    if self.recording && crate::yaml11::boolean(&text).is_some() {
                        self.origins.mark_yaml11_boolean(path.clone());
                    }
                    value
                } else {
                    Value::String(text.into_owned())
                };
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.enter(&span)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    let item_path = path.index(items.len());
                    self.record(&item_path, &span);
                    items.push(self.node(event, span, &item_path)?);
                }
                self.depth -= 1;
                let value = Value::Array(items);
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::MappingStart(_, anchor, _) => {
                self.enter(&span)?;
                let value = Value::Object(self.mapping(path)?);
                self.depth -= 1;
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::Alias(id) => {
                let value = self.anchors.get(&id).cloned().ok_or_else(|| {
                    self.content(&span, "an alias cannot refer to a value that contains it")
                })?;
                self.count(size(&value), &span)?;
                // Aliases of aliases would nest without end otherwise.
                if self.depth + depth(&value) > crate::MAX_DEPTH {
                    return Err(self.too_deep(&span));
                }
                Ok(value)
            }
            _ => Err(self.content(&span, "expected a value")),
        }
    }

    /// The entries of a mapping whose start event was just read.
    fn mapping(&mut self, path: &ValuePath) -> Result<Map<String, Value>> {
        let mut map = Map::new();
        let mut lines = HashMap::new();
        let mut merges = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            let key = match event {
                Event::MappingEnd => break,
                Event::Scalar(text, style, ..) => {
                    // The parser reports a missing key as an empty plain scalar `~`.
                    let empty = key_span.start.index() == key_span.end.index();
                    if style == ScalarStyle::Plain && (text.is_empty() || empty) {
                        return Err(self.content(&key_span, "empty key; write a key before `:`"));
                    }
                    if text == "<<" && style == ScalarStyle::Plain {
                        let (event, span) = self.next()?;
                        let recording = std::mem::replace(&mut self.recording, false);
                        let value = self.node(event, span, path);
                        self.recording = recording;
                        merges.push((key_span.start.line(), value?));
                        continue;
                    }
                    text.into_owned()
                }
                _ => {
                    return Err(self.content(
                        &key_span,
                        "keys must be strings; a mapping, a sequence or an alias cannot be a key",
                    ));
                }
            };
            let line = key_span.start.line();
            if let Some(first) = lines.insert(key.clone(), line) {
                return Err(self.content(
                    &key_span,
                    &format!("key `{key}` is repeated (first on line {first}); keep one of them"),
                ));
            }
            let key_path = path.key(&key);
            self.record(&key_path, &key_span);
            let (event, span) = self.next()?;
            let value = self.node(event, span, &key_path)?;
            map.insert(key, value);
        }
        for (line, value) in merges {
            self.merge_keys(&mut map, path, line, value)?;
        }
        Ok(map)
    }

    /// Copies into `map` the keys of a `<<` value that `map` does not have.
    fn merge_keys(
        &mut self,
        map: &mut Map<String, Value>,
        path: &ValuePath,
        line: usize,
        value: Value,
    ) -> Result<()> {
        let sources = match value {
            Value::Object(source) => vec![source],
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::Object(source) => Ok(source),
                    _ => Err(()),
                })
                .collect::<Result<Vec<_>, ()>>()
                .map_err(|()| self.merge_error(line))?,
            _ => return Err(self.merge_error(line)),
        };
        for source in sources {
            for (key, value) in source {
                if !map.contains_key(&key) {
                    if self.recording {
                        let origin = Origin::File { path: self.path.to_owned(), line };
                        self.origins.insert(path.key(&key), origin);
                    }
                    map.insert(key, value);
                }
            }
        }
        Ok(())
    }

    fn merge_error(&self, line: usize) -> Error {
        Error::Content {
            path: self.path.to_owned(),
            line,
            message: "a `<<` merge key takes a mapping or a list of mappings".to_owned(),
        }
    }

    /// The next event that is part of the document's structure (comments are skipped).
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        loop {
            match self.parser.next_event() {
                None => return Err(self.content(&span_start(), "unexpected end of YAML")),
                Some(Err(error)) => {
                    return Err(Error::Syntax {
                        path: self.path.to_owned(),
                        line: error.marker().line(),
                        column: error.marker().col() + 1,
                        message: error.info(),
                    });
                }
                Some(Ok((event, span))) => match event {
                    Event::StreamStart
                    | Event::StreamEnd
                    | Event::DocumentStart(..)
                    | Event::DocumentEnd
                    | Event::Alias(_)
                    | Event::Scalar(..)
                    | Event::SequenceStart(..)
                    | Event::SequenceEnd
                    | Event::MappingStart(..)
                    | Event::MappingEnd => return Ok((event, span)),
                    _ => continue,
                },
            }
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
    }

    fn count(&mut self, nodes: usize, span: &Span) -> Result<()> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(self.content(
                span,
                &format!(
                    "the file makes more than {MAX_NODES} values (an alias counts every value it \
                     copies): use fewer aliases, or is it the file you meant?"
                ),
            ));
        }
        Ok(())
    }

    /// Goes one mapping or sequence deeper, up to [`MAX_DEPTH`](crate::MAX_DEPTH) levels.
    fn enter(&mut self, span: &Span) -> Result<()> {
        if self.depth == crate::MAX_DEPTH {
            return Err(self.too_deep(span));
        }
        self.depth += 1;
        Ok(())
    }

    fn too_deep(&self, span: &Span) -> Error {
        self.content(
            span,
            &format!(
                "values nest more than {} levels deep here, the most they may: is it the file \
                 you meant?",
                crate::MAX_DEPTH
            ),
        )
    }

    fn record(&mut self, path: &ValuePath, span: &Span) {
        if self.recording {
            let origin = Origin::File { path: self.path.to_owned(), line: span.start.line() };
            self.origins.insert(path.clone(), origin);
        }
    }

    fn content(&self, span: &Span, message: &str) -> Error {
        Error::Content {
            path: self.path.to_owned(),
            line: span.start.line().max(1),
            message: message.to_owned(),
        }
    }
}

/// A span at the start of the file, for errors about the whole document.
fn span_start() -> Span {
    let start = granit_parser::Marker::new(0, 1, 0);
    Span::new(start, start)
}

/// How many mappings and sequences deep `value` is.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// How many values `value` holds, itself included.
fn size(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(size).sum::<usize>(),
        _ => 1,
    }
}
