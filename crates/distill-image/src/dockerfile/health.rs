//! `HEALTHCHECK`: its options and command, as Docker writes them into the image config.

use super::emit::Healthcheck;
use super::stage::Translator;
use super::types::DockerfileError;

impl Translator<'_, '_> {
    pub(super) fn healthcheck(
        &mut self,
        h: &parse_dockerfile::HealthcheckInstruction<'_>,
    ) -> Result<(), DockerfileError> {
        let span = &h.healthcheck.span;
        let test = match &h.arguments {
            parse_dockerfile::HealthcheckArguments::None { .. } => vec!["NONE".to_owned()],
            parse_dockerfile::HealthcheckArguments::Cmd { arguments, .. } => {
                let mut t = vec!["CMD".to_owned()];
                t.extend(self.exec(arguments, span, "HEALTHCHECK CMD")?);
                t
            }
            _ => {
                return self.refuse(
                    span,
                    "Unknown HEALTHCHECK form".into(),
                    "write HEALTHCHECK CMD [...] or HEALTHCHECK NONE",
                );
            }
        };
        let mut check = Healthcheck {
            test,
            ..Healthcheck::default()
        };
        for flag in &h.options {
            let value = flag
                .value
                .as_ref()
                .map(|v| v.value.to_string())
                .unwrap_or_default();
            let key =
                match &*flag.name.value {
                    "interval" => "interval",
                    "timeout" => "timeout",
                    "start-period" => "start_period",
                    "start-interval" => "start_interval",
                    "retries" => {
                        check.retries = Some(value.parse().or_else(|_| {
                            self.refuse(
                                span,
                                format!("--retries={value} is not a number"),
                                "write --retries=3",
                            )
                        })?);
                        continue;
                    }
                    other => return self.refuse(
                        span,
                        format!("HEALTHCHECK has no option --{other}"),
                        "use --interval, --timeout, --start-period, --start-interval or --retries",
                    ),
                };
            check.durations.push((key, value));
        }
        self.draft.healthcheck = Some(check);
        Ok(())
    }
}
