//! `${VAR}` / `${VAR:-default}` expansion for the few config strings that allow it.

/// Expands environment references; a variable that is unset and has no default is an error
/// naming it.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated `${{` in `{input}`"))?;
        let expr = &after[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid variable name `{name}` in `{input}`"));
        }
        match lookup(name).filter(|v| !v.is_empty()) {
            Some(value) => out.push_str(&value),
            None => match default {
                Some(default) => out.push_str(default),
                None => return Err(format!("environment variable `{name}` is not set")),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "example.test".to_owned())
    }

    #[test]
    fn expands_set_and_defaulted_variables() {
        assert_eq!(
            expand("http://${HOST}/v1", env).unwrap(),
            "http://example.test/v1"
        );
        assert_eq!(expand("${NOPE:-http://x}", env).unwrap(), "http://x");
        assert_eq!(expand("plain", env).unwrap(), "plain");
    }

    #[test]
    fn unset_variable_is_named() {
        let err = expand("${MISSING}/v1", env).unwrap_err();
        assert!(err.contains("MISSING"));
        assert!(expand("${BAD NAME}", env).is_err());
        assert!(expand("${OPEN", env).is_err());
    }
}
