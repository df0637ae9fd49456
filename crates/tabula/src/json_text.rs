//! The structure of JSON text read byte by byte, without parsing it: where its arrays and
//! objects open and close, brackets inside strings (and escaped quotes) not counted. For
//! measuring a document's nesting, and finding where an object ends in a damaged log line.

/// The depth after each bracket of `json` outside its strings, with the bracket's position:
/// `(i, depth)` where `depth` is the nesting just after byte `i` (`None` once a closing
/// bracket has no opening one, after which nothing more is given).
pub(crate) fn brackets(json: &[u8]) -> impl Iterator<Item = (usize, Option<usize>)> + '_ {
    let (mut depth, mut in_string, mut escaped) = (Some(0usize), false, false);
    json.iter().enumerate().filter_map(move |(i, &b)| {
        let d = depth?;
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            return None;
        }
        match b {
            b'"' => {
                in_string = true;
                None
            }
            b'{' | b'[' => {
                depth = Some(d + 1);
                Some((i, depth))
            }
            b'}' | b']' => {
                depth = d.checked_sub(1);
                Some((i, depth))
            }
            _ => None,
        }
    })
}

/// How deeply the arrays and objects of `json` nest.
pub(crate) fn nesting(json: &[u8]) -> usize {
    brackets(json)
        .map_while(|(_, depth)| depth)
        .max()
        .unwrap_or(0)
}

/// Where the JSON object `json` starts with closes: just after the brace that brings it
/// back to depth zero. The only prefix that can read as one object.
pub(crate) fn object_end(json: &[u8]) -> Option<usize> {
    if json.first() != Some(&b'{') {
        return None;
    }
    brackets(json).find_map(|(i, depth)| match depth {
        Some(0) => Some(Some(i + 1)),
        None => Some(None),
        Some(_) => None,
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_escapes_do_not_count() {
        assert_eq!(nesting(br#"[1, {"a": "[[{", "b": "\"]"}, [[]]]"#), 3);
        assert_eq!(nesting(b"42"), 0);
        assert_eq!(object_end(br#"{"a": "}", "b": [1]} trailing"#), Some(20));
        assert_eq!(object_end(br#"{"a": ["#), None);
        assert_eq!(object_end(br#"["a"]"#), None);
        // Brackets are not matched by kind: the parser reading the prefix judges it.
        assert_eq!(object_end(b"{]}"), Some(2));
        assert_eq!(object_end(br#"{"a":1}}"#), Some(7));
    }
}
