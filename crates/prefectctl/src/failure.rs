//! How a command fails: the messages the user reads and the exit code scripts see.

use std::process::ExitCode;

/// A failed command: one or more messages, and the exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    messages: Vec<String>,
}

impl Failure {
    /// Bad input from the user (values, flags): exit code 2, as for a usage error.
    pub fn input(messages: Vec<String>) -> Failure {
        Failure { code: 2, messages }
    }

    /// Anything else (a plugin that fails, a library that does not load): exit code 1.
    pub fn runtime(messages: Vec<String>) -> Failure {
        Failure { code: 1, messages }
    }

    /// An exit code without a message (`diff` found differences).
    pub fn quiet(code: u8) -> Failure {
        Failure { code, messages: Vec::new() }
    }

    /// The same messages with exit code `code`.
    pub fn with_code(self, code: u8) -> Failure {
        Failure { code, ..self }
    }

    /// The same failure with one more message after the others.
    pub fn and(mut self, message: String) -> Failure {
        self.messages.push(message);
        self
    }

    /// Prints every message to standard error and returns the exit code.
    pub fn report(self) -> ExitCode {
        for message in &self.messages {
            eprintln!("error: {message}");
        }
        ExitCode::from(self.code)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        Failure::runtime(vec![format!("{err:#}")])
    }
}
