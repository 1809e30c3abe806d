//! Framework identifiers and the aliases users and the reference SDK spell them with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// One of the six frameworks the catalog ships.
///
/// The canonical spelling (`as_str`) is what the CLI, JSON output and evidence packages use.
/// [`FrameworkId::parse`] also accepts the reference SDK's spellings (`iso_42001`,
/// `nist_ai_rmf`, `eu_ai_act`, "SOC 2 Type II"), edition ids such as `aicpa-tsc-2017`, and is
/// case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FrameworkId {
    /// AICPA Trust Services Criteria (SOC 2).
    Soc2,
    /// ISO/IEC 42001:2023, Annex A.
    Iso42001,
    /// NIST AI Risk Management Framework 1.0.
    NistAiRmf,
    /// EU Artificial Intelligence Act, Regulation (EU) 2024/1689.
    EuAiAct,
    /// General Data Protection Regulation, Regulation (EU) 2016/679.
    Gdpr,
    /// HIPAA Security Rule, 45 CFR Part 164 Subpart C.
    Hipaa,
}

impl FrameworkId {
    /// All frameworks, in the order the catalog lists them.
    pub const ALL: [FrameworkId; 6] = [
        FrameworkId::Soc2,
        FrameworkId::Iso42001,
        FrameworkId::NistAiRmf,
        FrameworkId::EuAiAct,
        FrameworkId::Gdpr,
        FrameworkId::Hipaa,
    ];

    /// The canonical id: `soc2`, `iso42001`, `nist-ai-rmf`, `eu-ai-act`, `gdpr` or `hipaa`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FrameworkId::Soc2 => "soc2",
            FrameworkId::Iso42001 => "iso42001",
            FrameworkId::NistAiRmf => "nist-ai-rmf",
            FrameworkId::EuAiAct => "eu-ai-act",
            FrameworkId::Gdpr => "gdpr",
            FrameworkId::Hipaa => "hipaa",
        }
    }

    /// Parses a framework name, accepting the canonical ids and the known aliases.
    ///
    /// Matching ignores case and every character that is not a letter or digit, so
    /// `nist_ai_rmf`, `NIST AI RMF` and `nist-ai-rmf` are the same. Accepted forms per framework:
    ///
    /// | framework | accepted (after normalisation) |
    /// |---|---|
    /// | `soc2` | soc2, "SOC 2 Type II", "SOC 2 Type I", tsc, tsc2017, aicpa-tsc-2017 |
    /// | `iso42001` | iso42001, iso_42001, ISO/IEC 42001, iso-iec-42001-2023 |
    /// | `nist-ai-rmf` | nist-ai-rmf, nist_ai_rmf, ai-rmf, nist-ai-rmf-1.0, NIST AI 100-1 |
    /// | `eu-ai-act` | eu-ai-act, eu_ai_act, ai-act, eu-ai-act-2024-1689 |
    /// | `gdpr` | gdpr, eu-gdpr, gdpr-2016-679 |
    /// | `hipaa` | hipaa, hipaa-security, "HIPAA Security Rule", hipaa-security-2013 |
    ///
    /// # Errors
    ///
    /// [`Error::UnknownFramework`] when the text matches none of them.
    pub fn parse(input: &str) -> Result<Self> {
        let key: String = input
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let id = match key.as_str() {
            "soc2"
            | "soc2typeii"
            | "soc2type2"
            | "soc2typei"
            | "soc2type1"
            | "tsc"
            | "tsc2017"
            | "aicpatsc"
            | "aicpatsc2017"
            | "aicpatsc2017pof2022" => FrameworkId::Soc2,
            "iso42001" | "isoiec42001" | "iso420012023" | "isoiec420012023" => {
                FrameworkId::Iso42001
            }
            "nistairmf" | "airmf" | "nistairmf10" | "airmf10" | "nistai1001" => {
                FrameworkId::NistAiRmf
            }
            "euaiact" | "aiact" | "euaiact20241689" => FrameworkId::EuAiAct,
            "gdpr" | "eugdpr" | "gdpr2016679" => FrameworkId::Gdpr,
            "hipaa" | "hipaasecurity" | "hipaasecurityrule" | "hipaasecurity2013" => {
                FrameworkId::Hipaa
            }
            _ => {
                return Err(Error::UnknownFramework {
                    input: input.to_owned(),
                });
            }
        };
        Ok(id)
    }
}

impl fmt::Display for FrameworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FrameworkId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        FrameworkId::parse(s)
    }
}

impl Serialize for FrameworkId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FrameworkId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        FrameworkId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_round_trip() {
        for id in FrameworkId::ALL {
            assert_eq!(FrameworkId::parse(id.as_str()).unwrap(), id);
            assert_eq!(id.to_string().parse::<FrameworkId>().unwrap(), id);
        }
    }

    #[test]
    fn reference_sdk_spellings_parse() {
        let cases = [
            ("SOC 2 Type II", FrameworkId::Soc2),
            ("soc_2", FrameworkId::Soc2),
            ("SOC2", FrameworkId::Soc2),
            ("aicpa-tsc-2017", FrameworkId::Soc2),
            ("iso_42001", FrameworkId::Iso42001),
            ("ISO/IEC 42001:2023", FrameworkId::Iso42001),
            ("iso-iec-42001-2023", FrameworkId::Iso42001),
            ("nist_ai_rmf", FrameworkId::NistAiRmf),
            ("NIST AI RMF", FrameworkId::NistAiRmf),
            ("nist-ai-rmf-1.0", FrameworkId::NistAiRmf),
            ("eu_ai_act", FrameworkId::EuAiAct),
            ("EU AI Act", FrameworkId::EuAiAct),
            ("eu-ai-act-2024-1689", FrameworkId::EuAiAct),
            ("GDPR", FrameworkId::Gdpr),
            ("gdpr-2016-679", FrameworkId::Gdpr),
            ("HIPAA", FrameworkId::Hipaa),
            ("hipaa-security-2013", FrameworkId::Hipaa),
        ];
        for (text, want) in cases {
            assert_eq!(FrameworkId::parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn unknown_names_are_rejected() {
        for text in ["", "soc3", "iso27001", "dpdp", "nist", "eu"] {
            let err = FrameworkId::parse(text).unwrap_err();
            assert!(matches!(err, Error::UnknownFramework { .. }), "{text}");
        }
    }

    #[test]
    fn serde_uses_canonical_id_and_accepts_aliases() {
        let json = serde_json::to_string(&FrameworkId::NistAiRmf).unwrap();
        assert_eq!(json, "\"nist-ai-rmf\"");
        let back: FrameworkId = serde_json::from_str("\"nist_ai_rmf\"").unwrap();
        assert_eq!(back, FrameworkId::NistAiRmf);
    }
}
