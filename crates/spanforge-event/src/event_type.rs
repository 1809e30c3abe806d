//! Event types: the registry of the 74 first-party types, and the rules for everything else.
//!
//! A type string is accepted when it is one of the registered types, or when it is a well-formed extension
//! type outside every reserved namespace. The grammar is the reference's three alternatives:
//!
//! 1. `llm.<ns>.<seg>` or `llm.<ns>.<seg>.<seg>`, with `<ns>` one of the 11 [`LLM_NAMESPACES`];
//! 2. `<ns>.<seg>` or `<ns>.<seg>.<seg>`, with `<ns>` one of the 12 [`BARE_NAMESPACES`];
//! 3. an extension of four or more segments not starting with `llm.`: every segment but the last two is
//!    `[a-z][a-z0-9-]*`, the last two are `[a-z][a-z0-9_]*` (`com.example.model.call.completed`).
//!
//! `<seg>` is `[a-z][a-z0-9_]*`. The namespaces of alternatives 1 and 2 are reserved: a string there must be a
//! registered type (`decision.made.extra` is refused), and a string whose first segment is a bare namespace is
//! refused even when it has the extension shape (`chain.a.b.c`). The namespaces `llm.rag`, `llm.memory`,
//! `llm.planning`, `llm.multimodal` and `llm.finetune` are held for future use and refused too.

use std::fmt;
use std::str::FromStr;

use crate::error::{EventError, Result};

/// The `llm.*` namespaces whose types are registered (alternative 1).
pub const LLM_NAMESPACES: [&str; 11] = [
    "trace", "cost", "cache", "eval", "guard", "fence", "prompt", "redact", "diff", "template",
    "audit",
];

/// The namespaces without the `llm.` prefix (alternative 2).
pub const BARE_NAMESPACES: [&str; 12] = [
    "decision",
    "tool_call",
    "chain",
    "confidence",
    "consent",
    "drift",
    "latency",
    "hitl",
    "playbook",
    "audit",
    "model_registry",
    "explanation",
];

/// `llm.*` namespaces held for future standardisation; no type in them is accepted.
pub const FUTURE_LLM_NAMESPACES: [&str; 5] =
    ["rag", "memory", "planning", "multimodal", "finetune"];

/// The shape of an extension type (alternative 3), as a regular expression. A string must also not start with a
/// reserved first segment (`llm` or one of [`BARE_NAMESPACES`]); the JSON Schema states that with `not`.
pub const EXTENSION_PATTERN: &str =
    r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$";

macro_rules! registry {
    ($($variant:ident => $name:literal,)*) => {
        /// One of the first-party event types the reference registers (its `EventType` enum, all 74).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum RegisteredType {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl RegisteredType {
            /// Every registered type, in the reference's order.
            pub const ALL: &'static [RegisteredType] = &[$(RegisteredType::$variant,)*];

            /// The type's wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RegisteredType::$variant => $name,)*
                }
            }

            /// The registered type with this wire name, if there is one.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(RegisteredType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

registry! {
    LlmTraceSpanStarted => "llm.trace.span.started",
    LlmTraceSpanCompleted => "llm.trace.span.completed",
    LlmTraceSpanFailed => "llm.trace.span.failed",
    LlmTraceAgentStep => "llm.trace.agent.step",
    LlmTraceAgentCompleted => "llm.trace.agent.completed",
    LlmTraceReasoningStep => "llm.trace.reasoning.step",
    LlmCostTokenRecorded => "llm.cost.token.recorded",
    LlmCostSessionRecorded => "llm.cost.session.recorded",
    LlmCostAttributed => "llm.cost.attributed",
    LlmCacheHit => "llm.cache.hit",
    LlmCacheMiss => "llm.cache.miss",
    LlmCacheEvicted => "llm.cache.evicted",
    LlmCacheWritten => "llm.cache.written",
    LlmEvalScoreRecorded => "llm.eval.score.recorded",
    LlmEvalRegressionDetected => "llm.eval.regression.detected",
    LlmEvalScenarioStarted => "llm.eval.scenario.started",
    LlmEvalScenarioCompleted => "llm.eval.scenario.completed",
    LlmGuardInputBlocked => "llm.guard.input.blocked",
    LlmGuardInputPassed => "llm.guard.input.passed",
    LlmGuardOutputBlocked => "llm.guard.output.blocked",
    LlmGuardOutputPassed => "llm.guard.output.passed",
    LlmFenceValidated => "llm.fence.validated",
    LlmFenceRetryTriggered => "llm.fence.retry.triggered",
    LlmFenceMaxRetriesExceeded => "llm.fence.max_retries.exceeded",
    LlmPromptRendered => "llm.prompt.rendered",
    LlmPromptTemplateLoaded => "llm.prompt.template.loaded",
    LlmPromptVersionChanged => "llm.prompt.version.changed",
    LlmRedactPiiDetected => "llm.redact.pii.detected",
    LlmRedactPhiDetected => "llm.redact.phi.detected",
    LlmRedactApplied => "llm.redact.applied",
    LlmDiffComputed => "llm.diff.computed",
    LlmDiffRegressionFlagged => "llm.diff.regression.flagged",
    LlmTemplateRegistered => "llm.template.registered",
    LlmTemplateVariableBound => "llm.template.variable.bound",
    LlmTemplateValidationFailed => "llm.template.validation.failed",
    LlmAuditKeyRotated => "llm.audit.key.rotated",
    DecisionMade => "decision.made",
    DecisionRevised => "decision.revised",
    DecisionRejected => "decision.rejected",
    ToolCallInvoked => "tool_call.invoked",
    ToolCallCompleted => "tool_call.completed",
    ToolCallFailed => "tool_call.failed",
    ChainStarted => "chain.started",
    ChainStepCompleted => "chain.step_completed",
    ChainCompleted => "chain.completed",
    ChainFailed => "chain.failed",
    ConfidenceSample => "confidence.sample",
    ConfidenceThresholdBreach => "confidence.threshold_breach",
    ConsentGranted => "consent.granted",
    ConsentRevoked => "consent.revoked",
    ConsentViolation => "consent.violation",
    DriftDetected => "drift.detected",
    DriftThresholdBreach => "drift.threshold_breach",
    DriftResolved => "drift.resolved",
    LatencySample => "latency.sample",
    LatencySlaBreach => "latency.sla_breach",
    HitlQueued => "hitl.queued",
    HitlReviewed => "hitl.reviewed",
    HitlEscalated => "hitl.escalated",
    HitlTimeout => "hitl.timeout",
    PlaybookTriggered => "playbook.triggered",
    PlaybookStepExecuted => "playbook.step_executed",
    PlaybookCompleted => "playbook.completed",
    PlaybookFailed => "playbook.failed",
    ModelRegistryRegistered => "model_registry.registered",
    ModelRegistryDeprecated => "model_registry.deprecated",
    ModelRegistryRetired => "model_registry.retired",
    ExplanationGenerated => "explanation.generated",
    AuditEventSigned => "audit.event_signed",
    AuditChainVerified => "audit.chain_verified",
    AuditTamperDetected => "audit.tamper_detected",
    LlmAuditTombstone => "llm.audit.tombstone",
    LlmAuditKeyExpired => "llm.audit.key_expired",
    LlmAuditChainRotated => "llm.audit.chain_rotated",
}

impl RegisteredType {
    /// The namespace: `llm.<ns>` for `llm.*` types, otherwise the first segment (`decision`, `audit`).
    pub fn namespace(self) -> &'static str {
        namespace_of(self.as_str())
    }
}

impl fmt::Display for RegisteredType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated extension type (alternative 3 of the grammar), outside every reserved namespace.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtensionType(Box<str>);

impl ExtensionType {
    /// The type as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace: the first two segments (`com.example`).
    pub fn namespace(&self) -> &str {
        namespace_of(&self.0)
    }
}

impl fmt::Debug for ExtensionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtensionType({})", self.0)
    }
}

/// An accepted event type: registered, or a valid extension.
///
/// ```
/// # use spanforge_event::{EventType, RegisteredType};
/// let t = EventType::parse("decision.made").unwrap();
/// assert_eq!(t, EventType::Registered(RegisteredType::DecisionMade));
/// assert!(EventType::parse("com.example.model.call.completed").is_ok());
/// assert!(EventType::parse("decision.made.extra").is_err()); // reserved namespace, not registered
/// assert!(EventType::parse("llm.rag.query").is_err());       // held for future use
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// A first-party type from the registry.
    Registered(RegisteredType),
    /// A third-party extension type.
    Extension(ExtensionType),
}

impl EventType {
    /// Parses and checks an `event_type` value.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(t) = RegisteredType::from_name(s) {
            return Ok(Self::Registered(t));
        }
        check_unregistered(s)?;
        Ok(Self::Extension(ExtensionType(s.into())))
    }

    /// The type as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Registered(t) => t.as_str(),
            Self::Extension(t) => t.as_str(),
        }
    }

    /// The registered type, if this is one.
    pub fn registered(&self) -> Option<RegisteredType> {
        match self {
            Self::Registered(t) => Some(*t),
            Self::Extension(_) => None,
        }
    }

    /// Whether this is a first-party registered type.
    pub fn is_registered(&self) -> bool {
        matches!(self, Self::Registered(_))
    }

    /// The namespace, as the reference's `namespace_of` computes it.
    pub fn namespace(&self) -> &str {
        namespace_of(self.as_str())
    }
}

impl From<RegisteredType> for EventType {
    fn from(t: RegisteredType) -> Self {
        Self::Registered(t)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// `llm.<ns>` for `llm.*` strings, the first segment for bare namespaces, the first two segments otherwise.
fn namespace_of(s: &str) -> &str {
    let mut dots = s.match_indices('.').map(|(i, _)| i);
    let first = dots.next().unwrap_or(s.len());
    let head = &s[..first];
    if head != "llm" && BARE_NAMESPACES.contains(&head) {
        return head;
    }
    &s[..dots.next().unwrap_or(s.len())]
}

/// `[a-z][a-z0-9_]*`
fn is_segment(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// `[a-z][a-z0-9-]*`
fn is_domain_segment(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Explains why an unregistered type string is refused, or accepts it as an extension.
fn check_unregistered(s: &str) -> Result<()> {
    let fail = |expected: String| Err(EventError::invalid("event_type", expected, s));
    let segments: Vec<&str> = s.split('.').collect();
    let first = segments.first().copied().unwrap_or("");
    if first == "llm" {
        let ns = segments.get(1).copied().unwrap_or("");
        if FUTURE_LLM_NAMESPACES.contains(&ns) {
            return fail(format!(
                "a registered type or an extension type; the namespace llm.{ns} is reserved for future use"
            ));
        }
        if LLM_NAMESPACES.contains(&ns) {
            return fail(format!(
                "a registered type; llm.{ns} is a reserved namespace and \"{s}\" is not registered in it"
            ));
        }
        return fail(format!(
            "a registered type; llm.* is reserved and llm.<ns> must be one of llm.{{{}}}",
            LLM_NAMESPACES.join(",")
        ));
    }
    if BARE_NAMESPACES.contains(&first) {
        return fail(format!(
            "a registered type; {first} is a reserved namespace and \"{s}\" is not registered in it"
        ));
    }
    let n = segments.len();
    let well_formed = n >= 4
        && segments[..n - 2].iter().all(|seg| is_domain_segment(seg))
        && segments[n - 2..].iter().all(|seg| is_segment(seg));
    if !well_formed {
        return fail(
            "a registered type, or an extension type of four or more dot-separated segments outside llm.* \
             (e.g. \"com.example.model.call.completed\": segments [a-z][a-z0-9-]*, the last two \
             [a-z][a-z0-9_]*)"
                .to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_has_74_types_in_23_namespaces() {
        assert_eq!(RegisteredType::ALL.len(), 74);
        let mut namespaces: Vec<&str> = RegisteredType::ALL.iter().map(|t| t.namespace()).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        assert_eq!(namespaces.len(), 23, "{namespaces:?}");
        for t in RegisteredType::ALL {
            assert_eq!(RegisteredType::from_name(t.as_str()), Some(*t));
            assert_eq!(
                EventType::parse(t.as_str()).unwrap(),
                EventType::Registered(*t)
            );
            // Every registered name satisfies grammar alternative 1 or 2.
            let segs: Vec<&str> = t.as_str().split('.').collect();
            let (ns, rest) = if segs[0] == "llm" {
                assert!(LLM_NAMESPACES.contains(&segs[1]), "{t}");
                (2, &segs[2..])
            } else {
                assert!(BARE_NAMESPACES.contains(&segs[0]), "{t}");
                (1, &segs[1..])
            };
            assert!(ns >= 1 && (1..=2).contains(&rest.len()), "{t}");
            assert!(rest.iter().all(|s| is_segment(s)), "{t}");
        }
    }

    #[test]
    fn namespaces() {
        let ns = |s: &str| EventType::parse(s).unwrap().namespace().to_owned();
        assert_eq!(ns("llm.trace.span.completed"), "llm.trace");
        assert_eq!(ns("decision.made"), "decision");
        assert_eq!(ns("audit.event_signed"), "audit");
        assert_eq!(ns("llm.audit.tombstone"), "llm.audit");
        assert_eq!(ns("com.example.model.call.completed"), "com.example");
    }

    #[test]
    fn reserved_and_malformed_types_are_refused() {
        for bad in [
            "decision.made.extra",
            "llm.rag.query",
            "llm.drift.detected",
            "llm.trace.span",
            "llm.trace.a.b.c",
            "llm.cost.a",
            "decision.a.b.c",
            "chain.x.y.z",
            "tool_call.a.b.c",
            "audit.log.written",
            "llm.request.created",
            "llm.tool.call.completed",
            "a.b.c",
            "com.example.call",
            "com.ex_ample.a.b",
            "com.example.a.B",
            "com.example.a.b\n",
            "Com.example.a.b",
            "com..a.b",
            "",
            "llm",
        ] {
            let err = EventType::parse(bad).unwrap_err();
            assert_eq!(err.field(), "event_type", "{bad:?}");
        }
        let msg = EventType::parse("llm.rag.query").unwrap_err().to_string();
        assert!(msg.contains("reserved for future use"), "{msg}");
        let msg = EventType::parse("decision.made.extra")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("decision is a reserved namespace"), "{msg}");
    }

    #[test]
    fn extension_types_are_accepted() {
        for ok in [
            "com.example.model.call.completed",
            "x.acme.foo.bar",
            "com.example.a_b.c_d",
            "llmx.a.b.c",
            "com-x.y.z.w",
            "decision-x.a.b.c",
            "a1.b-2.c_3.d4",
        ] {
            let t = EventType::parse(ok).unwrap();
            assert!(!t.is_registered());
            assert_eq!(t.as_str(), ok);
        }
    }
}
