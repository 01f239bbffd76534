//! Hints: how to fix an error, found along its chain of causes.
//!
//! Every library error is a [`miette::Diagnostic`] whose `help` is the hint. An error that
//! wraps another either forwards everything (`#[diagnostic(transparent)]`) or names its
//! cause (`#[diagnostic_source]`); [`hint`] walks that chain and takes the first hint, so no
//! error type forwards hints by hand (issue #12). The style they are written in is
//! docs/style.md.

use miette::Diagnostic;

/// The first hint along `diagnostic`'s chain of causes.
pub fn hint(diagnostic: &dyn Diagnostic) -> Option<String> {
    let mut current = Some(diagnostic);
    // A chain is finite, but a cycle in a hand-written `diagnostic_source` must not hang.
    for _ in 0..64 {
        let d = current?;
        if let Some(h) = d.help() {
            return Some(h.to_string());
        }
        current = d.diagnostic_source();
    }
    None
}

/// The error as distill prints it: `error: …`, each cause once (`  caused by: …`), and the
/// first hint (`hint: …`), one per line (docs/style.md).
pub fn render(diagnostic: &(dyn Diagnostic + 'static)) -> String {
    let mut out = String::new();
    let mut last = String::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(diagnostic);
    let mut first = true;
    while let Some(e) = cause {
        let text = e.to_string();
        // Errors often quote their cause; print each message once.
        if first || !last.contains(&text) {
            out += if first { "error: " } else { "  caused by: " };
            out += &text;
            out.push('\n');
            last = text;
        }
        first = false;
        cause = e.source();
    }
    if let Some(h) = hint(diagnostic) {
        out += &format!("hint: {h}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error, Diagnostic)]
    #[error("Inner")]
    #[diagnostic(help("do the inner thing"))]
    struct Inner;

    #[derive(Debug, thiserror::Error, Diagnostic)]
    enum Outer {
        #[error("Wrapped: {0}")]
        Wrapped(#[diagnostic_source] Inner),
        #[error(transparent)]
        #[diagnostic(transparent)]
        Transparent(Inner),
        #[error("Own")]
        #[diagnostic(help("do the outer thing"))]
        Own(
            #[source]
            #[diagnostic_source]
            Inner,
        ),
        #[error("Bare")]
        Bare,
    }

    #[test]
    fn the_first_hint_along_the_chain() {
        assert_eq!(
            hint(&Outer::Wrapped(Inner)).as_deref(),
            Some("do the inner thing")
        );
        assert_eq!(
            hint(&Outer::Transparent(Inner)).as_deref(),
            Some("do the inner thing")
        );
        assert_eq!(
            hint(&Outer::Own(Inner)).as_deref(),
            Some("do the outer thing")
        );
        assert_eq!(hint(&Outer::Bare), None);
        assert_eq!(
            render(&Outer::Own(Inner)),
            "error: Own\n  caused by: Inner\nhint: do the outer thing\n"
        );
        assert_eq!(
            render(&Outer::Wrapped(Inner)),
            "error: Wrapped: Inner\nhint: do the inner thing\n"
        );
    }
}
