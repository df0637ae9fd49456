//! Where the shell's lines come from: rustyline on a terminal (line editing, history kept
//! in `~/.tabula_history`), or plain lines from standard input under `--interactive` when
//! it is not a terminal. rustyline reads a pipe too, but without showing its prompts; the
//! plain reader prints each prompt and echoes the line read after it, as a terminal shows
//! what is typed, so the output of a piped session reads like one at a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context as LineContext, Editor, Helper};

/// What reading a line gave.
pub enum Read {
    /// A line, without its line ending.
    Line(String),
    /// Ctrl-C: the input so far is dropped.
    Interrupted,
    /// A line of standard input that is not UTF-8 (echoed lossily): it is dropped with
    /// the statement it belonged to, never run with its bytes replaced.
    NotUtf8,
    /// Ctrl-D, or the end of standard input.
    End,
}

/// The source of lines.
pub enum Input {
    /// A terminal, through rustyline.
    Terminal {
        editor: Box<Editor<TypedTab, DefaultHistory>>,
        history: Option<PathBuf>,
    },
    /// Standard input read line by line; prompts and the lines read are printed to
    /// standard output.
    Plain(std::io::StdinLock<'static>),
}

/// The line editor's helper, for one thing: Tab is rustyline's completion key, and with
/// nothing to complete it was dropped, so a tab typed (or pasted without bracketed paste)
/// inside a string changed the value stored. Its one "completion" is the tab itself, put
/// where the cursor is.
pub struct TypedTab;

impl Completer for TypedTab {
    type Candidate = String;

    fn complete(
        &self,
        _line: &str,
        pos: usize,
        _ctx: &LineContext<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok((pos, vec!["\t".to_owned()]))
    }
}

impl Hinter for TypedTab {
    type Hint = String;
}

impl Highlighter for TypedTab {}

impl Validator for TypedTab {}

impl Helper for TypedTab {}

/// How many entries the history keeps.
const HISTORY_SIZE: usize = 1000;

impl Input {
    /// rustyline when standard input is a terminal, else the plain reader.
    pub fn new() -> anyhow::Result<Input> {
        if !std::io::stdin().is_terminal() {
            return Ok(Input::Plain(std::io::stdin().lock()));
        }
        let config = Config::builder()
            .max_history_size(HISTORY_SIZE)
            .and_then(|b| b.history_ignore_dups(true))
            .context("configuring the line editor")?
            .auto_add_history(false)
            // A lone candidate is inserted and the key handled at once: rustyline's default
            // (circular) waits in the completion after it, and a second Tab took the first
            // tab back out.
            .completion_type(CompletionType::List)
            .build();
        let mut editor = Editor::with_config(config).context("starting the line editor")?;
        editor.set_helper(Some(TypedTab));
        // No home directory (HOME unset or empty): no history file, and no complaint.
        let history = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".tabula_history"));
        if let Some(path) = &history {
            // A first run has no file yet; an unreadable one only costs the old entries.
            let _ = editor.load_history(path);
        }
        Ok(Input::Terminal {
            editor: Box::new(editor),
            history,
        })
    }

    /// Reads one line after showing `prompt`.
    pub fn read(&mut self, prompt: &str) -> anyhow::Result<Read> {
        match self {
            Input::Terminal { editor, .. } => match editor.readline(prompt) {
                Ok(line) => Ok(Read::Line(line)),
                Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
                Err(ReadlineError::Eof) => Ok(Read::End),
                // Bytes that are not UTF-8 (a Latin-1 terminal, a stray paste): the line is
                // dropped with its statement, as on standard input; the shell goes on, its
                // transaction with it.
                Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    Ok(Read::NotUtf8)
                }
                Err(e) => Err(anyhow::Error::new(e).context("reading the terminal")),
            },
            Input::Plain(stdin) => {
                let mut out = std::io::stdout().lock();
                out.write_all(prompt.as_bytes())
                    .and_then(|()| out.flush())
                    .context("writing to standard output")?;
                let mut bytes = Vec::new();
                if stdin
                    .read_until(b'\n', &mut bytes)
                    .context("reading stdin")?
                    == 0
                {
                    return Ok(Read::End);
                }
                let (line, valid) = match String::from_utf8(bytes) {
                    Ok(s) => (s, true),
                    Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), false),
                };
                // A carriage return before the line feed stays: inside a string literal
                // that spans lines it is the text's (`tabula sql DIR < FILE` keeps it too);
                // elsewhere it is white space. Echoed as a terminal would show the line,
                // then refused below if it is not UTF-8.
                let line = line.strip_suffix('\n').unwrap_or(&line).to_owned();
                writeln!(out, "{}", line.strip_suffix('\r').unwrap_or(&line))
                    .and_then(|()| out.flush())
                    .context("writing to standard output")?;
                Ok(if valid {
                    Read::Line(line)
                } else {
                    Read::NotUtf8
                })
            }
        }
    }

    /// Keeps `entry` (a whole statement, or a dot command) in the history.
    pub fn remember(&mut self, entry: &str) {
        if let Input::Terminal { editor, .. } = self {
            let _ = editor.add_history_entry(entry);
        }
    }

    /// Saves the history file; a failure is a warning, never an error.
    pub fn finish(&mut self) {
        if let Input::Terminal {
            editor,
            history: Some(path),
        } = self
        {
            if let Err(e) = editor.save_history(path) {
                crate::output::err_line(format_args!(
                    "tabula: warning: history not saved to {}: {e}",
                    path.display()
                ));
            }
        }
    }
}
