//! The `--set`, `--set-string`, `--set-json` and `--set-file` parser, in Helm's syntax (Helm's
//! `strvals`).
//!
//! - `a.b=c` sets a nested key; `a=1,b=2` makes several assignments, in order;
//! - `\` makes the next character literal: `a=x\,y` is `"x,y"`, and
//!   `annotations.kubernetes\.io/ingress\.class=nginx` has the key `kubernetes.io/ingress.class`;
//! - `a[0]=x` and `a[1].b=y` set list items; missing earlier items become null, as in Helm
//!   (indexes go up to 65536);
//! - `a={x,y,z}` sets a list (`a={}` an empty one);
//! - `a=` is the empty string and `a=null` is null, which removes a default.
//!
//! With [`SetKind::Typed`] (`--set`) values are typed as Helm types them: `true` and `false`
//! (any case) are booleans, `null` (any case) is null, decimal integers without a leading zero
//! (and `0`) are integers; everything else, including `1.5` and `0777`, is a string. With
//! [`SetKind::String`] (`--set-string`) every value is a string.
//!
//! `--set-json KEY=JSON` takes the same keys; each value is one JSON document (an object, a list,
//! a number, `"text"`...), and assignments are separated by `,` after it:
//! `a={"b":1},c=[1,2]`. An empty value is null. As in Helm, an argument that starts with `{`
//! is a JSON object merged at the top (`--set-json '{"server":{"replicaCount":2}}'`).
//!
//! `--set-file KEY=PATH` takes the same keys; the value is the text of the file at `PATH` (the
//! text after `=` up to an unescaped `,`), as a string.
//!
//! Values given on the command line may be secrets, so neither origins nor errors repeat them:
//! a value's origin is its flag and key (`--set server.basicAuth.authString`), and an error
//! shows only the key of the assignment it is in (`--set server.image[x]`, or `--set a=…` for
//! an error in the value).

use serde_json::{Map, Value};

use crate::layer::record_all;
use crate::origin::{Origin, Origins};
use crate::{Error, Result, Segment, ValuePath};

/// The largest list index `--set` accepts, as in Helm.
const MAX_INDEX: usize = 65536;

/// The longest key a flag's assignment may have, in characters.
const MAX_KEY_CHARS: usize = 4096;

/// How much the list indexes of one flag may make: the items before each index are made too
/// (as null), each with a path as deep as the index's, so `a[65536][65536]...` would take all
/// memory. The sum of `(index + 1) * depth` over a flag's indexes, far above Helm's usual use.
const MAX_INDEX_COST: usize = 2_000_000;

/// How a `--set` flag types its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// `--set`: booleans, integers and null are typed, everything else is a string.
    Typed,
    /// `--set-string`: every value is a string.
    String,
}

impl SetKind {
    /// The flag's name: `--set` or `--set-string`.
    pub fn flag(self) -> &'static str {
        Flag::from(self).name()
    }
}

/// Which flag an argument belongs to, and so how its values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Typed,
    String,
    Json,
    File,
}

impl From<SetKind> for Flag {
    fn from(kind: SetKind) -> Flag {
        match kind {
            SetKind::Typed => Flag::Typed,
            SetKind::String => Flag::String,
        }
    }
}

impl Flag {
    fn name(self) -> &'static str {
        match self {
            Flag::Typed => "--set",
            Flag::String => "--set-string",
            Flag::Json => "--set-json",
            Flag::File => "--set-file",
        }
    }

    /// How to write the flag, for messages: `--set KEY=VALUE`.
    fn usage(self) -> String {
        let value = match self {
            Flag::Typed | Flag::String => "VALUE",
            Flag::Json => "JSON",
            Flag::File => "PATH",
        };
        format!("{} KEY={value}", self.name())
    }
}

/// Reads the file a `--set-file` names: its text, or why it cannot be read.
pub(crate) type ReadFile<'a> = &'a mut dyn FnMut(&str) -> std::io::Result<String>;

/// The values set by `arg`, each with the flag as its origin.
pub(crate) fn parse(arg: &str, kind: SetKind) -> Result<Assignments> {
    parse_flag(arg, Flag::from(kind), &mut no_files)
}

/// The values set by the argument `arg` of `--set-json`.
///
/// `KEY=JSON` gives assignments; a whole JSON object is a tree, merged at the top as a values
/// file is.
pub(crate) fn parse_json(arg: &str) -> Result<std::result::Result<Assignments, (Value, Origins)>> {
    let trimmed = arg.trim();
    if !trimmed.starts_with('{') {
        return parse_flag(arg, Flag::Json, &mut no_files).map(Ok);
    }
    let tree: Value = serde_json::from_str(trimmed).map_err(|err| Error::Set {
        flag: "--set-json {…}".to_owned(),
        message: format!(
            "invalid JSON object: {err} (give one JSON object, or use --set-json KEY=JSON)"
        ),
    })?;
    let mut origins = Origins::default();
    let origin = Origin::Flag { text: "--set-json {…}".to_owned() };
    record_all(&tree, &ValuePath::root(), &origin, &mut origins);
    Ok(Err((tree, origins)))
}

/// The values set by the argument `arg` of `--set-file`, the files read with `read`.
pub(crate) fn parse_file(arg: &str, read: ReadFile<'_>) -> Result<Assignments> {
    parse_flag(arg, Flag::File, read)
}

/// The reader of the flags that read no files.
fn no_files(_: &str) -> std::io::Result<String> {
    Err(std::io::Error::other("only --set-file reads files"))
}

/// The assignments of one flag, in order: Helm applies each to the values so far (the files'
/// and earlier flags'), so that `--set a[0].name=x --set a[0].value=y` makes one list item,
/// and `--set a[1]=z` changes the second item of a list a file gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Assignments(Vec<(Vec<Segment>, Value, Origin)>);

impl Assignments {
    /// Applies every assignment to `tree`, in order, recording their origins in `origins`.
    pub(crate) fn apply(&self, tree: &mut Value, origins: &mut Origins) {
        for (path, value, origin) in &self.0 {
            if !tree.is_object() {
                *tree = Value::Object(Map::new());
            }
            assign(tree, origins, path, value.clone(), origin);
        }
    }
}

fn parse_flag(arg: &str, flag: Flag, read: ReadFile<'_>) -> Result<Assignments> {
    let mut parser = SetParser {
        chars: arg.chars().collect(),
        pos: 0,
        flag,
        start: 0,
        key_end: None,
        read,
        index_cost: 0,
    };
    if arg.is_empty() {
        return Err(Error::Set {
            flag: format!("{} \"\"", flag.name()),
            message: format!("empty argument (use {})", flag.usage()),
        });
    }
    let mut assignments = Vec::new();
    while parser.pos < parser.chars.len() {
        let (path, value) = parser.assignment()?;
        assignments.push((path, value, parser.origin()));
    }
    Ok(Assignments(assignments))
}

struct SetParser<'r> {
    chars: Vec<char>,
    pos: usize,
    flag: Flag,
    /// Where the assignment being read starts.
    start: usize,
    /// Where its key ends (at the `=`), once it is read.
    key_end: Option<usize>,
    read: ReadFile<'r>,
    /// What the list indexes read so far make (see [`MAX_INDEX_COST`]).
    index_cost: usize,
}

impl SetParser<'_> {
    /// One `KEY=VALUE`, and the `,` after it.
    fn assignment(&mut self) -> Result<(Vec<Segment>, Value)> {
        let start = self.pos;
        self.start = start;
        self.key_end = None;
        let path = self.key_path(start)?;
        self.key_end = Some(self.pos - 1);
        match self.flag {
            Flag::Json => return Ok((path, self.json()?)),
            Flag::File => return Ok((path, self.file()?)),
            Flag::Typed | Flag::String => {}
        }
        if self.peek() != Some('{') {
            // Reads up to and including the `,` that ends the assignment.
            let (text, _) = self.until(&[',']);
            return Ok((path, self.typed(text)));
        }
        self.pos += 1;
        let list = self.list()?;
        match self.bump() {
            None | Some(',') => Ok((path, list)),
            Some(other) => Err(self.error(format!(
                "unexpected \"{other}\" after the list's \"}}\" (separate assignments with \",\")"
            ))),
        }
    }

    /// The key path of an assignment that starts at `start`, and the `=` after it.
    fn key_path(&mut self, start: usize) -> Result<Vec<Segment>> {
        let mut path = Vec::new();
        loop {
            let (key, stop) = self.until(&['=', '.', '[', ',']);
            if key.is_empty() {
                let hint = if path.is_empty() && stop != Some('.') {
                    format!("use {}", self.flag.usage())
                } else {
                    "separate keys with one dot; escape a dot inside a key as \\.".to_owned()
                };
                return Err(self.error(format!("empty key in {:?} ({hint})", self.text(start))));
            }
            path.push(Segment::Key(key));
            self.check_key(start, &path)?;
            let mut stop = stop;
            while stop == Some('[') {
                let index = self.index(start)?;
                path.push(Segment::Index(index));
                self.check_key(start, &path)?;
                self.index_cost =
                    self.index_cost.saturating_add((index + 1).saturating_mul(path.len()));
                if self.index_cost > MAX_INDEX_COST {
                    return Err(self.error(
                        "the list indexes of this flag make too many items (each index makes \
                         the items before it too): use smaller indexes, or give long lists in a \
                         values file"
                            .to_owned(),
                    ));
                }
                stop = self.bump();
                if let Some(other) = stop.filter(|c| !matches!(c, '=' | '.' | '[' | ',')) {
                    return Err(self.error(format!(
                        "unexpected \"{other}\" after {:?} (use KEY[0]=VALUE or KEY[0].NAME=VALUE)",
                        self.slice(start, self.pos - 1)
                    )));
                }
            }
            match stop {
                Some('=') => return Ok(path),
                Some('.') => continue,
                _ => return Err(self.missing_equals(start, stop)),
            }
        }
    }

    /// Refuses a key deeper than [`MAX_DEPTH`](crate::MAX_DEPTH) levels or longer than
    /// [`MAX_KEY_CHARS`], shown by its first characters only.
    fn check_key(&self, start: usize, path: &[Segment]) -> Result<()> {
        let problem = if path.len() > crate::MAX_DEPTH {
            format!(
                "the key has more than {} levels (keys and list indexes), the most values may nest",
                crate::MAX_DEPTH
            )
        } else if self.pos - start > MAX_KEY_CHARS {
            format!("the key is longer than {MAX_KEY_CHARS} characters")
        } else {
            return Ok(());
        };
        let shown: String = self.chars[start..self.pos].iter().take(40).collect();
        Err(Error::Set {
            flag: format!("{} {shown}…", self.flag.name()),
            message: format!("{problem}: check the key (use {})", self.flag.usage()),
        })
    }

    /// The index after a `[`, and the `]`.
    fn index(&mut self, start: usize) -> Result<usize> {
        let (digits, stop) = self.until(&[']']);
        if stop.is_none() {
            return Err(self.error(format!(
                "unclosed \"[\" in {:?} (write a list index as KEY[0]=VALUE)",
                self.text(start)
            )));
        }
        let index = digits
            .parse::<usize>()
            .ok()
            .filter(|_| digits.chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| {
                self.error(format!(
                    "bad list index {digits:?} in {:?} (use a number such as KEY[0]=VALUE)",
                    self.text(start)
                ))
            })?;
        if index > MAX_INDEX {
            return Err(self.error(format!(
                "list index {index} is too large (at most {MAX_INDEX}); set the whole list with KEY={{A,B}} or use a values file"
            )));
        }
        Ok(index)
    }

    /// The JSON value after a `--set-json` key's `=`, and the `,` after it.
    fn json(&mut self) -> Result<Value> {
        self.skip_blanks();
        if matches!(self.peek(), None | Some(',')) {
            self.bump();
            return Ok(Value::Null);
        }
        let rest: String = self.chars[self.pos..].iter().collect();
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
        let value = match stream.next() {
            Some(Ok(value)) => value,
            Some(Err(err)) => {
                return Err(self.error(format!(
                    "invalid JSON after \"=\": {err} (quote text as JSON does: KEY='\"text\"')"
                )));
            }
            None => Value::Null,
        };
        self.pos += rest[..stream.byte_offset()].chars().count();
        self.skip_blanks();
        match self.bump() {
            None | Some(',') => Ok(value),
            Some(other) => Err(self.error(format!(
                "unexpected \"{other}\" after the JSON value (separate assignments with \",\")"
            ))),
        }
    }

    /// The text of the file named after a `--set-file` key's `=`, and the `,` after it.
    fn file(&mut self) -> Result<Value> {
        let (path, _) = self.until(&[',']);
        if path.is_empty() {
            return Err(self.error(format!("empty path (use {})", self.flag.usage())));
        }
        (self.read)(&path).map(Value::String).map_err(|err| {
            let hint = match err.kind() {
                std::io::ErrorKind::NotFound => " (check the path after \"=\")",
                std::io::ErrorKind::IsADirectory => " (give a file, not a folder)",
                _ => "",
            };
            Error::Set {
                flag: self.origin().to_string(),
                message: format!("cannot read {path:?}: {err}{hint}"),
            }
        })
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The items of a `{x,y}` list whose `{` was just read, and the `}`.
    fn list(&mut self) -> Result<Value> {
        let mut items = Vec::new();
        loop {
            let (text, stop) = self.until(&[',', '}']);
            match stop {
                None => {
                    return Err(self.error(
                        "unclosed \"{\" in a list value (write a list as KEY={A,B})".to_owned(),
                    ));
                }
                Some('}') if items.is_empty() && text.is_empty() => return Ok(Value::Array(items)),
                Some('}') => {
                    items.push(self.typed(text));
                    return Ok(Value::Array(items));
                }
                Some(_) => items.push(self.typed(text)),
            }
        }
    }

    /// Reads up to (and consumes) the first unescaped character of `stops`, returning the text
    /// read (escapes removed) and the stop character (`None` at the end).
    fn until(&mut self, stops: &[char]) -> (String, Option<char>) {
        let mut text = String::new();
        while let Some(c) = self.bump() {
            if c == '\\' {
                // A trailing backslash stays a backslash.
                text.push(self.bump().unwrap_or('\\'));
            } else if stops.contains(&c) {
                return (text, Some(c));
            } else {
                text.push(c);
            }
        }
        (text, None)
    }

    /// Helm's typing of a value (see the module documentation).
    fn typed(&self, text: String) -> Value {
        if self.flag == Flag::String {
            return Value::String(text);
        }
        if text.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if text.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if text.eq_ignore_ascii_case("null") {
            return Value::Null;
        }
        if text == "0" {
            return Value::from(0);
        }
        let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
        if !text.starts_with('0')
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(int) = text.parse::<i64>()
        {
            return Value::from(int);
        }
        Value::String(text)
    }

    /// The error for an assignment from `start` that ended (at `stop`) before any `=`.
    fn missing_equals(&self, start: usize, stop: Option<char>) -> Error {
        let end = if stop.is_some() { self.pos - 1 } else { self.pos };
        let whole = start == 0 && stop.is_none();
        let what =
            if whole { String::new() } else { format!(" after {:?}", self.slice(start, end)) };
        self.error(format!("missing \"=\"{what} (use {})", self.flag.usage()))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// The argument's text from `start` to here.
    fn text(&self, start: usize) -> String {
        self.slice(start, self.pos)
    }

    /// The argument's text from `start` to `end`.
    fn slice(&self, start: usize, end: usize) -> String {
        let end = end.min(self.chars.len());
        self.chars[start.min(end)..end].iter().collect()
    }

    /// The flag and the key of the assignment just read: `--set server.replicaCount`.
    fn origin(&self) -> Origin {
        let end = self.key_end.unwrap_or(self.pos);
        Origin::Flag { text: format!("{} {}", self.flag.name(), self.slice(self.start, end)) }
    }

    /// An error in the assignment being read, shown up to its `=`.
    fn error(&self, message: String) -> Error {
        let shown = match self.key_end {
            None => {
                let read = self.slice(self.start, self.pos);
                match read.trim_end_matches([',', '=']) {
                    "" => read.clone(),
                    key => key.to_owned(),
                }
            }
            Some(end) => format!("{}=…", self.slice(self.start, end)),
        };
        Error::Set { flag: format!("{} {}", self.flag.name(), shown), message }
    }
}

/// Sets `value` at `path` in `tree`, making mappings and lists on the way (a value of another
/// kind on the way is replaced), and records `origin` for every path it touches.
fn assign(
    tree: &mut Value,
    origins: &mut Origins,
    path: &[Segment],
    value: Value,
    origin: &Origin,
) {
    let mut node = tree;
    let mut at = ValuePath::root();
    for segment in path {
        at = at.child(segment.clone());
        origins.insert(at.clone(), origin.clone());
        node = match segment {
            Segment::Key(key) => {
                if !node.is_object() {
                    *node = Value::Object(Map::new());
                }
                let Some(map) = node.as_object_mut() else { return };
                map.entry(key.clone()).or_insert(Value::Null)
            }
            Segment::Index(index) => {
                if !node.is_array() {
                    *node = Value::Array(Vec::new());
                }
                let Some(items) = node.as_array_mut() else { return };
                let parent = at.parent().unwrap_or_default();
                while items.len() <= *index {
                    origins.insert(parent.index(items.len()), origin.clone());
                    items.push(Value::Null);
                }
                &mut items[*index]
            }
        };
    }
    origins.remove_subtree(&at);
    origins.insert(at.clone(), origin.clone());
    if let Value::Array(items) = &value {
        for index in 0..items.len() {
            origins.insert(at.index(index), origin.clone());
        }
    }
    *node = value;
}
