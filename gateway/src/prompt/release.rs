//! What a label of a prompt points at in one environment: the deployed version, and
//! optionally a canary version that takes a percentage of traffic.

use serde::{Deserialize, Serialize};

use super::template::PromptTemplate;
use crate::config::load::fnv1a;

/// A deployed prompt label, as carried in a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptRelease {
    /// The version number within its prompt.
    pub version: i64,
    pub template: PromptTemplate,
    /// A newer version receiving `percent` of the traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryRelease>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryRelease {
    pub version: i64,
    /// 0..=100.
    pub percent: u8,
    pub template: PromptTemplate,
}

/// Which version served a request: recorded in traces and the `x-promptgate-prompt-version`
/// header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptVersionRef {
    pub version: i64,
    pub canary: bool,
}

impl PromptRelease {
    /// Checks the percentages and compiles every template.
    pub fn validate(&self) -> Result<(), String> {
        self.template
            .compile()
            .map_err(|e| format!("version {}: {e}", self.version))?;
        if let Some(canary) = &self.canary {
            if canary.percent > 100 {
                return Err(format!(
                    "canary percent must be 0..=100, got {}",
                    canary.percent
                ));
            }
            canary
                .template
                .compile()
                .map_err(|e| format!("canary version {}: {e}", canary.version))?;
        }
        Ok(())
    }
}

/// Whether a request goes to the canary: sticky per subject (the same subject always lands
/// on the same side), random without one.
pub fn goes_to_canary(percent: u8, subject: Option<&str>) -> bool {
    if percent == 0 {
        return false;
    }
    if percent >= 100 {
        return true;
    }
    let bucket = match subject {
        Some(subject) => fnv1a(subject.as_bytes()) % 100,
        None => fastrand::u64(0..100),
    };
    bucket < u64::from(percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_share_follows_percent_and_is_sticky() {
        let share = (0..10_000)
            .filter(|i| goes_to_canary(10, Some(&format!("user-{i}"))))
            .count();
        assert!((800..1200).contains(&share), "{share}");
        for i in 0..100 {
            let s = format!("u{i}");
            assert_eq!(goes_to_canary(37, Some(&s)), goes_to_canary(37, Some(&s)));
        }
        assert!(!goes_to_canary(0, Some("x")));
        assert!(goes_to_canary(100, None));
    }

    #[test]
    fn validate_compiles_both_templates() {
        let good = PromptTemplate {
            body: "hi".into(),
            variables: Default::default(),
            role: Default::default(),
            mode: Default::default(),
        };
        let bad = PromptTemplate {
            body: "{{ nope }}".into(),
            ..good.clone()
        };
        let release = PromptRelease {
            version: 2,
            template: good.clone(),
            canary: Some(CanaryRelease {
                version: 3,
                percent: 10,
                template: bad,
            }),
        };
        let err = release.validate().unwrap_err();
        assert!(err.contains("canary version 3"), "{err}");
        let over = PromptRelease {
            canary: Some(CanaryRelease {
                version: 3,
                percent: 101,
                template: good.clone(),
            }),
            ..release
        };
        assert!(over.validate().is_err());
    }
}
