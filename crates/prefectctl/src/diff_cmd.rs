//! `diff`: what `apply` would change, as a unified diff of each object's YAML, live against
//! what the API server would store (a server-side dry run), like `kubectl diff`. Secret values
//! are masked. Exit code 0 when nothing would change, 1 when something would, 2 on error.

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use crate::{
    changes::{self, ObjectChange},
    cli::{Color, DiffArgs, ReleaseArgs},
    failure::Failure,
    plan::{self, Plan},
    session::Session,
    write,
};

/// What `diff` found.
pub struct Diff {
    /// The unified diff.
    pub text: String,
    /// Whether anything would change.
    pub differs: bool,
}

/// `prefectctl diff`.
pub fn run(args: &ReleaseArgs, diff: &DiffArgs) -> Result<Diff, Failure> {
    let session = Session::open(args)?;
    let (history, info) = session.history_and_server()?;
    let release = plan::prepare(&session, args, &history, diff.reset_values)?;
    let graph = plan::graph(&session, &info, &release)?;
    let previous = write::previous_objects(&history);
    let plan = Plan::new(&session, &info, graph, &previous)?;
    let changes = changes::compute(&session, &plan, &previous, diff.force_conflicts)?;
    let color = match diff.color {
        Color::Always => true,
        Color::Never => false,
        // NO_COLOR, CLICOLOR, CLICOLOR_FORCE and TERM=dumb, then whether it is a terminal.
        Color::Auto => {
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    };
    let mut text = String::new();
    for change in changes.iter().filter(|c| c.changes()) {
        text.push_str(&unified(change, color)?);
    }
    Ok(Diff { differs: !text.is_empty(), text })
}

/// The unified diff of one object, headed `--- live/KIND/NS/NAME` `+++ planned/...`.
fn unified(change: &ObjectChange, color: bool) -> Result<String, Failure> {
    let (live, planned) = changes::redact(change.live.as_ref(), change.planned.as_ref());
    let yaml =
        |object: Option<&serde_json::Value>| -> Result<String, Failure> {
            match object {
                Some(object) => serde_saphyr::to_string_with_options(
                    object,
                    prefect_plugin_host::yaml_options(),
                )
                .map_err(|err| {
                    Failure::runtime(vec![format!("could not write {} as YAML: {err}", change.key)])
                }),
                None => Ok(String::new()),
            }
        };
    let (before, after) = (yaml(live.as_ref())?, yaml(planned.as_ref())?);
    let text_diff = TextDiff::from_lines(&before, &after);
    let mut out = String::new();
    let name = change.key.to_string();
    let bold = Style::new().bold();
    out.push_str(&paint(&format!("--- live/{name}\n"), bold, color));
    let replaced = if change.replaced { " (replaced: deleted, then created again)" } else { "" };
    out.push_str(&paint(&format!("+++ planned/{name}{replaced}\n"), bold, color));
    for hunk in text_diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&paint(&format!("{}\n", hunk.header()), AnsiColor::Cyan.on_default(), color));
        for line in hunk.iter_changes() {
            let (sign, style) = match line.tag() {
                ChangeTag::Delete => ("-", AnsiColor::Red.on_default()),
                ChangeTag::Insert => ("+", AnsiColor::Green.on_default()),
                ChangeTag::Equal => (" ", Style::new()),
            };
            let mut text = format!("{sign}{}", line.value());
            if !text.ends_with('\n') {
                text.push('\n');
            }
            out.push_str(&paint(&text, style, color));
        }
    }
    Ok(out)
}

/// `text` (one line) in `style`, the reset before the newline so that pagers keep lines apart.
fn paint(text: &str, style: Style, color: bool) -> String {
    if !color || style == Style::new() {
        return text.to_owned();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    format!("{style}{body}{style:#}\n")
}
