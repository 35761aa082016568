//! Cost of a request from its token usage and the configured price table.

use crate::openai::usage::Usage;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
    pub cached_input_per_million: f64,
}

impl Price {
    /// The cost in USD: uncached prompt tokens at the input price, cached ones at the cached
    /// price, completion tokens (reasoning included) at the output price.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let uncached = usage.prompt_tokens - cached;
        (uncached as f64 * self.input_per_million
            + cached as f64 * self.cached_input_per_million
            + usage.completion_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// Formats a cost for the `x-promptgate-cost-usd` header.
pub fn format_cost(cost: f64) -> String {
    format!("{cost:.8}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_splits_cached_and_output_tokens() {
        let price = Price {
            input_per_million: 1.0,
            output_per_million: 4.0,
            cached_input_per_million: 0.5,
        };
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            cached_tokens: 200_000,
            ..Usage::default()
        };
        let cost = price.cost(&usage);
        assert!((cost - (0.8 + 0.1 + 2.0)).abs() < 1e-9, "{cost}");
        assert_eq!(format_cost(0.000123), "0.00012300");
    }

    #[test]
    fn cached_tokens_never_exceed_prompt_tokens() {
        let price = Price {
            input_per_million: 1.0,
            output_per_million: 1.0,
            cached_input_per_million: 0.0,
        };
        let usage = Usage {
            prompt_tokens: 10,
            cached_tokens: 50,
            ..Usage::default()
        };
        assert_eq!(price.cost(&usage), 0.0);
    }
}
