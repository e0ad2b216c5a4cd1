//! Splits master-file text into entries of tokens (RFC 1035 §5.1).
//!
//! An entry is one logical line: parentheses join physical lines, `;` starts a comment outside
//! quotes, a quoted string is one token. Escapes are kept as written so that each consumer can
//! decode them the way its field needs (a `\.` means something else in a name than in a TXT
//! string).

/// One token of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The text as written, escapes kept, surrounding quotes removed.
    pub text: String,
    /// True when the token was a quoted string.
    pub quoted: bool,
    /// Physical line the token starts on (1-based).
    pub line: usize,
}

/// One logical line of a master file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Physical line the entry starts on (1-based).
    pub line: usize,
    /// True when the line starts with white space: the owner is the previous one.
    pub blank_owner: bool,
    /// The tokens, never empty.
    pub tokens: Vec<Token>,
}

/// A lexical error with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// Physical line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Splits `text` into entries.
pub fn entries(text: &str) -> Result<Vec<Entry>, LexError> {
    Lexer::new(text).collect()
}

/// The entries of a text, one at a time: a file of any size is read without holding all its
/// tokens at once. After an error it yields nothing more.
pub struct Lexer<'a> {
    bytes: &'a [u8],
    text: &'a str,
    i: usize,
    line: usize,
    done: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `text`.
    pub fn new(text: &'a str) -> Lexer<'a> {
        Lexer { bytes: text.as_bytes(), text, i: 0, line: 1, done: false }
    }

    /// The next entry with at least one token, `None` at the end.
    fn entry(&mut self) -> Option<Result<Entry, LexError>> {
        let bytes = self.bytes;
        let mut depth_open_line = 0usize;
        let mut in_parens = false;
        let mut current: Option<Entry> = None;
        let mut at_line_start = self.i == 0 || bytes[self.i - 1] == b'\n';
        while self.i < bytes.len() {
            let c = bytes[self.i];
            match c {
                b'\n' => {
                    self.line += 1;
                    self.i += 1;
                    at_line_start = true;
                    if !in_parens
                        && let Some(entry) = current.take()
                        && !entry.tokens.is_empty()
                    {
                        return Some(Ok(entry));
                    }
                    continue;
                }
                b' ' | b'\t' | b'\r' => {
                    if at_line_start && !in_parens && current.is_none() {
                        // Leading white space: the entry (if any) has a blank owner.
                        current = Some(Entry { line: self.line, blank_owner: true, tokens: Vec::new() });
                    }
                    at_line_start = false;
                    self.i += 1;
                    continue;
                }
                b';' => {
                    while self.i < bytes.len() && bytes[self.i] != b'\n' {
                        self.i += 1;
                    }
                    continue;
                }
                b'(' => {
                    if in_parens {
                        return Some(Err(LexError { line: self.line, message: "nested parentheses".into() }));
                    }
                    in_parens = true;
                    depth_open_line = self.line;
                    current.get_or_insert_with(|| Entry { line: self.line, blank_owner: false, tokens: Vec::new() });
                    at_line_start = false;
                    self.i += 1;
                    continue;
                }
                b')' => {
                    if !in_parens {
                        return Some(Err(LexError { line: self.line, message: "')' without '('".into() }));
                    }
                    in_parens = false;
                    at_line_start = false;
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            at_line_start = false;
            let line = self.line;
            let entry = current.get_or_insert_with(|| Entry { line, blank_owner: false, tokens: Vec::new() });
            if c == b'"' {
                let start_line = self.line;
                let mut text = Vec::new();
                self.i += 1;
                loop {
                    match bytes.get(self.i) {
                        None => {
                            return Some(Err(LexError {
                                line: start_line,
                                message: "unterminated quoted string".into(),
                            }));
                        }
                        Some(b'"') => {
                            self.i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            text.push(b'\\');
                            if let Some(&next) = bytes.get(self.i + 1) {
                                if next == b'\n' {
                                    self.line += 1;
                                }
                                text.push(next);
                            }
                            self.i += 2;
                        }
                        Some(&b) => {
                            if b == b'\n' {
                                self.line += 1;
                            }
                            text.push(b);
                            self.i += 1;
                        }
                    }
                }
                entry.tokens.push(Token {
                    text: String::from_utf8_lossy(&text).into_owned(),
                    quoted: true,
                    line: start_line,
                });
                continue;
            }
            let start = self.i;
            while self.i < bytes.len() {
                match bytes[self.i] {
                    b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                    b'\\' => self.i = (self.i + 2).min(bytes.len()),
                    _ => self.i += 1,
                }
            }
            entry.tokens.push(Token { text: self.text[start..self.i].to_string(), quoted: false, line });
        }
        if in_parens {
            return Some(Err(LexError { line: depth_open_line, message: "'(' is never closed".into() }));
        }
        current.filter(|e| !e.tokens.is_empty()).map(Ok)
    }
}

impl Iterator for Lexer<'_> {
    type Item = Result<Entry, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.entry();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(e: &Entry) -> Vec<&str> {
        e.tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn joins_parentheses_and_drops_comments() {
        let got = entries("@ IN SOA ns host ( 1 ; serial\n 2 3\n 4 5 )\nwww A 1.2.3.4 ; c\n").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(texts(&got[0]), ["@", "IN", "SOA", "ns", "host", "1", "2", "3", "4", "5"]);
        assert_eq!(got[1].line, 4);
        assert!(!got[1].blank_owner);
    }

    #[test]
    fn marks_blank_owners_and_skips_empty_lines() {
        let got = entries("www A 1.2.3.4\n\n   \n\tTXT \"a b\" c\n").unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[1].blank_owner);
        assert_eq!(got[1].line, 4);
        assert_eq!(texts(&got[1]), ["TXT", "a b", "c"]);
        assert!(got[1].tokens[1].quoted);
    }

    #[test]
    fn keeps_escapes_and_quotes_with_semicolons() {
        let got = entries("a\\ b TXT \"x;\\\"y\" z\\;w\n").unwrap();
        assert_eq!(texts(&got[0]), ["a\\ b", "TXT", "x;\\\"y", "z\\;w"]);
    }

    #[test]
    fn reports_unbalanced_input_with_lines() {
        assert_eq!(entries("a TXT \"x\n\n").unwrap_err().line, 1);
        assert_eq!(entries("a\nb SOA (\n1\n").unwrap_err().line, 2);
        assert_eq!(entries("a A 1 )\n").unwrap_err().line, 1);
    }
}
